//! Accuracy against a truth set: precision, recall and F1 per variant class, the way the
//! project's reference scoring (`bench/score.sh`: bcftools norm, view -T, isec) computes them.
//!
//! - [`compare()`]: both files normalized ([`crate::vcf::normalize`]), restricted to the regions
//!   by POS alone (what `bcftools view -T file.bed` does: a deletion whose anchor base lies just
//!   outside a region is out even if it deletes bases inside), filtered (truth: GT carries an ALT
//!   when it has samples, everything otherwise; query: FILTER `PASS` or `.`, and GT carries an ALT
//!   when it has samples), then matched exactly on (CHROM, POS, REF, ALT). SNV = REF and ALT one
//!   base each; INDEL = everything else. Among matches where both sides have a GT, genotype
//!   concordance counts those of equal zygosity.
//! - [`haplotype`]: haplotype-aware figures beside the exact ones: within clusters of records at
//!   most 30 bp apart, a cluster whose truth and query records spell the same haplotypes counts
//!   every record as matched (equivalent spellings of one haplotype, as vcfeval scores them).
//! - [`report`]: the serializable [`CompareReport`], the human table, `--fail-below` thresholds
//!   on either figure.
//!
//! Differences from `score.sh` run with its defaults, all deliberate: FILTER `.` passes (bcftools
//! 1.16's `FILTER="PASS"` rejects it, so bcftools' and freebayes' own output scores zero there;
//! the numbers in the benchmark README were made with `.` accepted); one sample's GT is used
//! (`--query-sample`/`--truth-sample`, default the first) where bcftools accepts any sample;
//! REF mismatches are reported and kept instead of aborting; symbolic ALTs other than `<*>` and
//! `<NON_REF>`, ALT == REF rows and records with ALT `.` are dropped and counted.
//!
//! Cost: dominated by reading and normalizing both files (linear in records, plus one sort each);
//! matching is one hash-map probe per query record; the haplotype-aware pass sorts both
//! selections once more and spells only the clusters with exact errors (see [`haplotype`]).

mod compare;
pub mod haplotype;
pub mod report;

pub use compare::{CompareOptions, QueryFilter, TruthFilter, compare};
pub use haplotype::{ClusterCounts, HaplotypeClassScores, HaplotypeOptions, HaplotypeScores};
pub use report::{
    CallsetSummary, ClassScores, CompareReport, F1Threshold, GenotypeConcordance, Metric, RegionsSummary,
    parse_thresholds, render_table,
};

use crate::genome::region::RegionError;
use crate::vcf::VcfError;

/// Why a comparison could not be made; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Variants(#[from] VcfError),
    #[error(transparent)]
    Regions(#[from] RegionError),
    /// No contig of the regions BED is in the reference (`chr20` against `20`): every figure
    /// would be 0.
    #[error("{}: no contig of the regions BED ({contigs}) is in the reference; are the names spelt as the reference spells them (chr20 vs 20)?", path.display())]
    RegionsOffReference { path: std::path::PathBuf, contigs: String },
    /// Reference bases of a cluster's window could not be read (haplotype-aware comparison).
    #[error("reference {contig}:{}-{end0}: {message}", start0 + 1)]
    Reference { contig: String, start0: u64, end0: u64, message: String },
}

impl crate::outcome::Classify for BenchError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            BenchError::Variants(e) => e.failure(),
            BenchError::Regions(e) => e.failure(),
            BenchError::RegionsOffReference { .. } => crate::outcome::Failure::BadInput,
            // The reference was read for the exact comparison already: failing now is runtime.
            BenchError::Reference { .. } => crate::outcome::Failure::Runtime,
        }
    }
}
