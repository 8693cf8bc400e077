//! `dagr slurm status`: one line per entity (reference, samples, pairs) from the tasks' status
//! files joined with `squeue` (what Slurm still holds: pending, running, requeued). Accounting
//! (`sacct`) is not used: it is often unavailable.

use super::state::{TaskState, TaskStatus};
use super::{Jobs, Layout, SlurmError, Submission, read_json};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::Command;

/// A job (or array task) as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Slurm's state: PENDING, RUNNING, COMPLETING, ...
    pub state: String,
    /// Why it is pending (Dependency, Resources, BeginTime, ...).
    pub reason: String,
}

/// The jobs and array tasks of `ids` (job ids or array job ids) that Slurm still holds, keyed
/// `<id>` or `<array id>_<index>`.
pub fn squeue(ids: &[&str]) -> Result<BTreeMap<String, QueueEntry>, SlurmError> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%i|%F|%T|%r"])
        .output()
        .map_err(|e| SlurmError::Command(format!("cannot run squeue: {e}")))?;
    if !out.status.success() {
        return Err(SlurmError::Command(format!("squeue failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout), ids))
}

/// Parses `%i|%F|%T|%r` lines, keeping those of `ids` that are not finished.
pub fn parse_squeue(text: &str, ids: &[&str]) -> BTreeMap<String, QueueEntry> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let [id, base, state, reason] = f.as_slice() else { continue };
        let finished = matches!(
            *state,
            "COMPLETED"
                | "FAILED"
                | "CANCELLED"
                | "TIMEOUT"
                | "OUT_OF_MEMORY"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
        );
        if finished || !(ids.contains(base) || ids.contains(id)) {
            continue;
        }
        map.insert(id.to_string(), QueueEntry { state: state.to_string(), reason: reason.to_string() });
    }
    map
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub entity: String,
    pub state: String,
    pub job: String,
    pub exit: String,
    pub restarts: u32,
    pub detail: String,
}

/// No submission to report on: `--outdir` was never submitted to (or its files are damaged).
#[derive(Debug, thiserror::Error)]
#[error("{source}\n(no Slurm submission in {}: run `dagr slurm submit` first)", outdir.display())]
pub struct NoSubmission {
    pub outdir: std::path::PathBuf,
    pub source: Box<SlurmError>,
}

impl crate::outcome::Classify for NoSubmission {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::BadInput
    }
}

/// Builds the rows for a submission, and a note when `squeue` could not be asked.
pub fn rows(layout: &Layout) -> Result<(Vec<Row>, Option<String>), NoSubmission> {
    let sub: Submission = read_json(&layout.submission())
        .map_err(|source| NoSubmission { outdir: layout.outdir.clone(), source: Box::new(source) })?;
    let jobs: Jobs = read_json(&layout.jobs()).unwrap_or_default();
    let ids: Vec<&str> =
        [&jobs.reference, &jobs.samples, &jobs.pairs].into_iter().flatten().map(String::as_str).collect();
    let (queue, note) = match squeue(&ids) {
        Ok(q) => (q, None),
        Err(e) => (BTreeMap::new(), Some(format!("note: {e}; showing the status files only"))),
    };
    let reference_failed = super::state::read(layout, "reference").is_some_and(|s| s.state == TaskState::Failed);
    let mut out = Vec::new();
    let mut push = |entity: &str, job: Option<String>| {
        let file = super::state::read(layout, entity);
        let q = job.as_ref().and_then(|j| queue.get(j));
        out.push(row(
            entity,
            job.unwrap_or_else(|| "-".into()),
            file.as_ref(),
            q,
            reference_failed && entity != "reference",
        ));
    };
    push("reference", jobs.reference.clone());
    for (i, name) in sub.sample_names.iter().enumerate() {
        push(name, jobs.samples.as_ref().map(|a| format!("{a}_{i}")));
    }
    for (i, label) in sub.pair_labels.iter().enumerate() {
        push(label, jobs.pairs.as_ref().map(|a| format!("{a}_{i}")));
    }
    Ok((out, note))
}

fn row(entity: &str, job: String, file: Option<&TaskStatus>, queue: Option<&QueueEntry>, blocked: bool) -> Row {
    let exit = file.and_then(|f| f.exit_code).map(|c| c.to_string()).unwrap_or_else(|| "-".into());
    let restarts = file.map(|f| f.restarts).unwrap_or(0);
    let (state, detail) = match (queue, file) {
        (Some(q), f) if matches!(q.state.as_str(), "RUNNING" | "COMPLETING" | "CONFIGURING") => {
            let since = f.and_then(|f| f.started_utc.clone()).map(|s| format!("since {s}")).unwrap_or_default();
            ("running".to_string(), since)
        }
        (Some(q), f) => {
            let previous = match f.map(|f| f.state) {
                Some(s @ (TaskState::Done | TaskState::Failed | TaskState::Preempted)) => {
                    format!("requeued after {s}; ")
                }
                _ => String::new(),
            };
            let state = if q.state == "PENDING" || q.state == "REQUEUED" {
                "queued".to_string()
            } else {
                q.state.to_ascii_lowercase()
            };
            let waiting = if q.reason.is_empty() || q.reason == "None" {
                "pending".to_string()
            } else {
                format!("waiting: {}", q.reason)
            };
            (state, format!("{previous}{waiting}"))
        }
        (None, None) => ("unknown".into(), "no status file and not in squeue".into()),
        (None, Some(f)) => match f.state {
            TaskState::Done => {
                ("done".into(), f.finished_utc.clone().map(|t| format!("finished {t}")).unwrap_or_default())
            }
            TaskState::Failed | TaskState::Preempted => {
                (f.state.to_string(), f.reason.clone().unwrap_or_else(|| "no reason recorded".into()))
            }
            TaskState::Queued | TaskState::Running if blocked => {
                ("not run".into(), "reference preparation failed".into())
            }
            TaskState::Queued | TaskState::Running => (
                "lost".into(),
                format!(
                    "status file says {} but Slurm no longer has the job (cancelled, or killed before it could record why); see its log",
                    f.state
                ),
            ),
        },
    };
    Row { entity: entity.to_string(), state, job, exit, restarts, detail }
}

/// The table and a one-line count per state.
pub fn render(rows: &[Row], note: Option<&str>) -> String {
    let w = |f: fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let (we, ws, wj) = (w(|r| r.entity.len(), 6), w(|r| r.state.len(), 5), w(|r| r.job.len(), 3));
    let mut out = String::new();
    let _ = writeln!(out, "{:we$}  {:ws$}  {:wj$}  {:>4}  {:>8}  DETAIL", "ENTITY", "STATE", "JOB", "EXIT", "RESTARTS");
    for r in rows {
        let _ = writeln!(
            out,
            "{:we$}  {:ws$}  {:wj$}  {:>4}  {:>8}  {}",
            r.entity, r.state, r.job, r.exit, r.restarts, r.detail
        );
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.state.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let _ = writeln!(out, "{} entities: {}", rows.len(), summary.join(", "));
    if let Some(n) = note {
        let _ = writeln!(out, "{n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_filtered_by_job() {
        let text = "12|12|COMPLETED|None\n13_0|13|RUNNING|None\n13_1|13|PENDING|Resources\n99_0|99|RUNNING|None\n";
        let q = parse_squeue(text, &["12", "13"]);
        assert_eq!(q.len(), 2);
        assert_eq!(q["13_1"], QueueEntry { state: "PENDING".into(), reason: "Resources".into() });
    }

    #[test]
    fn a_finished_file_and_a_pending_job_read_as_requeued() {
        let mut f = TaskStatus::queued("S1");
        f.state = TaskState::Done;
        let q = QueueEntry { state: "PENDING".into(), reason: "BeginTime".into() };
        let r = row("S1", "13_0".into(), Some(&f), Some(&q), false);
        assert_eq!(r.state, "queued");
        assert!(r.detail.contains("requeued after done"), "{}", r.detail);
        let gone = row("S1", "13_0".into(), Some(&TaskStatus::queued("S1")), None, true);
        assert_eq!(gone.state, "not run");
    }
}
