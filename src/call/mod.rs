//! Variant calling building blocks shared by the germline and somatic callers: read extraction
//! and pileups, active regions, local assembly, the pair-HMM and genotyping.

pub mod ploidy;
pub mod types;
