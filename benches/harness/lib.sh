# Shared helpers of the end-to-end harness scripts (sourced, not run). Bash only.
#
#   log MSG...          a timestamped line on stderr
#   die MSG...          log to stderr with the caller's name and exit 2
#   cpu_ticks           "busy idle" jiffies of the whole machine (/proc/stat)
#   busy_builders       names of compilers/test runners now running (cargo, rustc, cc1, ld), or nothing
#   wait_quiet          wait up to $QUIET_WAIT s (default 300) for the machine to be >= 90 % idle
#                       with no compiler running; returns 1 (and says so) when it gave up waiting
#   timed_run TF CMD... run CMD under /usr/bin/time, writing "wall_s peak_rss_kb user_s sys_s" to TF,
#                       and "foreign_cpu_s" (the CPU the rest of the machine burnt meanwhile) to TF.foreign
#   sha256_of_stats F.. sha256 of each file's name, size and mtime (not its contents): a cheap
#                       input digest for multi-GB FASTQ files

HZ=${HZ:-$(getconf CLK_TCK)}
TIME_BIN=${TIME_BIN:-/usr/bin/time}
QUIET_WAIT=${QUIET_WAIT:-300}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }

busy_builders() {
  local p names=""
  for p in cargo rustc cc1 cc1plus ld rust-lld; do
    pgrep -x "$p" >/dev/null 2>&1 && names="$names $p"
  done
  printf '%s' "${names# }"
}

wait_quiet() {
  local t=0 b0 i0 b1 i1 builders
  while :; do
    read -r b0 i0 < <(cpu_ticks); sleep 1; read -r b1 i1 < <(cpu_ticks)
    builders=$(busy_builders)
    if [ -z "$builders" ] && [ $(( (i1 - i0) * 10 )) -ge $(( (b1 - b0 + i1 - i0) * 9 )) ]; then return 0; fi
    t=$((t + 1))
    if [ "$t" -ge "$QUIET_WAIT" ]; then
      log "machine still busy after ${QUIET_WAIT} s${builders:+ (running: $builders)}; running anyway, marked contended"
      return 1
    fi
    if [ $((t % 30)) -eq 1 ]; then
      log "waiting for the machine to be idle${builders:+ (running: $builders)}"
    fi
  done
}

timed_run() { # time_file cmd...
  local tf=$1 b0 b1 x wall rss us sy
  shift
  read -r b0 x < <(cpu_ticks)
  "$TIME_BIN" -f '%e %M %U %S' -o "$tf" "$@"
  local rc=$?
  read -r b1 x < <(cpu_ticks)
  if [ "$rc" -eq 0 ]; then
    read -r wall rss us sy <"$tf"
    awk -v d=$((b1 - b0)) -v hz="$HZ" -v u="$us" -v s="$sy" \
      'BEGIN{f = d / hz - u - s; printf "%.2f\n", f < 0 ? 0 : f}' >"$tf.foreign"
  fi
  return "$rc"
}

sha256_of_stats() {
  local f
  for f in "$@"; do
    printf '%s\t%s\t%s\n' "$(basename "$f")" "$(stat -Lc %s "$f")" "$(stat -Lc %Y "$f")"
  done | sha256sum | cut -c1-16
}
