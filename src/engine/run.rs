//! One `dagr run`: validate everything up front (pipeline, samplesheet, reference, plan), lock
//! the outdir, schedule the instances on the caller's [`Runner`], write the reports, and say
//! which exit code the outcome maps to.
//!
//! The caller (the CLI, a Slurm task, rank 0 of an MPI job) hands in the stage registry and the
//! runner: the engine names neither a stage kind nor a backend.

use super::instance::RunSettings;
use super::layout::RunLayout;
use super::lock::LockError;
use super::pipeline::{self, Pipeline};
use super::plan::{self, PlanError};
use super::provenance::command_line;
use super::report::{self, Execution, Provenance, ReportInput, RunReport};
use super::runner::Runner;
use super::scheduler::{self, SchedulerConfig};
use super::spec::SpecError;
use super::spill::{SpillError, SpillRoot};
use super::stage::{CancelFlag, Entity, FaultPlan, FaultPlanError, Stage, StageError};
use crate::genome::ploidy::Sex;
use crate::outcome::{Classify, Failure};
use crate::samples::{Samplesheet, SamplesheetError};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the samples come from.
#[derive(Debug, Clone)]
pub enum SampleSource {
    Csv(PathBuf),
    Single { name: String, fastq_1: PathBuf, fastq_2: PathBuf, sex: Sex },
}

/// A validated request from the command line (or from a Slurm task).
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
    /// Instantiate pair-scoped stages (false in a Slurm sample task: its pairs are other tasks).
    pub pair_stages: bool,
    /// Accept a FASTQ file used twice (R1 and R2 of a lane, two lanes, two samples); refused
    /// otherwise ([`Samplesheet::check_fastq_reuse`]).
    pub allow_shared_fastq: bool,
    /// A Slurm task: its outdir is a run folder inside this submission outdir, which it locks
    /// shared with the other tasks (see `engine::lock`); `None` for a run of its own.
    pub within: Option<PathBuf>,
}

impl RunRequest {
    /// The command line that decides outputs, for provenance (`@PG`, `##dagr_command`, the run
    /// report): `dagr run` with the pipeline, samples, reference and outdir; execution-only flags
    /// (threads, memory, tmp dir, resume, dry run, MPI) dropped.
    pub fn canonical_command(&self) -> String {
        let mut words: Vec<String> = vec!["dagr".into(), "run".into(), self.pipeline.clone()];
        let mut push = |flag: &str, value: String| {
            words.push(flag.to_string());
            words.push(value);
        };
        match &self.samples {
            SampleSource::Csv(sheet) => push("--samplesheet", sheet.display().to_string()),
            SampleSource::Single { name, fastq_1, fastq_2, sex } => {
                push("--sample", name.clone());
                push("--fastq1", fastq_1.display().to_string());
                push("--fastq2", fastq_2.display().to_string());
                push("--sex", sex.to_string());
            }
        }
        push("--reference", self.reference.display().to_string());
        push("--outdir", self.outdir.display().to_string());
        command_line(&words)
    }
}

/// Why a run could not start or finish its bookkeeping (a stage's own failure is in the report,
/// not here). Each variant says its class: bad usage or input (exit 2), runtime failure (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Pipeline(#[from] SpecError),
    #[error(transparent)]
    Samplesheet(#[from] SamplesheetError),
    #[error("{}: the reference is not a regular file", .0.display())]
    ReferenceNotAFile(PathBuf),
    #[error("{}: cannot read the reference: {source}", path.display())]
    Reference { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Faults(#[from] FaultPlanError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    TmpDir(#[from] SpillError),
    #[error("{}: cannot write the run report: {source}", outdir.display())]
    Report { outdir: PathBuf, source: std::io::Error },
    /// A stage would get less memory than it needs at least: `budget` is the smaller of
    /// `--max-memory` and what its pipeline `resources: memory:` asks for (`requested`).
    #[error("{}", memory_floor_message(stage, *budget, *requested, floor))]
    MemoryFloor { stage: String, budget: u64, requested: u64, floor: super::stage::MemoryFloor },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// Under MPI: another rank's failure, or the collectives' own.
    #[error(transparent)]
    Cluster(StageError),
}

impl Classify for RunError {
    fn failure(&self) -> Failure {
        match self {
            RunError::Pipeline(e) => e.failure(),
            RunError::Samplesheet(e) => e.failure(),
            RunError::Plan(e) => e.failure(),
            RunError::Faults(e) => e.failure(),
            RunError::Lock(e) => e.failure(),
            RunError::Cluster(e) => e.failure(),
            RunError::TmpDir(e) => e.failure(),
            RunError::ReferenceNotAFile(_) | RunError::Reference { .. } | RunError::MemoryFloor { .. } => {
                Failure::BadInput
            }
            RunError::Report { .. } | RunError::Signals(_) => Failure::Runtime,
        }
    }
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

/// Loads and checks the pipeline (against `registry`, the stage kinds this dagr ships),
/// samplesheet and reference, and instantiates the plan.
pub fn validate(req: &RunRequest, registry: &[&'static dyn Stage]) -> Result<Validated, RunError> {
    let pipeline = pipeline::load(&req.pipeline, registry)?;
    let sheet = match &req.samples {
        SampleSource::Csv(p) => Samplesheet::from_csv(p),
        SampleSource::Single { name, fastq_1, fastq_2, sex } => Samplesheet::single(name, fastq_1, fastq_2, *sex),
    }?;
    if !req.allow_shared_fastq {
        sheet.check_fastq_reuse()?;
    }
    check_reference(&req.reference)?;
    let plan = plan::build(&pipeline, &sheet, &req.reference, req.pair_stages)?;
    let reference = reference_facts(&req.reference, req.reference_cache.as_deref());
    check_memory_floors(&pipeline, &plan, None, &reference, req.threads, req.max_memory)?;
    Ok(Validated { pipeline, sheet, plan })
}

/// Refuses a `max_memory` below what a planned stage needs at least ([`Stage::memory_floor`]),
/// with the threads and memory the scheduler would give it running alone; only stages of `scope`
/// when one is given (a Slurm task of that scope).
pub fn check_memory_floors(
    pipeline: &Pipeline,
    plan: &plan::Plan,
    scope: Option<super::stage::Scope>,
    reference: &super::stage::ReferenceFacts,
    max_threads: usize,
    max_memory: u64,
) -> Result<(), RunError> {
    let mut checked = std::collections::BTreeSet::new();
    for instance in &plan.instances {
        if !checked.insert(instance.stage) {
            continue;
        }
        let node = &pipeline.stages[instance.stage];
        if scope.is_some_and(|s| s != node.scope) {
            continue;
        }
        let threads = node.resources.threads.min(max_threads).max(1);
        let grant = node.resources.memory_bytes.min(max_memory);
        if let Some(floor) = node.kind.memory_floor(reference, threads)
            && grant < floor.bytes
        {
            let requested = node.resources.memory_bytes;
            return Err(RunError::MemoryFloor { stage: node.name.clone(), budget: grant, requested, floor });
        }
    }
    Ok(())
}

fn memory_floor_message(stage: &str, budget: u64, requested: u64, floor: &super::stage::MemoryFloor) -> String {
    let least = crate::units::size_rounded_up(floor.bytes);
    if requested <= budget {
        format!(
            "stage `{stage}` asks for {} in its pipeline's `resources: memory:` and needs at least about {least} ({}); \
             raise it to {least} or more",
            crate::units::size_for_humans(requested),
            floor.detail
        )
    } else {
        format!(
            "--max-memory {}: stage `{stage}` needs at least about {least} ({}); rerun with --max-memory {least} or more",
            crate::units::size_for_humans(budget),
            floor.detail
        )
    }
}

/// What the stages' floors need to know of the reference: its length and, when it was prepared
/// already (under `cache_root` or beside it), its prepared folder.
pub fn reference_facts(reference: &Path, cache_root: Option<&Path>) -> super::stage::ReferenceFacts {
    super::stage::ReferenceFacts {
        bases: reference_bases(reference),
        prepared_dir: crate::genome::cache::prepared_dir(reference, cache_root),
    }
}

/// The reference's length in bases: from its `.fai` when there is one, else its file size (a
/// FASTA's bases plus line ends; a compressed FASTA's size, which is less: the estimate errs low).
fn reference_bases(reference: &Path) -> u64 {
    let fai = PathBuf::from(format!("{}.fai", reference.display()));
    match crate::genome::fai::read_fai(&fai) {
        Ok(records) if !records.is_empty() => records.iter().map(|r| r.length).sum(),
        _ => std::fs::metadata(reference).map(|m| m.len()).unwrap_or(0),
    }
}

fn check_reference(path: &Path) -> Result<(), RunError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(RunError::ReferenceNotAFile(path.to_path_buf())),
        Err(source) => Err(RunError::Reference { path: path.to_path_buf(), source }),
    }
}

/// Validates and runs the request to the end (or to the first signal) on `runner`. `cancel` is
/// set by the signal handlers.
pub fn run(
    req: &RunRequest,
    registry: &[&'static dyn Stage],
    runner: &dyn Runner,
    cancel: CancelFlag,
) -> Result<RunResult, RunError> {
    let v = validate(req, registry)?;
    run_validated(req, v, cancel, runner)
}

/// Runs a request validated already (rank 0 of an MPI job validates on every rank first).
pub fn run_validated(
    req: &RunRequest,
    v: Validated,
    cancel: CancelFlag,
    runner: &dyn Runner,
) -> Result<RunResult, RunError> {
    let started = crate::clock::wall_clock_epoch();
    let clock = Instant::now();
    let cpu_start = crate::accounting::process_cpu_micros();
    let faults = FaultPlan::from_env()?;
    let _shared = match (&req.within, req.dry_run) {
        (Some(outdir), false) => Some(super::lock::lock_shared(outdir)?),
        _ => None,
    };
    let _lock = if req.dry_run { None } else { Some(super::lock::lock_outdir(&req.outdir)?) };
    let run_tmp = SpillRoot::create(&req.tmp_dir)?;
    let layout = RunLayout::new(&req.outdir, run_tmp.path());
    let config = SchedulerConfig {
        settings: RunSettings::for_request(req, layout.clone(), cancel, faults),
        threads: req.threads,
        max_memory: req.max_memory,
        resume: req.resume,
        dry_run: req.dry_run,
    };
    tracing::info!(
        "pipeline {} ({} stages, {} stage runs for {} samples), {} threads",
        v.pipeline.name,
        v.pipeline.stages.len(),
        v.plan.instances.len(),
        v.sheet.samples.len(),
        req.threads
    );
    let records = scheduler::run(&v.pipeline, &v.plan, &config, runner);
    let reference_digest =
        records.iter().find_map(|r| r.metrics.get("digest").and_then(|d| d.as_str()).map(str::to_string));
    let provenance = Provenance {
        dagr_version: crate::VERSION.to_string(),
        git_commit: crate::GIT_COMMIT.to_string(),
        tools: v.pipeline.tools.clone(),
        reference: std::path::absolute(&req.reference).unwrap_or_else(|_| req.reference.clone()),
        reference_digest,
        command: config.settings.command.clone(),
        pipeline: v.pipeline.name.clone(),
        pipeline_file: v.pipeline.file.clone(),
    };
    let execution = Execution {
        threads: req.threads,
        mpi_ranks: runner.mpi_ranks(),
        max_memory_bytes: req.max_memory,
        host: std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
        started_utc: crate::clock::utc_timestamp(started),
        finished_utc: crate::clock::utc_timestamp(crate::clock::wall_clock_epoch()),
        wall_seconds: clock.elapsed().as_secs_f64(),
        process_cpu_seconds: (crate::accounting::process_cpu_micros() - cpu_start) as f64 / 1e6,
        process_peak_rss_bytes: crate::accounting::process_peak_rss_bytes(),
    };
    let entities: Vec<&Entity> = v.plan.instances.iter().map(|i| &i.entity).collect();
    let report = report::write(ReportInput {
        layout: &layout,
        pipeline: &v.pipeline,
        sheet: &v.sheet,
        records: &records,
        entities: &entities,
        provenance,
        execution,
        dry_run: req.dry_run,
    })
    .map_err(|source| RunError::Report { outdir: req.outdir.clone(), source })?;
    let summary = report::summary(&report, &layout);
    Ok(RunResult { exit_code: report.exit_code, report, summary })
}
