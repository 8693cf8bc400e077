//! The result of the reduction: which pairs' mates are duplicates, and per-library counts.
//!
//! Flagged pairs are kept as two parallel sorted arrays (pair ids, flag bits): 9 bytes per
//! flagged pair, O(log d) per lookup by binary search, nothing for pairs that are not flagged.

use super::metrics::{LibraryCounts, LibraryMetrics, write_picard_metrics};
use crate::alignments::keys::{Mate, PairId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// R1 of the pair is a duplicate.
pub const DUP_R1: u8 = 1;
/// R2 of the pair is a duplicate.
pub const DUP_R2: u8 = 2;
/// The pair is an optical duplicate (Picard's `DT:Z:SQ`).
pub const OPTICAL: u8 = 4;

/// One shard's result: flagged pairs (sorted by id after [`MarksPart::finish`]) and the additive
/// per-library counts. Serializable, for sending between ranks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarksPart {
    pub(super) flagged: Vec<(PairId, u8)>,
    pub(super) counts: BTreeMap<u32, LibraryCounts>,
}

impl MarksPart {
    pub(super) fn push(&mut self, pair_id: PairId, bits: u8) {
        self.flagged.push((pair_id, bits));
    }

    /// Sorts by pair id and ORs the bits of repeated ids.
    pub(super) fn finish(&mut self) {
        self.flagged.sort_unstable();
        self.flagged.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 |= later.1;
            }
            same
        });
    }

    /// Per-library counts of this shard (library id → counts).
    pub fn counts(&self) -> &BTreeMap<u32, LibraryCounts> {
        &self.counts
    }
}

/// Which records are duplicates, for the write pass, and the duplication metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateMarks {
    ids: Vec<PairId>,
    bits: Vec<u8>,
    counts: BTreeMap<u32, LibraryCounts>,
    library_names: Vec<String>,
}

impl DuplicateMarks {
    /// Combines the shards' parts (any order); counts of a library are summed.
    pub fn merge(parts: Vec<MarksPart>, library_names: &[String]) -> DuplicateMarks {
        let mut all = MarksPart::default();
        for part in parts {
            all.flagged.extend(part.flagged);
            for (lib, c) in part.counts {
                all.counts.entry(lib).or_default().add(&c);
            }
        }
        all.finish();
        let (ids, bits) = all.flagged.into_iter().unzip();
        DuplicateMarks { ids, bits, counts: all.counts, library_names: library_names.to_vec() }
    }

    fn bits(&self, pair_id: PairId) -> u8 {
        self.ids.binary_search(&pair_id).map_or(0, |i| self.bits[i])
    }

    /// Whether the primary record of `mate` in pair `pair_id` gets flag 0x400.
    pub fn is_duplicate(&self, pair_id: PairId, mate: Mate) -> bool {
        let bit = if mate == Mate::R1 { DUP_R1 } else { DUP_R2 };
        self.bits(pair_id) & bit != 0
    }

    /// Whether pair `pair_id` is an optical duplicate.
    pub fn is_optical_duplicate(&self, pair_id: PairId) -> bool {
        self.bits(pair_id) & OPTICAL != 0
    }

    /// Number of pairs with at least one flagged mate.
    pub fn flagged_pairs(&self) -> usize {
        self.ids.len()
    }

    /// Number of primary reads flagged.
    pub fn flagged_reads(&self) -> u64 {
        self.bits.iter().map(|b| u64::from((b & (DUP_R1 | DUP_R2)).count_ones())).sum()
    }

    /// Flagged pairs in pair-id order with their bits ([`DUP_R1`], [`DUP_R2`], [`OPTICAL`]).
    pub fn iter(&self) -> impl Iterator<Item = (PairId, u8)> + '_ {
        self.ids.iter().copied().zip(self.bits.iter().copied())
    }

    /// Adds reads the candidates cannot show: unmapped reads of fully unmapped pairs.
    pub fn add_unmapped_reads(&mut self, library: u32, reads: u64) {
        self.counts.entry(library).or_default().unmapped_reads += reads;
    }

    /// Adds secondary and supplementary records (Picard's `SECONDARY_OR_SUPPLEMENTARY_RDS`).
    pub fn add_secondary_or_supplementary(&mut self, library: u32, records: u64) {
        self.counts.entry(library).or_default().secondary_or_supplementary_rds += records;
    }

    /// Per-library counts (library id → counts).
    pub fn counts(&self) -> &BTreeMap<u32, LibraryCounts> {
        &self.counts
    }

    /// Picard `DuplicationMetrics` rows, one per library in id order.
    pub fn metrics(&self) -> Vec<LibraryMetrics> {
        self.counts
            .iter()
            .map(|(&lib, c)| {
                let name = self.library_names.get(lib as usize).cloned().unwrap_or_else(|| format!("library{lib}"));
                LibraryMetrics::new(name, c)
            })
            .collect()
    }

    /// Writes the metrics as a Picard metrics file (MultiQC's Picard module reads it).
    pub fn write_picard_metrics(
        &self,
        out: &mut dyn Write,
        input_name: &str,
        options: &super::MarkdupOptions,
    ) -> io::Result<()> {
        write_picard_metrics(out, &self.metrics(), input_name, options)
    }
}
