#!/usr/bin/env bash
# chromosome.sh DATA_DIR
#
# Whole-chromosome benchmark (../../../shared/bench/chromosome/README.md builds DATA_DIR): dagr
# against the classic open-source chains, speed and accuracy in one table.
#   germline  dagr run germline (two lanes of one sample)
#             peer-chain.sh germline-mm2 and germline-bwa (the two lanes concatenated)
#             peer-chain.sh call-only: bcftools mpileup | call on dagr's own BAM
#   somatic   dagr run somatic (normal + tumour; its figures include the normal's germline calls)
#             peer-somatic.sh: bwa chains, freebayes --pooled-continuous, read-count filter
# Per contender: wall and CPU seconds (/usr/bin/time, children included), peak RSS (largest single
# process), output bytes (BAM + index, VCF + index), core-seconds per Mb (CPU seconds / reference
# Mb: the .fai length, N included; the somatic pair uses the span of somatic/confident.bed, where
# its reads lie), and accuracy from `dagr bench compare` (exact and haplotype-aware F1, on the
# confident BED and inside strat_selfsimilar_100mer.bed ∩ confident). Somatic: recall per truth
# tier (INFO/TIER, with its most common INFO/EVAF), report only. Then a projection of dagr's germline
# core-seconds per Mb to a 3.1 Gb 30x genome, in core-hours, with its caveat.
#
# Environment (all optional):
#   RUNS        timed dagr runs per part; the table shows medians     [default: 1; use 3 to report]
#   THREADS     threads for every tool                                 [default: 2]
#   DAGR        the dagr binary                                        [default: <repo>/target/release/dagr]
#   WORK        scratch (runs, logs, runs.tsv, accuracy.tsv, table.md) [default: a new /tmp/chromosome.XXXXXX]
#   PARTS       "germline somatic", or one of them                     [default: both]
#   PEER_CACHE  where peer results are kept between invocations       [default: ~/.cache/dagr-bench-peers]
#   REFCACHE    dagr --reference-cache                                  [default: $WORK/refcache]
#   QUIET_WAIT  seconds to wait, before each timed run, for >= 90 % idle CPUs and no cargo/rustc/
#               cc1/ld process; past it the run goes ahead and is marked contended [default: 300]
#   STRICT_QUIET=1  refuse (exit 2) instead of timing a run on a busy machine
#   PEER_RETIME 1: a cached peer run that was contended is run and timed again [default: 1]
#   GENOME_MB   the genome size of the projection                      [default: 3100]
#   GERMLINE_MB Mb the germline per-Mb figures divide by  [default: the .fai length, or REGION's
#               length for a REGION build of make-chromosome.sh (read from DATA_DIR/README.md)]
#
# Peer cache: a peer's outputs (calls, sizes, its time file) are stored under
# PEER_CACHE/<contender>-<key> and reused whenever the key matches, so after a dagr change only
# dagr reruns. The key is the sha256 of: the contender, THREADS, the versions of minimap2, bwa,
# samtools, bcftools and freebayes, the sha256 of the chain scripts, and an input digest: the
# sha256 of every input file's name, size and mtime (FASTQs, reference; not the contents, which
# would take minutes to hash). call-only (on dagr's BAM) also takes the sha256 of the dagr binary:
# a new dagr build reruns it. Delete the folder to time the peers again. A cached run keeps its
# timing and is marked `cached` in the table; one that was contended is timed again (PEER_RETIME).
#
# Contention: each timed run records the CPU seconds the rest of the machine burnt meanwhile
# (/proc/stat busy delta minus its own); above 10 % of its wall, or after a wait that gave up,
# the run is marked contended in runs.tsv and the table.
#
# Not timed: dagr prepare-reference (run once first), samtools faidx / bwa index of the peers'
# copy of the reference, the concatenation of the germline lanes for the peers, scoring.
# Measuring tool only: the project's tests must not call it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DATA=$(cd "${1:?usage: chromosome.sh DATA_DIR}" && pwd)
RUNS=${RUNS:-1}
THREADS=${THREADS:-2}
DAGR=$(realpath "${DAGR:-$REPO/target/release/dagr}")
WORK=${WORK:-$(mktemp -d /tmp/chromosome.XXXXXX)}
PARTS=${PARTS:-germline somatic}
PEER_CACHE=${PEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dagr-bench-peers}
REFCACHE=${REFCACHE:-$WORK/refcache}
STRICT_QUIET=${STRICT_QUIET:-0}
PEER_RETIME=${PEER_RETIME:-1}
GENOME_MB=${GENOME_MB:-3100}
CHAIN=$(realpath "$REPO/../shared/bench/peer-chain.sh")
PAIR=$HERE/peer-somatic.sh
export CHAIN

REF=$DATA/ref/ref.fa
G=$DATA/germline
S=$DATA/somatic
need=("$REF" "$DAGR" "$CHAIN" "$PAIR" "$TIME_BIN")
case " $PARTS " in *" germline "*)
  need+=("$G"/germline_L00{1,2}_R{1,2}.fastq.gz "$G/truth.vcf.gz" "$G/confident.bed" "$G/strat_selfsimilar_100mer.bed") ;;
esac
case " $PARTS " in *" somatic "*)
  need+=("$S"/{normal,tumor}_R{1,2}.fastq.gz "$S/truth_somatic.vcf.gz" "$S/confident.bed") ;;
esac
for f in "${need[@]}"; do [ -e "$f" ] || die "missing $f"; done
for t in minimap2 bwa samtools bcftools tabix freebayes python3; do
  command -v "$t" >/dev/null || die "$t not on PATH"
done
mkdir -p "$WORK"/{runs,logs,tmp,scores} "$PEER_CACHE"
log "work folder $WORK; peer cache $PEER_CACHE"

# --- untimed preparation -------------------------------------------------------------------------
[ -s "$REF.fai" ] || die "$REF.fai missing (samtools faidx it first; the bench folder stays read-only here)"
REF_MB=$(awk '{s += $2} END {printf "%.6f", s / 1e6}' "$REF.fai")
# A REGION build (README "Settings: ... REGION=20:START-END") has germline reads over REGION only.
BUILD_REGION=$(sed -n 's/^Settings:.* REGION=\([^ ]*:[0-9]*-[0-9]*\) .*/\1/p' "$DATA/README.md" 2>/dev/null | head -1 || true)
if [ -z "${GERMLINE_MB:-}" ] && [ -n "$BUILD_REGION" ]; then
  GERMLINE_MB=$(echo "$BUILD_REGION" | awk -F'[:-]' '{printf "%.6f", ($3 - $2 + 1) / 1e6}')
  log "REGION build ($BUILD_REGION): germline per-Mb figures over $GERMLINE_MB Mb, not the .fai's $REF_MB"
fi
log "dagr prepare-reference (untimed)"
"$DAGR" prepare-reference "$REF" --cache-dir "$REFCACHE" --threads "$THREADS" >"$WORK/logs/prepare.log" 2>&1 \
  || { cat "$WORK/logs/prepare.log" >&2; exit 1; }

VERSIONS="minimap2 $(minimap2 --version); bwa $(bwa 2>&1 | sed -n 's/^Version: *//p'); samtools $(samtools --version | head -1 | cut -d' ' -f2); bcftools $(bcftools --version | head -1 | cut -d' ' -f2); freebayes $(freebayes --version | awk '{print $2}')"
SCRIPTS_SHA=$(cat "$CHAIN" "$PAIR" | sha256sum | cut -c1-16)
DAGR_SHA=$(sha256sum "$DAGR" | cut -c1-16)
REF_STATS=$(sha256_of_stats "$REF")
# The peers' reference: a copy beside its bwa index, kept in the cache (bwa index of 63 Mb: ~1 min).
PREF_DIR=$PEER_CACHE/ref-$REF_STATS
PREF=$PREF_DIR/ref.fa
if [ ! -s "$PREF.bwt" ]; then
  log "peers' reference copy, samtools faidx, bwa index (untimed) -> $PREF_DIR"
  mkdir -p "$PREF_DIR"; cp "$REF" "$PREF"; samtools faidx "$PREF"
  bwa index "$PREF" 2>"$PREF_DIR/bwa-index.log"
fi
{
  echo "host        $(uname -n), $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "dagr        $("$DAGR" --version) ($DAGR)"
  echo "peers       $VERSIONS"
  echo "data        $DATA (reference $REF_MB Mb from the .fai)"
} >"$WORK/versions.txt"

# --- runs ----------------------------------------------------------------------------------------
RUNS_TSV=$WORK/runs.tsv
printf 'part\ttool\trun\twall_s\tcpu_s\tpeak_rss_kb\tforeign_cpu_s\tcontended\tcached\tbam_bytes\tvcf_bytes\tdir\n' >"$RUNS_TSV"
STAGES_TSV=$WORK/stages.tsv
printf 'part\trun\tstage\tentity\twall_s\tcpu_s\tpeak_rss_kb\n' >"$STAGES_TSV"

bytes() { local n=0 f; for f in "$@"; do [ -e "$f" ] && n=$((n + $(stat -Lc %s "$f"))); done; echo "$n"; }

quiet_or_refuse() { # prints 0 when quiet, 1 when it gave up waiting
  if wait_quiet; then echo 0; return; fi
  [ "$STRICT_QUIET" = 1 ] && die "STRICT_QUIET=1 and the machine is busy: not timing"
  echo 1
}

contended_of() { # timefile gaveup -> 1 when the run shared the machine
  local wall x foreign
  read -r wall x <"$1"
  foreign=$(cat "$1.foreign" 2>/dev/null || echo 0)
  awk -v f="$foreign" -v w="$wall" -v g="$2" 'BEGIN{print (g == 1 || f > 0.1 * w) ? 1 : 0}'
}

record() { # part tool run timefile gaveup cached bam_bytes vcf_bytes dir
  local wall rss us sy foreign cont
  read -r wall rss us sy <"$4"
  foreign=$(cat "$4.foreign" 2>/dev/null || echo 0)
  cont=$(contended_of "$4" "$5")
  printf '%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$wall" "$(awk -v u="$us" -v s="$sy" 'BEGIN{print u + s}')" \
    "$rss" "$foreign" "$cont" "$6" "$7" "$8" "$9" >>"$RUNS_TSV"
  log "$1 $2 run $3: ${wall} s wall, $(awk -v u="$us" -v s="$sy" 'BEGIN{print u + s}') s CPU, $((rss / 1024)) MiB peak RSS$([ "$cont" = 1 ] && echo ', CONTENDED')$([ "$6" = 1 ] && echo ' (cached)')"
}

write_sheets() {
  printf 'patient,sex,status,sample,lane,fastq_1,fastq_2\n' >"$WORK/germline.csv"
  for l in 1 2; do
    printf 'PG,XX,0,GERM,L00%s,%s,%s\n' "$l" "$G/germline_L00${l}_R1.fastq.gz" "$G/germline_L00${l}_R2.fastq.gz" >>"$WORK/germline.csv"
  done
  printf 'patient,sex,status,sample,lane,fastq_1,fastq_2\nPT,XX,0,NORMAL,L003,%s,%s\nPT,XX,1,TUMOR,L004,%s,%s\n' \
    "$S/normal_R1.fastq.gz" "$S/normal_R2.fastq.gz" "$S/tumor_R1.fastq.gz" "$S/tumor_R2.fastq.gz" >"$WORK/somatic.csv"
}

dagr_run() { # part run
  local part=$1 r=$2 out=$WORK/runs/dagr-$1.$2 tf=$WORK/logs/dagr-$1.$2.time lg=$WORK/logs/dagr-$1.$2.log gaveup
  rm -rf "$out"
  gaveup=$(quiet_or_refuse)
  timed_run "$tf" "$DAGR" run "$part" --samplesheet "$WORK/$part.csv" --reference "$REF" --outdir "$out" \
    --threads "$THREADS" --reference-cache "$REFCACHE" --tmp-dir "$WORK/tmp" >"$lg" 2>&1 \
    || { tail -20 "$lg" >&2; die "dagr $part run $r failed, see $lg"; }
  local bam vcf
  if [ "$part" = germline ]; then
    bam=$(bytes "$out/GERM/GERM.bam" "$out/GERM/GERM.bam.bai")
    vcf=$(bytes "$out/GERM/GERM.vcf.gz" "$out/GERM/GERM.vcf.gz.tbi")
  else
    bam=$(bytes "$out"/{NORMAL,TUMOR}/{NORMAL,TUMOR}.bam "$out"/{NORMAL,TUMOR}/{NORMAL,TUMOR}.bam.bai)
    vcf=$(bytes "$out"/TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz{,.tbi})
  fi
  record "$part" dagr "$r" "$tf" "$gaveup" 0 "$bam" "$vcf" "$out"
  python3 - "$out/run_report.json" "$part" "$r" >>"$STAGES_TSV" <<'EOF'
import json, sys
report, part, run = sys.argv[1:]
for s in json.load(open(report))["stages"]:
    print(f'{part}\t{run}\t{s["stage"]}\t{s["entity"]}\t{s["wall_seconds"]:.2f}\t{s["cpu_seconds"]:.2f}\t{s["peak_rss_bytes"] // 1024}')
EOF
}

# A peer, run once per cache key. peer_run part tool key command...  (the command writes into $PEER_OUT)
peer_run() {
  local part=$1 tool=$2 key=$3 dir cached=1
  shift 3
  dir=$PEER_CACHE/$tool-$key
  if [ -e "$dir/done" ] && [ "$PEER_RETIME" = 1 ] && [ "$(contended_of "$dir/time" "$(cat "$dir/gaveup")")" = 1 ]; then
    log "$part $tool: the cached run was contended, timing it again (PEER_RETIME=0 keeps it)"
    rm -f "$dir/done"
  fi
  if [ ! -e "$dir/done" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    local gaveup; gaveup=$(quiet_or_refuse)
    log "$part $tool: running (cache miss) -> $dir"
    export PEER_OUT=$dir/out
    timed_run "$dir/time" "$@" >"$dir/log" 2>&1 || { tail -20 "$dir/log" >&2; die "$tool failed, see $dir/log"; }
    echo "$gaveup" >"$dir/gaveup"
    cached=0
    echo "$VERSIONS" >"$dir/versions.txt"
    touch "$dir/done"
  fi
  local bam vcf
  case $tool in
    pair-freebayes) bam=$(bytes "$dir"/out/{normal,tumor}/md.bam{,.bai}); vcf=$(bytes "$dir"/out/somatic.vcf.gz{,.tbi}) ;;
    call-only) bam=0; vcf=$(bytes "$dir/out/calls.vcf.gz") ;;
    *) bam=$(bytes "$dir"/out/md.bam{,.bai}); vcf=$(bytes "$dir/out/calls.vcf.gz") ;;
  esac
  # Peer BAMs are only needed for their size: drop them once measured.
  if [ ! -e "$dir/bytes" ]; then echo "$bam $vcf" >"$dir/bytes"; rm -f "$dir"/out/md.bam "$dir"/out/*/md.bam "$dir"/out/*.bam; fi
  read -r bam vcf <"$dir/bytes"
  record "$part" "$tool" 1 "$dir/time" "$(cat "$dir/gaveup")" "$cached" "$bam" "$vcf" "$dir/out"
}

key_of() { printf '%s\n' "$@" "$THREADS" "$VERSIONS" "$SCRIPTS_SHA" | sha256sum | cut -c1-16; }

# --- scoring -------------------------------------------------------------------------------------
ACC_TSV=$WORK/accuracy.tsv
printf 'part\ttool\tstratum\tclass\texact_p\texact_r\texact_f1\thap_p\thap_r\thap_f1\trescued\n' >"$ACC_TSV"
TIERS_TSV=$WORK/tiers.tsv
printf 'tool\ttier\tevaf\ttruth\texact_tp\texact_recall\thap_tp\thap_recall\n' >"$TIERS_TSV"

score() { # part tool stratum truth query regions [compare args...]
  local part=$1 tool=$2 stratum=$3 truth=$4 query=$5 regions=$6 json
  shift 6
  json=$WORK/scores/$part.$tool.$stratum.json
  "$DAGR" bench compare --truth "$truth" --query "$query" --reference "$REF" --regions "$regions" --json "$json" "$@" \
    >"${json%.json}.txt" 2>&1 || { cat "${json%.json}.txt" >&2; die "bench compare of $tool failed"; }
  python3 - "$json" "$part" "$tool" "$stratum" >>"$ACC_TSV" <<'EOF'
import json, sys
path, part, tool, stratum = sys.argv[1:]
r = json.load(open(path)); h = r["haplotype"]
for c in ("snv", "indel"):
    e, x = r[c], h[c]
    print(f'{part}\t{tool}\t{stratum}\t{c}\t{e["precision"]:.4f}\t{e["recall"]:.4f}\t{e["f1"]:.4f}'
          f'\t{x["precision"]:.4f}\t{x["recall"]:.4f}\t{x["f1"]:.4f}\t{h["clusters"]["rescued"]}')
EOF
}

score_tiers() { # tool query
  local tool=$1 query=$2 tier t
  for tier in $(bcftools query -f '%INFO/TIER\n' "$S/truth_somatic.vcf.gz" | sort -u); do
    t=$WORK/scores/truth_somatic.$tier.vcf.gz
    [ -s "$t" ] || bcftools view --no-version -i "INFO/TIER=\"$tier\"" -Oz -o "$t" "$S/truth_somatic.vcf.gz"
    "$DAGR" bench compare --truth "$t" --query "$query" --reference "$REF" --regions "$S/confident.bed" \
      --truth-filter all --query-filter pass --json "$WORK/scores/tier.$tool.$tier.json" >/dev/null 2>&1 \
      || die "bench compare of $tool on tier $tier failed"
    python3 - "$WORK/scores/tier.$tool.$tier.json" "$tool" "$tier" \
      "$(bcftools query -f '%INFO/EVAF\n' "$t" | sort | uniq -c | sort -k1,1nr | awk 'NR == 1 {print $2}')" \
      >>"$TIERS_TSV" <<'EOF'
import json, sys
path, tool, tier, evaf = sys.argv[1:]
r = json.load(open(path)); h = r["haplotype"]
truth = sum(r[c]["tp"] + r[c]["fn"] for c in ("snv", "indel"))
etp = sum(r[c]["tp"] for c in ("snv", "indel")); htp = sum(h[c]["tp_truth"] for c in ("snv", "indel"))
print(f'{tool}\t{tier}\t{evaf}\t{truth}\t{etp}\t{etp / truth if truth else 0:.4f}\t{htp}\t{htp / truth if truth else 0:.4f}')
EOF
  done
}

# Self-similar stratum inside the confident BED (both sorted; intervals intersected in awk).
strat_bed() { # confident strat out
  sort -k1,1 -k2,2n "$1" >"$3.a"; sort -k1,1 -k2,2n "$2" >"$3.b"
  python3 - "$3.a" "$3.b" >"$3" <<'EOF'
import sys
def read(p):
    out = {}
    for line in open(p):
        f = line.split()
        if len(f) >= 3 and not line.startswith(("#", "track", "browser")):
            out.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
for c in a:
    x, y, i, j = sorted(a[c]), sorted(b.get(c, [])), 0, 0
    while i < len(x) and j < len(y):
        s, e = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if s < e:
            print(f"{c}\t{s}\t{e}")
        if x[i][1] < y[j][1]: i += 1
        else: j += 1
EOF
  rm -f "$3.a" "$3.b"
}

germline_part() {
  local r last key fq
  for r in $(seq 1 "$RUNS"); do
    dagr_run germline "$r"
    # Keep the last run only (2 GB of BAM per run on a whole chromosome).
    if [ "$r" -gt 1 ]; then rm -rf "$WORK/runs/dagr-germline.$((r - 1))"; fi
  done
  last=$WORK/runs/dagr-germline.$RUNS
  # Peers: the lanes concatenated once (gzip members concatenate), kept in the cache.
  local stats; stats=$(sha256_of_stats "$G"/germline_L00{1,2}_R{1,2}.fastq.gz "$REF")
  fq=$PEER_CACHE/fastq-$stats
  if [ ! -s "$fq/R2.fastq.gz" ]; then
    log "concatenating the germline lanes for the peers (untimed) -> $fq"
    mkdir -p "$fq"
    cat "$G"/germline_L00{1,2}_R1.fastq.gz >"$fq/R1.tmp" && mv "$fq/R1.tmp" "$fq/R1.fastq.gz"
    cat "$G"/germline_L00{1,2}_R2.fastq.gz >"$fq/R2.tmp" && mv "$fq/R2.tmp" "$fq/R2.fastq.gz"
  fi
  for c in germline-mm2 germline-bwa; do
    key=$(key_of "$c" "$stats")
    peer_run germline "$c" "$key" bash -c 'bash "$CHAIN" "$1" "$2" "$3" "$4" "$PEER_OUT" "$5"' _ \
      "$c" "$PREF" "$fq/R1.fastq.gz" "$fq/R2.fastq.gz" "$THREADS"
  done
  # dagr's BAM differs between outdirs in its @PG line only: key on what makes its records.
  key=$(key_of call-only "$DAGR_SHA" "$stats")
  peer_run germline call-only "$key" bash -c 'bash "$CHAIN" call-only "$1" "$2" none "$PEER_OUT" "$3"' _ \
    "$PREF" "$last/GERM/GERM.bam" "$THREADS"
  strat_bed "$G/confident.bed" "$G/strat_selfsimilar_100mer.bed" "$WORK/selfsimilar_in_confident.bed"
  local tool vcf
  for tool in dagr germline-mm2 germline-bwa call-only; do
    case $tool in
      dagr) vcf=$last/GERM/GERM.vcf.gz ;;
      *) vcf=$(awk -F'\t' -v t="$tool" '$2 == t {d = $12} END {print d}' "$RUNS_TSV")/calls.vcf.gz ;;
    esac
    score germline "$tool" confident "$G/truth.vcf.gz" "$vcf" "$G/confident.bed"
    score germline "$tool" selfsimilar "$G/truth.vcf.gz" "$vcf" "$WORK/selfsimilar_in_confident.bed"
  done
}

somatic_part() {
  local r last key stats
  for r in $(seq 1 "$RUNS"); do
    dagr_run somatic "$r"
    if [ "$r" -gt 1 ]; then rm -rf "$WORK/runs/dagr-somatic.$((r - 1))"; fi
  done
  last=$WORK/runs/dagr-somatic.$RUNS
  stats=$(sha256_of_stats "$S"/{normal,tumor}_R{1,2}.fastq.gz "$REF" "$S/confident.bed")
  key=$(key_of pair-freebayes "$stats")
  peer_run somatic pair-freebayes "$key" bash -c 'bash "$1" "$2" "$3" "$4" "$5" "$6" "$PEER_OUT" "$7" "$8"' _ \
    "$PAIR" "$PREF" "$S"/normal_R{1,2}.fastq.gz "$S"/tumor_R{1,2}.fastq.gz "$THREADS" "$S/confident.bed"
  local somatic_args=(--truth-filter all --query-filter pass)
  local dagr_vcf=$last/TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz
  local peer_vcf; peer_vcf=$(awk -F'\t' '$2 == "pair-freebayes" {d = $12} END {print d}' "$RUNS_TSV")/somatic.vcf.gz
  score somatic dagr confident "$S/truth_somatic.vcf.gz" "$dagr_vcf" "$S/confident.bed" "${somatic_args[@]}"
  score somatic pair-freebayes confident "$S/truth_somatic.vcf.gz" "$peer_vcf" "$S/confident.bed" "${somatic_args[@]}"
  score_tiers dagr "$dagr_vcf"
  score_tiers pair-freebayes "$peer_vcf"
}

write_sheets
case " $PARTS " in *" germline "*) germline_part ;; esac
case " $PARTS " in *" somatic "*) somatic_part ;; esac

# --- table ---------------------------------------------------------------------------------------
SOMATIC_MB=$(awk '{if (!($1 in s) || $2 < s[$1]) s[$1] = $2; if ($3 > e[$1]) e[$1] = $3} END {for (c in s) t += e[c] - s[c]; printf "%.6f", t / 1e6}' "$S/confident.bed" 2>/dev/null || echo 0)
python3 "$HERE/chromosome_table.py" "$WORK" "$THREADS" "$RUNS" "${GERMLINE_MB:-$REF_MB}" "$SOMATIC_MB" "$GENOME_MB" "$REF_MB" \
  | tee "$WORK/table.md"
log "raw runs: $RUNS_TSV; per-stage: $STAGES_TSV; accuracy: $ACC_TSV; table: $WORK/table.md"
