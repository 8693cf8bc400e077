//! Read counts and insert sizes as `samtools stats` (1.16) computes its `SN` section, and the
//! `SN` text writer (MultiQC's samtools module reads `SN` lines).

use rust_htslib::bam::Record;
use rust_htslib::bam::record::{Aux, Cigar};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// samtools' default insert size cap (`-i 8000`); larger sizes land in the last bin.
const MAX_ISIZE: usize = 8000;
/// samtools' `isize_main_bulk`: mean and SD use the smallest sizes that hold 99 % of pairs.
const MAIN_BULK: f64 = 0.99;

/// Counters of the `SN` section (reads are primary records unless the name says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamtoolsCounts {
    pub raw_total_sequences: u64,
    pub first_fragments: u64,
    pub last_fragments: u64,
    pub reads_mapped: u64,
    pub reads_mapped_and_paired: u64,
    pub reads_unmapped: u64,
    pub reads_properly_paired: u64,
    pub reads_paired: u64,
    pub reads_duplicated: u64,
    pub reads_mq0: u64,
    pub reads_qc_failed: u64,
    pub non_primary_alignments: u64,
    pub supplementary_alignments: u64,
    pub total_length: u64,
    pub total_first_fragment_length: u64,
    pub total_last_fragment_length: u64,
    pub bases_mapped: u64,
    pub bases_mapped_cigar: u64,
    pub bases_duplicated: u64,
    pub mismatches: u64,
    pub maximum_length: u64,
    pub maximum_first_fragment_length: u64,
    pub maximum_last_fragment_length: u64,
    /// Sum of base qualities of primary reads (for the average quality).
    pub quality_sum: u64,
    pub pairs_on_different_chromosomes: u64,
    pub is_sorted: bool,
}

/// samtools' insert-size histogram: both mates counted, by orientation, capped at 8000.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SamtoolsInsertSizes {
    inward: Vec<u64>,
    outward: Vec<u64>,
    other: Vec<u64>,
}

impl Default for SamtoolsInsertSizes {
    fn default() -> Self {
        SamtoolsInsertSizes { inward: vec![0; MAX_ISIZE], outward: vec![0; MAX_ISIZE], other: vec![0; MAX_ISIZE] }
    }
}

/// `samtools stats` insert size summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SamtoolsInsertSummary {
    pub average: f64,
    pub standard_deviation: f64,
    pub inward_pairs: u64,
    pub outward_pairs: u64,
    pub other_pairs: u64,
}

impl SamtoolsCounts {
    /// Adds the counts of another part of the same file (maxima taken, sortedness of both).
    pub(super) fn merge(&mut self, other: &SamtoolsCounts) {
        // Destructured, so that a new field cannot be forgotten here.
        let SamtoolsCounts {
            raw_total_sequences,
            first_fragments,
            last_fragments,
            reads_mapped,
            reads_mapped_and_paired,
            reads_unmapped,
            reads_properly_paired,
            reads_paired,
            reads_duplicated,
            reads_mq0,
            reads_qc_failed,
            non_primary_alignments,
            supplementary_alignments,
            total_length,
            total_first_fragment_length,
            total_last_fragment_length,
            bases_mapped,
            bases_mapped_cigar,
            bases_duplicated,
            mismatches,
            maximum_length,
            maximum_first_fragment_length,
            maximum_last_fragment_length,
            quality_sum,
            pairs_on_different_chromosomes,
            is_sorted,
        } = other;
        for (total, n) in [
            (&mut self.raw_total_sequences, raw_total_sequences),
            (&mut self.first_fragments, first_fragments),
            (&mut self.last_fragments, last_fragments),
            (&mut self.reads_mapped, reads_mapped),
            (&mut self.reads_mapped_and_paired, reads_mapped_and_paired),
            (&mut self.reads_unmapped, reads_unmapped),
            (&mut self.reads_properly_paired, reads_properly_paired),
            (&mut self.reads_paired, reads_paired),
            (&mut self.reads_duplicated, reads_duplicated),
            (&mut self.reads_mq0, reads_mq0),
            (&mut self.reads_qc_failed, reads_qc_failed),
            (&mut self.non_primary_alignments, non_primary_alignments),
            (&mut self.supplementary_alignments, supplementary_alignments),
            (&mut self.total_length, total_length),
            (&mut self.total_first_fragment_length, total_first_fragment_length),
            (&mut self.total_last_fragment_length, total_last_fragment_length),
            (&mut self.bases_mapped, bases_mapped),
            (&mut self.bases_mapped_cigar, bases_mapped_cigar),
            (&mut self.bases_duplicated, bases_duplicated),
            (&mut self.mismatches, mismatches),
            (&mut self.quality_sum, quality_sum),
            (&mut self.pairs_on_different_chromosomes, pairs_on_different_chromosomes),
        ] {
            *total += n;
        }
        for (max, n) in [
            (&mut self.maximum_length, maximum_length),
            (&mut self.maximum_first_fragment_length, maximum_first_fragment_length),
            (&mut self.maximum_last_fragment_length, maximum_last_fragment_length),
        ] {
            *max = (*max).max(*n);
        }
        self.is_sorted &= is_sorted;
    }

    /// Counts one record as `samtools stats` does (no filters).
    pub(super) fn observe(&mut self, rec: &Record, isizes: &mut SamtoolsInsertSizes) {
        if rec.is_quality_check_failed() {
            self.reads_qc_failed += 1;
        }
        if rec.is_secondary() {
            self.non_primary_alignments += 1;
            return;
        }
        if rec.is_supplementary() {
            self.supplementary_alignments += 1;
            return;
        }
        let len = rec.seq_len() as u64;
        self.raw_total_sequences += 1;
        if rec.is_first_in_template() {
            self.first_fragments += 1;
            self.total_first_fragment_length += len;
            self.maximum_first_fragment_length = self.maximum_first_fragment_length.max(len);
        } else if rec.is_last_in_template() {
            self.last_fragments += 1;
            self.total_last_fragment_length += len;
            self.maximum_last_fragment_length = self.maximum_last_fragment_length.max(len);
        }
        self.total_length += len;
        self.maximum_length = self.maximum_length.max(len);
        self.quality_sum += rec.qual().iter().map(|&q| u64::from(q)).sum::<u64>();
        if rec.is_paired() {
            self.reads_paired += 1;
        }
        if rec.is_duplicate() {
            self.reads_duplicated += 1;
            self.bases_duplicated += len;
        }
        if rec.is_unmapped() {
            self.reads_unmapped += 1;
            return;
        }
        self.observe_mapped(rec, len, isizes);
    }

    fn observe_mapped(&mut self, rec: &Record, len: u64, isizes: &mut SamtoolsInsertSizes) {
        self.reads_mapped += 1;
        self.bases_mapped += len;
        let both_mapped = rec.is_paired() && !rec.is_mate_unmapped();
        if both_mapped {
            self.reads_mapped_and_paired += 1;
            if rec.tid() != rec.mtid() {
                self.pairs_on_different_chromosomes += 1;
            }
            isizes.observe(rec);
        }
        if rec.is_paired() && rec.is_proper_pair() {
            self.reads_properly_paired += 1;
        }
        if rec.mapq() == 0 {
            self.reads_mq0 += 1;
        }
        for op in rec.cigar().iter() {
            if let Cigar::Match(n) | Cigar::Ins(n) | Cigar::Equal(n) | Cigar::Diff(n) = *op {
                self.bases_mapped_cigar += u64::from(n);
            }
        }
        if let Ok(nm) = rec.aux(b"NM") {
            self.mismatches += match nm {
                Aux::U8(v) => u64::from(v),
                Aux::U16(v) => u64::from(v),
                Aux::U32(v) => u64::from(v),
                Aux::I8(v) => v.max(0) as u64,
                Aux::I16(v) => v.max(0) as u64,
                Aux::I32(v) => v.max(0) as u64,
                _ => 0,
            };
        }
    }
}

impl SamtoolsInsertSizes {
    /// Adds another part's histogram.
    pub(super) fn merge(&mut self, other: &SamtoolsInsertSizes) {
        for (mine, theirs) in
            [(&mut self.inward, &other.inward), (&mut self.outward, &other.outward), (&mut self.other, &other.other)]
        {
            for (total, n) in mine.iter_mut().zip(theirs) {
                *total += n;
            }
        }
    }

    fn observe(&mut self, rec: &Record) {
        let isize = rec.insert_size().unsigned_abs() as usize;
        if isize == 0 && rec.tid() != rec.mtid() {
            return;
        }
        let bin = isize.min(MAX_ISIZE - 1);
        let read1 = if rec.is_first_in_template() { 1 } else { -1 };
        let fwd = if rec.is_reverse() { -1 } else { 1 };
        let mate_fwd = if rec.is_mate_reverse() { -1 } else { 1 };
        let ahead = (rec.mpos() - rec.pos()).signum();
        let hist = if fwd * mate_fwd > 0 {
            &mut self.other
        } else if read1 * ahead > 0 {
            if read1 * fwd > 0 { &mut self.inward } else { &mut self.outward }
        } else if read1 * ahead < 0 {
            if read1 * fwd > 0 { &mut self.outward } else { &mut self.inward }
        } else {
            &mut self.inward
        };
        hist[bin] += 1;
    }

    /// Halves the per-read counts to pairs and takes mean and SD over the main bulk.
    pub(super) fn summary(&self) -> SamtoolsInsertSummary {
        let pairs = |v: &Vec<u64>, i: usize| v[i] / 2;
        let per_size: Vec<u64> =
            (0..MAX_ISIZE).map(|i| pairs(&self.inward, i) + pairs(&self.outward, i) + pairs(&self.other, i)).collect();
        let mut total: u64 = per_size.iter().sum();
        let mut s = SamtoolsInsertSummary {
            inward_pairs: (0..MAX_ISIZE).map(|i| pairs(&self.inward, i)).sum(),
            outward_pairs: (0..MAX_ISIZE).map(|i| pairs(&self.outward, i)).sum(),
            other_pairs: (0..MAX_ISIZE).map(|i| pairs(&self.other, i)).sum(),
            ..Default::default()
        };
        let (mut bulk, mut sum, mut ibulk) = (0u64, 0f64, 0usize);
        for (i, &n) in per_size.iter().enumerate() {
            if n > 0 {
                ibulk = i + 1;
            }
            bulk += n;
            sum += i as f64 * n as f64;
            if total > 0 && bulk as f64 / total as f64 > MAIN_BULK {
                ibulk = i + 1;
                total = bulk;
                break;
            }
        }
        s.average = if total > 0 { sum / total as f64 } else { 0.0 };
        let var: f64 =
            (1..ibulk).map(|i| per_size[i] as f64 * (i as f64 - s.average).powi(2)).sum::<f64>() / total.max(1) as f64;
        s.standard_deviation = var.sqrt();
        s
    }
}

/// Writes the `SN` section as `samtools stats` does (same keys, order and number formats).
pub(super) fn write_sn(out: &mut dyn Write, c: &SamtoolsCounts, isize: &SamtoolsInsertSummary) -> io::Result<()> {
    let seqs = c.raw_total_sequences;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let average = |total: u64, n: u64| format!("{:.0}", total.checked_div(n).unwrap_or(0) as f64);
    let rows: Vec<(&str, String)> = vec![
        ("raw total sequences", format!("{seqs}\t# excluding supplementary and secondary reads")),
        ("filtered sequences", "0".into()),
        ("sequences", seqs.to_string()),
        ("is sorted", u8::from(c.is_sorted).to_string()),
        ("1st fragments", c.first_fragments.to_string()),
        ("last fragments", c.last_fragments.to_string()),
        ("reads mapped", c.reads_mapped.to_string()),
        (
            "reads mapped and paired",
            format!("{}\t# paired-end technology bit set + both mates mapped", c.reads_mapped_and_paired),
        ),
        ("reads unmapped", c.reads_unmapped.to_string()),
        ("reads properly paired", format!("{}\t# proper-pair bit set", c.reads_properly_paired)),
        ("reads paired", format!("{}\t# paired-end technology bit set", c.reads_paired)),
        ("reads duplicated", format!("{}\t# PCR or optical duplicate bit set", c.reads_duplicated)),
        ("reads MQ0", format!("{}\t# mapped and MQ=0", c.reads_mq0)),
        ("reads QC failed", c.reads_qc_failed.to_string()),
        ("non-primary alignments", c.non_primary_alignments.to_string()),
        ("supplementary alignments", c.supplementary_alignments.to_string()),
        ("total length", format!("{}\t# ignores clipping", c.total_length)),
        ("total first fragment length", format!("{}\t# ignores clipping", c.total_first_fragment_length)),
        ("total last fragment length", format!("{}\t# ignores clipping", c.total_last_fragment_length)),
        ("bases mapped", format!("{}\t# ignores clipping", c.bases_mapped)),
        ("bases mapped (cigar)", format!("{}\t# more accurate", c.bases_mapped_cigar)),
        ("bases trimmed", "0".into()),
        ("bases duplicated", c.bases_duplicated.to_string()),
        ("mismatches", format!("{}\t# from NM fields", c.mismatches)),
        // samtools divides in single precision.
        (
            "error rate",
            format!(
                "{}\t# mismatches / bases mapped (cigar)",
                c_exp(f64::from(ratio(c.mismatches, c.bases_mapped_cigar) as f32))
            ),
        ),
        ("average length", average(c.total_length, seqs)),
        ("average first fragment length", average(c.total_first_fragment_length, c.first_fragments)),
        ("average last fragment length", average(c.total_last_fragment_length, c.last_fragments)),
        ("maximum length", c.maximum_length.to_string()),
        ("maximum first fragment length", c.maximum_first_fragment_length.to_string()),
        ("maximum last fragment length", c.maximum_last_fragment_length.to_string()),
        ("average quality", format!("{:.1}", ratio(c.quality_sum, c.total_length))),
        ("insert size average", format!("{:.1}", isize.average)),
        ("insert size standard deviation", format!("{:.1}", isize.standard_deviation)),
        ("inward oriented pairs", isize.inward_pairs.to_string()),
        ("outward oriented pairs", isize.outward_pairs.to_string()),
        ("pairs with other orientation", isize.other_pairs.to_string()),
        ("pairs on different chromosomes", (c.pairs_on_different_chromosomes / 2).to_string()),
        ("percentage of properly paired reads (%)", format!("{:.1}", 100.0 * ratio(c.reads_properly_paired, seqs))),
    ];
    for (key, value) in rows {
        writeln!(out, "SN\t{key}:\t{value}")?;
    }
    Ok(())
}

/// C's `%e` (six decimals, two-digit signed exponent), as samtools prints the error rate.
fn c_exp(x: f64) -> String {
    let s = format!("{x:.6e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}
