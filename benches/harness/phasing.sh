#!/usr/bin/env bash
# phasing.sh CALLS_VCF TRUTH_VCF [REGIONS_BED]
#
# Read-backed phasing of a dagr VCF against a phased truth, with WhatsHap's own definitions:
#   - `whatshap stats` on the calls: heterozygous variants, how many are phased, how many lie in
#     blocks of two or more, block count and block N50 (bp; a block spans its first to last het);
#   - `whatshap compare` of truth and calls: switch errors and the switch error rate over the hets
#     both sides phase, block-wise Hamming distance.
# Het SNVs in non-singleton blocks are counted here as well (SNVs only, the figure).
# Both sides are restricted to REGIONS_BED when given, and the calls to PASS records; the truth's
# sample is renamed to the calls' sample so WhatsHap pairs them.
#
# WhatsHap comes from PyPI into a virtual environment (WHATSHAP_VENV, default
# ~/.cache/dagr-whatshap), installed on first use. Needs bcftools and tabix.
# Measuring tool only: the project's tests must not call it.
set -euo pipefail

CALLS=${1:?usage: phasing.sh CALLS_VCF TRUTH_VCF [REGIONS_BED]}
TRUTH=${2:?usage: phasing.sh CALLS_VCF TRUTH_VCF [REGIONS_BED]}
BED=${3:-}
VENV=${WHATSHAP_VENV:-$HOME/.cache/dagr-whatshap}
for tool in bcftools tabix python3; do
  command -v "$tool" >/dev/null || { echo "phasing.sh: $tool is not installed" >&2; exit 2; }
done
if [ ! -x "$VENV/bin/whatshap" ]; then
  echo "installing WhatsHap into $VENV (once)" >&2
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q whatshap >&2
fi

W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
SAMPLE=$(bcftools query -l "$CALLS" | head -1)
restrict() { # in out [extra bcftools view args]
  local in=$1 out=$2; shift 2
  if [ -n "$BED" ]; then bcftools view --no-version -T "$BED" "$@" -Oz -o "$out" "$in"
  else bcftools view --no-version "$@" -Oz -o "$out" "$in"; fi
  tabix -f -p vcf "$out"
}
restrict "$CALLS" "$W/calls.vcf.gz" -f PASS
echo "$SAMPLE" > "$W/name"
bcftools reheader -s "$W/name" "$TRUTH" -o "$W/truth-named.vcf.gz"
restrict "$W/truth-named.vcf.gz" "$W/truth.vcf.gz"

echo "== het SNVs in phase blocks of two or more; block N50"
# A block: the phased hets sharing (CHROM, PS); its length, as WhatsHap's, last POS - first POS.
bcftools query -f '%CHROM\t%POS\t%TYPE\t[%GT\t%PS]\n' -i 'GT="het"' "$W/calls.vcf.gz" \
  | awk -F'\t' '
      { snv = ($3 == "SNP"); if (snv) n++
        if ($4 ~ /\|/) { key = $1 ":" $5; size[key]++; if (!(key in first)) first[key] = $2; last[key] = $2
                         if (snv) { rows++; block[rows] = key } } }
      END {
        for (i = 1; i <= rows; i++) if (size[block[i]] >= 2) p++
        for (k in size) if (size[k] >= 2) { len[++b] = last[k] - first[k]; total += len[b] }
        # N50: the length L such that blocks of length >= L hold half of all blocks bp.
        for (i = 1; i <= b; i++) for (j = i + 1; j <= b; j++) if (len[j] > len[i]) { t = len[i]; len[i] = len[j]; len[j] = t }
        for (i = 1; i <= b && acc < total / 2; i++) { acc += len[i]; n50 = len[i] }
        printf "het SNVs %d, in non-singleton blocks %d (%.4f); blocks %d, block N50 %d bp\n", n, p, n ? p / n : 0, b, n50 }'
echo "== whatshap stats (calls)"
"$VENV/bin/whatshap" stats --sample "$SAMPLE" "$W/calls.vcf.gz"
echo "== whatshap compare (truth vs calls)"
"$VENV/bin/whatshap" compare --names truth,dagr "$W/truth.vcf.gz" "$W/calls.vcf.gz"
