#!/usr/bin/env bash
# align_vs_chain.sh [BENCH_DIR] [THREADS] [RUNS] [DAGR]
#
# Side-by-side speed of dagr's FASTQ -> sorted, duplicate-marked, indexed BAM (`dagr run align`)
# against the classic piped chains of ../shared/bench/peer-chain.sh:
#   align-mm2  minimap2 -ax sr | samtools fixmate -m | samtools sort ; samtools markdup ; samtools index
#   align-bwa  the same with bwa mem
# on BENCH_DIR/germline (30x, 2x150), in one session, alternating dagr, mm2, bwa, RUNS times each.
# Prints the median wall time, the peak RSS, and the ratios dagr/mm2-chain and dagr/bwa-chain.
#
# Arguments (all optional, positional):
#   BENCH_DIR  the public bench set             [default: <repo>/../shared/bench]
#   THREADS    threads for every tool           [default: 2]
#   RUNS       timed runs per contender         [default: 3]
#   DAGR       the dagr binary                  [default: <repo>/target/release/dagr]
# Environment:
#   WORK       scratch folder (outputs, logs, a writable copy of the reference for bwa index)
#                                               [default: a new /tmp/align_vs_chain.XXXXXX]
#   REFCACHE   dagr --reference-cache           [default: $WORK/refcache]
#   QUIET_WAIT before each timed run, wait up to this many seconds for the machine to be >= 90 %
#              idle with no cargo/rustc/cc1/ld running (other builds and tests skew the figures)
#              [default: 300]
#   RSS_PASS   1: after the timed runs, run each chain once more with every minimap2/bwa/samtools
#              process wrapped in /usr/bin/time, for per-process peak RSS [default: 1]
#
# What is timed: the whole command under /usr/bin/time -f '%e %M' (wall seconds, peak RSS of the
# largest process). Not timed: dagr's reference preparation (one untimed warm-up `dagr run align`
# fills the cache and the page cache first; the timed runs still start dagr's prepare_reference
# stage, which only checks that the cache is up to date, ~0.1 s), `bwa index` and `samtools faidx`.
#
# Contention: each run also records its own CPU seconds (user+sys, children included) and the
# "foreign" CPU seconds the rest of the machine burnt meanwhile (/proc/stat busy delta minus its
# own); a run with foreign CPU above 10 % of its wall is marked contended in runs.tsv and the table.
#
# Peak RSS caveat: /usr/bin/time on `bash peer-chain.sh` reports the largest single process of the
# chain, not the pipe's sum. The RSS pass (RSS_PASS=1) records every process's own peak and
# reports "sum of the concurrent peaks" = max(mapper + fixmate + sort, markdup, index): an upper
# bound on what the pipe held at once (the three peaks need not coincide). dagr is one process, so
# its /usr/bin/time figure is its whole footprint.
#
# Measuring tool only: the project's tests must not call it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"   # log, cpu_ticks, wait_quiet (QUIET_WAIT), HZ, TIME_BIN
BENCH=$(cd "${1:-$REPO/../shared/bench}" && pwd)
THREADS=${2:-2}
RUNS=${3:-3}
DAGR=$(realpath "${4:-$REPO/target/release/dagr}")
WORK=${WORK:-$(mktemp -d /tmp/align_vs_chain.XXXXXX)}
REFCACHE=${REFCACHE:-$WORK/refcache}
RSS_PASS=${RSS_PASS:-1}
TIME=$TIME_BIN

R1=$BENCH/germline/germline_R1.fastq.gz
R2=$BENCH/germline/germline_R2.fastq.gz
CHAIN=$BENCH/peer-chain.sh
for f in "$R1" "$R2" "$CHAIN" "$BENCH/ref/ref.fa" "$DAGR" "$TIME"; do
  [ -e "$f" ] || { echo "align_vs_chain: missing $f" >&2; exit 2; }
done
for t in minimap2 bwa samtools python3; do
  command -v "$t" >/dev/null || { echo "align_vs_chain: $t not on PATH" >&2; exit 2; }
done
mkdir -p "$WORK"/{ref,runs,logs}

# --- untimed preparation --------------------------------------------------------------------
# bwa index writes beside the FASTA and the bench folder may be read-only: use a copy (1 Mb).
REF=$WORK/ref/ref.fa
[ -s "$REF" ] || cp "$BENCH/ref/ref.fa" "$REF"
[ -s "$REF.fai" ] || samtools faidx "$REF"
[ -s "$REF.bwt" ] || { log "bwa index (untimed)"; bwa index "$REF" 2>"$WORK/logs/bwa-index.log"; }

dagr_cmd() { # outdir   (timed() spells the same command out under /usr/bin/time)
  "$DAGR" run align --sample germ --fastq1 "$R1" --fastq2 "$R2" --reference "$REF" \
    --reference-cache "$REFCACHE" --outdir "$1" --threads "$THREADS" --tmp-dir "$WORK"
}

log "dagr warm-up (untimed: fills the reference cache $REFCACHE and the page cache)"
rm -rf "$WORK/runs/warmup"
dagr_cmd "$WORK/runs/warmup" >"$WORK/logs/warmup.log" 2>&1 || { cat "$WORK/logs/warmup.log" >&2; exit 1; }

# --- versions -------------------------------------------------------------------------------
{
  echo "host        $(uname -n), $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "dagr        $("$DAGR" --version)  [$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["provenance"]["tools"]; print(", ".join(f"{k} {v}" for k,v in sorted(t.items())))' "$WORK/runs/warmup/run_report.json") bundled]"
  echo "minimap2    $(minimap2 --version)"
  echo "bwa         $(bwa 2>&1 | sed -n 's/^Version: *//p')"
  echo "samtools    $(samtools --version | head -1 | cut -d' ' -f2) (htslib $(samtools --version | sed -n 's/^Using htslib //p'))"
} >"$WORK/versions.txt"

# --- timed runs, alternating ----------------------------------------------------------------
RUNS_TSV=$WORK/runs.tsv
printf 'run\ttool\twall_s\tpeak_rss_kb\tcpu_s\tforeign_cpu_s\tcontended\tself_s\n' >"$RUNS_TSV"
timed() { # tool run
  local tool=$1 r=$2 out="$WORK/runs/$1.$2" tf="$WORK/logs/$1.$2.time" lg="$WORK/logs/$1.$2.log" self b0 b1 x
  rm -rf "$out"
  wait_quiet || true   # a run that started busy shows as contended through its foreign CPU
  read -r b0 x < <(cpu_ticks)
  case $tool in
    dagr) "$TIME" -f '%e %M %U %S' -o "$tf" "$DAGR" run align --sample germ --fastq1 "$R1" --fastq2 "$R2" --reference "$REF" \
            --reference-cache "$REFCACHE" --outdir "$out" --threads "$THREADS" --tmp-dir "$WORK" >"$lg" 2>&1 ;;
    mm2)  "$TIME" -f '%e %M %U %S' -o "$tf" bash "$CHAIN" align-mm2 "$REF" "$R1" "$R2" "$out" "$THREADS" >"$lg" 2>&1 ;;
    bwa)  "$TIME" -f '%e %M %U %S' -o "$tf" bash "$CHAIN" align-bwa "$REF" "$R1" "$R2" "$out" "$THREADS" >"$lg" 2>&1 ;;
  esac || { echo "align_vs_chain: $tool run $r failed, see $lg" >&2; cat "$lg" >&2; exit 1; }
  read -r b1 x < <(cpu_ticks)
  # Self-reported seconds: dagr's align stage (run_report.json), the chain's own last line.
  if [ "$tool" = dagr ]; then
    self=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.2f" % next(s["wall_seconds"] for s in r["stages"] if s["stage"]=="align"))' "$out/run_report.json")
  else
    self=$(tail -1 "$lg" | awk '{print $2}')
  fi
  local wall rss us sy cpu foreign cont
  read -r wall rss us sy <"$tf"
  cpu=$(awk -v u="$us" -v s="$sy" 'BEGIN{printf "%.2f", u + s}')
  foreign=$(awk -v d=$((b1 - b0)) -v hz="$HZ" -v c="$cpu" 'BEGIN{f = d / hz - c; printf "%.2f", f < 0 ? 0 : f}')
  cont=$(awk -v f="$foreign" -v w="$wall" 'BEGIN{print (f > 0.1 * w) ? 1 : 0}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$tool" "$wall" "$rss" "$cpu" "$foreign" "$cont" "$self" >>"$RUNS_TSV"
  log "run $r $tool: ${wall} s wall, ${cpu} s CPU, $((rss / 1024)) MiB peak RSS, foreign CPU ${foreign} s$([ "$cont" = 1 ] && echo ' (CONTENDED)')"
}
for r in $(seq 1 "$RUNS"); do
  for tool in dagr mm2 bwa; do timed "$tool" "$r"; done
done

# --- per-process peak RSS of the chains (one extra, untimed run each) -------------------------
RSS_TSV=$WORK/chain_rss.tsv
: >"$RSS_TSV"
if [ "$RSS_PASS" = 1 ]; then
  SHIM=$WORK/shim
  mkdir -p "$SHIM"
  for t in minimap2 bwa samtools; do
    real=$(command -v "$t")
    cat >"$SHIM/$t" <<EOF
#!/bin/sh
# each invocation appends "peak_rss_kb wall_s tool subcommand" to \$RSS_LOG
exec $TIME -a -o "\$RSS_LOG" -f "%M %e $t \$1" $real "\$@"
EOF
    chmod +x "$SHIM/$t"
  done
  for c in mm2 bwa; do
    out=$WORK/runs/rss.$c
    rm -rf "$out"
    RSS_LOG=$WORK/logs/rss.$c.proc PATH="$SHIM:$PATH" bash "$CHAIN" "align-$c" "$REF" "$R1" "$R2" "$out" "$THREADS" \
      >"$WORK/logs/rss.$c.log" 2>&1 || { echo "align_vs_chain: RSS pass of $c failed" >&2; exit 1; }
    # The shim of `bwa mem` sees `mem` as $1, minimap2 sees `-ax`: name the mapper by tool.
    awk -v c="$c" '{ name = ($3 == "samtools") ? $4 : $3; printf "%s\t%s\t%s\n", c, name, $1 }' \
      "$WORK/logs/rss.$c.proc" >>"$RSS_TSV"
  done
fi

# --- table ----------------------------------------------------------------------------------
python3 - "$RUNS_TSV" "$RSS_TSV" "$WORK/versions.txt" "$THREADS" "$RUNS" "$WORK" <<'EOF'
import csv, statistics, sys
runs_tsv, rss_tsv, versions, threads, runs, work = sys.argv[1:]
rows = list(csv.DictReader(open(runs_tsv), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["tool"], []).append(r)
proc = {}
for line in open(rss_tsv):
    c, name, kb = line.rstrip("\n").split("\t")
    proc.setdefault(c, {})
    proc[c][name] = max(proc[c].get(name, 0), int(kb))
def pipe_sum(c):
    p = proc.get(c)
    if not p:
        return None
    mapper = p.get("minimap2" if c == "mm2" else "bwa", 0)
    return max(mapper + p.get("fixmate", 0) + p.get("sort", 0), p.get("markdup", 0), p.get("index", 0))
label = {"dagr": "dagr run align", "mm2": "minimap2 chain (align-mm2)", "bwa": "bwa chain (align-bwa)"}
med = {t: statistics.median(float(r["wall_s"]) for r in v) for t, v in by.items()}
# The same medians over the runs nobody else disturbed (where every contender has some).
quiet = {t: [float(r["wall_s"]) for r in v if r["contended"] == "0"] for t, v in by.items()}
qmed = {t: statistics.median(w) for t, w in quiet.items() if w}
print(open(versions).read().rstrip())
print(f"\ngermline 30x 2x150, {threads} threads, median of {runs} alternating runs; work: {work}\n")
hdr = f"{'contender':28} {'median s':>9} {'min-max s':>13} {'self s':>7} {'CPU s':>6} {'peak RSS MiB':>13} {'pipe sum MiB':>13} {'dagr/this':>10} {'contended':>9}"
print(hdr); print("-" * len(hdr))
for t in ("dagr", "mm2", "bwa"):
    v = by.get(t, [])
    if not v:
        continue
    walls = [float(r["wall_s"]) for r in v]
    selfs = [float(r["self_s"]) for r in v]
    rss = max(int(r["peak_rss_kb"]) for r in v) / 1024
    ps = pipe_sum(t)
    ps = f"{ps / 1024:.0f}" if ps else ("(1 proc)" if t == "dagr" else "n/a")
    ratio = med["dagr"] / med[t]
    cpu = statistics.median(float(r["cpu_s"]) for r in v)
    cont = sum(int(r["contended"]) for r in v)
    print(f"{label[t]:28} {med[t]:9.2f} {min(walls):6.2f}-{max(walls):<6.2f} {statistics.median(selfs):7.2f} {cpu:6.2f} {rss:13.0f} {ps:>13} {ratio:10.3f} {cont:>5}/{len(v)}")
print()
for t, target in (("mm2", 0.8), ("bwa", 0.5)):
    if t in med:
        r = med["dagr"] / med[t]
        line = f"dagr/{t}-chain = {r:.3f}  (target <= {target}: {'MET' if r <= target else 'MISSED'})"
        if "dagr" in qmed and t in qmed:
            q = qmed["dagr"] / qmed[t]
            line += f"; uncontended runs only ({len(quiet['dagr'])} vs {len(quiet[t])}): {qmed['dagr']:.2f} / {qmed[t]:.2f} s = {q:.3f}"
        print(line)
print("\nwall: /usr/bin/time %e of the whole command; self s: dagr's align stage wall (run_report.json) or the chain's own timer;")
print("CPU s: user+sys of the command and its children (median); contended: runs during which other processes burnt > 10 % of the wall in CPU;")
print("peak RSS: /usr/bin/time %M = the largest single process; pipe sum: max(mapper+fixmate+sort, markdup, index) per-process peaks.")
for c in ("mm2", "bwa"):
    if c in proc:
        print(f"  {c} per-process peak MiB: " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in proc[c].items()))
EOF
