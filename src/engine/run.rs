//! One `dagr run`: validate everything up front (pipeline, samplesheet, reference, plan), lock
//! the outdir, schedule the instances, write the reports, and map the outcome to an exit code.

use super::pipeline::{self, Pipeline};
use super::plan;
use super::report::{self, Execution, Provenance, ReportInput, RunReport};
use super::samplesheet::{Samplesheet, Sex};
use super::scheduler::{self, SchedulerConfig};
use super::stage::{CancelFlag, FaultPlan};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the samples come from.
#[derive(Debug, Clone)]
pub enum SampleSource {
    Csv(PathBuf),
    Single { name: String, fastq_1: PathBuf, fastq_2: PathBuf, sex: Sex },
}

/// A validated request from the command line.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub pipeline: String,
    pub samples: SampleSource,
    pub reference: PathBuf,
    pub outdir: PathBuf,
    pub reference_cache: Option<PathBuf>,
    pub threads: usize,
    pub max_memory: u64,
    pub tmp_dir: PathBuf,
    pub resume: bool,
    pub dry_run: bool,
    /// The canonical command line (execution-only flags dropped), for provenance.
    pub command: String,
    /// Instantiate pair-scoped stages (false in a Slurm sample task: its pairs are other tasks).
    pub pair_stages: bool,
}

/// Errors before anything ran: bad usage or bad input (exit 2), or the outdir is busy.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Runtime(String),
}

/// What a finished (or interrupted, or failed) run gives back.
pub struct RunResult {
    pub exit_code: u8,
    pub report: RunReport,
    pub summary: String,
}

/// Everything validated before anything runs.
pub struct Validated {
    pub pipeline: Pipeline,
    pub sheet: Samplesheet,
    pub plan: plan::Plan,
}

/// Loads and checks the pipeline, samplesheet and reference, and instantiates the plan.
pub fn validate(req: &RunRequest) -> Result<Validated, RunError> {
    let registry = crate::stages::registry();
    let pipeline = pipeline::load(&req.pipeline, &registry).map_err(|e| RunError::Invalid(e.to_string()))?;
    let sheet = match &req.samples {
        SampleSource::Csv(p) => Samplesheet::from_csv(p),
        SampleSource::Single { name, fastq_1, fastq_2, sex } => Samplesheet::single(name, fastq_1, fastq_2, *sex),
    }
    .map_err(|e| RunError::Invalid(e.to_string()))?;
    check_reference(&req.reference)?;
    let plan = plan::build(&pipeline, &sheet, &req.reference, req.pair_stages).map_err(RunError::Invalid)?;
    Ok(Validated { pipeline, sheet, plan })
}

fn check_reference(path: &Path) -> Result<(), RunError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(RunError::Invalid(format!("{}: the reference is not a regular file", path.display()))),
        Err(e) => Err(RunError::Invalid(format!("{}: cannot read the reference: {e}", path.display()))),
    }
}

/// Runs the request to the end (or to the first signal). `cancel` is set by the signal handlers.
pub fn run(req: &RunRequest, cancel: CancelFlag) -> Result<RunResult, RunError> {
    let run_clock = RunClock::now();
    let faults = FaultPlan::from_env().map_err(RunError::Invalid)?;
    let v = validate(req)?;
    run_validated(req, v, faults, cancel, None, run_clock)
}

/// When and at what CPU time a run started, for its report.
struct RunClock {
    started: u64,
    clock: Instant,
    cpu_start: u64,
}

impl RunClock {
    fn now() -> RunClock {
        RunClock {
            started: report::wall_clock_epoch(),
            clock: Instant::now(),
            cpu_start: crate::cpu_time::process_cpu_micros(),
        }
    }
}

/// [`run`] as rank 0 of an MPI job (see [`super::distributed`]), which has validated the
/// request on every rank already.
pub fn run_prevalidated(
    req: &RunRequest,
    v: Validated,
    cancel: CancelFlag,
    cluster: Option<std::sync::Arc<dyn crate::dist::Cluster>>,
) -> Result<RunResult, RunError> {
    let run_clock = RunClock::now();
    let faults = FaultPlan::from_env().map_err(RunError::Invalid)?;
    run_validated(req, v, faults, cancel, cluster, run_clock)
}

fn run_validated(
    req: &RunRequest,
    v: Validated,
    faults: FaultPlan,
    cancel: CancelFlag,
    cluster: Option<std::sync::Arc<dyn crate::dist::Cluster>>,
    RunClock { started, clock, cpu_start }: RunClock,
) -> Result<RunResult, RunError> {
    let _lock =
        if req.dry_run { None } else { Some(super::lock::lock_outdir(&req.outdir).map_err(RunError::Invalid)?) };
    let run_tmp = TempRoot::create(&req.tmp_dir)?;
    let config = SchedulerConfig {
        outdir: req.outdir.clone(),
        tmp_dir: run_tmp.path.clone(),
        reference_cache: req.reference_cache.clone(),
        threads: req.threads,
        max_memory: req.max_memory,
        resume: req.resume,
        dry_run: req.dry_run,
        cancel: cancel.clone(),
        faults,
        command: req.command.clone(),
        cluster: cluster.clone().map(super::scheduler::ClusterHandle),
    };
    tracing::info!(
        "pipeline {} ({} stages, {} stage runs for {} samples), {} threads",
        v.pipeline.name,
        v.pipeline.stages.len(),
        v.plan.instances.len(),
        v.sheet.samples.len(),
        req.threads
    );
    let records = scheduler::run(&v.pipeline, &v.plan, &config);
    let reference_digest =
        records.iter().find_map(|r| r.metrics.get("digest").and_then(|d| d.as_str()).map(str::to_string));
    let provenance = Provenance {
        dagr_version: crate::VERSION.to_string(),
        git_commit: crate::GIT_COMMIT.to_string(),
        tools: super::provenance::tool_versions(),
        reference: std::path::absolute(&req.reference).unwrap_or_else(|_| req.reference.clone()),
        reference_digest,
        command: req.command.clone(),
        pipeline: v.pipeline.name.clone(),
        pipeline_file: v.pipeline.file.clone(),
    };
    let execution = Execution {
        threads: req.threads,
        mpi_ranks: cluster.as_ref().map(|c| c.size()),
        max_memory_bytes: req.max_memory,
        host: std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
        started_utc: report::utc_timestamp(started),
        finished_utc: report::utc_timestamp(report::wall_clock_epoch()),
        wall_seconds: clock.elapsed().as_secs_f64(),
        process_cpu_seconds: (crate::cpu_time::process_cpu_micros() - cpu_start) as f64 / 1e6,
        process_peak_rss_bytes: crate::cpu_time::process_peak_rss_bytes(),
    };
    let report = report::write(ReportInput {
        outdir: &req.outdir,
        pipeline: &v.pipeline,
        sheet: &v.sheet,
        records: &records,
        provenance,
        execution,
        dry_run: req.dry_run,
    })
    .map_err(|e| RunError::Runtime(format!("{}: cannot write the run report: {e}", req.outdir.display())))?;
    let summary = report::summary(&report, &req.outdir);
    Ok(RunResult { exit_code: report.exit_code, report, summary })
}

/// The run's spill folder `<tmp>/dagr-<pid>`, removed when dropped (end, failure or signal).
struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    fn create(base: &Path) -> Result<Self, RunError> {
        let path = base.join(format!("dagr-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| {
            RunError::Invalid(format!("{}: cannot create the temporary folder (--tmp-dir): {e}", path.display()))
        })?;
        Ok(Self { path })
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
