//! Reference genome: contigs, typed 1-based positions and regions, FASTA indexing and access.
//!
//! - [`fasta_scan`]: one validating pass over a FASTA → `.fai` layout, per-contig MD5s, digest.
//! - [`fai`], [`dict`]: the samtools `.fai`, the Picard `.dict` and dagr's MD5 table.
//! - [`reference`]: memory-mapped random access to bases through a `.fai`.
//! - [`contig`]: contig names, the reference digest.
//! - [`cache`]: the prepared-reference cache (digest-keyed folder with `.fai`, `.dict`, MD5s and
//!   the aligner's index), used by `dagr prepare-reference` and the `prepare_reference` stage.
//! - [`ploidy`]: sex, ploidy by region, sex inference from X/Y depth.

pub mod cache;
pub mod contig;
pub mod dict;
pub mod error;
pub mod fai;
pub mod fasta_scan;
pub mod ploidy;
pub mod reference;
pub mod region;

pub use contig::{Contig, ContigTable, reference_digest};
pub use error::ReferenceError;
pub use fasta_scan::{FastaScan, scan_fasta};
pub use reference::Reference;
