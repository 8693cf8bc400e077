//! Quality control of a sample, in one place: FASTQ metrics (counted by `reads` while parsing),
//! alignment QC over the final records ([`alignment`]), germline variant QC ([`variants`]) and
//! genome-equivalent accounting ([`genome_equivalents`]). Stages fill these as they run; the run
//! report (and the MultiQC and HTML renderings to come) read them from here.
//!
//! Domain code: imports `reads`, `alignments`, `vcf`, `samples` and `genome`, never the engine.

pub mod alignment;
pub mod genome_equivalents;
pub mod variants;

pub use alignment::{AlignmentQc, AlignmentQcReport};
pub use genome_equivalents::GenomeEquivalents;
pub use variants::VariantQc;
