//! Aligned records after the aligner: coordinate sorting (in-memory runs, spills, k-way merge),
//! duplicate marking (a keyed reduction) and BAM/CRAM writing (alignment QC over them is `crate::qc::alignment`),
//! and BAI/CRAI indexes read as data (BAIs merged for MPI slices; both read for where the
//! alignments' bytes lie).

pub mod bai;
pub mod crai;
pub mod header;
pub mod keys;
pub mod markdup;
pub mod partition;
pub mod sort;
pub mod writer;
