//! Forbidden: call -> engine inside a nested use tree (lines 6 and 7); genome and vcf are allowed.
use crate::{
    genome::Contig,
    vcf::{self, writer::{GqBands as Bands}},
    engine::{
        report::now_epoch,
        self,
    },
};
