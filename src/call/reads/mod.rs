//! Reads as the callers see them: BAM/CRAM records → filtered [`ReadView`]s, a CIGAR walk shared
//! by the pileup code, per-region deterministic downsampling and per-position pileup evidence.
//!
//! Read filters (defaults of [`ReadFilter`], the same for pileup evidence and for scoring, as
//! GATK does): records that are unmapped (0x4), secondary (0x100), QC-fail (0x200), duplicates
//! (0x400) or supplementary (0x800) are dropped — a supplementary record repeats part of a read
//! whose primary record is already counted, usually with a poorer local placement; reads with
//! MAPQ < 20 are dropped, so MAPQ-0 pileups from segmental duplications never make evidence;
//! reads without a sequence (`*`) or with an empty CIGAR are dropped. Base-level rules (the
//! base-quality floor of 10 for pileup evidence, overlapping mates counted once) live in
//! [`evidence`]; the depth cap (250 reads per active region, lowest read-name hash kept) in
//! [`downsample`].
//!
//! Reads from sequence the reference lacks: MAPQ-0 pileups (segmental duplications present in
//! the reference) never pass the MAPQ floor above; reads of a diverged paralog absent from the
//! reference map with fair MAPQ and are removed by the [`paralog`] screen (fragments carrying
//! ≥ 2 sites of a chain of ≥ 5 linked recurrent minority substitutions whose pooled allele
//! fraction is ≤ 40 % and far below 0.5), applied
//! by [`fetch_reads`] to everything fetched, so neither active regions, assembly, genotyping nor
//! reference confidence see them.
//!
//! Cost: one pass over the records of the fetched interval, O(bases) copying per kept read, plus
//! the paralog screen (two walks over the kept bases, O(span) memory).

pub mod downsample;
pub mod evidence;
pub mod paralog;
pub mod walk;

use crate::call::types::ReadView;
use crate::reads::name_hash;
use rust_htslib::bam::{self, Read as _};

/// Which records become [`ReadView`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFilter {
    /// Smallest mapping quality kept (default 20).
    pub min_mapq: u8,
    /// Keep supplementary records (default false).
    pub keep_supplementary: bool,
    /// Drop fragments that look as if they come from a paralog absent from the reference.
    pub paralog: paralog::ParalogScreen,
}

impl Default for ReadFilter {
    fn default() -> Self {
        ReadFilter { min_mapq: 20, keep_supplementary: false, paralog: paralog::ParalogScreen::default() }
    }
}

/// Flags that always drop a record: unmapped, secondary, QC-fail, duplicate.
const ALWAYS_DROPPED: u16 = 0x4 | 0x100 | 0x200 | 0x400;
const SUPPLEMENTARY: u16 = 0x800;

/// Why reads could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ReadsError {
    #[error("cannot fetch {tid}:{start}-{end} from the alignment file: {source}")]
    Fetch { tid: u32, start: u64, end: u64, source: rust_htslib::errors::Error },
    #[error("cannot read a record in {tid}:{start}-{end} of the alignment file: {source}")]
    Record { tid: u32, start: u64, end: u64, source: rust_htslib::errors::Error },
}

/// Reading the alignments fails at run time (they are dagr's own, checked when written).
impl crate::outcome::Classify for ReadsError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Runtime
    }
}

/// The [`ReadView`] of `record`, or `None` when the filter drops it.
pub fn read_view(record: &bam::Record, filter: &ReadFilter) -> Option<ReadView> {
    let flags = record.flags();
    if flags & ALWAYS_DROPPED != 0 || (!filter.keep_supplementary && flags & SUPPLEMENTARY != 0) {
        return None;
    }
    if record.mapq() < filter.min_mapq || record.pos() < 0 || record.seq_len() == 0 {
        return None;
    }
    let cigar: Vec<(u8, u32)> = record.raw_cigar().iter().map(|&c| ((c & 0xf) as u8, c >> 4)).collect();
    if cigar.is_empty() {
        return None;
    }
    let bases: Vec<u8> = record.seq().as_bytes().iter().map(u8::to_ascii_uppercase).collect();
    let quals = record.qual().to_vec();
    if quals.len() != bases.len() {
        return None;
    }
    Some(ReadView {
        name_hash: name_hash(record.qname()),
        bases,
        quals,
        mapq: record.mapq(),
        reverse: record.is_reverse(),
        first_of_pair: record.is_first_in_template(),
        ref_start: record.pos() as u64,
        cigar,
    })
}

/// Filtered reads overlapping `tid:start..end` (0-based half-open), in file (coordinate) order,
/// paralog-suspect fragments removed.
pub fn fetch_reads(
    reader: &mut bam::IndexedReader,
    tid: u32,
    start: u64,
    end: u64,
    filter: &ReadFilter,
) -> Result<Vec<ReadView>, ReadsError> {
    reader.fetch((tid as i32, start as i64, end as i64)).map_err(|source| ReadsError::Fetch {
        tid,
        start,
        end,
        source,
    })?;
    let mut out = Vec::new();
    let mut record = bam::Record::new();
    while let Some(next) = reader.read(&mut record) {
        next.map_err(|source| ReadsError::Record { tid, start, end, source })?;
        if let Some(view) = read_view(&record, filter) {
            out.push(view);
        }
    }
    Ok(paralog::screen_paralog_reads(out, &filter.paralog))
}

/// 0-based half-open reference span of a read's alignment (M, D, N, =, X consume the reference).
pub fn ref_span(read: &ReadView) -> (u64, u64) {
    let len: u64 =
        read.cigar.iter().filter(|(op, _)| matches!(op, 0 | 2 | 3 | 7 | 8)).map(|&(_, n)| u64::from(n)).sum();
    (read.ref_start, read.ref_start + len)
}
