//! Active regions: where the pileup shows evidence of variation, padded, bounded in size.
//!
//! Algorithm (all integer, deterministic): [`pileup_evidence`] gives per position the filtered
//! depth, quality-weighted mismatches and indel/clip events. A position is active when its
//! mismatch weight, or the indel/clip weight summed over ±`indel_spread` positions (aligners
//! scatter one indel over a repeat), reaches both `min_alt` observations and `min_fraction` of
//! the depth. Active positions closer than 2 × `padding` are chained; a chain becomes the region
//! `[first − padding, last + 1 + padding)`, clipped to the window. Regions longer than
//! `max_region_len` are split at their quietest position (fewest active positions, then least
//! activity, within ±60 bp; ties: the leftmost), recursively,
//! so regions never overlap. Defaults: base-quality floor 10, 2 observations, 10 % of depth,
//! indel spread 5, padding 100, regions at most 500 bp.
//!
//! Sharding: evidence at a position depends only on the reads over it, so a shard scanning its
//! padded window sees the same chains as a whole-contig scan wherever a chain starts and ends
//! at least 2 × `padding` inside the window. [`crate::call::shards::Shard::owns_region`] keeps
//! a region in the shard holding its start; with a shard padding of at least
//! [`ActiveConfig::min_shard_padding`] plus the longest expected chain, regions are identical
//! at any shard size. Cost: O(aligned bases + window) time and memory.

use crate::call::reads::evidence::{Evidence, UNIT, pileup_evidence};
use crate::call::types::{ActiveRegion, ReadView};

/// Active-region parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveConfig {
    pub min_base_qual: u8,
    /// Observations (full-quality units) needed at a position.
    pub min_alt: u32,
    /// Share of the depth needed, in percent.
    pub min_fraction_pct: u32,
    pub indel_spread: usize,
    pub padding: u64,
    pub max_region_len: u64,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig {
            min_base_qual: 10,
            min_alt: 2,
            min_fraction_pct: 10,
            indel_spread: 5,
            padding: 100,
            max_region_len: 500,
        }
    }
}

impl ActiveConfig {
    /// The smallest shard padding for which regions near shard edges are seen whole.
    pub fn min_shard_padding(&self) -> u64 {
        3 * self.padding + 1
    }
}

/// Per-position activity (weight of the stronger evidence kind) and whether it passes.
fn activity(ev: &Evidence, cfg: &ActiveConfig) -> Vec<(u32, bool)> {
    let n = ev.depth.len();
    let mut prefix = vec![0u64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + u64::from(ev.indel[i]);
    }
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(cfg.indel_spread);
            let hi = (i + cfg.indel_spread + 1).min(n);
            let indel = u32::try_from(prefix[hi] - prefix[lo]).unwrap_or(u32::MAX);
            let weight = ev.mismatch[i].max(indel);
            let depth_units = u64::from(ev.depth[i].max(1)) * u64::from(UNIT);
            let enough = weight >= cfg.min_alt * UNIT
                && u64::from(weight) * 100 >= depth_units * u64::from(cfg.min_fraction_pct);
            (weight, enough)
        })
        .collect()
}

/// Active regions of `tid` in the window `window_start..window_start + reference.len()`.
pub fn active_regions(
    tid: u32,
    reference: &[u8],
    window_start: u64,
    reads: &[ReadView],
    cfg: &ActiveConfig,
) -> Vec<ActiveRegion> {
    let ev = pileup_evidence(reads, reference, window_start, cfg.min_base_qual);
    active_regions_in(tid, &ev, cfg)
}

/// [`active_regions`] from evidence already computed over the window (with the base-quality
/// floor `cfg.min_base_qual`), for callers that use the evidence for more than the regions.
pub fn active_regions_in(tid: u32, ev: &Evidence, cfg: &ActiveConfig) -> Vec<ActiveRegion> {
    let act = activity(ev, cfg);
    let window_start = ev.window_start;
    let window_end = window_start + ev.depth.len() as u64;
    let mut regions = Vec::new();
    let mut chain: Option<(u64, u64)> = None;
    for (i, &(_, on)) in act.iter().enumerate() {
        if !on {
            continue;
        }
        let pos = window_start + i as u64;
        chain = match chain {
            Some((first, last)) if pos - last < 2 * cfg.padding => Some((first, pos)),
            Some(done) => {
                regions.push(done);
                Some((pos, pos))
            }
            None => Some((pos, pos)),
        };
    }
    regions.extend(chain);
    let mut out = Vec::new();
    for (first, last) in regions {
        let start = first.saturating_sub(cfg.padding).max(window_start);
        let end = (last + 1 + cfg.padding).min(window_end);
        split(start, end, &act, window_start, cfg.max_region_len.max(2), &mut out);
    }
    out.into_iter().map(|(start, end)| ActiveRegion { tid, start, end }).collect()
}

/// Splits `start..end` at its quietest interior position until pieces fit `max_len`: the one
/// with the fewest active positions within ±`CUT_CLEARANCE` bp, then the least activity summed
/// there, then its own activity, then the leftmost. A cut right beside a variant would leave it
/// inside the last k-mer of its region, where assembly cannot place it.
fn split(start: u64, end: u64, act: &[(u32, bool)], window_start: u64, max_len: u64, out: &mut Vec<(u64, u64)>) {
    if end - start <= max_len {
        out.push((start, end));
        return;
    }
    // Cut in the middle half so both pieces stay substantial.
    let lo = start + (end - start) / 4;
    let hi = end - (end - start) / 4;
    let n = act.len();
    let mut on_prefix = vec![0u64; n + 1];
    let mut w_prefix = vec![0u64; n + 1];
    for (i, &(w, on)) in act.iter().enumerate() {
        on_prefix[i + 1] = on_prefix[i] + u64::from(on);
        w_prefix[i + 1] = w_prefix[i] + u64::from(w);
    }
    let key = |p: u64| {
        let i = (p - window_start) as usize;
        let a = i.saturating_sub(CUT_CLEARANCE);
        let b = (i + CUT_CLEARANCE + 1).min(n);
        (on_prefix[b] - on_prefix[a], w_prefix[b] - w_prefix[a], act[i].0, p)
    };
    let cut = (lo..hi).min_by_key(|&p| key(p)).unwrap_or(start + (end - start) / 2);
    split(start, cut, act, window_start, max_len, out);
    split(cut, end, act, window_start, max_len, out);
}

/// Distance from a split point within which active positions count against it.
const CUT_CLEARANCE: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::assembly::tests::{haplotype, random_reference, tile_reads};
    use crate::call::reads::downsample::reads_for_region;
    use crate::call::reads::evidence::pileup_evidence;

    #[test]
    fn one_snv_gives_one_padded_region() {
        let reference = random_reference(2000, 7);
        let alt = if reference[1000] == b'A' { b"C" } else { b"A" };
        let reads = tile_reads(&haplotype(&reference, &[(1000, 1, alt)]), 100, 5, 0);
        let regions = active_regions(2, &reference[500..], 500, &reads, &ActiveConfig::default());
        assert_eq!(regions, vec![ActiveRegion { tid: 2, start: 900, end: 1101 }]);
        let clean = tile_reads(&haplotype(&reference, &[]), 100, 5, 0);
        assert!(active_regions(2, &reference, 0, &clean, &ActiveConfig::default()).is_empty());
    }

    #[test]
    fn long_active_stretch_is_split_without_overlap() {
        let reference = random_reference(3000, 8);
        let edits: Vec<(usize, usize, &[u8])> = (0..12)
            .map(|i| (1000 + 90 * i, 1, if reference[1000 + 90 * i] == b'A' { &b"C"[..] } else { &b"A"[..] }))
            .collect();
        let reads = tile_reads(&haplotype(&reference, &edits), 100, 5, 0);
        let regions = active_regions(0, &reference, 0, &reads, &ActiveConfig::default());
        assert!(regions.len() > 1 && regions.iter().all(|r| r.end - r.start <= 500), "{regions:?}");
        assert!(regions.windows(2).all(|w| w[0].end <= w[1].start));
        assert_eq!(regions[0].start, 900);
    }

    #[test]
    fn overlapping_mates_count_once_and_cap_is_deterministic() {
        let reference = random_reference(400, 9);
        let mut reads = tile_reads(&haplotype(&reference, &[]), 100, 1, 0);
        let mut mates = reads.clone();
        mates.iter_mut().for_each(|r| r.first_of_pair = false);
        let single = pileup_evidence(&reads, &reference, 0, 10);
        reads.extend(mates);
        let paired = pileup_evidence(&reads, &reference, 0, 10);
        assert_eq!(single.depth, paired.depth);
        let region = ActiveRegion { tid: 0, start: 150, end: 250 };
        let a = reads_for_region(&reads, &region, 50);
        let mut shuffled = reads.clone();
        shuffled.reverse();
        assert_eq!(a.len(), 50);
        assert_eq!(a, reads_for_region(&shuffled, &region, 50));
        // both mates of each kept pair are kept
        assert!(a.iter().all(|r| a.iter().filter(|m| m.name_hash == r.name_hash).count() == 2));
    }
}
