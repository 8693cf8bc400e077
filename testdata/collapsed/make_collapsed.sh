#!/usr/bin/env bash
# Regenerates testdata/collapsed/: reads of a collapsed repeat, to be mixed into sample GERM as an
# extra lane. A 700 bp stretch of the reference stands for 12 more copies elsewhere in the
# genome that the reference lacks (each diverged by 1 %); their reads all land on the one copy,
# at about 13x the sample's depth. Not run by the tests.
#
#   testdata/collapsed/make_collapsed.sh
#
# Needs python3 and gzip only. Fixed seed, gzip -n: byte-identical output when run again.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"
python3 - ../ref/ref.fa <<'PY'
import random, sys
sys.path.insert(0, "..")  # testdata/simreads.py
from simreads import pair_from, read_reference
CONTIG = "chr20_1M"
SEG_START, SEG_END = 270000, 270700   # 0-based half-open: 1-based 270,001-270,700
COPIES = 12                           # copies the reference lacks
DIVERGENCE = 0.01                     # substitutions per base of each copy
DEPTH = 30                            # per copy, like the sample
READ_LEN = 150
FRAG_MIN, FRAG_MAX = 250, 350
rng = random.Random(20261207)

ref = read_reference(sys.argv[1])
base = ref[SEG_START:SEG_END]

copies = []
with open("collapsed_copies.tsv", "w") as out:
    out.write("#copy\tcontig\tpos\tref\talt\n")  # pos: 1-based reference coordinate
    for c in range(COPIES):
        seg = list(base)
        diffs = {}
        while len(diffs) < round(DIVERGENCE * len(seg)):
            i = rng.randrange(len(seg))
            if seg[i] in "ACGT" and i not in diffs:
                diffs[i] = rng.choice([b for b in "ACGT" if b != seg[i]])
        for i in sorted(diffs):
            seg[i] = diffs[i]
            out.write(f"{c + 1}\t{CONTIG}\t{SEG_START + i + 1}\t{base[i]}\t{diffs[i]}\n")
        copies.append("".join(seg))

pairs_per_copy = round(DEPTH * len(base) / (2 * READ_LEN))
r1, r2 = [], []
k = 0
for c, seg in enumerate(copies):
    for _ in range(pairs_per_copy):
        k += 1
        _, (s1, q1), (s2, q2) = pair_from(rng, seg, FRAG_MIN, FRAG_MAX, READ_LEN)
        name = f"COLL:1:HCOLLXX:6:1101:{k}:{c + 1}"
        r1.append(f"@{name}\n{s1}\n+\n{q1}\n")
        r2.append(f"@{name}\n{s2}\n+\n{q2}\n")
for path, recs in (("collapsed_R1.fastq", r1), ("collapsed_R2.fastq", r2)):
    with open(path, "w") as out:
        out.writelines(recs)
PY
gzip -n -9 -f collapsed_R1.fastq collapsed_R2.fastq
