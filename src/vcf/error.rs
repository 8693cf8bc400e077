//! Errors of VCF/BCF reading and normalization: every variant names the file and, for content,
//! where in it (text line, BCF record ordinal or the header).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in a variant file something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The header (before any record).
    Header,
    /// A 1-based line of a text VCF (or FASTA).
    Line(u64),
    /// A 1-based record ordinal of a BCF file.
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Header => f.write_str("header"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// What can go wrong reading or normalizing a variant file or the in-memory reference.
#[derive(Debug, thiserror::Error)]
pub enum VcfError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a VCF, VCF.gz or BCF file ({reason})", path.display())]
    NotVariantFile { path: PathBuf, reason: String },
    #[error("{}: {location}: {message}", path.display())]
    Malformed { path: PathBuf, location: Location, message: String },
    #[error("{}: sample `{sample}` is not in the file (samples: {available})", path.display())]
    UnknownSample { path: PathBuf, sample: String, available: String },
    #[error("{}: {location}: contig `{contig}` is not in the reference", path.display())]
    ContigNotInReference { path: PathBuf, location: Location, contig: String },
    #[error("{}: {location}: reading the reference at {contig}:{start0}-{end0} (0-based) failed: {message}", path.display())]
    Reference { path: PathBuf, location: Location, contig: String, start0: u64, end0: u64, message: String },
}

/// A variant file that is missing or malformed is bad input; other I/O failures are runtime.
impl crate::outcome::Classify for VcfError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            VcfError::Io { source, .. } if source.kind() != io::ErrorKind::NotFound => crate::outcome::Failure::Runtime,
            _ => crate::outcome::Failure::BadInput,
        }
    }
}

impl VcfError {
    pub(crate) fn malformed(path: &std::path::Path, location: Location, message: impl Into<String>) -> Self {
        VcfError::Malformed { path: path.to_path_buf(), location, message: message.into() }
    }
}
