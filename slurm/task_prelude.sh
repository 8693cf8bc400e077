# --- dagr task prelude (rendered into every template from slurm/task_prelude.sh) ---
# Runs one child command, forwards preemption and time-limit signals to it, and makes sure the
# task's status file never stays `running` after the task is gone.
CHILD=0
SELF=${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID:-}}
SELF=${SELF:-${SLURM_JOB_ID:-}}
mark() { "$DAGR" slurm mark --outdir "$OUTDIR" "${WHO[@]}" "$@" || echo "dagr: cannot update the status file" >&2; }
on_signal() { # $1: USR1 (time limit in 120 s) or TERM (preemption, requeue, scancel)
  echo "dagr task $SELF: SIG$1 at $(date -u +%FT%TZ); stopping dagr, it resumes on requeue" >&2
  if [[ $CHILD != 0 ]]; then kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD"; fi
  mark --state preempted --exit-code 3 --reason "stopped by SIG$1 (preemption, time limit, requeue or scancel); resumes when requeued"
  if [[ $1 == USR1 && -n $SELF ]]; then scontrol requeue "$SELF" || true; fi
  exit 3
}
trap 'on_signal USR1' USR1
trap 'on_signal TERM' TERM
run_child() { # run_child <command...>: waits for it; returns its exit status
  "$@" &
  CHILD=$!
  wait "$CHILD"
  local rc=$?
  CHILD=0
  if ((rc > 128)); then
    mark --only-if-running --state failed --exit-code "$rc" \
      --reason "dagr was killed by signal $((rc - 128)) (out of memory or node failure?); see $SELF's log"
  fi
  return "$rc"
}
# --- end of prelude ---
