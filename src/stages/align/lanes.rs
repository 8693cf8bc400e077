//! What the one-process and the MPI align paths share: the lane loop ([`map_lanes`]) and the
//! duplicate-flag write pass ([`write_marked`]). They differ only in where records go (the
//! sorter here, or the rank that owns their genome slice) and in which batches a rank aligns.
//!
//! Lane loop: per lane (one read group), [`PairedFastqReader`] validates R1/R2 and yields batches of
//! a fixed number of pairs; the batches this process aligns (all of them in one process; one in
//! `ranks`, interleaved, under MPI) go through minimap2 and on to the caller's sink. Pair ids are
//! `lane index << LANE_SHIFT | ordinal in the lane`, so they do not depend on who aligned a batch.
//! Every rank reads every batch (for the FASTQ statistics and the batch ordinals), so FASTQ
//! validation errors are seen on every rank alike.

use super::{AlignCounts, LANE_SHIFT, read_group_line};
use crate::align::{AlignedBatch, PairAligner, ReadGroup};
use crate::alignments::header::ReadGroupLine;
use crate::alignments::keys::{Mate, PairId};
use crate::alignments::markdup::DuplicateMarks;
use crate::alignments::sort::{SortStats, SortedRecords};
use crate::console::progress::Tracker;
use crate::engine::stage::{StageContext, StageError};
use crate::reads::{FastqStats, PairedFastqReader, ScanOptions, platform_unit};
use crate::samples::Sample;
use crate::stages::pair_progress::PairProgress;
use rust_htslib::bam::Record;

/// Records between two progress updates of the write pass.
const PROGRESS_RECORDS: usize = 1 << 16;

/// What the lane loop collected besides the records and duplicate keys.
pub(super) struct LaneTotals {
    pub fastq: FastqStats,
    pub counts: AlignCounts,
    pub read_groups: Vec<ReadGroupLine>,
}

/// Where the batches go, and which ones this process aligns.
pub(super) trait BatchSink {
    /// The error the loop stops with (a sink may tell a shared error from a local one).
    type Error: From<StageError>;
    /// Whether this process aligns batch `ordinal` (counted over all lanes).
    fn aligns(&self, ordinal: u64) -> bool;
    /// Takes one aligned batch.
    fn take(&mut self, batch: AlignedBatch) -> Result<(), Self::Error>;
    /// After every batch, aligned here or not (MPI: the periodic exchange).
    fn after_batch(&mut self, ordinal: u64) -> Result<(), Self::Error> {
        let _ = ordinal;
        Ok(())
    }
}

/// Reads every lane of `sample` in order, aligns the batches `sink` takes, and returns the FASTQ
/// statistics, alignment counts and one `@RG` line per lane (`PU` from the lane's first read
/// name when it is an Illumina name, else the read-group ID).
pub(super) fn map_lanes<S: BatchSink>(
    ctx: &StageContext<'_>,
    sample: &Sample,
    aligner: &PairAligner,
    libraries: &[String],
    sink: &mut S,
) -> Result<LaneTotals, S::Error> {
    let (rank, _) = ctx.rank_and_size();
    let mut totals = LaneTotals {
        fastq: FastqStats::new(crate::reads::DEFAULT_MIN_BASE_QUALITY),
        counts: AlignCounts::new(libraries.len()),
        read_groups: Vec::new(),
    };
    let mut ordinal = 0u64;
    // Every rank reads every batch: rank 0's count is the job's.
    let mut progress = PairProgress::start(ctx, sample, rank == 0);
    for (lane_index, lane) in sample.lanes.iter().enumerate() {
        let library_index = libraries.iter().position(|l| *l == lane.library).unwrap_or(0);
        let rg = ReadGroup { id: lane.read_group_id(&sample.name), library_index: library_index as u32 };
        let options = ScanOptions { min_base_quality: crate::reads::DEFAULT_MIN_BASE_QUALITY };
        let mut reader = PairedFastqReader::open_with(&lane.fastq_1, &lane.fastq_2, &options, ctx.cancel.as_atomic())
            .map_err(StageError::from)?;
        let lane_base: PairId = (lane_index as u64) << LANE_SHIFT;
        let mut platform = None;
        let mut lane_stats = crate::align::AlignStats::default();
        while let Some(batch) = reader.next_batch().map_err(StageError::from)? {
            if platform.is_none() && !batch.is_empty() {
                platform = Some(platform_unit(batch.pair(0).0.name()).unwrap_or_else(|| rg.id.clone()));
            }
            if sink.aligns(ordinal) {
                let first = lane_base + batch.first_pair_number() - 1;
                let out = aligner.align_batch(&batch, first, &rg, ctx.pool).map_err(StageError::from)?;
                drop(batch);
                lane_stats.merge(&out.stats);
                sink.take(out)?;
            }
            ordinal += 1;
            sink.after_batch(ordinal)?;
            progress.update(&reader);
        }
        progress.lane_done(&reader);
        totals.fastq.merge(&reader.into_stats().map_err(StageError::from)?);
        totals.counts.add_lane(library_index, &lane_stats);
        totals.read_groups.push(read_group_line(sample, &lane.library, &rg, platform));
        ctx.fault_point("after_lane")?;
    }
    progress.finish();
    Ok(totals)
}

/// The write pass: every sorted record, flag 0x400 set where `marks` says the pair's mate is a
/// duplicate, handed to `write` in coordinate order. Polls the cancel flag every million records;
/// shows progress (`<stage> <sample> writing`, in records) where `show_progress`.
pub(super) fn write_marked(
    ctx: &StageContext<'_>,
    sorted: SortedRecords,
    marks: &DuplicateMarks,
    show_progress: bool,
    mut write: impl FnMut(&Record) -> Result<(), StageError>,
) -> Result<SortStats, StageError> {
    let stats = sorted.stats();
    let progress = if show_progress {
        Tracker::start(format!("{} {} writing", ctx.stage_name, ctx.entity.label()), "records")
    } else {
        Tracker::silent()
    };
    progress.set_total(stats.records);
    for (n, item) in sorted.enumerate() {
        let (key, mut record) = item?;
        let mate = if record.is_first_in_template() { Mate::R1 } else { Mate::R2 };
        if marks.is_duplicate(key.pair_id, mate) {
            record.set_flags(record.flags() | 0x400);
        }
        write(&record)?;
        if n % PROGRESS_RECORDS == 0 {
            progress.set_done(n as u64);
        }
        if n % 1_000_000 == 0 {
            ctx.cancel.check()?;
        }
    }
    Ok(stats)
}
