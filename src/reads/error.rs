//! Typed FASTQ errors: each names the file and, where it applies, the 1-based record number, the
//! 1-based line number and the read name, in words a bioinformatician can act on.

use std::fmt;
use std::path::PathBuf;

/// Which mate file of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mate {
    R1,
    R2,
}

impl Mate {
    /// The other mate.
    pub fn other(self) -> Mate {
        match self {
            Mate::R1 => Mate::R2,
            Mate::R2 => Mate::R1,
        }
    }
}

impl fmt::Display for Mate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mate::R1 => "R1",
            Mate::R2 => "R2",
        })
    }
}

/// A byte as a user should see it in a message: `'X'` for printable ASCII, a name or hex otherwise.
pub(crate) fn describe_byte(b: u8) -> String {
    match b {
        b'\r' => "a carriage return (Windows line endings are not supported)".to_string(),
        b'\t' => "a tab".to_string(),
        b' ' => "a space".to_string(),
        b'\n' => "a line break".to_string(),
        0x21..=0x7e => format!("'{}'", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}

/// Everything that can go wrong reading a FASTQ file or a pair of them.
#[derive(Debug, thiserror::Error)]
pub enum FastqError {
    #[error("{path}: cannot open FASTQ file: {source}")]
    Open { path: PathBuf, source: std::io::Error },

    #[error("{path}: error reading FASTQ file: {source}")]
    Read { path: PathBuf, source: std::io::Error },

    #[error("{path}: truncated gzip stream: the file ends in the middle of compressed data (incomplete copy?)")]
    TruncatedGzip { path: PathBuf },

    #[error(
        "{path}: truncated BGZF file: the BGZF end-of-file marker is missing (incomplete copy, or written by a tool that omits the marker)"
    )]
    MissingBgzfEof { path: PathBuf },

    #[error("{path}: corrupt gzip data: {message}")]
    CorruptGzip { path: PathBuf, message: String },

    #[error("{path}: {format}-compressed FASTQ is not supported; use gzip, BGZF or plain text")]
    UnsupportedCompression { path: PathBuf, format: &'static str },

    #[error("{path}: the FASTQ file contains no reads")]
    Empty { path: PathBuf },

    #[error("{path}: line {line} (record {record}): a FASTQ header line must start with '@', found {found}")]
    BadHeader { path: PathBuf, record: u64, line: u64, found: String },

    #[error("{path}: line {line} (record {record}): the read name is empty")]
    EmptyName { path: PathBuf, record: u64, line: u64 },

    #[error(
        "{path}: line {line} (record {record}, read {name}): the third line of a record must start with '+', found {found}"
    )]
    BadSeparator { path: PathBuf, record: u64, line: u64, name: String, found: String },

    #[error(
        "{path}: line {line} (record {record}, read {name}): quality length {qual_len} differs from sequence length {seq_len}"
    )]
    LengthMismatch { path: PathBuf, record: u64, line: u64, name: String, seq_len: usize, qual_len: usize },

    #[error(
        "{path}: line {line} (record {record}, read {name}): invalid base {found} at position {position}; bases must be A, C, G, T or N"
    )]
    BadBase { path: PathBuf, record: u64, line: u64, name: String, found: String, position: usize },

    #[error(
        "{path}: line {line} (record {record}, read {name}): invalid quality character {found} at position {position}; qualities must be Phred+33 ('!' to '~')"
    )]
    BadQuality { path: PathBuf, record: u64, line: u64, name: String, found: String, position: usize },

    #[error("{path}: line {line}: record {record} is cut off at the end of the file (truncated file?)")]
    TruncatedRecord { path: PathBuf, record: u64, line: u64 },

    #[error("{path}: line {line}: record {record} is longer than {max} bytes (not a FASTQ file?)")]
    RecordTooLong { path: PathBuf, record: u64, line: u64, max: usize },

    #[error(
        "read names of the pair differ at record {record}: {r1_name} in {r1_path} vs {r2_name} in {r2_path} (R1 and R2 must list the same reads in the same order)"
    )]
    NameMismatch { r1_path: PathBuf, r2_path: PathBuf, record: u64, r1_name: String, r2_name: String },

    #[error(
        "{longer} has more reads than {shorter} ({shorter} ends after {shorter_reads} reads): {longer_path} vs {shorter_path}"
    )]
    CountMismatch { longer: Mate, shorter: Mate, shorter_reads: u64, longer_path: PathBuf, shorter_path: PathBuf },

    #[error("cannot start a FASTQ reader thread: {0}")]
    Thread(std::io::Error),

    #[error("internal error in the FASTQ reader: {0}")]
    Internal(String),

    #[error("FASTQ reading cancelled")]
    Cancelled,
}

/// The input itself is at fault (bad content, truncated, missing or unopenable file), unless
/// reading failed with an I/O error, a thread could not start, an invariant broke, or the scan
/// was cancelled.
impl crate::outcome::Classify for FastqError {
    fn failure(&self) -> crate::outcome::Failure {
        use crate::outcome::Failure;
        match self {
            FastqError::Cancelled => Failure::Interrupted,
            FastqError::Read { .. } | FastqError::Thread(_) | FastqError::Internal(_) => Failure::Runtime,
            _ => Failure::BadInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_described_readably() {
        assert_eq!(describe_byte(b'X'), "'X'");
        assert_eq!(describe_byte(0xff), "byte 0xff");
        assert!(describe_byte(b'\r').contains("carriage return"));
    }

    #[test]
    fn count_mismatch_names_the_longer_file() {
        let e = FastqError::CountMismatch {
            longer: Mate::R1,
            shorter: Mate::R2,
            shorter_reads: 3,
            longer_path: "a_R1.fq".into(),
            shorter_path: "a_R2.fq".into(),
        };
        assert!(e.to_string().starts_with("R1 has more reads than R2 (R2 ends after 3 reads)"));
        use crate::outcome::{Classify, Failure};
        assert_eq!(e.failure(), Failure::BadInput);
        assert_eq!(FastqError::Cancelled.failure(), Failure::Interrupted);
    }
}
