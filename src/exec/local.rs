//! Runs one stage instance in this process: prepares its folders, gives it a rayon pool of its
//! share of the thread budget, measures wall and CPU time (all threads charged to the stage, see
//! [`crate::cpu_time`]), turns a panic into a runtime failure, and writes the manifest last.

use crate::cpu_time::{self, CpuMeter};
use crate::dist::Cluster;
use crate::engine::cache::{self, KeyMaterial, Manifest};
use crate::engine::distributed::{self, Task};
use crate::engine::stage::{
    Artifact, CancelFlag, Entity, FaultPlan, Params, Stage, StageContext, StageError, StageOutputs,
};
use crate::output_file::remove_stale_temps;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything needed to run one instance, owned so it can move to a thread.
pub struct InstanceJob {
    pub stage_name: String,
    pub kind: &'static dyn Stage,
    pub entity: Entity,
    pub inputs: BTreeMap<String, Artifact>,
    pub params: Params,
    pub material: KeyMaterial,
    pub output_dir: PathBuf,
    pub work_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub reference_cache: Option<PathBuf>,
    pub threads: usize,
    pub memory_bytes: u64,
    pub cancel: CancelFlag,
    pub faults: FaultPlan,
    pub command: String,
    /// Under `--mpi` (rank 0): the job's ranks, and this instance's index in the plan, so that
    /// a distributed stage is announced to the other ranks and run by all of them together.
    pub cluster: Option<(std::sync::Arc<dyn Cluster>, usize)>,
    /// The stage's declared time limit (`resources.time`), told to the other ranks when rank 0
    /// runs a stage alone.
    pub time_limit_seconds: u64,
}

/// How an instance ended, with its measurements.
pub struct InstanceOutcome {
    pub result: Result<StageOutputs, StageError>,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
}

/// Runs the job on the calling thread.
pub fn run(job: &InstanceJob) -> InstanceOutcome {
    let start = Instant::now();
    let meter = CpuMeter::new();
    cpu_time::set_current(Some(meter.clone()));
    let thread_baseline = cpu_time::thread_cpu_micros();
    let mut pool_micros = 0;
    let mut other_ranks_cpu = 0.0;
    let result = prepare_folders(job).and_then(|()| {
        let pool = cpu_time::rayon_pool(job.threads, &format!("{}-{}", job.stage_name, job.entity.label()), &meter)
            .map_err(|e| StageError::Runtime(format!("cannot start {} threads: {e}", job.threads)))?;
        let cluster = match &job.cluster {
            Some((cluster, instance)) if job.kind.distributed() => {
                let task = Task::Run {
                    instance: *instance,
                    inputs: job.inputs.clone(),
                    threads: job.threads,
                    memory_bytes: job.memory_bytes,
                };
                distributed::announce(cluster.as_ref(), &task)?;
                Some(cluster.as_ref())
            }
            Some((cluster, _)) => {
                let task = Task::Alone { stage: job.stage_name.clone(), seconds: job.time_limit_seconds };
                distributed::announce(cluster.as_ref(), &task)?;
                None
            }
            None => None,
        };
        let ctx = StageContext {
            stage_name: &job.stage_name,
            entity: &job.entity,
            inputs: &job.inputs,
            params: &job.params,
            output_dir: &job.output_dir,
            work_dir: &job.work_dir,
            tmp_dir: &job.tmp_dir,
            reference_cache: job.reference_cache.as_deref(),
            threads: job.threads,
            memory_bytes: job.memory_bytes,
            pool: &pool,
            cancel: &job.cancel,
            faults: &job.faults,
            command: &job.command,
            cluster,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.kind.run(&ctx)));
        pool_micros = cpu_time::pool_cpu_micros(&pool);
        if let Some(cluster) = cluster {
            other_ranks_cpu = distributed::collect_cpu_seconds(cluster, 0.0);
        }
        match outcome {
            Ok(r) => r,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                if let Some(cluster) = cluster {
                    // The other ranks wait in a collective this rank will never reach.
                    cluster.abort(&format!("internal error in stage `{}` (a bug in dagr): {what}", job.stage_name));
                }
                Err(StageError::Runtime(format!("internal error (a bug in dagr; please report it): {what}")))
            }
        }
    });
    meter.charge_current_thread_since(thread_baseline);
    cpu_time::set_current(None);
    let _ = std::fs::remove_dir_all(&job.tmp_dir);
    let wall_seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = meter.seconds() + pool_micros as f64 / 1e6 + other_ranks_cpu;
    let result = result.and_then(|outputs| {
        check_outputs(job, &outputs)?;
        let manifest = Manifest {
            format: cache::MANIFEST_FORMAT,
            key: job.material.key(),
            material: job.material.clone(),
            stage: job.stage_name.clone(),
            entity: job.entity.label(),
            outputs: outputs.artifacts.clone(),
            metrics: outputs.metrics.clone(),
            qc_passed_bases: outputs.qc_passed_bases,
            wall_seconds,
            cpu_seconds,
        };
        cache::write_manifest(&job.work_dir, &manifest)
            .map_err(|e| StageError::Runtime(format!("{}: cannot write the manifest: {e}", job.work_dir.display())))?;
        Ok(outputs)
    });
    InstanceOutcome { result, wall_seconds, cpu_seconds, peak_rss_bytes: cpu_time::process_peak_rss_bytes() }
}

/// The text of a caught panic (its `&str` or `String` payload).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn prepare_folders(job: &InstanceJob) -> Result<(), StageError> {
    for dir in [&job.output_dir, &job.work_dir, &job.tmp_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| StageError::Runtime(format!("{}: cannot create folder: {e}", dir.display())))?;
    }
    cache::remove_manifest(&job.work_dir).map_err(|e| io_err(&job.work_dir, e))?;
    for dir in [&job.output_dir, &job.work_dir] {
        remove_stale_temps(dir).map_err(|e| io_err(dir, e))?;
    }
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> StageError {
    StageError::Runtime(format!("{}: {e}", path.display()))
}

/// A stage must return exactly its declared outputs with the declared kinds.
fn check_outputs(job: &InstanceJob, outputs: &StageOutputs) -> Result<(), StageError> {
    for spec in job.kind.outputs() {
        match outputs.artifacts.get(spec.name) {
            Some(a) if a.kind == spec.kind => {}
            Some(a) => {
                return Err(StageError::Runtime(format!(
                    "internal: stage `{}` returned {} for output `{}`, declared {}",
                    job.kind.kind(),
                    a.kind,
                    spec.name,
                    spec.kind
                )));
            }
            None => {
                return Err(StageError::Runtime(format!(
                    "internal: stage `{}` did not return its output `{}`",
                    job.kind.kind(),
                    spec.name
                )));
            }
        }
    }
    Ok(())
}
