pub mod vcf;
