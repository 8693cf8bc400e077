#!/usr/bin/env bash
# Regenerates expected_scores.tsv with the reference method (bench/score.sh: bcftools norm, view -T,
# isec). Needs bcftools + tabix and the shared bench folder. Run from anywhere:
#   testdata/bench/make_expected.sh [SCORE_SH]   (default /work/shared/bench/score.sh)
# FILTER "." must be accepted explicitly: score.sh's default 'FILTER="PASS"' rejects it under
# bcftools 1.16, and bcftools/freebayes write "." (see README.md).
set -euo pipefail
D=$(cd "$(dirname "$0")" && pwd); REF="$D/../ref/ref.fa"; SCORE=${1:-/work/shared/bench/score.sh}
PASS_ALT='(FILTER="PASS" || FILTER=".") && GT="alt"'
row() { # case truth query bed query_filter truth_filter  [score.sh CF TF]
  local name=$1 t=$2 q=$3 bed=$4 qf=$5 tf=$6 cf=$7 stf=$8
  "$SCORE" "$D/$t" "$D/$q" "$REF" "$D/$bed" "$cf" "$stf" \
  | awk -v OFS='\t' -v n="$name" -v t="$t" -v q="$q" -v b="$bed" -v qf="$qf" -v tf="$tf" \
      '{print n, t, q, b, qf, tf, $1, $2, $3, $4, $5, $6, $7}'
}
{
  printf 'case\ttruth\tquery\tregions\tquery_filter\ttruth_filter\tclass\ttp\tfp\tfn\tprecision\trecall\tf1\n'
  row bcftools_bwa germline_truth.vcf.gz bcftools_bwa.vcf.gz germline_confident.bed pass-alt auto "$PASS_ALT" auto
  row bcftools_bwa_q20 germline_truth.vcf.gz bcftools_bwa_q20.vcf.gz germline_confident.bed pass-alt auto "$PASS_ALT" auto
  row freebayes_bwa germline_truth.vcf.gz freebayes_bwa.vcf.gz germline_confident.bed pass-alt auto "$PASS_ALT" auto
  row bcftools_mm2 germline_truth.vcf.gz bcftools_mm2.vcf.gz germline_confident.bed pass-alt auto "$PASS_ALT" auto
  row freebayes_pooled_somatic somatic_truth.vcf.gz freebayes_pooled_somatic.vcf.gz somatic_confident.bed pass all PASS none
  row bcftools_pair_somatic somatic_truth.vcf.gz bcftools_pair_somatic.vcf.gz somatic_confident.bed pass all PASS none
  row synthetic synthetic_truth.vcf.gz synthetic_query.vcf.gz synthetic_regions.bed pass-alt auto "$PASS_ALT" auto
  row synthetic_bcf synthetic_truth.vcf.gz synthetic_query.bcf synthetic_regions.bed pass-alt auto "$PASS_ALT" auto
} > "$D/expected_scores.tsv"
