#!/usr/bin/env bash
# ci-slurm.sh: the Slurm integration tests against a real single-node Slurm, for CI.
# Installs slurm-wlm and munge when missing (Debian 12, needs root), starts the throw-away
# cluster of slurm/local-cluster.sh, runs `cargo test --test slurm`, and always stops the cluster
# again if this script started it. Exit status: the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "[ci-slurm] installing slurm-wlm munge" >&2
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

started=0
if ! slurm/local-cluster.sh status >/dev/null 2>&1 || ! SLURM_CONF=${DAGR_SLURM_DIR:-/tmp/dagr-slurm}/slurm.conf scontrol ping 2>/dev/null | grep -q 'is UP'; then
  started=1
fi
eval "$(slurm/local-cluster.sh up)"
if ((started)); then trap 'slurm/local-cluster.sh down' EXIT; fi

cargo test --test slurm -- --nocapture
