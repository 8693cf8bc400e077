//! Fixed, padded genome shards: contigs cut into `shard_size` pieces in reference order, each
//! with `padding` bases of context on both sides (clipped to the contig).
//!
//! Ownership rules, so shard edges neither create nor lose calls: a variant belongs to the
//! shard holding its normalized (left-aligned) start ([`Shard::owns`]); an active region belongs
//! to the shard holding its start ([`Shard::owns_region`]) and may extend into that shard's
//! right padding — it is never cut at the shard edge; regions starting in the padding belong to
//! the neighbour. A shard therefore scans and assembles its whole padded window and keeps only
//! what it owns. The layout depends only on contig lengths, `shard_size` and `padding`, never on
//! threads. N runs are not cut out of the layout (it stays a function of the lengths alone); the
//! caller skips them instead: a shard whose core is all N returns without fetching reads, and N
//! positions never become reference blocks or callable bases ([`crate::call::germline`]). Many
//! small contigs give one small shard each. Cost: O(number of shards).

use crate::genome::Contig;

/// One shard: the owned core `start..end` and the padded window, 0-based half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub tid: u32,
    pub start: u64,
    pub end: u64,
    pub padded_start: u64,
    pub padded_end: u64,
}

impl Shard {
    /// Whether a variant (or any record) starting at `tid:pos` belongs to this shard.
    pub fn owns(&self, tid: u32, pos: u64) -> bool {
        tid == self.tid && pos >= self.start && pos < self.end
    }

    /// Whether an active region belongs to this shard (its start lies in the core).
    pub fn owns_region(&self, region: &crate::call::types::ActiveRegion) -> bool {
        self.owns(region.tid, region.start)
    }
}

/// Shards of `contigs` (name, length) in reference order; `tid` is the index in `contigs`.
/// A `shard_size` of 0 is taken as 1; empty contigs give no shard.
pub fn shards(contigs: &[Contig], shard_size: u64, padding: u64) -> Vec<Shard> {
    let size = shard_size.max(1);
    let mut out = Vec::new();
    for (tid, contig) in contigs.iter().enumerate() {
        let len = contig.length;
        let mut start = 0;
        while start < len {
            let end = (start + size).min(len);
            out.push(Shard {
                tid: tid as u32,
                start,
                end,
                padded_start: start.saturating_sub(padding),
                padded_end: (end + padding).min(len),
            });
            start = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::types::ActiveRegion;

    #[test]
    fn shards_tile_contigs_with_clipped_padding() {
        let s = shards(&[Contig::new("a", 250), Contig::new("b", 0), Contig::new("c", 100)], 100, 10);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], Shard { tid: 0, start: 0, end: 100, padded_start: 0, padded_end: 110 });
        assert_eq!(s[2], Shard { tid: 0, start: 200, end: 250, padded_start: 190, padded_end: 250 });
        assert_eq!(s[3].tid, 2);
        // every position owned exactly once
        for pos in 0..250 {
            assert_eq!(s.iter().filter(|x| x.owns(0, pos)).count(), 1);
        }
    }

    #[test]
    fn region_belongs_to_shard_of_its_start() {
        let s = shards(&[Contig::new("a", 1000)], 500, 200);
        let r = ActiveRegion { tid: 0, start: 450, end: 650 };
        assert!(s[0].owns_region(&r) && !s[1].owns_region(&r));
        assert!(r.end <= s[0].padded_end);
    }
}
