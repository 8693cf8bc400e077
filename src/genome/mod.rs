//! Reference genome: contigs, typed 1-based positions and regions, FASTA indexing and access.

pub mod region;
