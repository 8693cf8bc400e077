//! `dagr run --mpi`: one run as an MPI job, every rank started with the same command line.
//!
//! Rank 0 is the leader: it validates, locks the outdir, makes every resume decision and runs the
//! scheduler exactly as a single process does, one instance at a time. Before it runs an
//! instance of a [`Stage::distributed`](super::stage::Stage::distributed) stage it broadcasts a
//! [`Task`] (which instance, its resolved inputs, threads and memory); the other ranks, waiting in
//! [`serve`], run the same stage with the same inputs and [`StageContext::cluster`] set, and the
//! stage splits the work among them (rank 0 writes the outputs). Stages that are not distributed,
//! and instances that are reused, run on rank 0 alone; the other ranks only hear about the ones
//! they take part in, and are told when rank 0 runs a stage alone ([`Task::Alone`], with the
//! stage's time limit, which their wait for the next message allows on top of `--mpi-timeout`,
//! so a long stage on rank 0 is not taken for a lost rank). At the end rank 0 broadcasts [`Task::Finish`] with its exit code, which
//! every rank then exits with, so `mpirun`/`srun` report the run's own code.
//!
//! After each distributed instance every rank reports the CPU time it spent in it; rank 0 adds
//! them to the instance's `cpu_seconds`, so the run report's core-seconds per genome equivalent
//! count the whole job.

use super::run::{self, RunError, RunRequest, RunResult};
use super::stage::{Artifact, CancelFlag, FaultPlan, StageContext, StageError};
use crate::dist::{Cluster, decode, encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// Every rank, after a distributed instance (whatever its result): rank 0 gets the sum of the
/// other ranks' CPU seconds in it.
pub fn collect_cpu_seconds(cluster: &dyn Cluster, own_seconds: f64) -> f64 {
    let gathered = cluster.gather("collecting the ranks' CPU time", own_seconds.to_le_bytes().to_vec());
    match gathered {
        Ok(parts) => {
            parts.iter().skip(1).filter_map(|p| <[u8; 8]>::try_from(p.as_slice()).ok()).map(f64::from_le_bytes).sum()
        }
        Err(_) => 0.0,
    }
}

/// Checks that every rank sees a valid run (the same files on every node).
fn validate_everywhere(req: &RunRequest, cluster: &dyn Cluster) -> Result<run::Validated, RunError> {
    let local = run::validate(req);
    let shared = local.as_ref().map(|_| ()).map_err(|e| StageError::BadInput(e.to_string()));
    match cluster.agree("validating the run on every rank", shared) {
        Ok(()) => local,
        Err(e) => Err(RunError::Invalid(e.to_string())),
    }
}

/// Rank 0: validate everywhere, run, and release the other ranks with the exit code.
pub fn lead(req: &RunRequest, cancel: CancelFlag, cluster: Arc<dyn Cluster>) -> Result<RunResult, RunError> {
    tracing::info!("MPI job of {} ranks; this is rank 0 (the leader)", cluster.size());
    let result = validate_everywhere(req, cluster.as_ref())
        .and_then(|v| run::run_prevalidated(req, v, cancel, Some(cluster.clone())));
    let exit_code = match &result {
        Ok(r) => r.exit_code,
        Err(RunError::Invalid(_)) => crate::cli::exit::BAD_INPUT,
        Err(RunError::Runtime(_)) => crate::cli::exit::FAILURE,
    };
    if let Err(e) = announce(cluster.as_ref(), &Task::Finish { exit_code }) {
        tracing::error!("cannot release the other ranks: {e}");
    }
    result
}

/// Ranks above 0: validate, then run what rank 0 announces until it says the run is over.
/// Returns the run's exit code.
pub fn serve(req: &RunRequest, cancel: CancelFlag, cluster: Arc<dyn Cluster>) -> Result<u8, RunError> {
    let rank = cluster.rank();
    let validated = validate_everywhere(req, cluster.as_ref());
    // Rank 0 refuses a malformed fault plan itself; never leave the protocol early here.
    let faults = FaultPlan::from_env().unwrap_or_default();
    let tmp_root = req.tmp_dir.join(format!("dagr-{}-rank{rank}", std::process::id()));
    let _cleanup = RemoveOnDrop(tmp_root.clone());
    // On an error rank 0 saw the same agreement; it reports it and releases this rank.
    let validated = validated.ok();
    loop {
        let bytes = cluster.broadcast(WAITING, Vec::new()).map_err(|e| RunError::Runtime(e.to_string()))?;
        let task: Task = decode(&bytes, "task").map_err(|e| RunError::Runtime(e.to_string()))?;
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
        let label = inst.entity.label();
        let output_dir = req.outdir.join(&label);
        let work_dir = output_dir.join("work").join(&node.name);
        let tmp_dir = tmp_root.join(&label).join(&node.name);
        let cpu_start = crate::cpu_time::process_cpu_micros();
        let result = (|| -> Result<(), StageError> {
            for dir in [&output_dir, &work_dir, &tmp_dir] {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StageError::Runtime(format!("{}: cannot create folder: {e}", dir.display())))?;
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .thread_name(move |i| format!("rank{rank}-{i}"))
                .build()
                .map_err(|e| StageError::Runtime(format!("cannot start {threads} threads: {e}")))?;
            let ctx = StageContext {
                stage_name: &node.name,
                entity: &inst.entity,
                inputs: &inputs,
                params: &node.params,
                output_dir: &output_dir,
                work_dir: &work_dir,
                tmp_dir: &tmp_dir,
                reference_cache: req.reference_cache.as_deref(),
                threads,
                memory_bytes,
                pool: &pool,
                cancel: &cancel,
                faults: &faults,
                command: &req.command,
                cluster: Some(cluster.as_ref()),
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.kind.run(&ctx)));
            match outcome {
                Ok(r) => r.map(|_| ()),
                Err(panic) => {
                    let what = crate::exec::local::panic_message(panic.as_ref());
                    cluster.abort(&format!("internal error in stage `{}` (a bug in dagr): {what}", node.name));
                }
            }
        })();
        let _ = std::fs::remove_dir_all(&tmp_dir);
        if let Err(e) = &result {
            tracing::debug!(rank, stage = %node.name, "stage ended with: {e}");
        }
        let cpu = (crate::cpu_time::process_cpu_micros() - cpu_start) as f64 / 1e6;
        collect_cpu_seconds(cluster.as_ref(), cpu);
    }
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
