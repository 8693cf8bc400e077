//! One array task, inside the job: array index → entity through the frozen samplesheet, a
//! private run folder `<outdir>/slurm/runs/<entity>/` with a one-entity samplesheet, and links
//! `runs/<entity>/<sample>` → `<outdir>/<sample>` so that `dagr run --resume` reads and writes
//! the sample's outputs and work folders where a local run keeps them. Each task takes its own
//! run folder's lock, so tasks of one submission never wait for each other, and a duplicate of
//! the same task is refused.
//!
//! The lifecycle ([`run_task`], [`run_task_mpi`]): mark the status file running, prepare the
//! run folder, run the pipeline for the entity with `--resume` (a [`RunRequest`] built here, on
//! this process or over the ranks of an MPI job), and record how it ended: done, preempted
//! (interrupted by a signal; the requeued job resumes) or failed with the failing stage's error.

use super::state::{self, TaskState, Update, failure_from_report};
use super::{Layout, SlurmError, Submission, TaskBudget, read_json, write_atomic};
use crate::engine::run::{RunError, RunRequest, RunResult, SampleSource};
use crate::engine::stage::{Cluster, Stage, StageError};
use crate::outcome::{Classify, Failed, Failure, chain};
use crate::samples::Samplesheet;
use crate::samples::csv::sheet_csv;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which array a task belongs to, and its index.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Sample(usize),
    Pair(usize),
}

/// Everything `dagr run` needs for one task.
#[derive(Debug, Clone)]
pub struct TaskRun {
    pub entity: String,
    /// The submission's outdir, which the task locks shared with the other tasks.
    pub outdir: PathBuf,
    pub run_dir: PathBuf,
    pub samplesheet: PathBuf,
    pub submission: Submission,
    pub budget: TaskBudget,
}

/// The entity of an array index, from `submission.json`.
pub fn entity_of(layout: &Layout, target: Target) -> Result<String, SlurmError> {
    let sub: Submission = read_json(&layout.submission())?;
    let (list, index) = match target {
        Target::Sample(i) => (&sub.sample_names, i),
        Target::Pair(i) => (&sub.pair_labels, i),
    };
    list.get(index).cloned().ok_or_else(|| SlurmError::IndexOutOfRange {
        root: layout.root.clone(),
        index,
        count: list.len(),
    })
}

/// Reads the frozen samplesheet and sets up the task's run folder.
pub fn prepare(layout: &Layout, target: Target) -> Result<TaskRun, SlurmError> {
    prepare_with(layout, target, true)
}

/// What [`prepare`] returns, without writing anything: for the other ranks of an MPI task once
/// rank 0 has prepared it.
pub fn prepared(layout: &Layout, target: Target) -> Result<TaskRun, SlurmError> {
    prepare_with(layout, target, false)
}

fn prepare_with(layout: &Layout, target: Target, write: bool) -> Result<TaskRun, SlurmError> {
    let submission: Submission = read_json(&layout.submission())?;
    let entity = entity_of(layout, target)?;
    let frozen = Samplesheet::from_csv(&layout.frozen_sheet())?;
    let (members, linked, budget) = match target {
        Target::Sample(_) => (vec![entity.clone()], vec![entity.clone()], submission.samples),
        Target::Pair(_) => {
            let pair = frozen
                .pairs()?
                .into_iter()
                .find(|p| p.label() == entity)
                .ok_or_else(|| SlurmError::UnknownPair(entity.clone()))?;
            let budget = submission.pairs.unwrap_or(submission.samples);
            (vec![pair.tumour.clone(), pair.normal.clone()], vec![pair.tumour, pair.normal, entity.clone()], budget)
        }
    };
    let run_dir = layout.run_dir(&entity);
    if !write {
        let samplesheet = run_dir.join("samplesheet.csv");
        return Ok(TaskRun { entity, outdir: layout.outdir.clone(), run_dir, samplesheet, submission, budget });
    }
    std::fs::create_dir_all(&run_dir).map_err(|source| SlurmError::Io {
        path: run_dir.clone(),
        action: "cannot create",
        source,
    })?;
    for name in &linked {
        link_entity(&layout.outdir, &run_dir, name)?;
    }
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    let samplesheet = run_dir.join("samplesheet.csv");
    write_atomic(&samplesheet, sheet_csv(&frozen, &names)?.as_bytes())?;
    Ok(TaskRun { entity, outdir: layout.outdir.clone(), run_dir, samplesheet, submission, budget })
}

/// Makes `<run_dir>/<name>` a relative link to `<outdir>/<name>` (created if missing).
fn link_entity(outdir: &Path, run_dir: &Path, name: &str) -> Result<(), SlurmError> {
    let io = |path: &Path, action, source| SlurmError::Io { path: path.to_path_buf(), action, source };
    let target = outdir.join(name);
    std::fs::create_dir_all(&target).map_err(|e| io(&target, "cannot create", e))?;
    let link = run_dir.join(name);
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if std::fs::canonicalize(&link).ok() == std::fs::canonicalize(&target).ok() {
                return Ok(());
            }
            std::fs::remove_file(&link).map_err(|e| io(&link, "cannot replace the link", e))?;
        }
        Ok(_) => return Err(SlurmError::NotALink { link, target }),
        Err(_) => {}
    }
    std::os::unix::fs::symlink(Path::new("../../..").join(name), &link).map_err(|e| io(&link, "cannot link", e))
}

/// The status update for how `dagr run` ended (its exit code): 0 done, interrupted preempted,
/// else failed with the failing stage's error from the task's run report (or `message` when it
/// never ran).
pub fn outcome(run_dir: &Path, code: u8, message: Option<String>) -> Update {
    let exit_code = Some(i32::from(code));
    match Failure::from_exit_code(code) {
        None => Update { state: TaskState::Done, exit_code, reason: None, failed_stage: None },
        Some(Failure::Interrupted) => Update {
            state: TaskState::Preempted,
            exit_code,
            reason: Some(
                "interrupted by a signal (preemption, time limit, requeue or scancel); resumes when requeued".into(),
            ),
            failed_stage: None,
        },
        Some(_) => {
            let from_report = if message.is_none() {
                failure_from_report(&run_dir.join(crate::engine::layout::REPORT_FILE))
            } else {
                None
            };
            let (stage, reason) = match (from_report, message) {
                (Some((stage, error)), _) => (Some(stage), error),
                (None, Some(m)) => (None, m),
                (None, None) => (None, format!("dagr run exited with {code}; see the task's log")),
            };
            Update { state: TaskState::Failed, exit_code, reason: Some(reason), failed_stage: stage }
        }
    }
}

impl TaskRun {
    /// The `dagr run` of this task: its one-entity samplesheet in its run folder, always
    /// resuming; a sample task runs that sample's stages only (its pairs are the pair array's
    /// tasks), a pair task the pair's.
    pub fn request(&self, target: Target) -> RunRequest {
        let sub = &self.submission;
        RunRequest {
            pipeline: sub.pipeline.clone(),
            samples: SampleSource::Csv(self.samplesheet.clone()),
            reference: sub.reference.clone(),
            outdir: self.run_dir.clone(),
            reference_cache: sub.reference_cache.clone(),
            threads: self.budget.threads.max(1),
            max_memory: self.budget.max_memory.max(1 << 20),
            tmp_dir: std::env::temp_dir(),
            resume: true,
            dry_run: false,
            pair_stages: matches!(target, Target::Pair(_)),
            allow_shared_fastq: sub.allow_shared_fastq,
            within: Some(self.outdir.clone()),
        }
    }
}

fn running() -> Update {
    Update { state: TaskState::Running, exit_code: None, reason: None, failed_stage: None }
}

/// The exit code and error of a finished `dagr run`; its summary goes to the task's log.
fn run_outcome(result: Result<RunResult, RunError>) -> (u8, Option<String>) {
    match result {
        Ok(r) => {
            crate::console::summary(&r.summary);
            (r.exit_code, None)
        }
        Err(e) => (e.failure().exit_code(), Some(chain(&e))),
    }
}

/// Records a task's outcome in its status file and says it on stderr; returns the exit code.
fn record_outcome(
    layout: &Layout,
    prepared: &TaskRun,
    (code, message): (u8, Option<String>),
) -> Result<u8, SlurmError> {
    let update = outcome(&prepared.run_dir, code, message);
    let status = state::apply(layout, &prepared.entity, update, false)?;
    eprintln!(
        "dagr slurm task: {} {} (exit {code}){}",
        prepared.entity,
        status.state,
        status.reason.map(|r| format!(": {r}")).unwrap_or_default()
    );
    Ok(code)
}

/// Runs one array task in this process (`dagr slurm task`): marks it running, prepares it, runs
/// it, records the outcome. Returns the run's exit code; an error only when the task could not
/// be prepared (recorded in its status file first) or its status file cannot be written.
pub fn run_task(outdir: &Path, target: Target, registry: &[&'static dyn Stage]) -> Result<u8, SlurmError> {
    let layout = Layout::new(outdir);
    let entity = entity_of(&layout, target)?;
    state::apply(&layout, &entity, running(), false)?;
    let prepared = match prepare(&layout, target) {
        Ok(p) => p,
        Err(e) => {
            let update = outcome(&layout.run_dir(&entity), e.failure().exit_code(), Some(chain(&e)));
            state::apply(&layout, &entity, update, false)?;
            return Err(e);
        }
    };
    let request = prepared.request(target);
    eprintln!(
        "dagr slurm task: {} in {}: {}",
        prepared.entity,
        prepared.run_dir.display(),
        request.canonical_command()
    );
    let result = crate::exec::local::execute(&request, registry);
    record_outcome(&layout, &prepared, run_outcome(result))
}

/// `dagr slurm task --mpi`, one process per rank under `srun --mpi=pmix`: rank 0 marks the task
/// running, prepares it and records the outcome in the status file; every rank runs the sample's
/// stages together (`exec::mpi::execute`). Sample tasks only (the pair stage is not distributed).
/// Ranks above 0 return the run's exit code.
pub fn run_task_mpi(
    outdir: &Path,
    target: Target,
    registry: &[&'static dyn Stage],
    cluster: Arc<dyn Cluster>,
) -> Result<u8, SlurmError> {
    let layout = Layout::new(outdir);
    let entity = entity_of(&layout, target)?;
    let rank = cluster.rank();
    let prepared = if rank == 0 {
        state::apply(&layout, &entity, running(), false)?;
        Some(prepare(&layout, target))
    } else {
        None
    };
    // Rank 0 prepares (writes the run folder); the others read the same once it is done.
    let shared = match &prepared {
        Some(Err(e)) => Err(StageError::from(Failed::new(e.failure(), chain(e)))),
        _ => Ok(()),
    };
    if let Err(e) = cluster.agree("preparing the Slurm task", shared) {
        return match prepared {
            Some(Err(original)) => {
                let update = outcome(&layout.run_dir(&entity), original.failure().exit_code(), Some(chain(&original)));
                state::apply(&layout, &entity, update, false)?;
                Err(original)
            }
            _ => Ok(e.failure().exit_code()),
        };
    }
    let prepared = match prepared {
        Some(p) => p?,
        None => self::prepared(&layout, target)?,
    };
    let request = prepared.request(target);
    if rank == 0 {
        eprintln!(
            "dagr slurm task: {} in {} over {} MPI ranks: {}",
            prepared.entity,
            prepared.run_dir.display(),
            cluster.size(),
            request.canonical_command()
        );
    }
    match crate::exec::mpi::execute(&request, registry, cluster)? {
        crate::exec::mpi::RankOutcome::Served(code) => Ok(code),
        crate::exec::mpi::RankOutcome::Led(result) => record_outcome(&layout, &prepared, run_outcome(*result)),
    }
}
