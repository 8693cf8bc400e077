//! Variant files: reading VCF / VCF.gz / BCF, and normalization for comparison.
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
//!
//! Domain code: never imports the engine or the CLI.

mod bcf;
pub mod error;
pub mod normalize;
pub mod reader;
pub mod record;
pub mod sequence;
mod text;
pub mod writer;

pub use error::{Location, VcfError};
pub use normalize::{NormalizationStats, NormalizedCallset, NormalizedVariant, Normalizer, normalize_file};
pub use reader::VariantReader;
pub use record::{Filter, Genotype, VariantClass, VcfRecord, Zygosity};
pub use sequence::{InMemoryFasta, SequenceSource};
