//! `dagr run --mpi`: one run as an MPI job, every rank started with the same command line.
//!
//! Rank 0 is the leader ([`lead`]): it validates, locks the outdir, makes every resume decision
//! and runs the scheduler exactly as a single process does, with a [`LeaderRunner`] that runs one
//! instance at a time. Before it runs an instance of a distributed stage (`Stage::distributed`)
//! it broadcasts a [`Task`] (which instance, its resolved inputs, threads and memory); the other
//! ranks, waiting in [`serve`], run the same instance with the same inputs through the same
//! `engine::instance::run_instance` as workers, and the stage splits the work among them (rank 0
//! writes the outputs). Stages that are not distributed, and instances that are reused, run on
//! rank 0 alone; the other ranks only hear about the ones they take part in, and are told when
//! rank 0 runs a stage alone ([`Task::Alone`], with the stage's time limit, which their wait for
//! the next message allows on top of `--mpi-timeout`, so a long stage on rank 0 is not taken for
//! a lost rank). At the end rank 0 broadcasts [`Task::Finish`] with its exit code, which every
//! rank then exits with, so `mpirun`/`srun` report the run's own code.
//!
//! Messages: `Cluster::exchange` moves one byte buffer per (source, destination) in rounds of at
//! most [`ROUND_BYTES`] per message, whatever the total, so no MPI count overflows 2 GiB. The MPI
//! transport itself is [`backend`] (cargo feature `mpi`).

#[cfg(feature = "mpi")]
pub mod backend;

use crate::engine::instance::RunSettings;
use crate::engine::instance::{InstanceJob, InstanceOutcome, Participation, run_instance};
use crate::engine::layout::RunLayout;
use crate::engine::run::{self, RunError, RunRequest, RunResult, Validated};
use crate::engine::runner::Runner;
use crate::engine::spill::SpillRoot;
use crate::engine::stage::cluster::{decode, encode};
use crate::engine::stage::{Artifact, CancelFlag, Cluster, FaultPlan, Stage, StageError};
use crate::outcome::{Classify, Failed};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest single message of an exchange round (well under MPI's 2 GiB count limit).
pub const ROUND_BYTES: usize = 256 << 20;

/// Rounds needed to move `max_total` bytes with `round_bytes` per round (at least one).
pub fn round_count(max_total: usize, round_bytes: usize) -> usize {
    max_total.div_ceil(round_bytes.max(1)).max(1)
}

/// The part of a `total`-byte buffer sent in round `round` (0-based) with `round_bytes` per round.
pub fn round_slice(total: usize, round: usize, round_bytes: usize) -> std::ops::Range<usize> {
    let start = (round * round_bytes).min(total);
    let end = ((round + 1) * round_bytes).min(total);
    start..end
}

/// What rank 0 tells the other ranks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Task {
    /// Run instance `instance` of the plan (every rank builds the same plan) with these inputs.
    Run { instance: usize, inputs: BTreeMap<String, Artifact>, threads: usize, memory_bytes: u64 },
    /// Rank 0 runs `stage` alone, for up to its declared time limit: wait that much longer for
    /// the next message before calling rank 0 lost.
    Alone { stage: String, seconds: u64 },
    /// The run is over: exit with this code.
    Finish { exit_code: u8 },
}

const WAITING: &str = "waiting for rank 0 to start the next stage";

/// Rank 0: broadcasts `task` to the other ranks.
pub fn announce(cluster: &dyn Cluster, task: &Task) -> Result<(), StageError> {
    cluster.broadcast(WAITING, encode(task)?).map(|_| ())
}

/// Rank 0's runner: announces each instance to the other ranks, then runs it (with them when
/// the stage is distributed, alone otherwise). Instances run one at a time, so every rank takes
/// part in the distributed ones in the same order.
pub struct LeaderRunner {
    pub cluster: Arc<dyn Cluster>,
}

impl Runner for LeaderRunner {
    fn run(&self, job: &InstanceJob) -> InstanceOutcome {
        let cluster = self.cluster.as_ref();
        let (task, participation) = if job.kind.distributed() {
            let task = Task::Run {
                instance: job.index,
                inputs: job.inputs.clone(),
                threads: job.threads,
                memory_bytes: job.memory_bytes,
            };
            (task, Participation::Leader(cluster))
        } else {
            (Task::Alone { stage: job.stage_name.clone(), seconds: job.time_limit_seconds }, Participation::Alone)
        };
        if let Err(e) = announce(cluster, &task) {
            return InstanceOutcome::not_started(e);
        }
        run_instance(job, participation)
    }

    fn one_at_a_time(&self) -> bool {
        true
    }

    fn mpi_ranks(&self) -> Option<usize> {
        Some(self.cluster.size())
    }
}

/// Checks that every rank sees a valid run (the same files on every node).
fn validate_everywhere(
    req: &RunRequest,
    registry: &[&'static dyn Stage],
    cluster: &dyn Cluster,
) -> Result<Validated, RunError> {
    let local = run::validate(req, registry);
    let shared = match &local {
        Ok(_) => Ok(()),
        Err(e) => Err(StageError::from(Failed::new(e.failure(), crate::outcome::chain(e)))),
    };
    match cluster.agree("validating the run on every rank", shared) {
        Ok(()) => local,
        Err(e) => Err(RunError::Cluster(e)),
    }
}

/// Rank 0: validate everywhere, run, and release the other ranks with the exit code.
pub fn lead(
    req: &RunRequest,
    registry: &[&'static dyn Stage],
    cancel: CancelFlag,
    cluster: Arc<dyn Cluster>,
) -> Result<RunResult, RunError> {
    tracing::info!("MPI job of {} ranks; this is rank 0 (the leader)", cluster.size());
    let runner = LeaderRunner { cluster: cluster.clone() };
    let result =
        validate_everywhere(req, registry, cluster.as_ref()).and_then(|v| run::run_validated(req, v, cancel, &runner));
    let exit_code = match &result {
        Ok(r) => r.exit_code,
        Err(e) => e.failure().exit_code(),
    };
    if let Err(e) = announce(cluster.as_ref(), &Task::Finish { exit_code }) {
        tracing::error!("cannot release the other ranks: {e}");
    }
    result
}

/// Ranks above 0: validate, then run what rank 0 announces until it says the run is over.
/// Returns the run's exit code.
pub fn serve(
    req: &RunRequest,
    registry: &[&'static dyn Stage],
    cancel: CancelFlag,
    cluster: Arc<dyn Cluster>,
) -> Result<u8, RunError> {
    let rank = cluster.rank();
    let validated = validate_everywhere(req, registry, cluster.as_ref());
    // Rank 0 refuses a malformed fault plan itself; never leave the protocol early here.
    let faults = FaultPlan::from_env().unwrap_or_default();
    // A rank that cannot make its spill folder fails the instances it takes part in (their folders
    // cannot be created either); rank 0 reports them. Never leave the protocol early here.
    let spill = SpillRoot::create(&req.tmp_dir);
    let tmp_root = spill.as_ref().map_or_else(|_| req.tmp_dir.join("dagr-run-unavailable"), |s| s.path().to_path_buf());
    // On an error rank 0 saw the same agreement; it reports it and releases this rank.
    let validated = validated.ok();
    let settings = RunSettings::for_request(req, RunLayout::new(&req.outdir, &tmp_root), cancel, faults);
    loop {
        let bytes = cluster.broadcast(WAITING, Vec::new()).map_err(RunError::Cluster)?;
        let task: Task = decode(&bytes, "task").map_err(RunError::Cluster)?;
        let (instance, inputs, threads, memory_bytes) = match task {
            Task::Finish { exit_code } => return Ok(exit_code),
            Task::Alone { stage, seconds } => {
                tracing::debug!(rank, %stage, seconds, "rank 0 runs a stage alone");
                cluster.allow_next_wait(std::time::Duration::from_secs(seconds));
                continue;
            }
            Task::Run { instance, inputs, threads, memory_bytes } => (instance, inputs, threads, memory_bytes),
        };
        let Some(v) = &validated else {
            cluster.abort("rank 0 started a stage although this rank could not validate the run");
        };
        let Some(inst) = v.plan.instances.get(instance) else {
            cluster.abort(&format!("rank 0 announced instance {instance}, which this rank's plan does not have"));
        };
        let node = &v.pipeline.stages[inst.stage];
        let job = settings.job(instance, node, &inst.entity, inputs, None, threads, memory_bytes);
        run_instance(&job, Participation::Worker(cluster.as_ref()));
    }
}

/// How this rank's part of an MPI run ended.
pub enum RankOutcome {
    /// Rank 0: the run's result, as a single process gives it.
    Led(Box<Result<RunResult, RunError>>),
    /// Ranks above 0: the run's exit code, which rank 0 announced.
    Served(u8),
}

/// Runs a request as one rank of an MPI job, with signal handling: rank 0 leads ([`lead`]), the
/// others serve ([`serve`]). A rank above 0 that cannot go on ends the whole job: returning would
/// block in `MPI_Finalize` while rank 0 waits for it.
pub fn execute(
    request: &RunRequest,
    registry: &[&'static dyn Stage],
    cluster: Arc<dyn Cluster>,
) -> Result<RankOutcome, RunError> {
    let cancel = CancelFlag::default();
    crate::engine::signals::install(&cancel).map_err(RunError::Signals)?;
    if cluster.rank() == 0 {
        return Ok(RankOutcome::Led(Box::new(lead(request, registry, cancel, cluster))));
    }
    let handle = cluster.clone();
    match serve(request, registry, cancel, cluster) {
        Ok(code) => Ok(RankOutcome::Served(code)),
        Err(e) => handle.abort(&crate::outcome::chain(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_cover_every_byte_once() {
        let total = 10;
        let parts: Vec<_> = (0..round_count(total, 4)).map(|r| round_slice(total, r, 4)).collect();
        assert_eq!(parts, vec![0..4, 4..8, 8..10]);
        assert_eq!(round_count(0, 4), 1);
        assert_eq!(round_slice(0, 0, 4), 0..0);
        assert_eq!(round_slice(3, 2, 4), 3..3);
    }
}
