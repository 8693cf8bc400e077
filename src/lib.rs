//! dagr: a whole-genome secondary-analysis pipeline engine.
//!
//! Layers, with dependencies pointing one way (`tests/layering.rs` enforces them):
//! - `cli` (clap, exit codes) → `exec` (where stage instances run: `local`, `mpi`, `slurm`) →
//!   `engine` (pipeline spec, plan, scheduler, cache, report; the `Runner` trait and the stage
//!   contract `engine::stage`);
//! - `cli` → `stages` (adapters: one domain module behind the `Stage` trait each) → the engine's
//!   stage contract and the domain modules;
//! - domain modules, plain library code that never imports the engine, an executor or the CLI:
//!   `reads`, `align`, `alignments`, `call`, `vcf`, `bench`, `samples`, over `genome`;
//!   `call` → `vcf`, never `vcf` → `call`;
//! - crate-level utilities any module may use: [`outcome`] (failure classes and exit codes),
//!   [`clock`], [`units`], [`output_file`], [`accounting`], [`console`] (progress bars and lines,
//!   the end-of-run summary on stderr).

pub mod accounting;
pub mod align;
pub mod alignments;
pub mod bench;
pub mod call;
pub mod cli;
pub mod clock;
pub mod console;
pub mod engine;
pub mod exec;
pub mod genome;
pub mod outcome;
pub mod output_file;
pub mod qc;
pub mod reads;
pub mod samples;
pub mod stages;
pub mod units;
pub mod vcf;

/// Test-only: external tools the tests need; a missing one fails under CI (see the module).
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod test_tools;

/// dagr's version and the git commit it was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("DAGR_GIT_COMMIT");
