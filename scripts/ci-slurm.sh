#!/usr/bin/env bash
# ci-slurm.sh: the Slurm and MPI integration tests against a real single-node Slurm and a real
# OpenMPI, for CI. Installs slurm-wlm, munge and OpenMPI (libopenmpi-dev, openmpi-bin) when
# missing (Debian 12, needs root), starts the throw-away cluster of slurm/local-cluster.sh, builds
# with the cargo feature `mpi` and runs `tests/slurm.rs` (incl. `srun --mpi=pmix`) and
# `tests/mpi.rs` (`mpirun -np 1/2/4`), and always stops the cluster again if this script started
# it. Exit status: the tests'. The cluster tests of tests/slurm.rs are #[ignore]d for a plain
# `cargo test` (no cluster there) and run here with --include-ignored. CI is set (unless the
# caller set it), so that a missing tool or cluster fails a test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v mpirun >/dev/null \
  || ! dpkg-query -W -f='${Status}' libopenmpi-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "[ci-slurm] installing slurm-wlm munge libopenmpi-dev openmpi-bin" >&2
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge libopenmpi-dev openmpi-bin >/dev/null
fi
# OpenMPI as root, in containers (no CMA), oversubscribed on small machines.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

started=0
if ! slurm/local-cluster.sh status >/dev/null 2>&1 || ! SLURM_CONF=${DAGR_SLURM_DIR:-/tmp/dagr-slurm}/slurm.conf scontrol ping 2>/dev/null | grep -q 'is UP'; then
  started=1
fi
eval "$(slurm/local-cluster.sh up)"
if ((started)); then trap 'slurm/local-cluster.sh down' EXIT; fi

cargo test --locked --features mpi --test slurm --test mpi -- --include-ignored --nocapture
