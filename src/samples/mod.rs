//! Samples as a run knows them: [`Sample`]s with their [`Lane`]s (one read group each), normal or
//! tumour ([`TissueStatus`]), tumour/normal pairs ([`PairNames`]), and the samplesheet they come
//! from.
//!
//! - [`sheet`]: reading and checking a samplesheet (nf-core/sarek's CSV columns
//!   `patient,sample,lane,fastq_1,fastq_2`, optionally `sex`, `status` and `library`); errors
//!   name the file, the line and the column.
//! - [`csv`]: writing one back (absolute paths), for the frozen copy and the one-entity sheets of
//!   Slurm tasks.

pub mod csv;
pub mod sheet;

pub use sheet::{Samplesheet, SamplesheetError};

use crate::genome::ploidy::Sex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Normal (0) or tumour (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TissueStatus {
    Normal,
    Tumour,
}

/// One sequencing lane of a sample: one read group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    pub lane: String,
    pub fastq_1: PathBuf,
    pub fastq_2: PathBuf,
    pub library: String,
    /// 1-based line of the samplesheet this lane came from (0 when given on the command line).
    pub line: usize,
}

impl Lane {
    /// Read-group ID, unique within the run: `<sample>.<lane>`.
    pub fn read_group_id(&self, sample: &str) -> String {
        format!("{sample}.{}", self.lane)
    }
}

/// One sample with all its lanes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub name: String,
    pub patient: String,
    pub sex: Sex,
    pub status: TissueStatus,
    pub lanes: Vec<Lane>,
}

/// A tumour and the normal of the same patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairNames {
    pub tumour: String,
    pub normal: String,
}

impl PairNames {
    /// The pair's name for folders, files and Slurm tasks: `<tumour>_vs_<normal>`.
    pub fn label(&self) -> String {
        pair_label(&self.tumour, &self.normal)
    }
}

/// The one formatter of a pair's name: `<tumour>_vs_<normal>`.
pub fn pair_label(tumour: &str, normal: &str) -> String {
    format!("{tumour}{PAIR_SEPARATOR}{normal}")
}

/// Names of folders and files dagr writes itself at the top of an outdir or an entity folder: a
/// sample with one of these names would collide with them.
/// (`run_report.json` is `engine::layout::REPORT_FILE`; a test there checks they agree.)
pub const RESERVED_NAMES: [&str; 4] = ["reference", "work", "slurm", "run_report.json"];

/// What marks a pair's folder (`<tumour>_vs_<normal>`): no sample name may contain it, so that a
/// sample's folder can never be a pair's.
pub const PAIR_SEPARATOR: &str = "_vs_";

/// Why `name` cannot be a sample's name, beyond [`check_safe_name`]: reserved, or shaped like
/// a pair's folder.
pub fn check_sample_name(name: &str) -> Result<(), String> {
    check_safe_name(name)?;
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("`{name}` is reserved for dagr's own folders and files"));
    }
    if name.contains(PAIR_SEPARATOR) {
        return Err(format!(
            "`{name}` contains `{PAIR_SEPARATOR}`, which names tumour/normal pair folders (`<tumour>{PAIR_SEPARATOR}<normal>`); rename the sample"
        ));
    }
    Ok(())
}

/// Checks that a name is safe as a file name and in a shell: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most
/// 128 characters. Returns what is wrong.
pub fn check_safe_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 128 {
        return Err("is longer than 128 characters".into());
    }
    let first = name.as_bytes()[0];
    if !first.is_ascii_alphanumeric() {
        return Err(format!("`{name}` must start with a letter or digit"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "`{name}` contains `{bad}`; use only letters, digits, `.`, `_` and `-` (names become file names and reach shells)"
        ));
    }
    Ok(())
}
