//! One array task, inside the job: array index → entity through the frozen samplesheet, a
//! private run folder `<outdir>/slurm/runs/<entity>/` with a one-entity samplesheet, and links
//! `runs/<entity>/<sample>` → `<outdir>/<sample>` so that `dagr run --resume` reads and writes
//! the sample's outputs and work folders where a local run keeps them. Each task takes its own
//! run folder's lock, so tasks of one submission never wait for each other, and a duplicate of
//! the same task is refused.

use super::state::{TaskState, Update, failure_from_report};
use super::{Layout, Submission, TaskBudget, read_json, sheet_csv, write_atomic};
use crate::engine::samplesheet::Samplesheet;
use std::path::{Path, PathBuf};

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
    pub run_dir: PathBuf,
    pub samplesheet: PathBuf,
    pub submission: Submission,
    pub budget: TaskBudget,
}

/// The entity of an array index, from `submission.json`.
pub fn entity_of(layout: &Layout, target: Target) -> Result<String, String> {
    let sub: Submission = read_json(&layout.submission())?;
    let (list, what) = match target {
        Target::Sample(i) => (&sub.sample_names, i),
        Target::Pair(i) => (&sub.pair_labels, i),
    };
    list.get(what).cloned().ok_or_else(|| {
        format!(
            "array index {what} is out of range: the submission in {} has {} entries",
            layout.root.display(),
            list.len()
        )
    })
}

/// Reads the frozen samplesheet and sets up the task's run folder.
pub fn prepare(layout: &Layout, target: Target) -> Result<TaskRun, String> {
    prepare_with(layout, target, true)
}

/// What [`prepare`] returns, without writing anything: for the other ranks of an MPI task once
/// rank 0 has prepared it.
pub fn prepared(layout: &Layout, target: Target) -> Result<TaskRun, String> {
    prepare_with(layout, target, false)
}

fn prepare_with(layout: &Layout, target: Target, write: bool) -> Result<TaskRun, String> {
    let submission: Submission = read_json(&layout.submission())?;
    let entity = entity_of(layout, target)?;
    let frozen = Samplesheet::from_csv(&layout.frozen_sheet()).map_err(|e| e.to_string())?;
    let (members, linked, budget) = match target {
        Target::Sample(_) => (vec![entity.clone()], vec![entity.clone()], submission.samples),
        Target::Pair(_) => {
            let pair = frozen
                .pairs()?
                .into_iter()
                .find(|p| format!("{}_vs_{}", p.tumour, p.normal) == entity)
                .ok_or_else(|| format!("pair {entity} is not in the frozen samplesheet"))?;
            let budget = submission.pairs.unwrap_or(submission.samples);
            (vec![pair.tumour.clone(), pair.normal.clone()], vec![pair.tumour, pair.normal, entity.clone()], budget)
        }
    };
    let run_dir = layout.run_dir(&entity);
    if !write {
        let samplesheet = run_dir.join("samplesheet.csv");
        return Ok(TaskRun { entity, run_dir, samplesheet, submission, budget });
    }
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: cannot create: {e}", run_dir.display()))?;
    for name in &linked {
        link_entity(&layout.outdir, &run_dir, name)?;
    }
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    let samplesheet = run_dir.join("samplesheet.csv");
    write_atomic(&samplesheet, sheet_csv(&frozen, &names)?.as_bytes())?;
    Ok(TaskRun { entity, run_dir, samplesheet, submission, budget })
}

/// Makes `<run_dir>/<name>` a relative link to `<outdir>/<name>` (created if missing).
fn link_entity(outdir: &Path, run_dir: &Path, name: &str) -> Result<(), String> {
    let target = outdir.join(name);
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: cannot create: {e}", target.display()))?;
    let link = run_dir.join(name);
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if std::fs::canonicalize(&link).ok() == std::fs::canonicalize(&target).ok() {
                return Ok(());
            }
            std::fs::remove_file(&link).map_err(|e| format!("{}: cannot replace the link: {e}", link.display()))?;
        }
        Ok(_) => {
            return Err(format!("{}: expected a link to {}, found a file or folder", link.display(), target.display()));
        }
        Err(_) => {}
    }
    std::os::unix::fs::symlink(Path::new("../../..").join(name), &link)
        .map_err(|e| format!("{}: cannot link to {}: {e}", link.display(), target.display()))
}

/// The status update for how `dagr run` ended: exit 0 done, 3 preempted, else failed with the
/// failing stage's error from the task's run report (or `message` when it never ran).
pub fn outcome(run_dir: &Path, code: u8, message: Option<String>) -> Update {
    let exit_code = Some(i32::from(code));
    match code {
        0 => Update { state: TaskState::Done, exit_code, reason: None, failed_stage: None },
        3 => Update {
            state: TaskState::Preempted,
            exit_code,
            reason: Some(
                "interrupted by a signal (preemption, time limit, requeue or scancel); resumes when requeued".into(),
            ),
            failed_stage: None,
        },
        _ => {
            let from_report =
                if message.is_none() { failure_from_report(&run_dir.join("run_report.json")) } else { None };
            let (stage, reason) = match (from_report, message) {
                (Some((stage, error)), _) => (Some(stage), error),
                (None, Some(m)) => (None, m),
                (None, None) => (None, format!("dagr run exited with {code}; see the task's log")),
            };
            Update { state: TaskState::Failed, exit_code, reason: Some(reason), failed_stage: stage }
        }
    }
}
