//! The in-process aligner (minimap2): index building and loading.
//!
//! - [`index`]: the short-read `.mmi` index: build from a FASTA (atomically), load, parameters.

pub mod index;

pub use index::{IndexError, IndexParams, build_index, load_index, load_index_with, minimap2_version};
