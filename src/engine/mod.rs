//! The pipeline engine: YAML spec → validated DAG of stage instances → scheduled runs with
//! chained cache keys, resume, atomic outputs, signals and the run report.
//!
//! The engine imports no executor, no stage kind and nothing of the CLI: its callers hand it the
//! stage registry and a [`runner::Runner`]. The stage contract ([`stage`]) is what `stages/`
//! implements; [`instance`] runs one instance for every backend.

pub mod cache;
pub mod instance;
pub mod layout;
pub mod lock;
pub mod pipeline;
pub mod plan;
pub mod provenance;
pub mod report;
pub mod run;
pub mod runner;
pub mod scheduler;
pub mod signals;
pub mod spec;
pub mod spill;
pub mod stage;
