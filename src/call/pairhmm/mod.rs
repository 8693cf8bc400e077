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
//! no subnormals. The deletion recurrence along a row is unrolled into four independent lanes
//! ([`dp`]), so every pass over a row is SIMD.
//!
//! What the callers run is [`region_likelihood_matrix`]: each read clipped to the active region
//! and confined to a column window of each haplotype around its projected placement
//! ([`window`]); haplotypes that look the same to a read (equal bases and gap rates over its
//! span ± [`window::CORE_MARGIN`]) share one DP, and a read to which all haplotypes look the
//! same needs none (its row stays 0, uninformative). On the public 30x set this cut the cells
//! from ~read length × region length × haplotypes to ~2.4e9 for 1 Mb, and the calling CPU time
//! by ~7× against the full DP. Cost per computed pair: kept read bases × (projected span +
//! 2 × margin) cells of ~18 flops; transition tables are built once per haplotype and the DP
//! rows are reused per thread (no allocation per read after the first). The matrix is filled in
//! parallel over reads with rayon; every cell is computed independently in a fixed order, so
//! results do not depend on the thread count.

pub mod context;
mod dp;
#[cfg(test)]
mod tests;
pub mod window;

use rayon::prelude::*;

use super::types::{ActiveRegion, CandidateVariant, Haplotype, ReadView};
pub use dp::{PairHmm, PreparedHaplotype};
use window::{CORE_MARGIN, HaplotypeProjection, place_read, region_margin};

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

/// Score every read against every haplotype of an active region, each read clipped to the
/// region and confined to its column window on each haplotype ([`window`]); parallel over
/// reads, deterministic. This is what the callers use: the same genotypes as
/// [`likelihood_matrix`] at a fraction of the cells.
pub fn region_likelihood_matrix(
    region: &ActiveRegion,
    candidates: &[CandidateVariant],
    reads: &[ReadView],
    haplotypes: &[Haplotype],
    config: &PairHmmConfig,
) -> LikelihoodMatrix {
    let prepared: Vec<(PreparedHaplotype, HaplotypeProjection)> = haplotypes
        .iter()
        .map(|h| (PreparedHaplotype::new(&h.bases), HaplotypeProjection::new(region, h, candidates)))
        .collect();
    let margin = region_margin(candidates);
    let h = prepared.len();
    let mut log10 = vec![0.0; reads.len() * h];
    if h > 0 {
        log10.par_chunks_mut(h).zip(reads.par_iter()).for_each_init(
            || PairHmm::new(config),
            |hmm, (row, read)| {
                // A read with no base in the region is uninformative: 0 on every haplotype.
                let Some(placed) = place_read(read, region.start, region.end) else { return };
                let (lo, hi) = placed.bases;
                // Haplotypes identical over the read's core window (its projected span, ±
                // CORE_MARGIN) get the same likelihood: the DP runs once per distinct core (a
                // difference only in the outer margin would move the likelihood by the weight of
                // alignments with a long gap reaching it: noise), and not at all when every
                // haplotype looks the same to the read (the row stays 0: only differences
                // between haplotypes are ever used).
                let windows: Vec<std::ops::Range<usize>> =
                    prepared.iter().map(|(_, projection)| projection.window(&placed, margin)).collect();
                let cores: Vec<std::ops::Range<usize>> =
                    prepared.iter().map(|(_, projection)| projection.window(&placed, CORE_MARGIN)).collect();
                let mut first_alike = Vec::with_capacity(h);
                for k in 0..h {
                    let same = (0..k).find(|&j| {
                        first_alike[j] == j
                            && prepared[j].0.same_window(cores[j].clone(), &prepared[k].0, cores[k].clone())
                    });
                    first_alike.push(same.unwrap_or(k));
                }
                if first_alike.iter().all(|&j| j == 0) {
                    return;
                }
                for k in 0..h {
                    row[k] = if first_alike[k] < k {
                        row[first_alike[k]]
                    } else {
                        hmm.log10_likelihood_in(
                            &read.bases[lo..hi],
                            &read.quals[lo..hi],
                            &prepared[k].0,
                            windows[k].clone(),
                        )
                    };
                }
            },
        );
    }
    LikelihoodMatrix { reads: reads.len(), haplotypes: h, log10 }
}
