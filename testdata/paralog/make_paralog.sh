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
CONTIG = "chr20_1M"
SEG_START, SEG_END = 262000, 266000   # 0-based half-open: 1-based 262,001-266,000
DIVERGENCE = 0.02                     # substitutions per base of the copy
PAIRS = 180                           # ~13.5x over 4 kb with 2 x 150 bp
READ_LEN = 150
FRAG_MIN, FRAG_MAX = 300, 400
rng = random.Random(20240607)

seq = []
with open(sys.argv[1]) as f:
    for line in f:
        if not line.startswith(">"):
            seq.append(line.strip())
ref = "".join(seq).upper()
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

# Binned NovaSeq-style qualities as in the GERM reads (frequencies measured on germline_L1_R1).
BINS = [("K", 42, 0.845), ("F", 37, 0.088), ("A", 32, 0.037), (",", 11, 0.016),
        ("<", 27, 0.013), ("7", 22, 0.010), ("(", 7, 0.0015)]
weights = [w for _, _, w in BINS]
comp = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}

def read_from(template):
    quals = rng.choices(BINS, weights=weights, k=len(template))
    bases = []
    for b, (_, q, _) in zip(template, quals):
        if rng.random() < 10 ** (-q / 10):
            b = rng.choice([x for x in "ACGT" if x != b])
        bases.append(b)
    return "".join(bases), "".join(c for c, _, _ in quals)

r1, r2 = [], []
for k in range(PAIRS):
    frag = rng.randint(FRAG_MIN, FRAG_MAX)
    start = rng.randrange(0, len(seg) - frag + 1)
    f = seg[start:start + frag]
    rc = "".join(comp[b] for b in reversed(f))
    fwd, rev = (f, rc) if rng.random() < 0.5 else (rc, f)
    name = f"PARA:1:HPARAXX:5:1101:{k + 1}:{start + SEG_START + 1}"
    s1, q1 = read_from(fwd[:READ_LEN])
    s2, q2 = read_from(rev[:READ_LEN])
    r1.append(f"@{name}\n{s1}\n+\n{q1}\n")
    r2.append(f"@{name}\n{s2}\n+\n{q2}\n")
for path, recs in (("paralog_R1.fastq", r1), ("paralog_R2.fastq", r2)):
    with open(path, "w") as out:
        out.writelines(recs)
PY
gzip -n -9 -f paralog_R1.fastq paralog_R2.fastq
