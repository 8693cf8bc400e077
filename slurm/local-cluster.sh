#!/usr/bin/env bash
# local-cluster.sh: a real, throw-away, single-node Slurm on 127.0.0.1 for dagr's tests and for
# trying the templates in slurm/. No systemd: munged, slurmctld and slurmd run in the foreground
# in their own sessions, with state, logs and sockets under one folder.
#
#   slurm/local-cluster.sh up       start the daemons, wait until the node is idle, run a smoke job
#   slurm/local-cluster.sh down     cancel our jobs, stop only the daemons this script started
#   slurm/local-cluster.sh status   daemons, sinfo, squeue
#   slurm/local-cluster.sh env      the `export SLURM_CONF=...` line for other shells
#
# Needs root (slurmd starts jobs as the submitting user) and: apt-get install -y slurm-wlm munge
# Settings (environment): DAGR_SLURM_DIR (default /tmp/dagr-slurm), DAGR_SLURM_NODE (hostname),
# DAGR_SLURM_CPUS / DAGR_SLURM_MEM_MB (default: detected; memory 80 %), DAGR_SLURM_PORT (6817;
# slurmd uses the next port), DAGR_SLURM_WAIT (seconds per bring-up step, 60).
set -euo pipefail

DIR=${DAGR_SLURM_DIR:-/tmp/dagr-slurm}
NODE=${DAGR_SLURM_NODE:-$(hostname -s)}
PORT=${DAGR_SLURM_PORT:-6817}
WAIT=${DAGR_SLURM_WAIT:-60}
export SLURM_CONF=$DIR/slurm.conf
SOCKET=$DIR/munge/socket

say() { echo "[local-cluster] $*" >&2; }
fail() { say "error: $*"; show_logs; exit 1; }
show_logs() { local f; for f in "$DIR"/log/*.log; do [[ -s $f ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done; return 0; }

# A daemon is ours when its PID file (written at start) names a live process whose command line
# mentions $DIR. Nothing else is ever signalled.
our_pid() {
  local file=$DIR/pids/$1 pid
  [[ -r $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR" || return 1
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  echo "$pid"
}

poll() { # poll <what> <daemon or -> <command...>: retry every 0.25 s for $WAIT s
  local what=$1 daemon=$2 tries=$((WAIT * 4)); shift 2
  while ! "$@" >/dev/null 2>&1; do
    [[ $daemon == - ]] || our_pid "$daemon" >/dev/null || fail "$daemon exited while waiting for $what"
    ((tries-- > 0)) || fail "gave up after ${WAIT}s waiting for $what"
    sleep 0.25
  done
}

launch() { # launch <name> <command...>
  local name=$1; shift
  say "starting $name"
  setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/pids/$name"
  sleep 0.3
  our_pid "$name" >/dev/null || fail "$name did not stay up"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null; }
node_idle() { [[ $(node_state) == idle ]]; }
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_works() { munge -n -S "$SOCKET" | unmunge -S "$SOCKET"; }

preflight() {
  [[ $(id -u) -eq 0 ]] || { say "run as root: slurmd must start jobs as the submitting user"; exit 2; }
  local tool
  for tool in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel srun; do
    command -v "$tool" >/dev/null || { say "$tool not found: apt-get install -y slurm-wlm munge"; exit 2; }
  done
}

configure() {
  local detected cpus mem
  detected=$(slurmd -C | head -n 1) || fail "slurmd -C failed"
  cpus=${DAGR_SLURM_CPUS:-$(grep -o 'CPUs=[0-9]*' <<<"$detected" | cut -d= -f2)}
  mem=${DAGR_SLURM_MEM_MB:-$(($(grep -o 'RealMemory=[0-9]*' <<<"$detected" | cut -d= -f2) * 4 / 5))}
  [[ $cpus =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ ]] || fail "cannot read CPUs/RealMemory from: $detected"
  say "node $NODE with $cpus CPUs and $mem MB"
  # Slurm's own PID files go to *.slurm so they never replace the ones this script trusts.
  cat >"$SLURM_CONF" <<CONF
ClusterName=dagrlocal
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/pids/slurmctld.slurm
SlurmdPidFile=$DIR/pids/slurmd.slurm
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((mem / cpus))
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=10
InactiveLimit=0
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

up() {
  preflight
  if our_pid slurmctld >/dev/null && our_pid slurmd >/dev/null && ctld_up; then
    say "already up"; poll "node $NODE idle or busy" slurmd bash -c '[[ $(sinfo -h -o %T) =~ ^(idle|mixed|allocated) ]]'
    env_line; return
  fi
  down_daemons
  local port
  for port in "$PORT" "$((PORT + 1))"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && fail "port $port is taken; set DAGR_SLURM_PORT"
  done
  rm -rf "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge" "$DIR/pids"
  mkdir -p "$DIR"/{state,spool,log,munge,pids,key}
  chmod 755 "$DIR" "$DIR/munge" "$DIR/log"; chmod 700 "$DIR/key"
  [[ -s $DIR/key/munge.key ]] || { dd if=/dev/urandom of="$DIR/key/munge.key" bs=1024 count=1 status=none; chmod 400 "$DIR/key/munge.key"; }
  configure
  launch munged munged --foreground --socket="$SOCKET" --key-file="$DIR/key/munge.key" \
    --pid-file="$DIR/pids/munged.munge" --seed-file="$DIR/munge/seed" --log-file="$DIR/log/munged.log"
  poll "munge credentials" munged munge_works
  launch slurmctld slurmctld -D -i -f "$SLURM_CONF"
  poll "slurmctld" slurmctld ctld_up
  launch slurmd slurmd -D -N "$NODE" -f "$SLURM_CONF"
  poll "node $NODE idle" slurmd node_idle
  say "smoke job"
  timeout "$WAIT" srun -N1 -n1 -t 1 true || fail "srun true failed"
  poll "node $NODE idle again" slurmd node_idle
  sinfo >&2
  env_line
}

stop() { # stop <name>: TERM, then KILL after 10 s
  local pid i
  pid=$(our_pid "$1") || { rm -f "$DIR/pids/$1"; return 0; }
  say "stopping $1 ($pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do our_pid "$1" >/dev/null || break; sleep 0.2; done
  our_pid "$1" >/dev/null && { say "$1 still up, killing"; kill -KILL "$pid" 2>/dev/null || true; }
  rm -f "$DIR/pids/$1"
}

down_daemons() { stop slurmd; stop slurmctld; stop munged; }

down() {
  if our_pid slurmctld >/dev/null && ctld_up; then
    local jobs i
    jobs=$(squeue -h -o %A | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      say "cancelling jobs $jobs"
      # shellcheck disable=SC2086  # job ids are numbers
      scancel $jobs || true
      for ((i = 0; i < 100; i++)); do [[ -z $(squeue -h -t R,CG -o %A) ]] && break; sleep 0.2; done
    fi
  fi
  down_daemons
  say "down (logs in $DIR/log)"
}

status() {
  local d
  for d in munged slurmctld slurmd; do printf '%-10s %s\n' "$d" "$(our_pid "$d" || echo stopped)"; done
  if ctld_up; then sinfo; squeue; else echo "slurmctld not answering"; fi
}

env_line() { echo "export SLURM_CONF=$SLURM_CONF"; }

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_line ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
