//! Variant files: reading VCF / VCF.gz / BCF, normalization for comparison, and writing dagr's
//! VCF, gVCF and callable-regions BED.
//!
//! - [`reader`]: opens any of the three (the first bytes decide) and picks one sample's GT.
//!   Text VCF is parsed here, over flate2, rather than through htslib: errors can then name the
//!   exact line, a malformed header is an error instead of the null header pointer rust-htslib's
//!   `bcf::Reader` does not check, and nothing is printed behind the caller's back. BCF, a binary
//!   format, goes through htslib (`rust_htslib::bcf::Reader`) with that null check added.
//! - [`record`]: the record, FILTER, GT (phased/unphased, missing, any ploidy), variant classes.
//! - [`normalize`]: `bcftools norm -a -m -any -f ref.fa` then `norm -d exact`, genotype-aware.
//! - [`sequence`]: the [`SequenceSource`] trait normalization reads the reference through, and a
//!   small in-memory FASTA that implements it.
//! - [`model`]: the records the callers hand the writers (called variants, reference blocks,
//!   somatic calls); [`writer`]: headers, records, gVCF banding, BGZF and tabix, callable BED.
//! - [`sites`]: indexed site resources (panel of normals, population AF) looked up per call.
//!
//! Domain code: never imports the engine, the CLI or the callers (`call` imports `vcf`, never the
//! reverse; `tests/layering.rs` checks it).

mod bcf;
pub mod error;
pub mod model;
pub mod normalize;
pub mod reader;
pub mod record;
pub mod sequence;
pub mod sites;
mod text;
pub mod writer;

pub use error::{Location, VcfError};
pub use normalize::{NormalizationStats, NormalizedCallset, NormalizedVariant, Normalizer, normalize_file};
pub use reader::VariantReader;
pub use record::{Filter, Genotype, VariantClass, VcfRecord, Zygosity};
pub use sequence::{InMemoryFasta, SequenceSource};
