pub mod call;
pub mod genome;
pub mod vcf;
