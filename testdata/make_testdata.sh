#!/usr/bin/env bash
# Regenerates dagr's testdata/ from the public benchmark set. Not run by the tests.
#
#   testdata/make_testdata.sh [BENCH_DIR]     (default: <repo>/../shared/bench)
#
# Needs minimap2, samtools, bcftools, tabix (htslib), gzip, python3. Output is written next to
# this script (testdata/) except testdata/bench/, which is left alone. Alignments go to a
# temporary folder that is removed at the end. Same inputs and tool versions give byte-identical
# files (gzip -n, bcftools --no-version). Versions used for the committed files:
# minimap2 2.24-r1122, samtools/bcftools/htslib 1.16, gzip 1.12, Python 3.11.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)     # testdata/
REPO=$(cd "$HERE/.." && pwd)
BENCH=$(cd "${1:-$REPO/../shared/bench}" && pwd)
THREADS=${THREADS:-2}

CONTIG=chr20_1M
WIN_START=257500        # window, BED-style 0-based half-open: [257500, 299500) = 1-based 257,501-299,500
WIN_END=299500
EDGE=500                # confident.bed = window shrunk by this much at each end
MAX_ODD=20              # at most this many "odd" pairs (mate unmapped / discordant) per sample

TMP=$(mktemp -d /tmp/dagr-testdata.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$HERE"
mkdir -p ref germline somatic bad

# ---- 1. reference: exact copy, no index files --------------------------------------------
cp "$BENCH/ref/ref.fa" ref/ref.fa
chmod 644 ref/ref.fa
rm -f ref/ref.fa.fai ref/ref.dict

# ---- 2. align every bench sample to the full reference; one line per pair ------------------
# table columns: name, R1 flag, R1 pos (1-based), R1 end (1-based incl.), R2 flag, pos, end
# (pos/end 0 when unmapped); primary alignments only (-F 0x900).
cat > "$TMP/table.py" <<'EOF'
import sys, re
cig = re.compile(r'(\d+)([MIDNSHP=X])')
d, order = {}, []
for l in sys.stdin:
    f = l.split('\t', 9)
    name, flag, pos, cg = f[0], int(f[1]), int(f[3]), f[5]
    end = 0 if flag & 4 else pos - 1 + sum(int(n) for n, o in cig.findall(cg) if o in 'MDN=X')
    if flag & 4: pos = 0
    if name not in d: d[name] = [None, None]; order.append(name)
    d[name][0 if flag & 64 else 1] = (flag, pos, end)
for n in order:
    print(n, *d[n][0], *d[n][1], sep='\t')
EOF
declare -A FQ=([germline]=germline/germline [normal]=somatic/normal [tumor]=somatic/tumor)
for s in germline normal tumor; do
  minimap2 -ax sr -t "$THREADS" "$BENCH/ref/ref.fa" "$BENCH/${FQ[$s]}_R1.fastq.gz" "$BENCH/${FQ[$s]}_R2.fastq.gz" 2>"$TMP/$s.mm2.log" \
    | samtools view -F 0x900 - | python3 "$TMP/table.py" > "$TMP/$s.tab"
done

# ---- 3. choose read pairs by name --------------------------------------------------------
# keep: both mates primary-mapped with alignment fully inside the window;
# plus "odd" pairs (never both mates unmapped): one mate unmapped, or both mapped but not a proper pair (flag 0x2 unset),
# those with a mate in the window first, then the rest of the contig, at most MAX_ODD per sample.
cat > "$TMP/pick.py" <<'EOF'
import sys
tab, S, E, maxodd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
inside = lambda f, p, e: not f & 4 and p > S and e <= E
keep, odd = [], []
for l in open(tab):
    n, *v = l.split(); f1, p1, e1, f2, p2, e2 = map(int, v)
    if inside(f1, p1, e1) and inside(f2, p2, e2) and f1 & 2:
        keep.append(n)
    elif not (f1 & 4 and f2 & 4) and ((f1 | f2) & 4 or not f1 & 2):
        odd.append((0 if inside(f1, p1, e1) or inside(f2, p2, e2) else 1, n, l.strip()))
odd.sort(key=lambda t: t[0])
odd = odd[:maxodd]
with open(tab + '.odd', 'w') as o:
    for w, n, l in odd: o.write(('in_window\t' if w == 0 else 'elsewhere\t') + l + '\n')
for n in keep + [n for _, n, _ in odd]: print(n)
EOF
for s in germline normal tumor; do
  python3 "$TMP/pick.py" "$TMP/$s.tab" $WIN_START $WIN_END $MAX_ODD > "$TMP/$s.names"
done

# PCR duplicates: a duplicate and its original are exact copies, so they map alike; if one of the
# two was kept, keep the other too, so that the duplicate truth stays complete.
zcat "$BENCH/germline/germline.duplicates.tsv.gz" > "$TMP/dups.tsv"
python3 - "$TMP/germline.names" "$TMP/dups.tsv" <<'EOF'
import sys
names = [l.strip() for l in open(sys.argv[1])]; s = set(names)
add = []
for l in open(sys.argv[2]):
    if l.startswith('#'): continue
    d, o = l.split()
    for a, b in ((d, o), (o, d)):
        if a in s and b not in s: add.append(b); s.add(b)
if add: print('duplicate partners added:', len(add), file=sys.stderr)
open(sys.argv[1], 'w').write(''.join(n + '\n' for n in names + add))
EOF

# ---- 4. copy the chosen FASTQ records verbatim, original order -----------------------------
# extract.py NAMES R1 R2 PREFIX SPLIT_BY_LANE: writes PREFIX[_L<lane>]_R1.fastq / _R2.fastq
cat > "$TMP/extract.py" <<'EOF'
import sys, gzip
names = set(l.strip() for l in open(sys.argv[1]))
r1, r2 = gzip.open(sys.argv[2], 'rb'), gzip.open(sys.argv[3], 'rb')
prefix, by_lane = sys.argv[4], sys.argv[5] == '1'
out, n = {}, 0
while True:
    a = [r1.readline() for _ in range(4)]; b = [r2.readline() for _ in range(4)]
    if not a[0]:
        assert not b[0]; break
    na, nb = a[0][1:].split()[0].decode(), b[0][1:].split()[0].decode()
    assert na == nb, (na, nb)
    if na not in names: continue
    key = '_L' + na.split(':')[3] if by_lane else ''
    if key not in out:
        out[key] = (open(prefix + key + '_R1.fastq', 'wb'), open(prefix + key + '_R2.fastq', 'wb'))
    out[key][0].write(b''.join(a)); out[key][1].write(b''.join(b)); n += 1
assert n == len(names), (n, len(names))
for k in sorted(out): print(prefix + k)
EOF
rm -f germline/*.fastq.gz somatic/*.fastq.gz
python3 "$TMP/extract.py" "$TMP/germline.names" "$BENCH/germline/germline_R1.fastq.gz" "$BENCH/germline/germline_R2.fastq.gz" "$TMP/germline" 1 > "$TMP/germline.lanes"
python3 "$TMP/extract.py" "$TMP/normal.names" "$BENCH/somatic/normal_R1.fastq.gz" "$BENCH/somatic/normal_R2.fastq.gz" "$TMP/normal" 0 > /dev/null
python3 "$TMP/extract.py" "$TMP/tumor.names" "$BENCH/somatic/tumor_R1.fastq.gz" "$BENCH/somatic/tumor_R2.fastq.gz" "$TMP/tumor" 0 > /dev/null
for f in "$TMP"/germline_L*_R[12].fastq; do gzip -n -9 -c "$f" > "germline/$(basename "$f").gz"; done
for s in normal tumor; do for r in 1 2; do gzip -n -9 -c "$TMP/${s}_R$r.fastq" > "somatic/${s}_R$r.fastq.gz"; done; done

# duplicate truth: rows whose duplicate and original pair are both kept (header kept)
python3 - "$TMP/germline.names" "$TMP/dups.tsv" > "$TMP/dups.sub.tsv" <<'EOF'
import sys
s = set(l.strip() for l in open(sys.argv[1]))
for l in open(sys.argv[2]):
    if l.startswith('#') or all(x in s for x in l.split()): sys.stdout.write(l)
EOF
gzip -n -9 -c "$TMP/dups.sub.tsv" > germline/germline.duplicates.tsv.gz

# ---- 5. truth restricted to the window; confident BED --------------------------------------
REGION="$CONTIG:$((WIN_START + 1))-$WIN_END"
bcftools view --no-version -r "$REGION" -Oz -o germline/truth.vcf.gz "$BENCH/germline/truth.vcf.gz"
bcftools view --no-version -r "$REGION" -Oz -o somatic/truth_somatic.vcf.gz "$BENCH/somatic/truth_somatic.vcf.gz"
bcftools view --no-version -r "$REGION" -Oz -o somatic/truth_germline.vcf.gz "$BENCH/somatic/truth_germline.vcf.gz"
for v in germline/truth.vcf.gz somatic/truth_somatic.vcf.gz somatic/truth_germline.vcf.gz; do tabix -f -p vcf "$v"; done
printf '%s\t%d\t%d\n' "$CONTIG" $((WIN_START + EDGE)) $((WIN_END - EDGE)) > confident.bed

# ---- 6. samplesheets (sarek columns; paths relative to the samplesheet's folder) -----------
{
  echo "patient,sex,status,sample,lane,fastq_1,fastq_2"
  while read -r p; do
    L=${p##*_L}
    echo "PG,XX,0,GERM,L$L,germline/germline_L${L}_R1.fastq.gz,germline/germline_L${L}_R2.fastq.gz"
  done < "$TMP/germline.lanes"
} > samplesheet_germline.csv
{
  cat samplesheet_germline.csv
  echo "PT1,XX,0,NORMAL,L1,somatic/normal_R1.fastq.gz,somatic/normal_R2.fastq.gz"
  echo "PT1,XX,1,TUMOR,L1,somatic/tumor_R1.fastq.gz,somatic/tumor_R2.fastq.gz"
} > samplesheet.csv

# ---- 7. bad-input fixtures (real germline records from the window, one defect per file) ----
rm -rf bad && mkdir bad
python3 - "$TMP/germline_L1_R1.fastq" "$TMP/germline_L1_R2.fastq" "$TMP/bad" ref/ref.fa $WIN_START <<'EOF'
import sys, os
r1 = open(sys.argv[1], 'rb').read().splitlines(keepends=True)
r2 = open(sys.argv[2], 'rb').read().splitlines(keepends=True)
rec1 = [b''.join(r1[i:i + 4]) for i in range(0, len(r1), 4)]
rec2 = [b''.join(r2[i:i + 4]) for i in range(0, len(r2), 4)]
out = sys.argv[3]; os.makedirs(out, exist_ok=True)
def w(name, recs): open(os.path.join(out, name), 'wb').write(b''.join(recs))
w('good_R1.fastq', rec1[0:10]);              w('good_R2.fastq', rec2[0:10])
w('truncated_r1.fastq', rec1[10:60]);        w('truncated_r2.fastq', rec2[10:60])
w('r1_longer_R1.fastq', rec1[60:71]);        w('r1_longer_R2.fastq', rec2[60:70])
# pair 3: R2 holds the mate of another pair (real record, other name)
w('mismatched_names_R1.fastq', rec1[80:85]); w('mismatched_names_R2.fastq', rec2[80:82] + [rec2[90]] + rec2[83:85])
# record 3 of R1: quality one character shorter than the sequence
q = rec1[100:105]; h, s, p, ql = q[2].split(b'\n')[:4]; q[2] = b'\n'.join([h, s, p, ql[:-1]]) + b'\n'
w('qual_length_R1.fastq', q);                w('qual_length_R2.fastq', rec2[100:105])
w('empty_R1.fastq', []);                     w('empty_R2.fastq', [])
# FASTA fixtures: 600 bp slices of the window's reference, 80 columns like ref.fa
seq = b''.join(l.strip() for l in open(sys.argv[4], 'rb') if not l.startswith(b'>'))
S = int(sys.argv[5])
def fa(name, s): return b'>' + name + b'\n' + b''.join(s[i:i + 80] + b'\n' for i in range(0, len(s), 80))
a, b = seq[S:S + 600], seq[S + 600:S + 1200]
open(os.path.join(out, 'duplicate_contigs.fa'), 'wb').write(fa(b'ctg1', a) + fa(b'ctg1', b))
open(os.path.join(out, 'non_iupac.fa'), 'wb').write(fa(b'ctg1', a[:300] + b'J' + a[301:]))
open(os.path.join(out, 'empty_contig.fa'), 'wb').write(fa(b'ctg1', a) + b'>ctg2\n' + fa(b'ctg3', b))
EOF
for f in "$TMP"/bad/*.fastq; do gzip -n -9 -c "$f" > "bad/$(basename "$f").gz"; done
mv "$TMP"/bad/*.fa bad/
# truncated_r2: cut the valid gzip in the middle of its compressed stream
mv bad/truncated_r2.fastq.gz "$TMP/t.gz"
head -c $(( $(stat -c %s "$TMP/t.gz") / 2 )) "$TMP/t.gz" > bad/truncated_r2.fastq.gz
cat > bad/samplesheet_missing_file.csv <<'EOF'
patient,sex,status,sample,lane,fastq_1,fastq_2
PB,XX,0,GOOD,L1,good_R1.fastq.gz,missing_R2.fastq.gz
EOF
cat > bad/samplesheet_duplicate_lane.csv <<'EOF'
patient,sex,status,sample,lane,fastq_1,fastq_2
PB,XX,0,GOOD,L1,good_R1.fastq.gz,good_R2.fastq.gz
PB,XX,0,GOOD,L1,good_R1.fastq.gz,good_R2.fastq.gz
EOF

# ---- 8. summary (numbers quoted in README.md) ---------------------------------------------
echo "window $CONTIG:$((WIN_START + 1))-$WIN_END (BED $WIN_START-$WIN_END), confident $(cut -f2,3 confident.bed | tr '\t' -)"
for s in germline normal tumor; do
  echo "$s: $(wc -l < "$TMP/$s.names") pairs kept, of which odd pairs:"; sed 's/^/    /' "$TMP/$s.tab.odd"
done
for f in germline/germline_L*_R1.fastq.gz somatic/*_R1.fastq.gz; do echo "$f: $(( $(zcat "$f" | wc -l) / 4 )) pairs"; done
echo "duplicate rows: $(zcat germline/germline.duplicates.tsv.gz | grep -vc '^#')"
echo "germline truth (by SRC, type, GT):"
bcftools query -f '%INFO/SRC\t%REF\t%ALT\t[%GT]\n' germline/truth.vcf.gz \
  | awk -F'\t' '{t = (length($2) == length($3)) ? "SNV" : (length($2) < length($3) ? "INS" : "DEL"); print $1, t, ($4 == "1|1" ? "hom" : "het")}' \
  | sort | uniq -c
echo "somatic truth (by TIER/EVAF, type):"
bcftools query -f '%INFO/TIER\t%INFO/EVAF\t%REF\t%ALT\n' somatic/truth_somatic.vcf.gz \
  | awk -F'\t' '{print $1, $2, (length($3) == length($4) ? "SNV" : "INDEL")}' | sort | uniq -c
echo "bytes of the files this script makes (+ README.md): $(find ref germline somatic bad confident.bed samplesheet*.csv make_testdata.sh README.md -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s}')"
