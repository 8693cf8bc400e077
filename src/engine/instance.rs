//! Runs one stage instance in this process, the same way for every backend: prepares its
//! folders, gives it a rayon pool of its share of the thread budget, builds its
//! [`StageContext`], measures wall and CPU time (every thread charged to the stage, see
//! [`crate::accounting`]), turns a panic into a runtime failure, and writes the manifest last.
//!
//! How this process takes part is its [`Participation`]: alone (one process, or rank 0 running
//! a stage that is not distributed), as the leader of a distributed instance (rank 0: it writes
//! the outputs and the manifest and adds the other ranks' CPU time), or as a worker (ranks above
//! 0: the same stage on the same inputs, no manifest). After a distributed instance every rank
//! reports its CPU seconds to rank 0 ([`collect_cpu_seconds`]), whatever the result, so the run
//! report's core-seconds count the whole job.

use super::cache::{self, KeyMaterial, Manifest};
use super::layout::RunLayout;
use super::pipeline::StageNode;
use super::run::RunRequest;
use super::stage::{
    Artifact, CancelFlag, Cluster, Entity, FaultPlan, Params, Stage, StageContext, StageError, StageOutputs,
};
use crate::accounting::{self, CpuMeter};
use crate::outcome::Failure;
use crate::output_file::remove_stale_temps;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything needed to run one instance, owned so it can move to a thread.
pub struct InstanceJob {
    /// The instance's index in the plan (every rank of an MPI job builds the same plan).
    pub index: usize,
    pub stage_name: String,
    pub kind: &'static dyn Stage,
    pub entity: Entity,
    pub inputs: BTreeMap<String, Artifact>,
    pub params: Params,
    /// The cache key material, written into the manifest; `None` on an MPI worker rank, which
    /// writes no manifest.
    pub material: Option<KeyMaterial>,
    /// The run's outdir (manifests store output paths relative to it).
    pub outdir: PathBuf,
    pub output_dir: PathBuf,
    pub work_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub reference_cache: Option<PathBuf>,
    pub threads: usize,
    pub memory_bytes: u64,
    pub cancel: CancelFlag,
    pub faults: FaultPlan,
    pub command: String,
    pub output_date_epoch: u64,
    /// The stage's declared time limit (`resources.time`).
    pub time_limit_seconds: u64,
}

/// What every instance of one run shares, in this process.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub layout: RunLayout,
    pub reference_cache: Option<PathBuf>,
    pub cancel: CancelFlag,
    pub faults: FaultPlan,
    /// The canonical command line, for output headers.
    pub command: String,
    /// The date written into outputs, decided once per run (see [`crate::clock`]).
    pub output_date_epoch: u64,
}

impl RunSettings {
    pub fn for_request(req: &RunRequest, layout: RunLayout, cancel: CancelFlag, faults: FaultPlan) -> Self {
        Self {
            layout,
            reference_cache: req.reference_cache.clone(),
            cancel,
            faults,
            command: req.canonical_command(),
            output_date_epoch: crate::clock::output_date_epoch(),
        }
    }

    /// The job of instance `index` (stage `node` for `entity`) with its resolved inputs and its
    /// share of the budget.
    #[allow(clippy::too_many_arguments)]
    pub fn job(
        &self,
        index: usize,
        node: &StageNode,
        entity: &Entity,
        inputs: BTreeMap<String, Artifact>,
        material: Option<KeyMaterial>,
        threads: usize,
        memory_bytes: u64,
    ) -> InstanceJob {
        let label = entity.label();
        InstanceJob {
            index,
            stage_name: node.name.clone(),
            kind: node.kind,
            entity: entity.clone(),
            inputs,
            params: node.params.clone(),
            material,
            outdir: self.layout.outdir().to_path_buf(),
            output_dir: self.layout.entity_dir(&label),
            work_dir: self.layout.work_dir(&label, &node.name),
            tmp_dir: self.layout.tmp_dir(&label, &node.name),
            reference_cache: self.reference_cache.clone(),
            threads,
            memory_bytes,
            cancel: self.cancel.clone(),
            faults: self.faults.clone(),
            command: self.command.clone(),
            output_date_epoch: self.output_date_epoch,
            time_limit_seconds: node.resources.time_seconds,
        }
    }
}

/// How an instance ended, with its measurements.
pub struct InstanceOutcome {
    pub result: Result<StageOutputs, StageError>,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
}

impl InstanceOutcome {
    /// An instance that failed before it started (nothing measured).
    pub fn not_started(error: StageError) -> Self {
        Self { result: Err(error), wall_seconds: 0.0, cpu_seconds: 0.0, peak_rss_bytes: 0 }
    }
}

/// How this process takes part in an instance.
#[derive(Clone, Copy)]
pub enum Participation<'a> {
    /// Runs it alone.
    Alone,
    /// Rank 0 of an MPI job: runs it with every rank, writes outputs and the manifest.
    Leader(&'a dyn Cluster),
    /// A rank above 0: runs it with every rank; rank 0 writes what is kept.
    Worker(&'a dyn Cluster),
}

impl<'a> Participation<'a> {
    fn cluster(self) -> Option<&'a dyn Cluster> {
        match self {
            Participation::Alone => None,
            Participation::Leader(c) | Participation::Worker(c) => Some(c),
        }
    }
}

/// Runs the job on the calling thread.
pub fn run_instance(job: &InstanceJob, participation: Participation<'_>) -> InstanceOutcome {
    let start = Instant::now();
    let meter = CpuMeter::new();
    accounting::set_current(Some(meter.clone()));
    let thread_baseline = accounting::thread_cpu_micros();
    let mut pool_micros = 0;
    let cluster = participation.cluster();
    let result = prepare_folders(job, participation).and_then(|()| {
        let pool = accounting::rayon_pool(job.threads, &format!("{}-{}", job.stage_name, job.entity.label()), &meter)
            .map_err(|e| {
            StageError::because(Failure::Runtime, format!("cannot start {} threads", job.threads), e)
        })?;
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
            output_date_epoch: job.output_date_epoch,
            cluster,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.kind.run(&ctx)));
        pool_micros = accounting::pool_cpu_micros(&pool);
        match outcome {
            Ok(r) => r,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                if let Some(cluster) = cluster {
                    // The other ranks wait in a collective this rank will never reach.
                    cluster.abort(&format!("internal error in stage `{}` (a bug in dagr): {what}", job.stage_name));
                }
                Err(StageError::runtime(format!("internal error (a bug in dagr; please report it): {what}")))
            }
        }
    });
    meter.charge_current_thread_since(thread_baseline);
    accounting::set_current(None);
    let own_cpu = meter.seconds() + pool_micros as f64 / 1e6;
    let other_ranks_cpu = match cluster {
        Some(c) if job.kind.distributed() => collect_cpu_seconds(c, own_cpu),
        _ => 0.0,
    };
    let _ = std::fs::remove_dir_all(&job.tmp_dir);
    let wall_seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = own_cpu + other_ranks_cpu;
    if let (Err(e), Participation::Worker(c)) = (&result, participation) {
        tracing::debug!(rank = c.rank(), stage = %job.stage_name, "stage ended with: {e}");
    }
    let result = result.and_then(|outputs| match &job.material {
        Some(material) => {
            check_outputs(job, &outputs)?;
            write_manifest(job, material, &outputs, wall_seconds, cpu_seconds)?;
            Ok(outputs)
        }
        None => Ok(outputs),
    });
    InstanceOutcome { result, wall_seconds, cpu_seconds, peak_rss_bytes: accounting::process_peak_rss_bytes() }
}

/// Every rank, after a distributed instance (whatever its result): rank 0 gets the sum of the
/// other ranks' CPU seconds in it (others get 0). A failed gather counts as 0: the CPU figure is
/// a measurement, not an output.
pub fn collect_cpu_seconds(cluster: &dyn Cluster, own_seconds: f64) -> f64 {
    let gathered = cluster.gather("collecting the ranks' CPU time", own_seconds.to_le_bytes().to_vec());
    match gathered {
        Ok(parts) => {
            parts.iter().skip(1).filter_map(|p| <[u8; 8]>::try_from(p.as_slice()).ok()).map(f64::from_le_bytes).sum()
        }
        Err(e) => {
            tracing::warn!("the ranks' CPU time is not counted: {e}");
            0.0
        }
    }
}

/// The text of a caught panic (its `&str` or `String` payload).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Creates the instance's folders; the process that keeps the outputs (alone or leader) also
/// removes the previous manifest and stale temporary files first.
fn prepare_folders(job: &InstanceJob, participation: Participation<'_>) -> Result<(), StageError> {
    for dir in [&job.output_dir, &job.work_dir, &job.tmp_dir] {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "cannot create folder", e))?;
    }
    if matches!(participation, Participation::Worker(_)) {
        return Ok(());
    }
    cache::remove_manifest(&job.work_dir).map_err(|e| io_error(&job.work_dir, "cannot remove the manifest", e))?;
    for dir in [&job.output_dir, &job.work_dir] {
        remove_stale_temps(dir).map_err(|e| io_error(dir, "cannot remove stale temporary files", e))?;
    }
    Ok(())
}

fn write_manifest(
    job: &InstanceJob,
    material: &KeyMaterial,
    outputs: &StageOutputs,
    wall_seconds: f64,
    cpu_seconds: f64,
) -> Result<(), StageError> {
    let manifest = Manifest {
        format: cache::MANIFEST_FORMAT,
        key: material.key(),
        material: material.clone(),
        stage: job.stage_name.clone(),
        entity: job.entity.label(),
        outputs: outputs.artifacts.clone(),
        metrics: outputs.metrics.clone(),
        qc_passed_bases: outputs.qc_passed_bases,
        wall_seconds,
        cpu_seconds,
        outdir_relative: true,
    };
    cache::write_manifest(&job.work_dir, &job.outdir, &manifest)
        .map_err(|e| io_error(&job.work_dir, "cannot write the manifest", e))
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> StageError {
    StageError::because(Failure::Runtime, format!("{}: {what}", path.display()), e)
}

/// A stage must return exactly its declared outputs with the declared kinds.
fn check_outputs(job: &InstanceJob, outputs: &StageOutputs) -> Result<(), StageError> {
    for spec in job.kind.outputs() {
        match outputs.artifacts.get(spec.name) {
            Some(a) if a.kind == spec.kind => {}
            Some(a) => {
                return Err(StageError::runtime(format!(
                    "internal: stage `{}` returned {} for output `{}`, declared {}",
                    job.kind.kind(),
                    a.kind,
                    spec.name,
                    spec.kind
                )));
            }
            None => {
                return Err(StageError::runtime(format!(
                    "internal: stage `{}` did not return its output `{}`",
                    job.kind.kind(),
                    spec.name
                )));
            }
        }
    }
    Ok(())
}
