//! dagr: a whole-genome secondary-analysis pipeline engine.
//!
//! Layers, with dependencies pointing one way (see `DESIGN.md` of the project):
//! `cli` → `engine`/`exec` → `stages` → domain modules (`reads`, `vcf`, `bench`) → `genome`.
//! Domain modules never import the engine or the CLI. `dist` holds the collectives that spread
//! one stage over the ranks of an MPI job (`engine::distributed` drives it).

pub mod align;
pub mod alignments;
pub mod bench;
pub mod call;
pub mod cli;
pub mod cpu_time;
pub mod dist;
pub mod engine;
pub mod exec;
pub mod genome;
pub mod output_file;
pub mod reads;
pub mod stages;
pub mod vcf;

/// dagr's version and the git commit it was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("DAGR_GIT_COMMIT");
