pub mod types;
use crate::vcf::writer::GqBands; // allowed: call -> vcf
