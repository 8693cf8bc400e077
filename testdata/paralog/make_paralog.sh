#!/usr/bin/env bash
# Regenerates testdata/paralog/: reads of a diverged paralog of a reference segment that the
# reference lacks, to be mixed into sample GERM as an extra lane. Not run by the tests.
#
#   testdata/paralog/make_paralog.sh
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
SEG_START, SEG_END = 262000, 266000   # 0-based half-open: 1-based 262,001-266,000
DIVERGENCE = 0.02                     # substitutions per base of the copy
PAIRS = 180                           # ~13.5x over 4 kb with 2 x 150 bp
READ_LEN = 150
FRAG_MIN, FRAG_MAX = 300, 400
rng = random.Random(20240607)

ref = read_reference(sys.argv[1])
seg = list(ref[SEG_START:SEG_END])

# Paralog differences: distinct positions at least 2 bp apart, ACGT only.
n_diffs = round(DIVERGENCE * len(seg))
diffs = {}
while len(diffs) < n_diffs:
    i = rng.randrange(len(seg))
    if seg[i] not in "ACGT" or any(abs(i - j) < 2 for j in diffs):
        continue
    diffs[i] = rng.choice([b for b in "ACGT" if b != seg[i]])
for i, alt in diffs.items():
    seg[i] = alt
seg = "".join(seg)

with open("paralog_diffs.tsv", "w") as out:
    out.write("#contig\tpos\tref\talt\n")  # pos: 1-based reference coordinate
    for i in sorted(diffs):
        out.write(f"{CONTIG}\t{SEG_START + i + 1}\t{ref[SEG_START + i]}\t{diffs[i]}\n")

r1, r2 = [], []
for k in range(PAIRS):
    start, (s1, q1), (s2, q2) = pair_from(rng, seg, FRAG_MIN, FRAG_MAX, READ_LEN)
    name = f"PARA:1:HPARAXX:5:1101:{k + 1}:{start + SEG_START + 1}"
    r1.append(f"@{name}\n{s1}\n+\n{q1}\n")
    r2.append(f"@{name}\n{s2}\n+\n{q2}\n")
for path, recs in (("paralog_R1.fastq", r1), ("paralog_R2.fastq", r2)):
    with open(path, "w") as out:
        out.writelines(recs)
PY
gzip -n -9 -f paralog_R1.fastq paralog_R2.fastq
