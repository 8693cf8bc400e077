//! Slurm, the throughput path: many samples at once as a job array.
//!
//! `dagr slurm submit` validates everything, freezes the samplesheet into the outdir, renders the
//! templates of `slurm/` ([`render`]) and submits reference preparation first and the sample
//! array (and, for pipelines with pair stages, the pair array) with `afterok` dependencies
//! ([`submit`]). Each array task ([`task`]) runs the pipeline for its one sample with `--resume`
//! in a private run folder whose entity folder is a link to `<outdir>/<sample>/`, so outputs land
//! where a local run puts them and tasks never contend for one outdir lock. Every task keeps its
//! own status file ([`state`]); `dagr slurm status` ([`status`]) joins them with `squeue`.
//!
//! Layout under `<outdir>/slurm/`: `*.sbatch` (rendered), `submission.json`, `jobs.json`,
//! `samplesheet.frozen.csv`, `status/<entity>.json`, `runs/<entity>/` (per-task run folders with
//! their run reports and one-entity samplesheets), `logs/`.

pub mod error;
pub mod render;
pub mod state;
pub mod status;
pub mod submit;
pub mod task;

pub use error::SlurmError;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The paths of one submission's bookkeeping.
#[derive(Debug, Clone)]
pub struct Layout {
    pub outdir: PathBuf,
    pub root: PathBuf,
}

impl Layout {
    pub fn new(outdir: &Path) -> Self {
        Self { outdir: outdir.to_path_buf(), root: outdir.join("slurm") }
    }
    pub fn frozen_sheet(&self) -> PathBuf {
        self.root.join("samplesheet.frozen.csv")
    }
    pub fn submission(&self) -> PathBuf {
        self.root.join("submission.json")
    }
    pub fn jobs(&self) -> PathBuf {
        self.root.join("jobs.json")
    }
    pub fn status_dir(&self) -> PathBuf {
        self.root.join("status")
    }
    pub fn status_file(&self, entity: &str) -> PathBuf {
        self.status_dir().join(format!("{entity}.json"))
    }
    pub fn run_dir(&self, entity: &str) -> PathBuf {
        self.root.join("runs").join(entity)
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn script(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// What the tasks need to run, written by `submit` into `submission.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// The pipeline as `dagr run` takes it: a shipped name or an absolute YAML path.
    pub pipeline: String,
    pub reference: PathBuf,
    pub reference_cache: Option<PathBuf>,
    /// Per job kind (`reference`, `samples`, `pairs`): threads and memory budget for `dagr run`.
    pub samples: TaskBudget,
    pub pairs: Option<TaskBudget>,
    /// Sample names in array order (index = position), and pair labels in array order.
    pub sample_names: Vec<String>,
    pub pair_labels: Vec<String>,
    pub submitted_utc: String,
    /// `--allow-shared-fastq` at submission: the tasks accept what the submission accepted.
    #[serde(default)]
    pub allow_shared_fastq: bool,
}

/// Threads and memory (bytes) a task gives `dagr run`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TaskBudget {
    pub threads: usize,
    pub max_memory: u64,
}

/// The job ids of a submission, in `jobs.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Jobs {
    pub reference: Option<String>,
    pub samples: Option<String>,
    pub pairs: Option<String>,
    pub submitted_utc: String,
}

/// Reads a JSON file written by this module.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SlurmError> {
    let text = std::fs::read_to_string(path).map_err(|source| SlurmError::Read { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|source| SlurmError::Json { path: path.to_path_buf(), source })
}

/// Writes JSON atomically (temporary file, then rename), so readers never see half a file.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SlurmError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| SlurmError::Io {
        path: path.to_path_buf(),
        action: "cannot encode",
        source: std::io::Error::other(e),
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Writes bytes atomically next to `path` (fsynced; see `output_file::write_atomic_shared`: the
/// task and the job script's signal trap may both write one entity's status file).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SlurmError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| SlurmError::Io {
            path: dir.to_path_buf(),
            action: "cannot create",
            source,
        })?;
    }
    crate::output_file::write_atomic_shared(path, bytes).map(|_| ()).map_err(|source| SlurmError::Io {
        path: path.to_path_buf(),
        action: "cannot write",
        source,
    })
}
