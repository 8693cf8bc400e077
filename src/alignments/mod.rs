//! Aligned records after the aligner: coordinate sorting (in-memory runs, spills, k-way merge),
//! duplicate marking (a keyed reduction), BAM/CRAM writing and alignment QC.

pub mod header;
pub mod keys;
pub mod markdup;
pub mod qc;
pub mod sort;
pub mod writer;
