pub mod engine;
pub mod stages;
