//! The in-process aligner (minimap2): index building and loading, and paired-end alignment to
//! BAM records built by dagr itself.
//!
//! - [`index`]: the short-read `.mmi` index: build from a FASTA (atomically), load, parameters.
//! - [`PairAligner`]: aligns [`crate::reads::PairBatch`]es with `map_pair` on a rayon pool and
//!   returns, in input order, `rust_htslib` records with their [`crate::alignments::keys::SortKey`]
//!   and one [`crate::alignments::keys::DupCandidate`] per pair with a mapped mate
//!   ([`AlignedBatch`]). The rules for flags, mate fields, TLEN, proper pairs, clips and tags are
//!   documented in `hit`, `mate`, `record`, `tags` and `dup`.

mod dup;
mod error;
mod hit;
pub mod index;
mod mate;
mod pair;
mod record;
mod stats;
mod tags;
#[cfg(test)]
mod tests;

pub use dup::MIN_SCORED_QUALITY;
pub use error::AlignError;
pub use index::{IndexError, IndexParams, Minimap2Index, build_index, load_index, load_index_with, minimap2_version};
pub use pair::{AlignOptions, AlignedBatch, PairAligner, ReadGroup};
pub use stats::AlignStats;
