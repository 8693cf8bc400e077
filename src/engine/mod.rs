//! The pipeline engine: YAML spec → validated DAG of stage instances → scheduled runs with
//! chained cache keys, resume, atomic outputs, signals and the run report.

pub mod samplesheet;
pub mod stage;
