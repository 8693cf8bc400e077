#!/usr/bin/env bash
# compare.sh BEFORE.tsv AFTER.tsv
# Two results.tsv of run.sh side by side: every case id with its verdict before and after, and
# the change (fixed: non-OK -> OK; regressed: OK -> non-OK; changed: another non-OK verdict;
# new/gone: the id is in one file only), then the counts per verdict. Exit status 0.
set -euo pipefail
if [[ $# -ne 2 ]]; then sed -n '2,5p' "$0" | sed 's/^# //'; exit 2; fi
awk -F'\t' '
  FNR == 1 { next }
  NR == FNR { b[$1] = $6; bc[$1] = $4; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 }; next }
  { a[$1] = $6; ac[$1] = $4; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
  END {
    printf "%-6s %-14s %-14s %s\n", "id", "before", "after", "change"
    for (i = 1; i <= n; i++) {
      id = order[i]; x = (id in b) ? b[id] : "-"; y = (id in a) ? a[id] : "-"
      if (!(id in b)) ch = "new"; else if (!(id in a)) ch = "gone"
      else if (x == y) ch = ""
      else if (y == "OK") ch = "fixed"
      else if (x == "OK") ch = "REGRESSED"
      else ch = "changed"
      if (ch != "" && (id in b) && (id in a) && bc[id] != ac[id]) ch = ch "  (exit " bc[id] " -> " ac[id] ")"
      printf "%-6s %-14s %-14s %s\n", id, x, y, ch
      if (id in b) cb[x]++; if (id in a) ca[y]++
      if (ch ~ /^fixed/) nf++; else if (ch ~ /^REGRESSED/) nr++; else if (ch ~ /^changed/) nc++
    }
    print ""
    printf "%-14s %7s %7s\n", "verdict", "before", "after"
    k = split("PANIC|DATA LOSS|INJECTION|COLLISION|WRONG EXIT|RESUME MISS|LEAK|WEAK MESSAGE|HARNESS ERROR|NOT RUN|OK", vs, "|")
    for (i = 1; i <= k; i++) { done[vs[i]] = 1; if (cb[vs[i]] || ca[vs[i]]) printf "%-14s %7d %7d\n", vs[i], cb[vs[i]], ca[vs[i]] }
    for (v in cb) if (!(v in done)) { done[v] = 1; printf "%-14s %7d %7d\n", v, cb[v], ca[v] }
    for (v in ca) if (!(v in done)) printf "%-14s %7d %7d\n", v, cb[v], ca[v]
    printf "\nfixed %d, regressed %d, changed %d\n", nf, nr, nc
  }' "$1" "$2"
