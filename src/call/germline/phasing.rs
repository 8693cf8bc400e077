//! Read-backed phasing of a sample's heterozygous calls, identical at any shard size, thread
//! count or rank count.
//!
//! Phasable: a PASS diploid call whose two GT alleles differ. Each carries its *fragments*: for
//! every informative read over it, the read's name hash (mates share it, so a read pair is one
//! fragment) and the side it supports (0: the GT's first allele, 1: the second); a fragment whose
//! two reads disagree there is dropped.
//!
//! Linking: a phasable het looks back at the previous `LOOKBACK` phasable hets of its contig,
//! nearest first, and links to the first one it shares decisive fragments with: shared fragments
//! on the same sides vote *cis*, on opposite sides *trans*; decisive when the winner has at least
//! one vote and the loser at most a quarter of the winner's. A link fixes the het's orientation
//! relative to its parent (trans: the GT is written flipped relative to the parent's). Links form
//! a forest; each tree is a phase block, its phase set (`PS`) the 1-based POS of its first het.
//! A het in a block of one stays unphased. Blocks may interleave (a het can link past a
//! neighbour that started a block of its own).
//!
//! Shards: the rule only looks at the previous `LOOKBACK` phasable hets, so a shard resolves
//! every link whose parent lies in the shard ([`link_shard`]) and keeps fragments only for its
//! first hets whose link is still open and its last `LOOKBACK` hets; the gather
//! ([`assign_phase_sets`]) resolves the open links across shard edges with them, then walks the
//! forest. The result is the one a single pass over the whole contig gives.
//!
//! Cost: per het, up to `LOOKBACK` merge-joins of two sorted fragment lists (O(depth)); memory
//! per shard O(hets) links plus fragments of at most 2 × `LOOKBACK` hets.

use crate::vcf::model::{CalledVariant, Phase};

/// How many earlier phasable hets a het may link to.
pub const LOOKBACK: usize = 3;

/// A fragment: name hash with its lowest bit replaced by the side it supports.
type Fragment = u64;

/// The fragments of one phasable het, sorted by name hash (side bit ignored).
pub type Fragments = Vec<Fragment>;

/// A het's link to an earlier phasable het `back` positions before it (among phasable hets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhaseLink {
    pub back: u32,
    pub trans: bool,
}

/// What a shard knows about the phasing of its own calls.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardPhasing {
    /// Per phasable het of the shard, in order: its index in the shard's variants and its link
    /// (`None`: a block starts here, or the link is open, see `open`).
    pub hets: Vec<(usize, Option<PhaseLink>)>,
    /// Hets among the first `LOOKBACK` whose link may lie in an earlier shard: (index in
    /// `hets`, fragments).
    pub open: Vec<(usize, Fragments)>,
    /// Fragments of the last (up to) `LOOKBACK` phasable hets, in order, with their contig.
    pub tail: Vec<(u32, Fragments)>,
}

/// A called site's fragments from its informative reads (name hash, allele index), or `None`
/// when the call is not phasable.
pub fn fragments(call: &CalledVariant, read_alleles: &[(u64, u8)]) -> Option<Fragments> {
    let gt = &call.genotype;
    if !call.filters.is_empty() || gt.len() != 2 || gt[0] == gt[1] {
        return None;
    }
    let mut out: Vec<Fragment> = read_alleles
        .iter()
        .filter_map(|&(hash, allele)| {
            let side = if allele == gt[0] {
                0
            } else if allele == gt[1] {
                1
            } else {
                return None;
            };
            Some((hash & !1) | side)
        })
        .collect();
    out.sort_unstable();
    // Mates over the same het: one fragment if they agree, none if they do not.
    let mut kept: Vec<Fragment> = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        let name = out[i] & !1;
        let mut j = i;
        while j < out.len() && out[j] & !1 == name {
            j += 1;
        }
        if out[i..j].iter().all(|&f| f == out[i]) {
            kept.push(out[i]);
        }
        i = j;
    }
    Some(kept)
}

/// The link between an earlier het's fragments and a later one's: `Some(trans)` when decisive.
pub fn vote(earlier: &[Fragment], later: &[Fragment]) -> Option<bool> {
    let (mut cis, mut trans) = (0u32, 0u32);
    let (mut i, mut j) = (0, 0);
    while i < earlier.len() && j < later.len() {
        let (a, b) = (earlier[i] & !1, later[j] & !1);
        match a.cmp(&b) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                if earlier[i] & 1 == later[j] & 1 {
                    cis += 1;
                } else {
                    trans += 1;
                }
                i += 1;
                j += 1;
            }
        }
    }
    let (winner, loser, is_trans) = if cis >= trans { (cis, trans, false) } else { (trans, cis, true) };
    (winner > 0 && loser * 4 <= winner).then_some(is_trans)
}

/// Links the phasable hets of one shard. `hets`: (index in the shard's variants, contig,
/// fragments), in reference order.
pub fn link_shard(hets: Vec<(usize, u32, Fragments)>) -> ShardPhasing {
    let mut out = ShardPhasing::default();
    for k in 0..hets.len() {
        let (index, tid, ref frags) = hets[k];
        let mut link = None;
        for back in 1..=LOOKBACK.min(k) {
            let (_, parent_tid, ref parent) = hets[k - back];
            if parent_tid != tid {
                break;
            }
            if let Some(trans) = vote(parent, frags) {
                link = Some(PhaseLink { back: back as u32, trans });
                break;
            }
        }
        // Open: no link found here, and the hets before it in the shard (fewer than LOOKBACK)
        // are on its contig, so its parent may lie in an earlier shard.
        if link.is_none() && k < LOOKBACK && hets[..k].iter().all(|h| h.1 == tid) {
            out.open.push((k, frags.clone()));
        }
        out.hets.push((index, link));
    }
    let first_tail = hets.len().saturating_sub(LOOKBACK);
    out.tail = hets.into_iter().skip(first_tail).map(|(_, tid, f)| (tid, f)).collect();
    out
}

/// Resolves the links open at shard edges and sets `phase` on every het of a block of two or
/// more. `shards`: each shard's variants (in reference order, shards in order) with its
/// phasing.
pub fn assign_phase_sets(shards: &mut [(&mut [CalledVariant], ShardPhasing)]) {
    // Global order of phasable hets: (shard, variant index); links resolved to global parents.
    let mut order: Vec<(usize, usize)> = Vec::new();
    let mut parent: Vec<Option<(usize, bool)>> = Vec::new();
    // The last LOOKBACK phasable hets before the current shard: (contig, fragments).
    let mut window: Vec<(u32, Fragments)> = Vec::new();
    for (s, (variants, phasing)) in shards.iter().enumerate() {
        let base = order.len();
        let mut open = phasing.open.iter().peekable();
        for (k, &(index, link)) in phasing.hets.iter().enumerate() {
            order.push((s, index));
            let mut resolved = link.map(|l| (base + k - l.back as usize, l.trans));
            if let Some((_, frags)) = open.next_if(|(o, _)| *o == k) {
                // In-shard candidates (k of them) were not decisive: look into the window.
                let tid = variants[index].tid;
                for back in (k + 1)..=LOOKBACK {
                    let Some(w) = window.len().checked_sub(back - k) else { break };
                    let (parent_tid, ref parent_frags) = window[w];
                    if parent_tid != tid {
                        break;
                    }
                    if let Some(trans) = vote(parent_frags, frags) {
                        resolved = Some((base + k - back, trans));
                        break;
                    }
                }
            }
            parent.push(resolved);
        }
        window.extend(phasing.tail.iter().cloned());
        let keep = window.len().saturating_sub(LOOKBACK);
        window.drain(..keep);
    }
    // Walk the forest in order: a parent always comes first.
    let mut root = vec![0usize; order.len()];
    let mut flip = vec![false; order.len()];
    let mut size = vec![0u32; order.len()];
    for g in 0..order.len() {
        (root[g], flip[g]) = match parent[g] {
            Some((p, trans)) => (root[p], flip[p] ^ trans),
            None => (g, false),
        };
        size[root[g]] += 1;
    }
    for g in 0..order.len() {
        if size[root[g]] < 2 {
            continue;
        }
        let (rs, ri) = order[root[g]];
        let set = shards[rs].0[ri].pos;
        let (s, i) = order[g];
        shards[s].0[i].phase = Some(Phase { flipped: flip[g], set_pos: set });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn het(pos: u64) -> CalledVariant {
        crate::call::germline::test_het(pos)
    }

    /// Fragments of reads `names` supporting allele `allele` (name hashes 2, 4, 6, ...).
    fn reads(names: &[u64], allele: u8) -> Vec<(u64, u8)> {
        names.iter().map(|&n| (n * 2, allele)).collect()
    }

    #[test]
    fn votes_count_shared_fragments_by_side() {
        let a = fragments(&het(10), &[reads(&[1, 2, 3], 1), reads(&[4, 5], 0)].concat()).unwrap();
        let cis = fragments(&het(20), &[reads(&[1, 2], 1), reads(&[4], 0)].concat()).unwrap();
        let trans = fragments(&het(20), &[reads(&[1, 2], 0), reads(&[5], 1)].concat()).unwrap();
        let mixed = fragments(&het(20), &[reads(&[1, 2], 1), reads(&[3], 0)].concat()).unwrap();
        assert_eq!(vote(&a, &cis), Some(false));
        assert_eq!(vote(&a, &trans), Some(true));
        assert_eq!(vote(&a, &mixed), None, "2 cis against 1 trans is not decisive");
        assert_eq!(vote(&a, &fragments(&het(20), &reads(&[9], 1)).unwrap()), None, "nothing shared");
        // Mates that disagree at one het are dropped; a filtered or hom call is not phasable.
        assert_eq!(fragments(&het(10), &[(2, 0), (2, 1), (4, 1)]).unwrap(), vec![5]);
        assert!(fragments(&CalledVariant { genotype: vec![1, 1], ..het(10) }, &[]).is_none());
        assert!(fragments(&CalledVariant { filters: vec!["LowQual".into()], ..het(10) }, &[]).is_none());
    }

    /// Hets at 10, 20, ..., with fragments chaining each to the next (cis or trans) except
    /// where `gap` says none is shared.
    fn chain(n: usize, trans_at: &[usize], gap_at: &[usize]) -> (Vec<CalledVariant>, Vec<Fragments>) {
        let variants: Vec<CalledVariant> = (0..n).map(|i| het(10 * (i as u64 + 1))).collect();
        let mut side = 1u8;
        let frags = (0..n)
            .map(|i| {
                if trans_at.contains(&i) {
                    side ^= 1;
                }
                let shared_before = if i > 0 && !gap_at.contains(&i) { vec![100 + i as u64] } else { vec![] };
                let shared_after = vec![101 + i as u64];
                let mut r = reads(&shared_before, side);
                r.extend(reads(&shared_after, side));
                fragments(&variants[i], &r).unwrap()
            })
            .collect();
        (variants, frags)
    }

    /// Links `variants` (one contig) cut into shards before each index of `cuts`, then assigns
    /// phase sets over the shards, as the caller and the gather do.
    fn run_in_shards(variants: &mut [CalledVariant], frags: &[Fragments], cuts: &[usize]) {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(variants.len());
        let mut pieces: Vec<&mut [CalledVariant]> = Vec::new();
        let mut rest = variants;
        for w in bounds.windows(2) {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            pieces.push(head);
            rest = tail;
        }
        let mut shards: Vec<(&mut [CalledVariant], ShardPhasing)> = pieces
            .into_iter()
            .zip(bounds.windows(2))
            .map(|(piece, w)| (piece, link_shard((w[0]..w[1]).map(|g| (g - w[0], 0, frags[g].clone())).collect())))
            .collect();
        assign_phase_sets(&mut shards);
    }

    fn phase_in_shards(n: usize, trans_at: &[usize], gap_at: &[usize], cuts: &[usize]) -> Vec<Option<Phase>> {
        let (mut variants, frags) = chain(n, trans_at, gap_at);
        run_in_shards(&mut variants, &frags, cuts);
        variants.iter().map(|v| v.phase).collect()
    }

    #[test]
    fn blocks_follow_links_and_do_not_depend_on_shard_edges() {
        // 8 hets; a switch of side at 3 (trans link), no shared fragment into 5 (new block).
        let whole = phase_in_shards(8, &[3], &[5], &[]);
        let p = |flipped: bool, set: u64| Some(Phase { flipped, set_pos: set });
        assert_eq!(
            whole,
            vec![
                p(false, 10),
                p(false, 10),
                p(false, 10),
                p(true, 10),
                p(true, 10),
                p(false, 60),
                p(false, 60),
                p(false, 60)
            ]
        );
        for cuts in [vec![1], vec![3], vec![4, 5], vec![1, 2, 3, 4, 5, 6, 7], vec![2, 6]] {
            assert_eq!(phase_in_shards(8, &[3], &[5], &cuts), whole, "cut at {cuts:?}");
        }
    }

    #[test]
    fn a_lone_het_stays_unphased_and_links_reach_past_a_neighbour() {
        // Nothing shared into het 1 or het 2: three blocks of one, none phased.
        assert_eq!(phase_in_shards(3, &[], &[1, 2], &[]), vec![None, None, None]);
        // Het 2 shares a fragment with het 0 only (het 1, between them, shares none).
        let template: Vec<CalledVariant> = (0..3).map(|i| het(10 * (i + 1))).collect();
        let frags = [
            fragments(&template[0], &reads(&[7], 1)).unwrap(),
            fragments(&template[1], &reads(&[8], 1)).unwrap(),
            fragments(&template[2], &reads(&[7], 0)).unwrap(),
        ];
        for cuts in [vec![], vec![1], vec![2], vec![1, 2]] {
            let mut variants = template.clone();
            run_in_shards(&mut variants, &frags, &cuts);
            let got: Vec<Option<Phase>> = variants.iter().map(|v| v.phase).collect();
            assert_eq!(
                got,
                vec![Some(Phase { flipped: false, set_pos: 10 }), None, Some(Phase { flipped: true, set_pos: 10 })],
                "cuts {cuts:?}"
            );
        }
    }

    #[test]
    fn links_never_cross_contigs() {
        let a = het(10);
        let b = CalledVariant { tid: 1, ..het(20) };
        let fa = fragments(&a, &reads(&[1], 1)).unwrap();
        let fb = fragments(&b, &reads(&[1], 1)).unwrap();
        let phasing = link_shard(vec![(0, 0, fa), (1, 1, fb)]);
        assert!(phasing.hets.iter().all(|(_, l)| l.is_none()));
        let mut v = [a.clone(), b.clone()];
        assign_phase_sets(&mut [(&mut v[..], phasing)]);
        assert!(v.iter().all(|x| x.phase.is_none()));
    }
}
