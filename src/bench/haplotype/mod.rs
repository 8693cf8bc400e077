//! Haplotype-aware scoring: two callsets that spell the same haplotypes with different records
//! (an SNV plus an indel against one complex record, an indel shifted inside a repeat past a
//! neighbour that blocks left-alignment, an MNP against its SNVs) match, as vcfeval decides it.
//!
//! Method, on the records the exact comparison scored (normalized, in regions, selected):
//! 1. Truth and query records of a contig are cut into clusters: a record joins the cluster when
//!    at most [`HaplotypeOptions::max_distance`] reference bases (default 30) lie between its REF
//!    span and the cluster's span so far.
//! 2. Only clusters where the exact comparison found an FP or an FN, and that have records on
//!    both sides, are examined (elsewhere the exact result stands: all records are TPs already, or
//!    one side is empty and nothing can match).
//! 3. Each side spells its haplotypes over the cluster's reference window ([`spell`]): records
//!    placed by their GT, phase respected where a side is phased, any consistent phasing
//!    otherwise (unphased records are oriented every way, the rows of one file record together).
//!    **Genotype-aware** (both sides have a GT carrying an ALT on every record, ploidy 1 or 2):
//!    the cluster matches when some phasing of each side spells the same (unordered) haplotypes,
//!    so a het call against a hom truth does not match, as vcfeval by default. Such a cluster
//!    that matches only when zygosity is ignored (the same distinct non-reference haplotypes) is
//!    counted as `zygosity_only` and not rescued. **Alleles only** (a side without genotypes,
//!    e.g. a somatic truth, or a record with a missing or non-ALT GT): every record is a free het
//!    and the cluster matches when the distinct non-reference haplotypes agree (vcfeval's
//!    `--squash-ploidy`); counted as `alleles_only`.
//! 4. Scores: start from the exact counts; in a matched ("rescued") cluster every exact FP turns
//!    into a query TP and every exact FN into a truth TP. Precision = query TP / (query TP + FP),
//!    recall = truth TP / (truth TP + FN): the two TP counts differ where one complex truth record
//!    is spelled by two query records. Unmatched clusters keep their exact per-record result, so
//!    the haplotype figure is never below the exact one, and equal to it without rescues.
//!
//! Guards (the cluster keeps its exact result and is counted): more than
//! [`HaplotypeOptions::max_phasing_units`] free phase units on a side (`too_many_phasings`),
//! ploidy above 2, mixed ploidy on one side, or a record whose REF does not match the reference
//! (`not_comparable`).
//!
//! Cost: clustering is one sort of both callsets' records, O(n log n). Per examined cluster with
//! u free units per side, 2^(u-1) phasings each spell 2 haplotypes over the window (W bases,
//! typically < 100): with u bounded by 12, at most 2,048 · 2 · W byte copies per side. Only
//! clusters with exact errors are examined, so the cost follows the error count, not the
//! callset size; memory is one window and the spellings of one cluster at a time.

mod cluster;
mod spell;

pub(crate) use cluster::{ExactOutcome, score};

use serde::Serialize;

/// Haplotype-aware scoring knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HaplotypeOptions {
    /// Records at most this many reference bases apart share a cluster.
    pub max_distance: u64,
    /// A side with more free phase units (2^(u-1) phasings) keeps its cluster's exact result.
    pub max_phasing_units: u32,
}

impl Default for HaplotypeOptions {
    fn default() -> Self {
        Self { max_distance: 30, max_phasing_units: 12 }
    }
}

/// Haplotype-aware TP/FP/FN of one class: truth TPs for recall, query TPs for precision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HaplotypeClassScores {
    /// Truth records matched (exactly, or inside a matched cluster).
    pub tp_truth: u64,
    /// Query records matched.
    pub tp_query: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl HaplotypeClassScores {
    pub fn new(tp_truth: u64, tp_query: u64, fp: u64, fn_: u64) -> Self {
        let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
        let precision = ratio(tp_query, tp_query + fp);
        let recall = ratio(tp_truth, tp_truth + fn_);
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Self { tp_truth, tp_query, fp, fn_, precision, recall, f1 }
    }
}

/// What happened to the clusters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClusterCounts {
    /// Clusters of truth and query records.
    pub total: u64,
    /// Clusters where the exact comparison found an FP or an FN.
    pub with_exact_errors: u64,
    /// Of those, clusters with records on both sides: the ones examined.
    pub examined: u64,
    /// Examined clusters whose haplotypes match: every record counts as matched.
    pub rescued: u64,
    /// Examined, genotype-aware, not matched, but the same haplotypes when zygosity is ignored.
    pub zygosity_only: u64,
    /// Examined clusters compared on alleles only (a side without usable genotypes).
    pub alleles_only: u64,
    /// Examined clusters left exact: too many phasings to try.
    pub too_many_phasings: u64,
    /// Examined clusters left exact: ploidy above 2 or mixed, or a REF not matching the reference.
    pub not_comparable: u64,
}

/// The haplotype-aware half of the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HaplotypeScores {
    pub options: HaplotypeOptions,
    pub snv: HaplotypeClassScores,
    pub indel: HaplotypeClassScores,
    pub clusters: ClusterCounts,
}

#[cfg(test)]
mod tests;
