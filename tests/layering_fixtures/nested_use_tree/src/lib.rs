pub mod call;
pub mod engine;
pub mod genome;
pub mod vcf;
