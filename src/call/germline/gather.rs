//! The gather of a sample's germline shards: shards come back in reference order with their
//! variants and reference blocks sorted, but a shard's last variants may lie past its core (its
//! active region ran on) and its blocks end at the core's edge. [`interleave`] walks all variants
//! and blocks once, in reference order, re-merging blocks across shard edges by GQ band
//! ([`GvcfBlockMerger`]) and cutting them at each variant, and hands every gVCF record to a sink.
//! Cost: one pass over the records, no copies of variants.

use crate::vcf::model::{CalledVariant, RefBlock};
use crate::vcf::writer::{GqBands, GvcfBlockMerger};

/// One record of the gVCF, in output order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GvcfRecord<'a> {
    /// A reference block, merged across shard edges.
    Block(RefBlock),
    /// A variant site (also a record of the plain VCF).
    Variant(&'a CalledVariant),
}

/// Emits `variants` and `blocks` (each in reference order) as gVCF records in reference order:
/// blocks before a variant's position are merged within `bands` and flushed before it.
pub fn interleave<E>(
    variants: &[CalledVariant],
    blocks: Vec<RefBlock>,
    bands: GqBands,
    mut emit: impl FnMut(GvcfRecord<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut merger = GvcfBlockMerger::new(bands);
    let mut blocks = blocks.into_iter().peekable();
    for v in variants {
        while let Some(b) = blocks.next_if(|b| (b.tid, b.start) < (v.tid, v.pos)) {
            if let Some(done) = merger.push(b) {
                emit(GvcfRecord::Block(done))?;
            }
        }
        if let Some(done) = merger.flush() {
            emit(GvcfRecord::Block(done))?;
        }
        emit(GvcfRecord::Variant(v))?;
    }
    for b in blocks {
        if let Some(done) = merger.push(b) {
            emit(GvcfRecord::Block(done))?;
        }
    }
    if let Some(done) = merger.finish() {
        emit(GvcfRecord::Block(done))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genome::ploidy::Ploidy;

    fn block(start: u64, end: u64, gq: u32) -> RefBlock {
        RefBlock {
            tid: 0,
            start,
            end,
            min_depth: 30,
            depth: 30,
            gq,
            ploidy: Ploidy::Diploid,
            pl: [0, 90, 900],
            no_call: false,
        }
    }

    fn variant(pos: u64) -> CalledVariant {
        crate::call::germline::test_het(pos)
    }

    #[test]
    fn blocks_merge_across_shard_edges_and_break_at_variants() {
        // Two shards' blocks meet at 100 (same band): one block until the variant at 150.
        let blocks = vec![block(0, 100, 99), block(100, 150, 99), block(151, 200, 99)];
        let variants = vec![variant(150)];
        let mut out = Vec::new();
        interleave(&variants, blocks, GqBands::default(), |r| {
            out.push(match r {
                GvcfRecord::Block(b) => format!("block {}-{}", b.start, b.end),
                GvcfRecord::Variant(v) => format!("variant {}", v.pos),
            });
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(out, ["block 0-150", "variant 150", "block 151-200"]);
    }
}
