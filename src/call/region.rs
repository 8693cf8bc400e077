//! What the germline and the somatic caller share around each shard and active region: the
//! shard's padded reference window (and the short cut for a core of N only: a gap or a
//! centromere costs no read fetch), the local assembly of one active region from the reads near
//! it, and putting a shard's calls in order. Each caller keeps its own model (genotypes, or the
//! tumour/normal log-odds) between these steps. Cost: one reference fetch per shard; assembly
//! as [`assemble`] says, per region.

use super::CallError;
use super::assembly::{Assembly, AssemblyConfig, assemble};
use super::shards::Shard;
use super::types::{ActiveRegion, ReadView};
use crate::genome::Reference;
use std::ops::Range;

/// Whether a reference base is A, C, G or T (either case); N and other IUPAC codes are not.
pub fn is_acgt(b: u8) -> bool {
    matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T')
}

/// A shard's reference bases over its padded extent.
pub struct ShardWindow {
    /// Bases of `padded_start..padded_end`.
    pub bases: Vec<u8>,
    /// The core's place in `bases`.
    pub core: Range<usize>,
    pub padded_start: u64,
}

impl ShardWindow {
    /// The window of `shard` on `contig`; `None` when its core holds no A, C, G or T (a gap:
    /// nothing to call there, and no reads need fetching).
    pub fn fetch(reference: &Reference, contig: &str, shard: &Shard) -> Result<Option<ShardWindow>, CallError> {
        let bases = reference.fetch(contig, shard.padded_start, shard.padded_end)?;
        let core = (shard.start - shard.padded_start) as usize..(shard.end - shard.padded_start) as usize;
        if !bases[core.clone()].iter().copied().any(is_acgt) {
            return Ok(None);
        }
        Ok(Some(ShardWindow { bases, core, padded_start: shard.padded_start }))
    }

    /// The bases under `region` (clipped to the window).
    pub fn region_bases(&self, region: &ActiveRegion) -> &[u8] {
        let lo = (region.start - self.padded_start) as usize;
        let hi = ((region.end - self.padded_start) as usize).min(self.bases.len());
        &self.bases[lo..hi]
    }

    /// Local assembly of `region` from `reads`; `None` when it yields no candidate variant.
    pub fn assemble(&self, region: &ActiveRegion, reads: &[ReadView], cfg: &AssemblyConfig) -> Option<Assembly> {
        let assembly = assemble(region, self.region_bases(region), reads, cfg);
        (!assembly.candidates.is_empty()).then_some(assembly)
    }
}

/// Sorts a shard's calls with `order` (position, then alleles) and drops calls equal to the one
/// before (a variant found from two overlapping regions).
pub fn sort_dedup<T>(calls: &mut Vec<T>, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    calls.sort_by(&order);
    calls.dedup_by(|a, b| order(a, b).is_eq());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acgt_in_any_case_and_nothing_else() {
        assert!(b"ACGTacgt".iter().copied().all(is_acgt));
        assert!(!b"NnRY-*".iter().copied().any(is_acgt));
    }

    #[test]
    fn sort_dedup_keeps_one_of_each_key_in_order() {
        let mut v = vec![(5, 'b'), (1, 'a'), (5, 'b'), (3, 'c')];
        sort_dedup(&mut v, |a, b| a.cmp(b));
        assert_eq!(v, [(1, 'a'), (3, 'c'), (5, 'b')]);
    }
}
