#!/usr/bin/env bash
# profile.sh DATA_DIR STAGE
#
# Where dagr spends its CPU in one stage, on a chromosome.sh DATA_DIR: `perf record` of a dagr run
# in which only STAGE does work, then the top 5 symbols by self cost and a flame graph.
#   align          dagr run align on the germline sample (two lanes); the reference is prepared
#                  before, so its stage only checks the cache
#   call_germline  dagr run germline once unprofiled, its call_germline manifest removed, then
#                  `dagr run germline --resume` profiled: align is reused, call_germline reruns
#   call_somatic   the same with dagr run somatic and call_somatic (align and call_germline reused)
#
# Environment (all optional):
#   DAGR       the dagr binary                        [default: <repo>/target/release/dagr]
#   WORK       scratch (runs, perf data, reports)     [default: a new /tmp/profile.XXXXXX]
#   THREADS    dagr --threads                          [default: 2]
#   FREQ       samples per second per CPU             [default: 49]
#   CALLGRAPH  dwarf (default: works on any build; about 8 KiB per sample, so 49 Hz x 2 threads
#              x 20 min is ~1 GB of perf data and a slow report) or fp (small, fast, but needs
#              a build with frame pointers, e.g.
#              RUSTFLAGS="-C target-cpu=x86-64-v3 -C force-frame-pointers=yes" \
#                cargo build --release --target-dir target/fp  and DAGR=target/fp/release/dagr)
#   FLAMEGRAPH 1: write a flame graph SVG with inferno (`cargo install inferno`) when it is on
#              PATH, else folded stacks (text, one stack per line) [default: 1]
#
# Event: cycles when the CPU exposes hardware counters (`perf stat -e instructions true` says
# whether); otherwise (most VMs) the cpu-clock software event, which samples the same way by time.
# Outputs in WORK: perf.STAGE.data, top5.STAGE.txt, perf.STAGE.svg or perf.STAGE.folded.
# Measuring tool only: the project's tests must not call it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DATA=$(cd "${1:?usage: profile.sh DATA_DIR STAGE}" && pwd)
STAGE=${2:?usage: profile.sh DATA_DIR align|call_germline|call_somatic}
DAGR=$(realpath "${DAGR:-$REPO/target/release/dagr}")
WORK=${WORK:-$(mktemp -d /tmp/profile.XXXXXX)}
THREADS=${THREADS:-2}
FREQ=${FREQ:-49}
CALLGRAPH=${CALLGRAPH:-dwarf}
FLAMEGRAPH=${FLAMEGRAPH:-1}
REF=$DATA/ref/ref.fa
G=$DATA/germline
S=$DATA/somatic

case $STAGE in
  align) pipeline=align; sheet=germline ;;
  call_germline) pipeline=germline; sheet=germline ;;
  call_somatic) pipeline=somatic; sheet=somatic ;;
  *) die "STAGE is align, call_germline or call_somatic, not '$STAGE'" ;;
esac
case $CALLGRAPH in dwarf | fp) ;; *) die "CALLGRAPH is dwarf or fp" ;; esac
command -v perf >/dev/null || die "perf not on PATH (Debian: linux-perf)"
[ -x "$DAGR" ] || die "no dagr binary at $DAGR"
[ -e "$REF" ] || die "missing $REF"

# --- can perf sample at all, and with which event? -----------------------------------------------
if ! perf stat -e task-clock true >/dev/null 2>&1; then
  die "perf cannot count here (kernel.perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')): run as root or lower it"
fi
if perf stat -e instructions true 2>&1 | grep -q 'not supported\|not counted'; then
  EVENT=cpu-clock
  log "no hardware counters (perf stat -e instructions: not supported): sampling the cpu-clock software event"
else
  EVENT=cycles
fi
mkdir -p "$WORK"/{logs,tmp}
OUT=$WORK/run.$pipeline

if [ "$sheet" = germline ]; then
  printf 'patient,sex,status,sample,lane,fastq_1,fastq_2\n' >"$WORK/sheet.csv"
  for l in 1 2; do
    printf 'PG,XX,0,GERM,L00%s,%s,%s\n' "$l" "$G/germline_L00${l}_R1.fastq.gz" "$G/germline_L00${l}_R2.fastq.gz" >>"$WORK/sheet.csv"
  done
else
  printf 'patient,sex,status,sample,lane,fastq_1,fastq_2\nPT,XX,0,NORMAL,L003,%s,%s\nPT,XX,1,TUMOR,L004,%s,%s\n' \
    "$S/normal_R1.fastq.gz" "$S/normal_R2.fastq.gz" "$S/tumor_R1.fastq.gz" "$S/tumor_R2.fastq.gz" >"$WORK/sheet.csv"
fi
dagr_args=(run "$pipeline" --samplesheet "$WORK/sheet.csv" --reference "$REF" --outdir "$OUT"
  --threads "$THREADS" --reference-cache "$WORK/refcache" --tmp-dir "$WORK/tmp")

log "dagr prepare-reference (not profiled)"
"$DAGR" prepare-reference "$REF" --cache-dir "$WORK/refcache" --threads "$THREADS" >"$WORK/logs/prepare.log" 2>&1 \
  || { cat "$WORK/logs/prepare.log" >&2; exit 1; }
if [ "$STAGE" != align ]; then
  log "dagr run $pipeline once, not profiled (makes the inputs of $STAGE)"
  "$DAGR" "${dagr_args[@]}" >"$WORK/logs/setup.log" 2>&1 || { tail -20 "$WORK/logs/setup.log" >&2; exit 1; }
  removed=$(find "$OUT" -path "*/work/$STAGE/manifest.json" -print -delete | wc -l)
  [ "$removed" -gt 0 ] || die "no $STAGE manifest under $OUT: cannot make it rerun alone"
  dagr_args+=(--resume)
else
  rm -rf "$OUT"
fi

# --- record --------------------------------------------------------------------------------------
DATAF=$WORK/perf.$STAGE.data
wait_quiet || log "profiling on a busy machine: shares are still meaningful, absolute times are not"
log "perf record -e $EVENT -F $FREQ --call-graph $CALLGRAPH: dagr ${dagr_args[*]}"
perf record -q -e "$EVENT" -F "$FREQ" --call-graph "$CALLGRAPH" -o "$DATAF" -- "$DAGR" "${dagr_args[@]}" \
  >"$WORK/logs/profiled.log" 2>&1 || { tail -20 "$WORK/logs/profiled.log" >&2; die "profiled run failed"; }
ran=$(python3 - "$OUT/run_report.json" <<'EOF'
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
print(", ".join("%s %s %.1f s" % (s["stage"], s["status"], s["wall_seconds"]) for s in stages))
EOF
)
log "profiled run: $ran"

# --- top 5 by self cost, grouped by symbol -------------------------------------------------------
perf report -i "$DATAF" --no-children --sort symbol --stdio -g none --percent-limit 0.1 2>/dev/null \
  | grep -v '^#' | grep -v '^[[:space:]]*$' | awk 'NR <= 5' >"$WORK/top5.$STAGE.txt"
echo "top 5 symbols by self cost in the run that did $STAGE ($EVENT samples, all threads):"
cat "$WORK/top5.$STAGE.txt"

# --- flame graph, or folded stacks ---------------------------------------------------------------
if [ "$FLAMEGRAPH" = 1 ]; then
  if command -v inferno-collapse-perf >/dev/null && command -v inferno-flamegraph >/dev/null; then
    perf script -i "$DATAF" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$WORK/perf.$STAGE.svg"
    echo "flame graph: $WORK/perf.$STAGE.svg"
  else
    # One line per distinct stack, root first, frames joined by ';', then its sample count
    # (the format flamegraph tools read).
    perf script -i "$DATAF" -F comm,ip,sym 2>/dev/null | awk '
      function flush() { if (n > 0) { s = comm; for (i = n; i >= 1; i--) s = s ";" f[i]; c[s]++ } n = 0 }
      /^[^ \t]/ { flush(); comm = $1; next }
      /^[ \t]*$/ { flush(); next }
      { sym = $2; for (k = 3; k <= NF; k++) sym = sym " " $k; sub(/\+0x[0-9a-f]+$/, "", sym); f[++n] = sym }
      END { flush(); for (s in c) print s, c[s] }' | sort >"$WORK/perf.$STAGE.folded"
    echo "folded stacks (inferno not on PATH; \`cargo install inferno\` for an SVG): $WORK/perf.$STAGE.folded"
  fi
fi
