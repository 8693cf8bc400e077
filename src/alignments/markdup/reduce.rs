//! The reduction of one shard: sort by key and rank, keep the first of each group, count.

use super::MarkdupOptions;
use super::marks::{DUP_R1, DUP_R2, MarksPart, OPTICAL};
use crate::alignments::keys::{DupCandidate, DupKey, FlowcellPosition, Mate, ReadEnd};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;

/// One read end of a library: what fragments are grouped by and what pairs cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EndKey {
    pub library: u32,
    pub tid: u32,
    pub unclipped_5prime: i64,
    pub reverse: bool,
}

impl EndKey {
    pub fn new(library: u32, end: &ReadEnd) -> EndKey {
        EndKey { library, tid: end.tid, unclipped_5prime: end.unclipped_5prime, reverse: end.reverse }
    }
}

/// FNV-1a over little-endian words: stable across platforms, so shard assignment is too.
fn fnv(words: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in words {
        for b in w.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn end_words(e: &EndKey) -> [u64; 3] {
    [u64::from(e.library), (u64::from(e.tid) << 1) | u64::from(e.reverse), e.unclipped_5prime as u64]
}

/// The shard (of `shards`, at least 1) that owns fragments on `end` and the pair ends covering it.
pub fn end_shard(end: &EndKey, shards: usize) -> usize {
    (fnv(&end_words(end)) % shards.max(1) as u64) as usize
}

/// The shard that must hold a candidate: pairs by their whole key, fragments by their end.
pub fn shard_of(key: &DupKey, shards: usize) -> usize {
    match key {
        DupKey::Pair { library, first, second } => {
            let [l, a, b] = end_words(&EndKey::new(*library, first));
            let [_, c, d] = end_words(&EndKey::new(*library, second));
            (fnv(&[l, a, b, c, d]) % shards.max(1) as u64) as usize
        }
        DupKey::Fragment { library, end, .. } => end_shard(&EndKey::new(*library, end), shards),
    }
}

/// The distinct ends of the fragments among `candidates`, sorted.
pub fn fragment_ends(candidates: &[DupCandidate]) -> Vec<EndKey> {
    let mut ends: Vec<EndKey> = candidates
        .iter()
        .filter_map(|c| match &c.key {
            DupKey::Fragment { library, end, .. } => Some(EndKey::new(*library, end)),
            DupKey::Pair { .. } => None,
        })
        .collect();
    ends.sort_unstable();
    ends.dedup();
    ends
}

/// The ends in `wanted` (sorted, as [`fragment_ends`] gives) that an end of a pair among
/// `candidates` covers; sorted, distinct.
pub fn covered_ends(candidates: &[DupCandidate], wanted: &[EndKey]) -> Vec<EndKey> {
    let mut hit = vec![false; wanted.len()];
    for c in candidates {
        if let DupKey::Pair { library, first, second } = &c.key {
            for end in [first, second] {
                if let Ok(i) = wanted.binary_search(&EndKey::new(*library, end)) {
                    hit[i] = true;
                }
            }
        }
    }
    wanted.iter().zip(hit).filter(|(_, h)| *h).map(|(e, _)| *e).collect()
}

/// The order inside a group: best first.
fn rank(c: &DupCandidate) -> (Reverse<u32>, u64, u64) {
    (Reverse(c.score), c.name_hash, c.pair_id)
}

fn library_of(key: &DupKey) -> u32 {
    match key {
        DupKey::Pair { library, .. } | DupKey::Fragment { library, .. } => *library,
    }
}

/// Reduces one shard. `remote_covered` lists fragment ends covered by pairs held in other shards
/// (empty on one node); pairs in `candidates` are checked here.
pub fn resolve_partition(
    candidates: Vec<DupCandidate>,
    remote_covered: &[EndKey],
    options: &MarkdupOptions,
) -> MarksPart {
    let (mut pairs, mut fragments): (Vec<DupCandidate>, Vec<DupCandidate>) =
        candidates.into_iter().partition(|c| matches!(c.key, DupKey::Pair { .. }));
    let mut part = MarksPart::default();
    let wanted = fragment_ends(&fragments);
    let mut covered = covered_ends(&pairs, &wanted);
    covered.extend_from_slice(remote_covered);
    covered.sort_unstable();
    covered.dedup();
    reduce_pairs(&mut pairs, options.optical_pixel_distance, &mut part);
    drop(pairs);
    reduce_fragments(&mut fragments, &covered, &mut part);
    part.finish();
    part
}

/// Reduces pairs only (every group whole among them) to a finished part.
pub(super) fn reduce_pair_part(pairs: &mut [DupCandidate], distance: u32) -> MarksPart {
    let mut part = MarksPart::default();
    reduce_pairs(pairs, distance, &mut part);
    part.finish();
    part
}

/// Reduces fragments only, given every fragment end a pair covers, to a finished part.
pub(super) fn reduce_fragment_part(fragments: &mut [DupCandidate], covered: &[EndKey]) -> MarksPart {
    let mut part = MarksPart::default();
    reduce_fragments(fragments, covered, &mut part);
    part.finish();
    part
}

fn reduce_pairs(pairs: &mut [DupCandidate], distance: u32, part: &mut MarksPart) {
    pairs.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| rank(a).cmp(&rank(b))));
    for group in pairs.chunk_by(|a, b| a.key == b.key) {
        let counts = part.counts.entry(library_of(&group[0].key)).or_default();
        counts.read_pairs_examined += group.len() as u64;
        if group.len() < 2 {
            continue;
        }
        counts.read_pair_duplicates += group.len() as u64 - 1;
        let optical = optical_flags(group, distance);
        counts.read_pair_optical_duplicates += optical.iter().filter(|&&o| o).count() as u64;
        for (c, is_optical) in group.iter().zip(optical).skip(1) {
            part.push(c.pair_id, DUP_R1 | DUP_R2 | if is_optical { OPTICAL } else { 0 });
        }
    }
}

fn fragment_end(c: &DupCandidate) -> Option<(EndKey, Mate)> {
    match &c.key {
        DupKey::Fragment { library, end, mate } => Some((EndKey::new(*library, end), *mate)),
        DupKey::Pair { .. } => None,
    }
}

fn reduce_fragments(fragments: &mut [DupCandidate], covered: &[EndKey], part: &mut MarksPart) {
    let end_of = |c: &DupCandidate| fragment_end(c).map(|e| e.0);
    fragments.sort_unstable_by(|a, b| end_of(a).cmp(&end_of(b)).then_with(|| rank(a).cmp(&rank(b))));
    let same_end = |a: &DupCandidate, b: &DupCandidate| end_of(a) == end_of(b);
    for group in fragments.chunk_by(same_end) {
        let Some((end, _)) = fragment_end(&group[0]) else { continue };
        let counts = part.counts.entry(end.library).or_default();
        counts.unpaired_reads_examined += group.len() as u64;
        counts.unmapped_reads += group.len() as u64;
        let keep = usize::from(covered.binary_search(&end).is_err());
        counts.unpaired_read_duplicates += (group.len() - keep) as u64;
        for c in &group[keep..] {
            if let Some((_, mate)) = fragment_end(c) {
                part.push(c.pair_id, if mate == Mate::R1 { DUP_R1 } else { DUP_R2 });
            }
        }
    }
}

/// Disjoint-set forest with path halving.
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Optical flags for a duplicate set whose member 0 is the one kept (see the module docs).
pub(super) fn optical_flags(group: &[DupCandidate], distance: u32) -> Vec<bool> {
    let mut flags = vec![false; group.len()];
    let mut located: Vec<(usize, FlowcellPosition)> =
        group.iter().enumerate().filter_map(|(i, c)| c.position.map(|p| (i, p))).collect();
    if located.len() < 2 {
        return flags;
    }
    located.sort_unstable_by_key(|(i, p)| (p.lane, p.tile, p.x, p.y, *i));
    let mut parent: Vec<usize> = (0..group.len()).collect();
    for a in 0..located.len() {
        let (i, p) = located[a];
        for &(j, q) in &located[a + 1..] {
            if q.lane != p.lane || q.tile != p.tile || q.x - p.x > distance {
                break;
            }
            if p.y.abs_diff(q.y) <= distance {
                let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    // One representative per cluster: the kept member, else the smallest (x, y) (first in
    // `located` order); everyone else in a cluster of two or more is optical.
    let mut representative: Vec<Option<usize>> = vec![None; group.len()];
    if group[0].position.is_some() {
        let root = find(&mut parent, 0);
        representative[root] = Some(0);
    }
    for &(i, _) in &located {
        let root = find(&mut parent, i);
        match representative[root] {
            None => representative[root] = Some(i),
            Some(r) if r != i => flags[i] = true,
            Some(_) => {}
        }
    }
    flags
}
