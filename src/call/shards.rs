//! Padded genome shards: contigs cut into pieces in reference order, each with `padding` bases
//! of context on both sides (clipped to the contig).
//!
//! Two layouts, both functions of their inputs alone (never of threads or ranks):
//! - [`shards`]: pieces of `shard_size` bases.
//! - [`balanced_shards`]: pieces of about equal expected work, cut on [`WORK_WINDOW`] boundaries
//!   from a [`WorkMap`] (the compressed bytes of the input alignments per 16 kb window, from their
//!   indexes). A shard holds about the work of `shard_size` bases at the inputs' typical coverage
//!   (the median of the windows that hold reads), so at even coverage the layout is close to the
//!   fixed one, a pileup or a deeper stretch is cut finer, and a stretch without reads (a gap, a
//!   region outside a panel or a test region) goes in pieces of up to
//!   [`MAX_LENGTH_FACTOR`] × `shard_size`. Cost: O(windows) time, one sort of the windows.
//!
//! Ownership rules, so shard edges neither create nor lose calls: a variant belongs to the
//! shard holding its normalized (left-aligned) start ([`Shard::owns`]); an active region belongs
//! to the shard holding its start ([`Shard::owns_region`]) and may extend into that shard's
//! right padding — it is never cut at the shard edge; regions starting in the padding belong to
//! the neighbour. A shard therefore scans and assembles its whole padded window and keeps only
//! what it owns, and the calls do not depend on the layout. N runs are not cut out of the layout;
//! the caller skips them instead: a shard whose core is all N returns without fetching reads, and N
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
    /// The shard of core `start..end` of contig `tid` (of length `contig_length`), with `padding`
    /// bases on both sides clipped to the contig.
    fn padded(tid: u32, start: u64, end: u64, padding: u64, contig_length: u64) -> Shard {
        Shard {
            tid,
            start,
            end,
            padded_start: start.saturating_sub(padding),
            padded_end: (end + padding).min(contig_length),
        }
    }

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
            out.push(Shard::padded(tid as u32, start, end, padding, len));
            start = end;
        }
    }
    out
}

/// Bases per window of a [`WorkMap`]: the grain of a BAI's linear index.
pub const WORK_WINDOW: u64 = 1 << 14;

/// A balanced shard is cut at most this many times `shard_size` long, so that a stretch without
/// reads still gives pieces whose per-base buffers stay small.
pub const MAX_LENGTH_FACTOR: u64 = 2;

/// Expected calling work along the genome: per contig (reference order), per [`WORK_WINDOW`]
/// bases, the compressed bytes of the input alignments that the window's reads take, summed over
/// the inputs ([`WorkMap::add_input`]). A window past the end of an input's list holds nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkMap {
    windows: Vec<Vec<u64>>,
}

impl WorkMap {
    /// Adds one input's bytes per window (per contig, per window).
    pub fn add_input(&mut self, windows: Vec<Vec<u64>>) {
        if self.windows.len() < windows.len() {
            self.windows.resize(windows.len(), Vec::new());
        }
        for (mine, theirs) in self.windows.iter_mut().zip(windows) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// The bytes of the windows that overlap `start..end` of contig `tid`.
    fn bytes(&self, tid: u32, start: u64, end: u64) -> u64 {
        let Some(contig) = self.windows.get(tid as usize) else { return 0 };
        let first = (start / WORK_WINDOW) as usize;
        let last = (end.div_ceil(WORK_WINDOW) as usize).min(contig.len());
        contig.get(first..last).map_or(0, |b| b.iter().sum())
    }

    /// The expected work of a core `start..end` of contig `tid`: the bytes of its windows plus
    /// one unit per kb, so that a stretch without reads still weighs something.
    pub fn work(&self, tid: u32, start: u64, end: u64) -> u64 {
        self.bytes(tid, start, end) + (end.saturating_sub(start)).div_ceil(1000)
    }

    /// The expected work of each shard's core, in shard order.
    pub fn expected(&self, shards: &[Shard]) -> Vec<u64> {
        shards.iter().map(|s| self.work(s.tid, s.start, s.end)).collect()
    }

    /// The median bytes of the windows that hold any; `None` when none does.
    fn typical_window(&self) -> Option<u64> {
        let mut held: Vec<u64> = self.windows.iter().flatten().copied().filter(|&b| b > 0).collect();
        if held.is_empty() {
            return None;
        }
        let mid = held.len() / 2;
        Some(*held.select_nth_unstable(mid).1)
    }
}

/// Shards of about equal expected work (see the module docs): each contig is walked window by
/// window and cut after the window that brings its current piece to the work of `shard_size`
/// bases at the typical window's bytes, or to [`MAX_LENGTH_FACTOR`] × `shard_size` bases, and at
/// its end. Falls back to [`shards`] when `work` holds no bytes or `shard_size` is below four
/// windows (too fine for the map's grain).
pub fn balanced_shards(contigs: &[Contig], shard_size: u64, padding: u64, work: &WorkMap) -> Vec<Shard> {
    let size = shard_size.max(1);
    let Some(typical) = work.typical_window() else { return shards(contigs, size, padding) };
    if size < 4 * WORK_WINDOW {
        return shards(contigs, size, padding);
    }
    let target = (typical + WORK_WINDOW.div_ceil(1000)) * (size / WORK_WINDOW);
    let max_windows = MAX_LENGTH_FACTOR * size / WORK_WINDOW;
    let mut out = Vec::new();
    for (tid, contig) in contigs.iter().enumerate() {
        let (tid, len) = (tid as u32, contig.length);
        let windows = len.div_ceil(WORK_WINDOW);
        let (mut first, mut held) = (0u64, 0u64);
        for w in 0..windows {
            held += work.work(tid, w * WORK_WINDOW, ((w + 1) * WORK_WINDOW).min(len));
            if held >= target || w + 1 - first >= max_windows || w + 1 == windows {
                let (start, end) = (first * WORK_WINDOW, ((w + 1) * WORK_WINDOW).min(len));
                out.push(Shard::padded(tid, start, end, padding, len));
                (first, held) = (w + 1, 0);
            }
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

    fn contig_windows(bytes: &[u64]) -> WorkMap {
        let mut map = WorkMap::default();
        map.add_input(vec![bytes.to_vec()]);
        map
    }

    #[test]
    fn balanced_shards_follow_the_reads_and_tile_every_base_once() {
        let w = WORK_WINDOW;
        // 64 windows: even coverage, then a pileup of 4 windows at 16x the bytes, then 20 empty.
        let mut bytes = vec![100u64; 40];
        bytes.extend([1600; 4]);
        bytes.extend([0; 20]);
        let len = 64 * w - 5;
        let map = contig_windows(&bytes);
        let s = balanced_shards(&[Contig::new("a", len)], 8 * w, 50, &map);
        // 40 even windows in pieces of 8; the pileup cut into pieces of about 8 windows' work
        // (1 window each); the empty tail in pieces of at most 2 x 8 windows, the last one clipped.
        let lengths: Vec<u64> = s.iter().map(|x| (x.end - x.start) / w).collect();
        assert_eq!(lengths, vec![8, 8, 8, 8, 8, 1, 1, 1, 1, 16, 3]);
        assert_eq!(s.last().map(|x| x.end), Some(len));
        for pos in (0..len).step_by(97) {
            assert_eq!(s.iter().filter(|x| x.owns(0, pos)).count(), 1);
        }
        assert_eq!(s[5].padded_start, s[5].start - 50);
        // The work of the pileup's shards is the pileup's bytes plus the floor per kb.
        assert_eq!(map.expected(&s)[5], 1600 + w.div_ceil(1000));
    }

    #[test]
    fn balanced_shards_cap_empty_stretches_and_fall_back_without_work() {
        let w = WORK_WINDOW;
        let contigs = [Contig::new("a", 100 * w), Contig::new("b", 3 * w)];
        let mut map = WorkMap::default();
        map.add_input(vec![vec![0; 100], vec![1000, 1000, 1000]]);
        let s = balanced_shards(&contigs, 4 * w, 0, &map);
        // contig a holds no reads: pieces of 2 x 4 windows; contig b's reads fit one shard.
        let lengths: Vec<(u32, u64)> = s.iter().map(|x| (x.tid, (x.end - x.start) / w)).collect();
        let mut expected = vec![(0, 8); 12];
        expected.extend([(0, 4), (1, 3)]);
        assert_eq!(lengths, expected);
        // No bytes, or shards finer than the map: the fixed layout.
        assert_eq!(balanced_shards(&contigs, 4 * w, 0, &WorkMap::default()), shards(&contigs, 4 * w, 0));
        assert_eq!(balanced_shards(&contigs, 3 * w, 0, &map), shards(&contigs, 3 * w, 0));
        // Inputs add up, window by window.
        let mut two = map.clone();
        two.add_input(vec![vec![], vec![1, 2, 3, 4]]);
        assert_eq!(two.expected(&[s[13]]), vec![1001 + 1002 + 1003 + (3 * w).div_ceil(1000)]);
    }
}
