//! Why a Slurm command (submit, status, a task's bookkeeping) failed, with its class: bad usage
//! or input (exit 2) where the user can fix something, runtime failure (exit 1) otherwise.

use crate::engine::run::RunError;
use crate::outcome::{Classify, Failure};
use crate::samples::SamplesheetError;
use crate::samples::csv::CsvError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The pipeline, samplesheet or reference does not validate (as `dagr run` would say).
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Samplesheet(#[from] SamplesheetError),
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A bookkeeping file under `<outdir>/slurm/` cannot be read: `--outdir` names no submission.
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Writing bookkeeping files failed.
    #[error("{}: {action}: {source}", path.display())]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    #[error("{}: not a valid dagr Slurm file: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    /// `--outdir` or a path given to `submit` that cannot be made absolute.
    #[error("{}: {source}", path.display())]
    Path { path: PathBuf, source: std::io::Error },
    #[error("array index {index} is out of range: the submission in {} has {count} entries", root.display())]
    IndexOutOfRange { root: PathBuf, index: usize, count: usize },
    #[error("pair {0} is not in the frozen samplesheet")]
    UnknownPair(String),
    #[error("{}: expected a link to {}, found a file or folder", link.display(), target.display())]
    NotALink { link: PathBuf, target: PathBuf },
    /// Jobs of an earlier submission to the same outdir are still in Slurm.
    #[error(
        "{}: jobs of an earlier submission are still in Slurm ({jobs}); wait for them or scancel them first",
        outdir.display()
    )]
    StillQueued { outdir: PathBuf, jobs: String },
    /// A Slurm command could not run or failed (`sbatch`, `sinfo`, `squeue`).
    #[error("{0}")]
    Command(String),
    /// A template placeholder left unfilled (a bug in dagr's templates).
    #[error("internal: template placeholder left unfilled: {0}")]
    Template(String),
    /// The status or mark arguments are wrong (`--state`, entity names).
    #[error("{0}")]
    Usage(String),
    #[error("cannot find the dagr binary: {0}")]
    CurrentExe(std::io::Error),
}

impl Classify for SlurmError {
    fn failure(&self) -> Failure {
        match self {
            SlurmError::Run(e) => e.failure(),
            SlurmError::Samplesheet(e) => e.failure(),
            SlurmError::Csv(e) => e.failure(),
            SlurmError::Read { .. }
            | SlurmError::Json { .. }
            | SlurmError::Path { .. }
            | SlurmError::IndexOutOfRange { .. }
            | SlurmError::UnknownPair(_)
            | SlurmError::NotALink { .. }
            | SlurmError::StillQueued { .. }
            | SlurmError::Usage(_) => Failure::BadInput,
            SlurmError::Io { .. } | SlurmError::Command(_) | SlurmError::Template(_) | SlurmError::CurrentExe(_) => {
                Failure::Runtime
            }
        }
    }
}
