//! Read statistics, gathered in the validation pass without allocation.
//!
//! Per record: one branch-free pass over the sequence counts G/C, A/T and N bytes (case-folded by
//! `| 0x20`; LLVM vectorises it) and proves every byte valid when the three counts add up to the
//! length; one vectorised pass over the qualities proves them in `!`..=`~`; a byte histogram of the
//! qualities (four interleaved tables, so that runs of equal values do not serialise on one
//! counter) then yields, at the end, the quality sum, Q30 count, QC-passed count and the set of
//! values seen. Everything is an integer count, so results do not depend on how the work is split;
//! fractions are computed once, in [`FastqStats::summary`].

use serde::Serialize;

/// Phred+33 quality characters `!`..=`~` are Phred values 0..=93.
pub const PHRED_VALUES: usize = 94;
/// Quality-value count at or below which the qualities look binned (Illumina bins to 4-8 values).
pub const BINNED_MAX_VALUES: usize = 8;
/// Phred offset of FASTQ quality characters.
const PHRED_OFFSET: u8 = 33;

/// Integer statistics of the reads of one lane or, merged, of several lanes of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastqStats {
    /// Read pairs (0 for the statistics of a single mate file).
    pub pairs: u64,
    /// Reads, both mates counted.
    pub reads: u64,
    /// Bases of all reads.
    pub bases: u64,
    /// Shortest and longest read (0 when there are no reads).
    pub read_length_min: u64,
    pub read_length_max: u64,
    /// G or C bases, and A, C, G or T bases (the GC denominator), case-insensitive.
    pub gc_bases: u64,
    pub acgt_bases: u64,
    /// N bases.
    pub n_bases: u64,
    /// Bases per Phred quality value 0..=93.
    pub quality_counts: [u64; PHRED_VALUES],
    /// Bases with a quality at or above this are QC-passed bases.
    pub min_base_quality: u8,
}

impl FastqStats {
    /// Empty statistics counting QC-passed bases at `min_base_quality` and above.
    pub fn new(min_base_quality: u8) -> Self {
        Self {
            pairs: 0,
            reads: 0,
            bases: 0,
            read_length_min: 0,
            read_length_max: 0,
            gc_bases: 0,
            acgt_bases: 0,
            n_bases: 0,
            quality_counts: [0; PHRED_VALUES],
            min_base_quality,
        }
    }

    /// Adds `other` (another lane, or the other mate). Thresholds should agree; `self`'s is kept.
    pub fn merge(&mut self, other: &FastqStats) {
        debug_assert_eq!(self.min_base_quality, other.min_base_quality, "merging stats of different thresholds");
        if other.reads > 0 {
            self.read_length_min =
                if self.reads == 0 { other.read_length_min } else { self.read_length_min.min(other.read_length_min) };
            self.read_length_max = self.read_length_max.max(other.read_length_max);
        }
        self.pairs += other.pairs;
        self.reads += other.reads;
        self.bases += other.bases;
        self.gc_bases += other.gc_bases;
        self.acgt_bases += other.acgt_bases;
        self.n_bases += other.n_bases;
        for (a, b) in self.quality_counts.iter_mut().zip(other.quality_counts.iter()) {
            *a += b;
        }
    }

    /// Bases whose quality is at least [`FastqStats::min_base_quality`].
    pub fn qc_passed_bases(&self) -> u64 {
        self.quality_counts[usize::from(self.min_base_quality).min(PHRED_VALUES)..].iter().sum()
    }

    /// Bases with quality 30 or more.
    pub fn q30_bases(&self) -> u64 {
        self.quality_counts[30..].iter().sum()
    }

    /// Sum of the Phred values of all bases.
    pub fn quality_sum(&self) -> u64 {
        self.quality_counts.iter().enumerate().map(|(q, &n)| q as u64 * n).sum()
    }

    /// The distinct Phred values seen, ascending.
    pub fn quality_values(&self) -> Vec<u8> {
        (0..PHRED_VALUES as u8).filter(|&q| self.quality_counts[usize::from(q)] > 0).collect()
    }

    /// True when reads exist and use at most [`BINNED_MAX_VALUES`] distinct quality values.
    pub fn looks_binned(&self) -> bool {
        self.reads > 0 && self.quality_counts.iter().filter(|&&n| n > 0).count() <= BINNED_MAX_VALUES
    }

    /// Derived values for reports; fractions are 0 when their denominator is 0, rounded to 1e-6.
    pub fn summary(&self) -> FastqSummary {
        FastqSummary {
            pairs: self.pairs,
            reads: self.reads,
            bases: self.bases,
            read_length_min: self.read_length_min,
            read_length_max: self.read_length_max,
            mean_base_quality: ratio(self.quality_sum(), self.bases),
            q30_fraction: ratio(self.q30_bases(), self.bases),
            gc_fraction: ratio(self.gc_bases, self.acgt_bases),
            n_bases: self.n_bases,
            min_base_quality: self.min_base_quality,
            qc_passed_bases: self.qc_passed_bases(),
            quality_values: self.quality_values(),
            quality_binned: self.looks_binned(),
        }
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { (num as f64 / den as f64 * 1e6).round() / 1e6 }
}

/// What [`FastqStats`] reports, in a fixed field order for JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FastqSummary {
    pub pairs: u64,
    pub reads: u64,
    pub bases: u64,
    pub read_length_min: u64,
    pub read_length_max: u64,
    pub mean_base_quality: f64,
    pub q30_fraction: f64,
    pub gc_fraction: f64,
    pub n_bases: u64,
    pub min_base_quality: u8,
    pub qc_passed_bases: u64,
    pub quality_values: Vec<u8>,
    pub quality_binned: bool,
}

/// Base composition of one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BaseCounts {
    pub(crate) gc: u64,
    pub(crate) at: u64,
    pub(crate) n: u64,
}

/// Counts G/C, A/T and N in `seq`; `Err(i)` gives the 0-based index of the first other byte.
pub(crate) fn count_bases(seq: &[u8]) -> Result<BaseCounts, usize> {
    let mut total = BaseCounts { gc: 0, at: 0, n: 0 };
    // u32 lanes vectorise twice as wide as u64; blocks keep them from overflowing.
    for block in seq.chunks(1 << 20) {
        let (mut gc, mut at, mut n) = (0u32, 0u32, 0u32);
        for &b in block {
            let l = b | 0x20;
            gc += u32::from((l == b'c') | (l == b'g'));
            at += u32::from((l == b'a') | (l == b't'));
            n += u32::from(l == b'n');
        }
        total.gc += u64::from(gc);
        total.at += u64::from(at);
        total.n += u64::from(n);
    }
    if total.gc + total.at + total.n == seq.len() as u64 {
        Ok(total)
    } else {
        Err(seq.iter().position(|&b| !matches!(b | 0x20, b'a' | b'c' | b'g' | b't' | b'n')).unwrap_or(0))
    }
}

/// The 0-based index of the first quality byte outside `!`..=`~`, if any.
pub(crate) fn first_bad_quality(qual: &[u8]) -> Option<usize> {
    let any_bad = qual.iter().fold(false, |acc, &b| acc | (b.wrapping_sub(PHRED_OFFSET) > 93));
    if any_bad { qual.iter().position(|&b| b.wrapping_sub(PHRED_OFFSET) > 93) } else { None }
}

/// Running counts of one mate file, in the form cheapest to update per record.
pub(crate) struct Tally {
    reads: u64,
    bases: u64,
    len_min: u64,
    len_max: u64,
    gc: u64,
    at: u64,
    n: u64,
    /// Quality byte histograms, four interleaved to break store-to-load dependencies.
    qual_hist: Box<[[u64; 256]; 4]>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self {
            reads: 0,
            bases: 0,
            len_min: u64::MAX,
            len_max: 0,
            gc: 0,
            at: 0,
            n: 0,
            qual_hist: Box::new([[0; 256]; 4]),
        }
    }

    /// Adds one validated record.
    pub(crate) fn add(&mut self, bases: BaseCounts, qual: &[u8]) {
        let len = qual.len() as u64;
        self.reads += 1;
        self.bases += len;
        self.len_min = self.len_min.min(len);
        self.len_max = self.len_max.max(len);
        self.gc += bases.gc;
        self.at += bases.at;
        self.n += bases.n;
        let [h0, h1, h2, h3] = &mut *self.qual_hist;
        let mut quads = qual.chunks_exact(4);
        for q in &mut quads {
            h0[usize::from(q[0])] += 1;
            h1[usize::from(q[1])] += 1;
            h2[usize::from(q[2])] += 1;
            h3[usize::from(q[3])] += 1;
        }
        for &b in quads.remainder() {
            h0[usize::from(b)] += 1;
        }
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads
    }

    /// Final statistics of this mate file (`pairs` left 0).
    pub(crate) fn to_stats(&self, min_base_quality: u8) -> FastqStats {
        let mut stats = FastqStats::new(min_base_quality);
        stats.reads = self.reads;
        stats.bases = self.bases;
        stats.read_length_min = if self.reads == 0 { 0 } else { self.len_min };
        stats.read_length_max = self.len_max;
        stats.gc_bases = self.gc;
        stats.acgt_bases = self.gc + self.at;
        stats.n_bases = self.n;
        for (q, count) in stats.quality_counts.iter_mut().enumerate() {
            let byte = q + usize::from(PHRED_OFFSET);
            *count = self.qual_hist.iter().map(|h| h[byte]).sum();
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_counted_case_insensitively_and_bad_ones_located() {
        assert_eq!(count_bases(b"ACGTNacgtn").unwrap(), BaseCounts { gc: 4, at: 4, n: 2 });
        assert_eq!(count_bases(b"ACGU"), Err(3));
        assert_eq!(count_bases(b"AC.T"), Err(2));
        assert_eq!(count_bases(b""), Ok(BaseCounts { gc: 0, at: 0, n: 0 }));
    }

    #[test]
    fn qualities_outside_phred33_are_located() {
        assert_eq!(first_bad_quality(b"!~IIII"), None);
        assert_eq!(first_bad_quality(b"II I"), Some(2));
        assert_eq!(first_bad_quality(&[b'I', 0x7f]), Some(1));
        assert_eq!(first_bad_quality(&[0xc3, 0xa9]), Some(0));
    }

    #[test]
    fn tally_gives_exact_integer_stats() {
        let mut t = Tally::new();
        // qualities: '5' = 20, '?' = 30, '#' = 2, 'I' = 40
        t.add(count_bases(b"GGCA").unwrap(), b"5?#I");
        t.add(count_bases(b"NT").unwrap(), b"##");
        let s = t.to_stats(20);
        assert_eq!((s.reads, s.bases, s.read_length_min, s.read_length_max), (2, 6, 2, 4));
        assert_eq!((s.gc_bases, s.acgt_bases, s.n_bases), (3, 5, 1));
        assert_eq!(s.quality_sum(), 20 + 30 + 2 + 40 + 2 + 2);
        assert_eq!(s.q30_bases(), 2);
        assert_eq!(s.qc_passed_bases(), 3);
        assert_eq!(s.quality_values(), vec![2, 20, 30, 40]);
        assert!(s.looks_binned());
        let sum = s.summary();
        assert_eq!(sum.mean_base_quality, 16.0);
        assert_eq!(sum.q30_fraction, 0.333333);
        assert_eq!(sum.gc_fraction, 0.6);
    }

    #[test]
    fn merge_adds_counts_and_keeps_length_range() {
        let mut a = FastqStats::new(20);
        let mut t = Tally::new();
        t.add(count_bases(b"ACGTACGT").unwrap(), b"IIIIIIII");
        let b = t.to_stats(20);
        a.merge(&b);
        assert_eq!(a, b);
        let mut t2 = Tally::new();
        t2.add(count_bases(b"AC").unwrap(), b"II");
        a.merge(&t2.to_stats(20));
        assert_eq!((a.reads, a.bases, a.read_length_min, a.read_length_max), (2, 10, 2, 8));
        assert_eq!(FastqStats::new(20).summary().mean_base_quality, 0.0);
    }
}
