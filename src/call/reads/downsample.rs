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

/// The shard's reads with what it takes to find those near a region by binary search instead
/// of a scan of the whole shard per region (O(log n + nearby) instead of O(n)).
pub struct ReadsByStart<'a> {
    reads: &'a [ReadView],
    /// Longest reference span of any read; `None` when the reads are not sorted by start
    /// (then every region gets every read, as correct and slower).
    longest_span: Option<u64>,
}

impl<'a> ReadsByStart<'a> {
    pub fn new(reads: &'a [ReadView]) -> Self {
        let sorted = reads.is_sorted_by_key(|r| r.ref_start);
        let longest = reads.iter().map(|r| {
            let (s, e) = ref_span(r);
            e - s
        });
        ReadsByStart { reads, longest_span: sorted.then(|| longest.max().unwrap_or(0)) }
    }

    /// A slice holding every read whose reference span overlaps `region` (and perhaps others).
    pub fn reads_near(&self, region: &ActiveRegion) -> &'a [ReadView] {
        let Some(longest) = self.longest_span else { return self.reads };
        let lo = self.reads.partition_point(|r| r.ref_start + longest <= region.start);
        let hi = self.reads.partition_point(|r| r.ref_start < region.end);
        &self.reads[lo..hi.max(lo)]
    }
}
