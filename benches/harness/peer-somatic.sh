#!/usr/bin/env bash
# peer-somatic.sh REF.fa NORMAL_R1 NORMAL_R2 TUMOR_R1 TUMOR_R2 OUTDIR [THREADS] [REGIONS_BED]
#
# The classic open-source stand-in for a tumour/normal caller (no true somatic caller is packaged
# on Debian), as ../../../shared/bench/README.md scores it:
#   1. each sample through the commands of peer-chain.sh align-bwa (bwa mem | fixmate | sort ;
#      markdup ; index), with read group and sample named normal / tumor (peer-chain.sh names every
#      sample `peer`, which freebayes cannot tell apart),
#   3. freebayes --pooled-continuous (default thresholds, as testdata/bench/README.md reproduces
#      the bench README's row with) on both BAMs, over REGIONS_BED (default: the
#      whole reference) cut into THREADS pieces of equal length run side by side (freebayes has one
#      thread), the pieces concatenated in order,
#   4. the read-count filter: multi-allelic records split, then kept when the tumour has >= 5 reads
#      of the ALT (FORMAT/AO) and the normal none.
# Writes OUTDIR/freebayes.vcf.gz (raw) and OUTDIR/somatic.vcf.gz (+ .tbi, the filtered calls), keeps
# the two BAMs (OUTDIR/{normal,tumor}/md.bam), and prints its wall seconds on the last line
# ("pair-freebayes SECONDS"), like peer-chain.sh. REF must be writable beside it (bwa index).
# Measuring tool only: the project's tests must not call it.
set -euo pipefail
REF=${1:?ref.fa}; N1=${2:?normal R1}; N2=${3:?normal R2}; T1=${4:?tumour R1}; T2=${5:?tumour R2}
O=${6:?outdir}; T=${7:-2}; BED=${8:-}
mkdir -p "$O"
[ -s "$REF.fai" ] || samtools faidx "$REF"
t0=$(date +%s.%N)
align() { # sample R1 R2: peer-chain.sh's align-bwa commands, the read group named after the sample
  mkdir -p "$O/$1"
  bwa mem -t"$T" -R "@RG\tID:$1\tSM:$1" "$REF" "$2" "$3" 2>/dev/null \
    | samtools fixmate -m - - | samtools sort -@"$T" -o "$O/$1/sorted.bam" - 2>/dev/null
  samtools markdup -@"$T" "$O/$1/sorted.bam" "$O/$1/md.bam" 2>/dev/null && rm -f "$O/$1/sorted.bam"
  samtools index "$O/$1/md.bam"
}
[ -s "$REF.bwt" ] || bwa index "$REF" 2>/dev/null
align normal "$N1" "$N2"
align tumor "$T1" "$T2"
# Regions: REGIONS_BED's span per contig (or whole contigs), cut into T pieces of equal length.
if [ -n "$BED" ]; then
  awk 'BEGIN{OFS="\t"} {if (!($1 in s) || $2 < s[$1]) s[$1]=$2; if ($3 > e[$1]) e[$1]=$3} END{for (c in s) print c, s[c], e[c]}' "$BED"
else
  awk 'BEGIN{OFS="\t"} {print $1, 0, $2}' "$REF.fai"
fi | sort -k1,1 -k2,2n >"$O/span.bed"
awk -v n="$T" 'BEGIN{OFS="\t"} {c[NR]=$1; b[NR]=$2; e[NR]=$3; tot+=$3-$2}
  END{step=int((tot+n-1)/n); piece=0; left=step
    for (i=1; i<=NR; i++) { p=b[i]
      while (p < e[i]) { q=p+left; if (q > e[i]) q=e[i]
        print c[i], p, q, piece > ("'"$O"'/piece." piece ".bed"); left-=q-p; p=q
        if (left == 0) { piece++; left=step } } } }' "$O/span.bed"
pids=()
for bed in "$O"/piece.*.bed; do
  freebayes -f "$REF" --pooled-continuous -t "$bed" "$O/tumor/md.bam" "$O/normal/md.bam" \
    >"${bed%.bed}.vcf" 2>"${bed%.bed}.log" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in $(seq 0 $((T - 1))); do [ -f "$O/piece.$i.vcf" ] && echo "$O/piece.$i.vcf"; done \
  | xargs bcftools concat --no-version -Oz -o "$O/freebayes.vcf.gz" 2>/dev/null
ni=$(bcftools query -l "$O/freebayes.vcf.gz" | grep -nx normal | cut -d: -f1); ni=$((ni - 1))
ti=$(bcftools query -l "$O/freebayes.vcf.gz" | grep -nx tumor | cut -d: -f1); ti=$((ti - 1))
bcftools norm --no-version -m -any -Ou "$O/freebayes.vcf.gz" 2>/dev/null \
  | bcftools view --no-version -i "FMT/AO[$ti:0]>=5 && FMT/AO[$ni:0]=0" -Oz -o "$O/somatic.vcf.gz"
tabix -f -p vcf "$O/somatic.vcf.gz"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN{printf "pair-freebayes %.2f\n", b-a}'
