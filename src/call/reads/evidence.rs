//! Per-position pileup evidence over a reference window: filtered depth and quality-weighted
//! evidence of variation, the input of active-region detection.
//!
//! Rules: a base counts only when its quality is at least `min_base_qual` (default 10);
//! overlapping mates are counted once — where the second mate (`first_of_pair == false`) of a
//! pair overlaps its first mate, the second mate's bases, indels and clips are ignored (the
//! choice depends only on the flags, so it is deterministic). Weights, in units where one
//! full-quality observation is [`UNIT`]: a mismatching base weighs min(BQ, 30); an insertion or
//! deletion weighs 30 at its anchor; a soft clip of at least 3 bases weighs 30 where it meets
//! the alignment. Integers keep the sums exact whatever the order.
//!
//! Cost: O(aligned bases of the reads) time, O(window) memory.

use crate::call::reads::ref_span;
use crate::call::reads::walk::{Event, walk};
use crate::call::types::ReadView;
use std::collections::HashMap;

/// The weight of one full-quality observation.
pub const UNIT: u32 = 30;
/// Shortest soft clip counted as evidence.
const MIN_CLIP: usize = 3;

/// Evidence per position of `window_start..window_start + depth.len()`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    pub window_start: u64,
    /// Bases with quality ≥ the floor plus deletions spanning the position.
    pub depth: Vec<u32>,
    /// Quality-weighted mismatching bases.
    pub mismatch: Vec<u32>,
    /// Indel and soft-clip events at their anchor.
    pub indel: Vec<u32>,
}

/// For second mates overlapping their first mate: the reference span to ignore, by name hash.
fn mate_overlaps(reads: &[ReadView]) -> HashMap<u64, (u64, u64)> {
    let firsts: HashMap<u64, (u64, u64)> =
        reads.iter().filter(|r| r.first_of_pair).map(|r| (r.name_hash, ref_span(r))).collect();
    let mut out = HashMap::new();
    for r in reads.iter().filter(|r| !r.first_of_pair) {
        if let Some(&(fs, fe)) = firsts.get(&r.name_hash) {
            let (s, e) = ref_span(r);
            if s.max(fs) < e.min(fe) {
                out.insert(r.name_hash, (s.max(fs), e.min(fe)));
            }
        }
    }
    out
}

/// Pileup evidence of `reads` against `reference` (the bases of the window at `window_start`).
pub fn pileup_evidence(reads: &[ReadView], reference: &[u8], window_start: u64, min_base_qual: u8) -> Evidence {
    let n = reference.len();
    let mut ev = Evidence { window_start, depth: vec![0; n], mismatch: vec![0; n], indel: vec![0; n] };
    let overlaps = mate_overlaps(reads);
    let index = |pos: u64| -> Option<usize> {
        let i = pos.checked_sub(window_start)? as usize;
        (i < n).then_some(i)
    };
    for read in reads {
        let skip = if read.first_of_pair { None } else { overlaps.get(&read.name_hash).copied() };
        let skipped = |pos: u64| skip.is_some_and(|(s, e)| pos >= s && pos < e);
        walk(read, |event| match event {
            Event::Base { ref_pos, read_idx } => {
                let (Some(i), false) = (index(ref_pos), skipped(ref_pos)) else { return };
                let q = read.quals.get(read_idx).copied().unwrap_or(0);
                if q < min_base_qual {
                    return;
                }
                ev.depth[i] += 1;
                let base = read.bases.get(read_idx).copied().unwrap_or(b'N');
                if base != reference[i] && base != b'N' {
                    ev.mismatch[i] += u32::from(q.min(30));
                }
            }
            Event::Insertion { anchor, .. } => {
                if let (Some(i), false) = (index(anchor), skipped(anchor)) {
                    ev.indel[i] += UNIT;
                }
            }
            Event::Deletion { anchor, len, .. } => {
                if let (Some(i), false) = (index(anchor), skipped(anchor)) {
                    ev.indel[i] += UNIT;
                }
                for p in anchor + 1..=anchor + len as u64 {
                    if let (Some(i), false) = (index(p), skipped(p)) {
                        ev.depth[i] += 1;
                    }
                }
            }
            Event::SoftClip { ref_pos, len, .. } => {
                if let (Some(i), true, false) = (index(ref_pos), len >= MIN_CLIP, skipped(ref_pos)) {
                    ev.indel[i] += UNIT;
                }
            }
        });
    }
    ev
}
