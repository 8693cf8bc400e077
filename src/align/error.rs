//! Typed errors of pair alignment: each names the read (without its `/1` `/2` suffix) and its
//! 1-based pair number within the lane, so that the caller can add the FASTQ paths.

/// Aligning a read pair or building its records failed.
#[derive(Debug, thiserror::Error)]
pub enum AlignError {
    /// minimap2 refused the input (its own message).
    #[error("pair {pair} ({name}): minimap2 failed: {detail}")]
    Minimap2 { pair: u64, name: String, detail: String },
    /// BAM stores at most 254 characters of read name.
    #[error("pair {pair} ({name}): the read name has {len} characters, more than the 254 that BAM allows")]
    NameTooLong { pair: u64, name: String, len: usize },
    /// A NUL byte cannot be passed to minimap2 nor stored in BAM.
    #[error("pair {pair} ({name}): the read name contains a NUL byte")]
    NameHasNul { pair: u64, name: String },
    /// minimap2 returned an alignment that does not add up (coordinates, CIGAR, contig id).
    #[error("pair {pair} ({name}): minimap2 returned an inconsistent alignment: {detail}")]
    InconsistentAlignment { pair: u64, name: String, detail: String },
    /// More records for one pair than [`crate::alignments::keys::SortKey::rank`] can number.
    #[error("pair {pair} ({name}): {records} alignment records, more than the 256 a pair may have")]
    TooManyRecords { pair: u64, name: String, records: usize },
    /// htslib refused an auxiliary tag.
    #[error("pair {pair} ({name}): could not add the {tag} tag: {detail}")]
    Tag { pair: u64, name: String, tag: String, detail: String },
    /// The index is split into parts (reference larger than minimap2's index batch size):
    /// target ids would be per part, so dagr refuses it.
    #[error("the minimap2 index has {parts} parts; dagr needs a single-part index (raise the index batch size)")]
    MultiPartIndex { parts: usize },
    /// The index holds no sequence (or a contig name is unreadable).
    #[error("the minimap2 index is unusable: {detail}")]
    Index { detail: String },
}

/// A read name BAM cannot store is the FASTQ's fault (bad input); the rest are failures of
/// the aligner or of dagr (runtime).
impl crate::outcome::Classify for AlignError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            AlignError::NameTooLong { .. } | AlignError::NameHasNul { .. } => crate::outcome::Failure::BadInput,
            _ => crate::outcome::Failure::Runtime,
        }
    }
}

impl AlignError {
    /// Attaches the pair context to a detail message about an inconsistent alignment.
    pub(crate) fn inconsistent(pair: u64, name: &[u8], detail: String) -> Self {
        AlignError::InconsistentAlignment { pair, name: lossy(name), detail }
    }
}

/// A read name for messages.
pub(crate) fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
