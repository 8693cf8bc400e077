//! Alignment QC: one streaming pass over the final records in coordinate order (duplicate flags
//! already set), producing read counts, insert sizes and genome coverage.
//!
//! * Counts and the `SN` section follow `samtools stats` 1.16 (primary records; secondary and
//!   supplementary counted apart), see [`AlignmentQcReport::write_samtools_stats`].
//! * Insert size median and MAD (Picard `CollectInsertSizeMetrics` style: median of |x − median|,
//!   unscaled) over primary, mapped, properly paired, non-duplicate records with TLEN > 0, i.e.
//!   once per pair.
//! * Coverage as Picard `CollectWgsMetrics` with its defaults (see [`coverage`]): mean, median,
//!   PCT_1X..PCT_100X over the territory of non-N reference bases, which the caller provides per
//!   contig as N runs ([`ContigTerritory`], or [`territory_from_reference`] to scan a FASTA).
//!
//! Outputs for MultiQC: a `samtools stats`-compatible file holding the `SN` section (its
//! samtools module reads total, mapped, properly paired, duplicated reads and insert sizes) and
//! a custom-content JSON (`<sample>_mqc.json`) with the coverage and insert-size figures that
//! the `SN` section has no keys for ([`AlignmentQcReport::multiqc_custom_content`]).
//!
//! A file written in coordinate slices (MPI ranks) is measured slice by slice
//! ([`AlignmentQc::for_slice`], [`AlignmentQc::finish_slice`]) and the slices merged
//! ([`merge_slices`]): counts and histograms add up, and coverage hands over the loci at slice
//! edges (see [`coverage`]); the report is the one a pass over the joined file gives.
//!
//! Cost: O(aligned bases + territory) time; memory is one read span of depth counters, the
//! loci of overlapping first mates still waiting for their mate, and histograms (251 coverage
//! bins, 8000 × 3 insert-size bins, one entry per distinct proper-pair insert size).

pub mod coverage;
mod stats;

pub use coverage::{
    COVERAGE_CAP, ContigTerritory, CoverageSlice, Locus, MIN_BASE_QUALITY, MIN_MAPQ, NotExact, territory_from_reference,
};
pub use stats::{SamtoolsCounts, SamtoolsInsertSummary};

use coverage::Coverage;
use rust_htslib::bam::Record;
use serde::{Deserialize, Serialize};
use stats::SamtoolsInsertSizes;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Coverage figures, named as Picard's `WgsMetrics` columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct CoverageReport {
    pub genome_territory: u64,
    pub mean_coverage: f64,
    pub median_coverage: f64,
    pub pct_1x: f64,
    pub pct_5x: f64,
    pub pct_10x: f64,
    pub pct_15x: f64,
    pub pct_20x: f64,
    pub pct_25x: f64,
    pub pct_30x: f64,
    pub pct_40x: f64,
    pub pct_50x: f64,
    pub pct_100x: f64,
}

/// Insert sizes of proper pairs (once per pair, duplicates excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsertSizeReport {
    pub pairs: u64,
    pub median: f64,
    pub median_absolute_deviation: f64,
}

/// Everything [`AlignmentQc`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignmentQcReport {
    /// Primary reads (samtools' raw total sequences).
    pub total_reads: u64,
    pub mapped_reads: u64,
    pub properly_paired_reads: u64,
    /// Primary reads with flag 0x400.
    pub duplicate_reads: u64,
    /// Optical duplicate pairs from the duplicate-marking metrics; set by the caller.
    pub optical_duplicate_pairs: Option<u64>,
    pub insert_size: InsertSizeReport,
    pub coverage: CoverageReport,
    pub samtools: SamtoolsCounts,
    pub samtools_insert_size: SamtoolsInsertSummary,
    /// Records that arrived out of coordinate order and were left out of coverage.
    pub unsorted_records: u64,
}

/// The streaming collector.
pub struct AlignmentQc {
    counts: SamtoolsCounts,
    isizes: SamtoolsInsertSizes,
    proper_isizes: BTreeMap<u64, u64>,
    coverage: Coverage,
    unsorted: u64,
}

impl AlignmentQc {
    /// `contigs` in BAM header order (tid = index).
    pub fn new(contigs: Vec<ContigTerritory>) -> AlignmentQc {
        AlignmentQc {
            counts: SamtoolsCounts { is_sorted: true, ..Default::default() },
            isizes: SamtoolsInsertSizes::default(),
            proper_isizes: BTreeMap::new(),
            coverage: Coverage::new(contigs),
            unsorted: 0,
        }
    }

    /// A collector for the records of one coordinate slice `[from, to)` of a larger file (they
    /// all start in it); finish with [`AlignmentQc::finish_slice`] and join with [`merge_slices`].
    pub fn for_slice(contigs: Vec<ContigTerritory>, from: Locus, to: Locus) -> AlignmentQc {
        AlignmentQc::slice_handing_over(contigs, from, to, coverage::HANDOVER)
    }

    fn slice_handing_over(contigs: Vec<ContigTerritory>, from: Locus, to: Locus, handover: u64) -> AlignmentQc {
        let mut qc = AlignmentQc::new(Vec::new());
        qc.coverage = Coverage::for_slice(contigs, from, to, handover);
        qc
    }

    /// What a slice's collector hands to [`merge_slices`].
    pub fn finish_slice(mut self) -> SliceQc {
        SliceQc {
            coverage: self.coverage.finish_slice(),
            counts: self.counts,
            isizes: self.isizes,
            proper_isizes: self.proper_isizes,
            unsorted: self.unsorted,
        }
    }

    /// Takes the next record in coordinate order.
    pub fn observe(&mut self, rec: &Record) {
        self.counts.observe(rec, &mut self.isizes);
        let primary = !rec.is_secondary() && !rec.is_supplementary();
        if primary && !rec.is_unmapped() && rec.is_proper_pair() && !rec.is_duplicate() && rec.insert_size() > 0 {
            *self.proper_isizes.entry(rec.insert_size().unsigned_abs()).or_insert(0) += 1;
        }
        let counted = !rec.is_unmapped()
            && !rec.is_secondary()
            && !rec.is_duplicate()
            && !rec.is_quality_check_failed()
            && rec.mapq() >= MIN_MAPQ
            && rec.is_paired()
            && !rec.is_mate_unmapped();
        if counted && !self.coverage.add(rec) {
            self.unsorted += 1;
            self.counts.is_sorted = false;
        }
    }

    pub fn finish(mut self) -> AlignmentQcReport {
        self.coverage.finish();
        let territory = self.coverage.territory();
        let hist = std::mem::take(&mut self.coverage.hist);
        report(self.counts, &self.isizes, &self.proper_isizes, territory, &hist, self.unsorted)
    }
}

/// One slice's measurements, for [`merge_slices`] (sent between MPI ranks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceQc {
    coverage: CoverageSlice,
    counts: SamtoolsCounts,
    isizes: SamtoolsInsertSizes,
    proper_isizes: BTreeMap<u64, u64>,
    unsorted: u64,
}

/// Joins the slices of one file (in slice order) into the report a pass over the joined file
/// gives; [`NotExact`] when a record reaches further past its slice than the hand-over covers.
pub fn merge_slices(contigs: Vec<ContigTerritory>, slices: Vec<SliceQc>) -> Result<AlignmentQcReport, NotExact> {
    let mut counts = SamtoolsCounts { is_sorted: true, ..Default::default() };
    let mut isizes = SamtoolsInsertSizes::default();
    let mut proper_isizes: BTreeMap<u64, u64> = BTreeMap::new();
    let mut unsorted = 0;
    let mut coverage = Vec::with_capacity(slices.len());
    for slice in slices {
        counts.merge(&slice.counts);
        isizes.merge(&slice.isizes);
        for (size, n) in slice.proper_isizes {
            *proper_isizes.entry(size).or_insert(0) += n;
        }
        unsorted += slice.unsorted;
        coverage.push(slice.coverage);
    }
    let hist = coverage::merge_slices(&contigs, coverage)?;
    let territory = contigs.iter().map(ContigTerritory::territory).sum();
    Ok(report(counts, &isizes, &proper_isizes, territory, &hist, unsorted))
}

/// The report from the collected counts and histograms.
fn report(
    counts: SamtoolsCounts,
    isizes: &SamtoolsInsertSizes,
    proper_isizes: &BTreeMap<u64, u64>,
    territory: u64,
    hist: &[u64],
    unsorted: u64,
) -> AlignmentQcReport {
    let at_least = |x: usize| -> f64 {
        if territory == 0 { 0.0 } else { hist[x.min(COVERAGE_CAP)..].iter().sum::<u64>() as f64 / territory as f64 }
    };
    let weighted: f64 = hist.iter().enumerate().map(|(d, &n)| d as f64 * n as f64).sum();
    let coverage = CoverageReport {
        genome_territory: territory,
        mean_coverage: if territory == 0 { 0.0 } else { weighted / territory as f64 },
        median_coverage: picard_median(hist.iter().enumerate().map(|(d, &n)| (d as u64, n))),
        pct_1x: at_least(1),
        pct_5x: at_least(5),
        pct_10x: at_least(10),
        pct_15x: at_least(15),
        pct_20x: at_least(20),
        pct_25x: at_least(25),
        pct_30x: at_least(30),
        pct_40x: at_least(40),
        pct_50x: at_least(50),
        pct_100x: at_least(100),
    };
    let median = picard_median(proper_isizes.iter().map(|(&k, &n)| (k, n)));
    let mut deviations: BTreeMap<u64, u64> = BTreeMap::new();
    for (&size, &n) in proper_isizes {
        // Deviations are multiples of 0.5: keep them exact as doubled integers.
        *deviations.entry((2.0 * (size as f64 - median).abs()) as u64).or_insert(0) += n;
    }
    let insert_size = InsertSizeReport {
        pairs: proper_isizes.values().sum(),
        median,
        median_absolute_deviation: picard_median(deviations.into_iter()) / 2.0,
    };
    let c = counts;
    AlignmentQcReport {
        total_reads: c.raw_total_sequences,
        mapped_reads: c.reads_mapped,
        properly_paired_reads: c.reads_properly_paired,
        duplicate_reads: c.reads_duplicated,
        optical_duplicate_pairs: None,
        insert_size,
        coverage,
        samtools_insert_size: isizes.summary(),
        samtools: c,
        unsorted_records: unsorted,
    }
}

/// Picard `Histogram.getMedian` over (value, count) bins in ascending value order: the mean of
/// the values at ranks ⌈n/2⌉ and ⌈n/2⌉ (odd n) or n/2 and n/2 + 1 (even n), 1-based.
fn picard_median(bins: impl Iterator<Item = (u64, u64)>) -> f64 {
    let bins: Vec<(u64, u64)> = bins.filter(|b| b.1 > 0).collect();
    let n: u64 = bins.iter().map(|b| b.1).sum();
    if n == 0 {
        return 0.0;
    }
    let (lo_rank, hi_rank) = if n.is_multiple_of(2) { (n / 2, n / 2 + 1) } else { (n.div_ceil(2), n.div_ceil(2)) };
    let (mut seen, mut lo, mut hi) = (0u64, None, None);
    for (value, count) in bins {
        seen += count;
        if lo.is_none() && seen >= lo_rank {
            lo = Some(value);
        }
        if seen >= hi_rank {
            hi = Some(value);
            break;
        }
    }
    match (lo, hi) {
        (Some(a), Some(b)) => (a as f64 + b as f64) / 2.0,
        _ => 0.0,
    }
}

impl AlignmentQcReport {
    /// A `samtools stats`-style file with the `SN` section only (MultiQC's samtools module
    /// recognises it by its first line).
    pub fn write_samtools_stats(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "# This file was produced by samtools stats (SN section written by dagr {})",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(out, "# Summary Numbers. Use `grep ^SN | cut -f 2-` to extract this part.")?;
        stats::write_sn(out, &self.samtools, &self.samtools_insert_size)
    }

    /// MultiQC custom content (a general-statistics table of one row), for `<sample>_mqc.json`.
    pub fn multiqc_custom_content(&self, sample: &str) -> serde_json::Value {
        let c = &self.coverage;
        serde_json::json!({
            "id": "dagr_alignment_qc",
            "section_name": "dagr alignment QC",
            "plot_type": "generalstats",
            "pconfig": [
                {"mean_coverage": {"title": "Mean cov", "suffix": "X"}},
                {"median_coverage": {"title": "Median cov", "suffix": "X"}},
                {"pct_10x": {"title": "≥10X", "max": 100, "suffix": "%"}},
                {"pct_20x": {"title": "≥20X", "max": 100, "suffix": "%"}},
                {"pct_30x": {"title": "≥30X", "max": 100, "suffix": "%"}},
                {"insert_size_median": {"title": "Insert median"}},
                {"insert_size_mad": {"title": "Insert MAD"}},
                {"optical_duplicate_pairs": {"title": "Optical dup pairs"}}
            ],
            "data": { sample: {
                "total_reads": self.total_reads,
                "mapped_reads": self.mapped_reads,
                "properly_paired_reads": self.properly_paired_reads,
                "duplicate_reads": self.duplicate_reads,
                "optical_duplicate_pairs": self.optical_duplicate_pairs,
                "insert_size_median": self.insert_size.median,
                "insert_size_mad": self.insert_size.median_absolute_deviation,
                "mean_coverage": c.mean_coverage,
                "median_coverage": c.median_coverage,
                "pct_10x": 100.0 * c.pct_10x,
                "pct_20x": 100.0 * c.pct_20x,
                "pct_30x": 100.0 * c.pct_30x,
            }}
        })
    }
}

#[cfg(test)]
mod tests;
