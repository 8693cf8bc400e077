//! Every layer once, each reference allowed; test code may cross layers.
pub mod call;
pub mod cli;
pub mod engine;
pub mod exec;
pub mod genome;
pub mod outcome;
pub mod stages;
pub mod vcf;

pub const VERSION: &str = "0";
