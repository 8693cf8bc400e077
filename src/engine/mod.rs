//! The pipeline engine: YAML spec → validated DAG of stage instances → scheduled runs with
//! chained cache keys, resume, atomic outputs, signals and the run report.

pub mod cache;
pub mod distributed;
pub mod lock;
pub mod pipeline;
pub mod plan;
pub mod provenance;
pub mod report;
pub mod run;
pub mod samplesheet;
pub mod scheduler;
pub mod signals;
pub mod spec;
pub mod stage;
pub mod units;
