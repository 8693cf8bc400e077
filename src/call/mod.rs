//! Variant calling building blocks shared by the germline and somatic callers: read extraction
//! and pileups, active regions, local assembly, the pair-HMM and genotyping.

pub mod active;
pub mod assembly;
pub mod genotype;
pub mod germline;
pub mod pairhmm;
pub mod ploidy;
pub mod reads;
pub mod shards;
pub mod somatic;
pub mod types;
