//! Picard `DuplicationMetrics`: additive counts per library, the derived fraction and library
//! size, JSON (serde) and the Picard metrics text format.

use super::MarkdupOptions;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// Additive per-library counts (summed over shards). Reads, except where the name says pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryCounts {
    /// Mapped primary reads whose mate is unmapped (the fragments).
    pub unpaired_reads_examined: u64,
    /// Pairs with both mates mapped.
    pub read_pairs_examined: u64,
    /// Secondary and supplementary records (filled in by the caller; 0 otherwise).
    pub secondary_or_supplementary_rds: u64,
    /// Unmapped reads: the unmapped mates of fragments, plus what the caller adds for fully
    /// unmapped pairs ([`super::DuplicateMarks::add_unmapped_reads`]).
    pub unmapped_reads: u64,
    pub unpaired_read_duplicates: u64,
    pub read_pair_duplicates: u64,
    pub read_pair_optical_duplicates: u64,
}

impl LibraryCounts {
    pub fn add(&mut self, o: &LibraryCounts) {
        self.unpaired_reads_examined += o.unpaired_reads_examined;
        self.read_pairs_examined += o.read_pairs_examined;
        self.secondary_or_supplementary_rds += o.secondary_or_supplementary_rds;
        self.unmapped_reads += o.unmapped_reads;
        self.unpaired_read_duplicates += o.unpaired_read_duplicates;
        self.read_pair_duplicates += o.read_pair_duplicates;
        self.read_pair_optical_duplicates += o.read_pair_optical_duplicates;
    }
}

/// One row of Picard's `DuplicationMetrics` (field names as Picard writes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct LibraryMetrics {
    pub library: String,
    pub unpaired_reads_examined: u64,
    pub read_pairs_examined: u64,
    pub secondary_or_supplementary_rds: u64,
    pub unmapped_reads: u64,
    pub unpaired_read_duplicates: u64,
    pub read_pair_duplicates: u64,
    pub read_pair_optical_duplicates: u64,
    /// A fraction, as in Picard: (unpaired dups + 2 × pair dups) / (unpaired + 2 × pairs).
    pub percent_duplication: f64,
    /// Lander-Waterman estimate; `None` (empty in the text) when there are no duplicates.
    pub estimated_library_size: Option<u64>,
}

impl LibraryMetrics {
    pub fn new(library: String, c: &LibraryCounts) -> LibraryMetrics {
        let reads = c.unpaired_reads_examined + 2 * c.read_pairs_examined;
        let dups = c.unpaired_read_duplicates + 2 * c.read_pair_duplicates;
        let percent_duplication = if reads == 0 { 0.0 } else { dups as f64 / reads as f64 };
        let estimated_library_size = estimate_library_size(
            c.read_pairs_examined.saturating_sub(c.read_pair_optical_duplicates),
            c.read_pairs_examined.saturating_sub(c.read_pair_duplicates),
        );
        LibraryMetrics {
            library,
            unpaired_reads_examined: c.unpaired_reads_examined,
            read_pairs_examined: c.read_pairs_examined,
            secondary_or_supplementary_rds: c.secondary_or_supplementary_rds,
            unmapped_reads: c.unmapped_reads,
            unpaired_read_duplicates: c.unpaired_read_duplicates,
            read_pair_duplicates: c.read_pair_duplicates,
            read_pair_optical_duplicates: c.read_pair_optical_duplicates,
            percent_duplication,
            estimated_library_size,
        }
    }
}

/// Lander-Waterman: `unique / X = 1 − exp(−pairs / X)`, solved for the library size X as Picard
/// does: bracket X/unique in [1, M] (M grown ×10 until the sign changes), 40 bisection steps,
/// truncate `unique × midpoint`. `None` without duplicates or for inconsistent input.
pub fn estimate_library_size(read_pairs: u64, unique_read_pairs: u64) -> Option<u64> {
    if read_pairs == 0 || unique_read_pairs == 0 || unique_read_pairs >= read_pairs {
        return None;
    }
    let (n, c) = (read_pairs as f64, unique_read_pairs as f64);
    let f = |x: f64| c / x - 1.0 + (-n / x).exp();
    let (mut lo, mut hi) = (1.0_f64, 100.0_f64);
    if f(lo * c) < 0.0 {
        return None;
    }
    while f(hi * c) > 0.0 {
        hi *= 10.0;
        if !hi.is_finite() {
            return None;
        }
    }
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        let u = f(mid * c);
        if u == 0.0 {
            break;
        } else if u > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((c * (lo + hi) / 2.0) as u64)
}

/// Picard's number format for doubles (`0.######`): up to 6 decimals, no trailing zeros.
fn picard_double(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

const COLUMNS: &str = "LIBRARY\tUNPAIRED_READS_EXAMINED\tREAD_PAIRS_EXAMINED\tSECONDARY_OR_SUPPLEMENTARY_RDS\t\
UNMAPPED_READS\tUNPAIRED_READ_DUPLICATES\tREAD_PAIR_DUPLICATES\tREAD_PAIR_OPTICAL_DUPLICATES\t\
PERCENT_DUPLICATION\tESTIMATED_LIBRARY_SIZE";

/// Writes a Picard metrics file (`## METRICS CLASS picard.sam.DuplicationMetrics`), without the
/// histogram section and without a date, so the output is reproducible. `input_name` goes into
/// the `INPUT=` of the header line, which MultiQC uses as the sample name.
pub fn write_picard_metrics(
    out: &mut dyn Write,
    rows: &[LibraryMetrics],
    input_name: &str,
    options: &MarkdupOptions,
) -> io::Result<()> {
    writeln!(out, "## htsjdk.samtools.metrics.StringHeader")?;
    writeln!(
        out,
        "# MarkDuplicates INPUT={input_name} OPTICAL_DUPLICATE_PIXEL_DISTANCE={} (dagr {} keyed reduction)",
        options.optical_pixel_distance,
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out)?;
    writeln!(out, "## METRICS CLASS\tpicard.sam.DuplicationMetrics")?;
    writeln!(out, "{COLUMNS}")?;
    for m in rows {
        let size = m.estimated_library_size.map(|s| s.to_string()).unwrap_or_default();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            m.library,
            m.unpaired_reads_examined,
            m.read_pairs_examined,
            m.secondary_or_supplementary_rds,
            m.unmapped_reads,
            m.unpaired_read_duplicates,
            m.read_pair_duplicates,
            m.read_pair_optical_duplicates,
            picard_double(m.percent_duplication),
            size
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
pub(super) fn format_double(x: f64) -> String {
    picard_double(x)
}
