#!/usr/bin/env bash
# run.sh DAGR_BINARY OUTDIR [CASE_ID_GLOB...]
#
# Reliability harness: re-runs the 148 cases of the adversarial review
# /work/shared/reviews/reliability.md (release build of commit 3cf1fb9) against DAGR_BINARY and
# writes, under OUTDIR:
#   results.tsv   id, group, expected, exit_codes, message, verdict, notes, review_verdict, secs
#   summary.md    counts per verdict (next to the review's), the non-OK cases, the differences
#   harness.log   one line per case as it runs
#   cases/<ID>/   every command of the case (.cmd), its stdout (.out) and stderr (.err)
#   work/         all scratch: fixtures, outdirs, reference caches, tmpfs mount points
# Compare two runs with compare.sh BEFORE/results.tsv AFTER/results.tsv.
#
# A MEASURING TOOL. The project's tests (cargo test, scripts/test.sh, CI) must not call it or
# import from it: it needs root (tmpfs mounts, unshare), takes minutes, and judges behaviour
# against a review, not a specification.
#
# It never writes into the repository: the repository's testdata/ is only read (copied into
# OUTDIR/work), Python runs with -B (no __pycache__), and OUTDIR must lie outside the repository.
#
# CASE_ID_GLOB: shell-style patterns on case ids, e.g. 'F*' 'K0[1-3]' RS4 (default: all).
# Needs: python3 (3.11), bash, samtools, bgzip, gzip, md5sum; root for the tmpfs cases
# (D01-D05, O01, O06, B12) and unshare --pid (C05): without them those cases report NOT RUN.
# CPU etiquette: while /work/benchdata/TIMING_IN_PROGRESS exists, no case starts (checked before
# every case and before every dagr start that is not part of a running case); every dagr runs
# with --threads 1 (the rendered Slurm scripts of SL1 use the pipeline's 2) and under a timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [[ $# -lt 2 ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
dagr=$1 outdir=$2
shift 2
[[ -x $dagr ]] || { echo "run.sh: $dagr is not an executable" >&2; exit 2; }
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd -P)
case "$outdir/" in
  "$(cd "$repo" && pwd -P)/"*) echo "run.sh: OUTDIR must be outside the repository ($repo)" >&2; exit 2 ;;
esac
for tool in python3 samtools bgzip gzip md5sum; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
done
export PYTHONDONTWRITEBYTECODE=1
exec python3 -B "$here/harness.py" --repo "$repo" "$dagr" "$outdir" "$@"
