//! FASTQ reading: decompression, validation, pairing and batching in one pass.
//!
//! A lane is a pair of mate files (R1, R2), each plain text, gzip or BGZF (detected by magic
//! bytes). [`PairedFastqReader`] inflates and parses both files in parallel on one dedicated thread
//! each, validating every record (header `@`, separator `+`, quality length, bases `ACGTNacgtn`,
//! qualities `!`..=`~`, a complete last record, a non-empty file) and accumulating integer
//! statistics ([`FastqStats`]) in the same loop. The consumer zips the mates into [`PairBatch`]es of
//! exactly [`PAIRS_PER_BATCH`] pairs (fewer in the last), checking that mate names agree and both
//! files end together. Records are offset ranges into large recycled buffers: no per-read
//! allocation. Cost: one pass over the decompressed bytes per mate, the two mates concurrently;
//! wall time is bound by inflating the larger file.
//!
//! The aligner consumes the same batches; [`scan_lane`] just drains them for the statistics.

mod error;
mod name;
mod open;
mod paired;
mod parse;
mod stats;
#[cfg(test)]
mod tests;

pub use error::{FastqError, Mate};
pub use name::{name_hash, platform_unit};
pub use open::Compression;
pub use paired::{FastqRecord, PairBatch, PairedFastqReader};
pub use stats::{BINNED_MAX_VALUES, FastqStats, FastqSummary, PHRED_VALUES};

use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Read pairs per batch: fixed, whatever the thread count, so per-batch work is reproducible.
pub const PAIRS_PER_BATCH: usize = 8192;

/// Default for [`ScanOptions::min_base_quality`].
pub const DEFAULT_MIN_BASE_QUALITY: u8 = 20;

/// How reads are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Bases with at least this Phred quality count as QC-passed bases.
    pub min_base_quality: u8,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self { min_base_quality: DEFAULT_MIN_BASE_QUALITY }
    }
}

/// Reads and validates a whole lane (both mates in parallel) and returns its statistics.
/// `cancel` is polled between batches; when set, the scan stops with [`FastqError::Cancelled`].
pub fn scan_lane(r1: &Path, r2: &Path, options: &ScanOptions, cancel: &AtomicBool) -> Result<FastqStats, FastqError> {
    PairedFastqReader::open_with(r1, r2, options, cancel)?.into_stats()
}
