//! Errors of reference reading and indexing. Each names the file and, where one applies, the line
//! and the contig, so a user can open the FASTA at the right place.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while scanning, indexing or reading a reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("{}: not a FASTA file (line {line}): {detail}", path.display())]
    NotFasta { path: PathBuf, line: u64, detail: String },

    #[error("{}: no contigs (no `>` header line)", path.display())]
    NoContigs { path: PathBuf },

    #[error("{}: line {line}: contig name {name:?} is not usable: {reason}", path.display())]
    BadName { path: PathBuf, line: u64, name: String, reason: &'static str },

    #[error("{}: line {line}: contig `{contig}` is a duplicate of the contig at line {first_line}", path.display())]
    DuplicateContig { path: PathBuf, line: u64, contig: String, first_line: u64 },

    #[error("{}: line {line}: contig `{contig}` has an empty sequence", path.display())]
    EmptySequence { path: PathBuf, line: u64, contig: String },

    #[error(
        "{}: line {line}, column {column}: contig `{contig}`: character {} is not an IUPAC nucleotide code (ACGTUNRYKMSWBDHV)",
        path.display(), show_byte(*byte)
    )]
    InvalidBase { path: PathBuf, line: u64, column: u64, contig: String, byte: u8 },

    #[error(
        "{}: line {line}: contig `{contig}`: {detail}; a FASTA index needs every line of a contig but the last to have the same length (re-wrap it, e.g. `seqtk seq -l 60`)",
        path.display()
    )]
    InconsistentLines { path: PathBuf, line: u64, contig: String, detail: String },

    #[error("{}: line {line}: blank line inside contig `{contig}`", path.display())]
    BlankLineInContig { path: PathBuf, line: u64, contig: String },

    #[error("{}: line {line}: {detail}", path.display())]
    BadIndexFile { path: PathBuf, line: u64, detail: String },

    #[error("{}: the index describes contig `{contig}` beyond the end of {} (stale index?)", index.display(), fasta.display())]
    IndexMismatch { index: PathBuf, fasta: PathBuf, contig: String },

    #[error("{}: no contig named `{contig}`", path.display())]
    UnknownContig { path: PathBuf, contig: String },

    #[error("{}: region {start0}..{end0} (0-based, half-open) is outside contig `{contig}` of length {length}", path.display())]
    OutOfRange { path: PathBuf, contig: String, start0: u64, end0: u64, length: u64 },

    #[error("interrupted")]
    Cancelled,
}

/// The input data is wrong (exit code 2), except I/O failures other than a missing file
/// (runtime) and cancellation (interrupted).
impl crate::outcome::Classify for ReferenceError {
    fn failure(&self) -> crate::outcome::Failure {
        use crate::outcome::Failure;
        match self {
            ReferenceError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => Failure::BadInput,
            ReferenceError::Io { .. } => Failure::Runtime,
            ReferenceError::Cancelled => Failure::Interrupted,
            _ => Failure::BadInput,
        }
    }
}

impl ReferenceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ReferenceError::Io { path: path.into(), source }
    }
}

/// A byte as a user can read it: `'x'` for printable ASCII, an escape otherwise.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", char::from(b))
    } else {
        format!("'{}' (byte 0x{b:02x})", b.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_shown_readably() {
        assert_eq!(show_byte(b'X'), "'X'");
        assert_eq!(show_byte(b'\r'), "'\\r' (byte 0x0d)");
        assert_eq!(show_byte(0xc3), "'\\xc3' (byte 0xc3)");
    }
}
