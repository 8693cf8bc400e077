//! Per-task status files `<outdir>/slurm/status/<entity>.json`: written by `submit` (queued),
//! by the task itself (running, done, failed, preempted) and by the template's signal trap
//! (`dagr slurm mark`). `sacct` is often unavailable; these files are the record.

use super::{Layout, SlurmError, read_json, write_json};
use crate::clock::{utc_timestamp, wall_clock_epoch};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task stands, as far as the task itself knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Queued,
    Running,
    Done,
    Failed,
    Preempted,
}

impl TaskState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            "preempted" => Some(Self::Preempted),
            _ => None,
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Preempted => "preempted",
        })
    }
}

/// One status file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskStatus {
    /// `reference`, a sample name or `<tumour>_vs_<normal>`.
    pub entity: String,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    /// Why it failed or stopped: the failing stage's error from the run report.
    pub reason: Option<String>,
    pub failed_stage: Option<String>,
    pub job_id: Option<String>,
    pub array_job_id: Option<String>,
    pub array_task_id: Option<String>,
    /// How often Slurm restarted the task (`SLURM_RESTART_COUNT`).
    pub restarts: u32,
    pub host: Option<String>,
    pub queued_utc: Option<String>,
    pub started_utc: Option<String>,
    pub finished_utc: Option<String>,
    pub updated_utc: String,
}

impl TaskStatus {
    /// A fresh `queued` record, as `submit` writes it.
    pub fn queued(entity: &str) -> Self {
        let now = utc_timestamp(wall_clock_epoch());
        Self {
            entity: entity.to_string(),
            state: TaskState::Queued,
            exit_code: None,
            reason: None,
            failed_stage: None,
            job_id: None,
            array_job_id: None,
            array_task_id: None,
            restarts: 0,
            host: None,
            queued_utc: Some(now.clone()),
            started_utc: None,
            finished_utc: None,
            updated_utc: now,
        }
    }
}

/// A change to a status file.
#[derive(Debug, Clone)]
pub struct Update {
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub failed_stage: Option<String>,
}

/// Reads an entity's status file, if there is one.
pub fn read(layout: &Layout, entity: &str) -> Option<TaskStatus> {
    read_json(&layout.status_file(entity)).ok()
}

/// Applies `update` to the entity's status file, filling job ids, host and timestamps from the
/// Slurm environment. With `only_if_running`, leaves a file that is not `running` alone.
pub fn apply(layout: &Layout, entity: &str, update: Update, only_if_running: bool) -> Result<TaskStatus, SlurmError> {
    let mut s = read(layout, entity).unwrap_or_else(|| TaskStatus::queued(entity));
    if only_if_running && s.state != TaskState::Running {
        return Ok(s);
    }
    let now = utc_timestamp(wall_clock_epoch());
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    s.job_id = env("SLURM_JOB_ID").or(s.job_id);
    s.array_job_id = env("SLURM_ARRAY_JOB_ID").or(s.array_job_id);
    s.array_task_id = env("SLURM_ARRAY_TASK_ID").or(s.array_task_id);
    s.restarts = env("SLURM_RESTART_COUNT").and_then(|v| v.parse().ok()).unwrap_or(s.restarts);
    if update.state == TaskState::Running {
        s.started_utc = Some(now.clone());
        s.finished_utc = None;
        s.host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string());
    } else if update.state != TaskState::Queued {
        s.finished_utc = Some(now.clone());
    }
    s.state = update.state;
    s.exit_code = update.exit_code;
    s.reason = update.reason;
    s.failed_stage = update.failed_stage;
    s.updated_utc = now;
    write_json(&layout.status_file(entity), &s)?;
    Ok(s)
}

/// The failing stage and its error, from a run report (`failures[0]`), if any.
pub fn failure_from_report(report: &std::path::Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(report).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let first = json.get("failures")?.as_array()?.first()?;
    let stage = first.get("stage")?.as_str()?.to_string();
    let entity = first.get("entity").and_then(|e| e.as_str()).unwrap_or("");
    let error = first.get("error").and_then(|e| e.as_str()).unwrap_or("failed");
    Some((stage.clone(), format!("stage {stage} ({entity}): {error}")))
}
