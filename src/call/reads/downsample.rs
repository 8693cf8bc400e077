//! Deterministic depth cap: when more reads than `cap` overlap a region, the reads whose
//! read-name hash ranks lowest are kept (ties by position, then mate), so both mates of a pair
//! are kept or dropped together and the choice depends only on the reads, never on threads,
//! shard size or input order. Default cap: [`DEFAULT_REGION_CAP`] reads per active region.
//! Cost: O(n log n) in the reads overlapping the region.

use crate::call::reads::ref_span;
use crate::call::types::{ActiveRegion, ReadView};

/// Reads kept per active region by default.
pub const DEFAULT_REGION_CAP: usize = 250;

/// The reads overlapping `region` (same contig assumed), at most `cap` of them, in
/// (reference start, name hash, mate) order.
pub fn reads_for_region(reads: &[ReadView], region: &ActiveRegion, cap: usize) -> Vec<ReadView> {
    let mut hits: Vec<&ReadView> = reads
        .iter()
        .filter(|r| {
            let (s, e) = ref_span(r);
            s < region.end && e > region.start
        })
        .collect();
    if hits.len() > cap {
        hits.sort_by_key(|r| (r.name_hash, r.ref_start, !r.first_of_pair));
        hits.truncate(cap);
    }
    hits.sort_by_key(|r| (r.ref_start, r.name_hash, !r.first_of_pair));
    hits.into_iter().cloned().collect()
}
