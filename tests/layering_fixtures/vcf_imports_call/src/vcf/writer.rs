//! Forbidden: vcf -> call (line 3).
use crate::genome::Contig;
use crate::call::types::CalledVariant;
pub struct GqBands;
