//! Variant calling building blocks shared by the germline and somatic callers: read extraction
//! and pileups, active regions, local assembly, the pair-HMM and genotyping.

pub mod active;
pub mod assembly;
pub mod genotype;
pub mod germline;
pub mod pairhmm;
pub mod reads;
pub mod region;
pub mod shards;
pub mod somatic;
pub mod types;

/// Why calling a shard failed: reading the alignments or the reference. Both are files dagr
/// prepared and checked itself, so a failure here is a runtime failure (disk, a file changed
/// under a running job), never the user's input.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Reads(#[from] reads::ReadsError),
    #[error(transparent)]
    Reference(#[from] crate::genome::ReferenceError),
}

impl crate::outcome::Classify for CallError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Runtime
    }
}
