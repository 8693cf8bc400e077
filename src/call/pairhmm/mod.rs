//! Pair-HMM: log10 P(read | haplotype) for every read × candidate haplotype of an active region.
//!
//! Model: the standard three-state HMM (match, insertion, deletion). The read is aligned end
//! to end (global in the read) against a stretch of the haplotype that may start and end
//! anywhere (local in the haplotype, no cost for either end; unlike GATK no 1/n start weight,
//! so a perfect match scores ≈ 0 and scores stay comparable between haplotypes of different
//! lengths). Read bases hanging past a haplotype end (a read reaching beyond the region) are
//! emitted at 1/4 each with no gap-open cost, like a soft clip with a price: the same on every
//! haplotype of the region, so they do not bias the comparison, yet dear enough that a read
//! must align to the haplotype (at least one base) rather than escape past its end.
//! - Emission: a read base of quality Q matches with 1 − ε and mismatches with ε/3, ε = 10^(−Q/10),
//!   Q clamped to `[min_base_qual, max_base_qual]` (defaults 6 and 40). The floor keeps Q2
//!   ("no call") bases from being trusted as certain mismatches while letting them count a
//!   little; NovaSeq X bins (2, 12, 23, 37) need no recalibration: 2 → 6, others as written.
//!   N in the read or the haplotype always counts as a match (uninformative: the same factor on
//!   every haplotype).
//! - Transitions: gap open from the context model in [`context`] (Q45 outside repeats down to
//!   Q20 in homopolymers ≥ 11 bp, STR-dependent), the same for insertion and deletion; gap
//!   extension fixed at Q10 (0.1); match → match = 1 − 2 × gap open; gap → match = 0.9.
//!   Insertion states emit with probability 1 (as GATK's).
//!
//! Arithmetic: f64 probabilities, each row rescaled every 8 read bases to its maximum (the
//! scale kept in log10), cells 1e-200 below the maximum flushed to zero, so no underflow and
//! no subnormals. Cost: one full DP, read length × (haplotype length + 1) cells of ~12 flops;
//! transition tables are built once per haplotype, the DP rows are reused per thread (no
//! allocation per read after the first). The matrix is filled in parallel over reads with
//! rayon; every cell is computed independently in a fixed order, so results do not depend on
//! the thread count.

pub mod context;
mod dp;
#[cfg(test)]
mod tests;

use rayon::prelude::*;

use super::types::{Haplotype, ReadView};
pub use dp::{PairHmm, PreparedHaplotype};

/// Base qualities below this are raised to it.
pub const DEFAULT_MIN_BASE_QUAL: u8 = 6;
/// Base qualities above this are lowered to it.
pub const DEFAULT_MAX_BASE_QUAL: u8 = 40;
/// Gap extension Phred (0.1 per extra base).
pub const DEFAULT_GAP_EXTENSION_PHRED: f64 = 10.0;

/// Pair-HMM parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairHmmConfig {
    pub min_base_qual: u8,
    pub max_base_qual: u8,
    pub gap_extension_phred: f64,
}

impl Default for PairHmmConfig {
    fn default() -> Self {
        PairHmmConfig {
            min_base_qual: DEFAULT_MIN_BASE_QUAL,
            max_base_qual: DEFAULT_MAX_BASE_QUAL,
            gap_extension_phred: DEFAULT_GAP_EXTENSION_PHRED,
        }
    }
}

/// log10 P(read | haplotype), reads × haplotypes, row-major (one row per read).
#[derive(Debug, Clone, PartialEq)]
pub struct LikelihoodMatrix {
    pub reads: usize,
    pub haplotypes: usize,
    pub log10: Vec<f64>,
}

impl LikelihoodMatrix {
    /// log10 P(read `read` | haplotype `hap`). Panics on out-of-range indices (a caller bug).
    pub fn get(&self, read: usize, hap: usize) -> f64 {
        self.log10[read * self.haplotypes + hap]
    }

    /// All haplotype likelihoods of one read.
    pub fn row(&self, read: usize) -> &[f64] {
        &self.log10[read * self.haplotypes..(read + 1) * self.haplotypes]
    }
}

/// Score every read against every haplotype (parallel over reads, deterministic).
pub fn likelihood_matrix(reads: &[ReadView], haplotypes: &[Haplotype], config: &PairHmmConfig) -> LikelihoodMatrix {
    let prepared: Vec<PreparedHaplotype> = haplotypes.iter().map(|h| PreparedHaplotype::new(&h.bases)).collect();
    let h = prepared.len();
    let mut log10 = vec![0.0; reads.len() * h];
    if h > 0 {
        log10.par_chunks_mut(h).zip(reads.par_iter()).for_each_init(
            || PairHmm::new(config),
            |hmm, (row, read)| {
                for (slot, hap) in row.iter_mut().zip(&prepared) {
                    *slot = hmm.log10_likelihood(&read.bases, &read.quals, hap);
                }
            },
        );
    }
    LikelihoodMatrix { reads: reads.len(), haplotypes: h, log10 }
}
