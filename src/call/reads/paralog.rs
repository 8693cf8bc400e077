//! Paralog screen: drops the fragments that look as if they come from a diverged copy of the
//! locus that the reference lacks (a paralog, a segmental duplication absent from the assembly).
//!
//! Such reads map with fair MAPQ (often 60: the reference has nowhere better to put them) and
//! carry the copy's differences: several substitutions per fragment (a 2 % divergent copy puts
//! about 6 in the 300 bases of a 2 × 150 bp pair), each shared by the other reads of the copy,
//! at an allele fraction set by the copy's share of the depth (a copy at 10-15x over a 30x
//! sample: 0.25-0.35, but single sites wander up to 0.5). Per site, allele balance cannot tell
//! those from real hets; pooled over the sites the copy's fragments link together, it can.
//!
//! Algorithm, over the reads of one fetch (a padded shard):
//! 1. Pileup: per reference position, counts of A/C/G/T among bases of quality ≥
//!    `min_base_qual` (default 20; binned qualities 22 and up count). The majority base is the
//!    local consensus (ties: A < C < G < T), so hom-alt variants are never mismatches. A *site* is
//!    a (position, base) where a base other than the majority is carried by at least 2 reads and
//!    at least 5 % of the depth; one-off sequencing errors are not sites. Positions within 10 bp
//!    of an anchor where ≥ 2 reads have an indel or a ≥ 3 bp soft clip make no sites either: reads
//!    misaligned around a real indel carry clustered mismatches at paralog-like fractions (seen
//!    on the public set at chr20_1M:170,709-170,790, a het deletion beside hets).
//! 2. Per fragment (both mates, by read-name hash): the sites it carries. Sites carried together
//!    by one fragment are linked; linked sites form components (union-find). A paralog's
//!    differences chain into one component along the whole copy; real hets rarely chain beyond
//!    a few sites (one fragment spans ~400 bp, het spacing is ~1 kb).
//! 3. A component is paralog-like when it has ≥ `min_sites` sites (default 5), its pooled
//!    fraction Σc/Σn (reads carrying each site's base over the depth there, each site once) is
//!    ≤ `max_fraction_percent` (default 40 %), and the one-sided binomial
//!    P(X ≤ Σc | Σn, 0.5) ≤ 10^(−`min_phred`/10) (default Phred 40, P ≤ 1e-4): many linked
//!    differences whose pooled fraction is far below a het's 0.5, which single sites, wandering
//!    up to 0.5 by chance, cannot show.
//! 4. Fragments carrying ≥ 2 sites of a paralog-like component are dropped (both mates), before
//!    active-region detection, assembly and genotyping. The reads of the true locus carry none
//!    of its sites and stay, so the copy's differences see a clean hom-ref pileup and real
//!    variants under the copy keep their own balanced evidence.
//!
//! Why this keeps real variants: a het's minority base is at 0.4-0.5 at 30x; a component of
//! linked hets pools near 0.45, above the 40 % cap and with P far above 1e-4 unless it is
//! large and unlucky. Hom-alt clusters are majority bases and make no sites. Known limits: a
//! copy holding more than half the depth becomes the consensus (outside the model); indels are
//! not counted (substitutions only); a somatic caller must not use the screen (a subclone's
//! linked variants look the same). Shards: a read's fate depends on the components seen in
//! the fetch (the core plus 3 kb of padding each side), so a copy longer than the padding is
//! seen truncated near a shard edge and a borderline component could then change with the
//! shard size (on the testdata mix, VCF and gVCF are identical at shard sizes 10 k, 11 k,
//! 13.1 k and 250 k). Dropped fragments are logged at debug level, flagged sites at trace
//! (`RUST_LOG=dagr::call::reads::paralog=trace`).
//!
//! Cost: two walks over the aligned bases of the fetch, O(span) memory for the 4-base counts,
//! hash maps over the sites and fragments carrying them, near-linear union-find, and one
//! O(Σn) binomial tail per component of ≥ `min_sites` sites.

use crate::call::genotype::binomial_half_lower_tail;
use crate::call::reads::ref_span;
use crate::call::reads::walk::{Event, walk};
use crate::call::types::ReadView;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Parameters of the screen (defaults in the module docs). `min_sites == 0` disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParalogScreen {
    pub min_sites: u8,
    pub max_fraction_percent: u8,
    pub min_phred: u8,
    pub min_base_qual: u8,
}

impl Default for ParalogScreen {
    fn default() -> Self {
        ParalogScreen { min_sites: 5, max_fraction_percent: 40, min_phred: 40, min_base_qual: 20 }
    }
}

/// Reads recurring on a minority base at a position: at least this many…
const MIN_RECURRENT_READS: u32 = 2;
/// …and at least 1/`MIN_RECURRENT_DEPTH_DIVISOR` of the depth (5 %).
const MIN_RECURRENT_DEPTH_DIVISOR: u32 = 20;
/// Bases either side of a recurrent indel or soft-clip anchor that make no sites.
const INDEL_SHADOW: usize = 10;
/// A fragment is dropped when it carries at least this many sites of a paralog-like component.
const MIN_FRAGMENT_SITES: usize = 2;

fn base_index(b: u8) -> Option<usize> {
    match b {
        b'A' => Some(0),
        b'C' => Some(1),
        b'G' => Some(2),
        b'T' => Some(3),
        _ => None,
    }
}

/// High-quality A/C/G/T bases of `read` as (reference position, base index).
fn hq_bases(read: &ReadView, min_base_qual: u8, mut f: impl FnMut(u64, usize)) {
    walk(read, |event| {
        if let Event::Base { ref_pos, read_idx } = event {
            let q = read.quals.get(read_idx).copied().unwrap_or(0);
            if q < min_base_qual {
                return;
            }
            if let Some(b) = read.bases.get(read_idx).copied().and_then(base_index) {
                f(ref_pos, b);
            }
        }
    });
}

/// Positions within `INDEL_SHADOW` bp of an anchor where at least `MIN_RECURRENT_READS` reads
/// have an indel or a soft clip.
fn indel_shadow(events: &[u32]) -> Vec<bool> {
    let mut shadow = vec![false; events.len()];
    for (i, _) in events.iter().enumerate().filter(|&(_, &e)| e >= MIN_RECURRENT_READS) {
        let lo = i.saturating_sub(INDEL_SHADOW);
        let hi = (i + INDEL_SHADOW + 1).min(events.len());
        shadow[lo..hi].iter_mut().for_each(|s| *s = true);
    }
    shadow
}

/// Union-find root with path halving.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Name hashes of the paralog-suspect fragments among `reads`.
pub fn suspect_fragments(reads: &[ReadView], cfg: &ParalogScreen) -> HashSet<u64> {
    let mut out = HashSet::new();
    if cfg.min_sites == 0 || reads.is_empty() {
        return out;
    }
    let start = reads.iter().map(|r| r.ref_start).min().unwrap_or(0);
    let end = reads.iter().map(|r| ref_span(r).1).max().unwrap_or(start);
    let mut counts = vec![[0u32; 4]; (end - start) as usize];
    // Indel and soft-clip events per anchor: mismatches of reads misaligned around an indel
    // cluster like a paralog's, so positions near recurrent events make no sites.
    let mut events = vec![0u32; counts.len()];
    for read in reads {
        hq_bases(read, cfg.min_base_qual, |pos, b| counts[(pos - start) as usize][b] += 1);
        walk(read, |event| {
            let at = match event {
                Event::Insertion { anchor, .. } | Event::Deletion { anchor, .. } => anchor,
                Event::SoftClip { ref_pos, len, .. } if len >= 3 => ref_pos,
                _ => return,
            };
            if let Some(e) = at.checked_sub(start).and_then(|i| events.get_mut(i as usize)) {
                *e += 1;
            }
        });
    }
    let shadowed = indel_shadow(&events);
    // Sites (position, minority base) in first-seen order, and the sites each fragment carries.
    let mut site_ids: HashMap<(u64, usize), usize> = HashMap::new();
    let mut sites: Vec<(u32, u32)> = Vec::new(); // (reads with the base, depth)
    let mut fragments: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for read in reads {
        let mut hits = Vec::new();
        hq_bases(read, cfg.min_base_qual, |pos, b| {
            let c = &counts[(pos - start) as usize];
            let depth: u32 = c.iter().sum();
            let majority = (0..4).fold(0, |m, i| if c[i] > c[m] { i } else { m });
            let recurrent = c[b] >= MIN_RECURRENT_READS && c[b] * MIN_RECURRENT_DEPTH_DIVISOR >= depth;
            if b != majority && recurrent && !shadowed[(pos - start) as usize] {
                let id = *site_ids.entry((pos, b)).or_insert_with(|| {
                    sites.push((c[b], depth));
                    sites.len() - 1
                });
                hits.push(id);
            }
        });
        if !hits.is_empty() {
            fragments.entry(read.name_hash).or_default().extend(hits);
        }
    }
    // Components: sites linked by fragments that carry both.
    let mut parent: Vec<usize> = (0..sites.len()).collect();
    for ids in fragments.values_mut() {
        ids.sort_unstable();
        ids.dedup();
        for &id in ids.iter().skip(1) {
            let (a, b) = (root(&mut parent, ids[0]), root(&mut parent, id));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut stats: HashMap<usize, (usize, u64, u64)> = HashMap::new(); // root → (sites, Σc, Σn)
    for (id, &(c, n)) in sites.iter().enumerate() {
        let e = stats.entry(root(&mut parent, id)).or_default();
        *e = (e.0 + 1, e.1 + u64::from(c), e.2 + u64::from(n));
    }
    let max_p = 10f64.powf(-f64::from(cfg.min_phred) / 10.0);
    let paralog_like = |&(k, c, n): &(usize, u64, u64)| {
        k >= usize::from(cfg.min_sites)
            && c * 100 <= n * u64::from(cfg.max_fraction_percent)
            && binomial_half_lower_tail(c, n) <= max_p
    };
    let flagged: HashSet<usize> = stats.iter().filter(|(_, s)| paralog_like(s)).map(|(&r, _)| r).collect();
    if tracing::enabled!(tracing::Level::TRACE) {
        let mut keys: Vec<(&(u64, usize), &usize)> = site_ids.iter().collect();
        keys.sort();
        for (&(pos, b), &id) in keys {
            let r = root(&mut parent, id);
            if flagged.contains(&r) {
                let (k, c, n) = stats[&r];
                tracing::trace!(
                    pos,
                    base = b,
                    reads = sites[id].0,
                    depth = sites[id].1,
                    component = r,
                    k,
                    c,
                    n,
                    "paralog site"
                );
            }
        }
    }
    if flagged.is_empty() {
        return out;
    }
    for (&name, ids) in &fragments {
        let carried = ids.iter().filter(|&&id| flagged.contains(&root(&mut parent, id))).count();
        if carried >= MIN_FRAGMENT_SITES {
            out.insert(name);
        }
    }
    out
}

/// `reads` without the paralog-suspect fragments, order kept.
pub fn screen_paralog_reads(reads: Vec<ReadView>, cfg: &ParalogScreen) -> Vec<ReadView> {
    let suspect = suspect_fragments(&reads, cfg);
    if suspect.is_empty() {
        return reads;
    }
    if let (Some(first), Some(last)) = (reads.first(), reads.last()) {
        tracing::debug!(
            fragments = suspect.len(),
            from = first.ref_start,
            to = last.ref_start,
            "paralog screen: dropping paralog-suspect fragments"
        );
    }
    reads.into_iter().filter(|r| !suspect.contains(&r.name_hash)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_seq(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                b"ACGT"[(s >> 60) as usize & 3]
            })
            .collect()
    }

    fn substitute(seq: &[u8], positions: &[usize]) -> Vec<u8> {
        let mut s = seq.to_vec();
        for &p in positions {
            s[p] = if s[p] == b'A' { b'C' } else { b'A' };
        }
        s
    }

    /// `n` single-end 150 bp reads of `seq` tiling 0..seq.len(), name hashes from `first_hash`.
    fn tile(seq: &[u8], n: usize, first_hash: u64) -> Vec<ReadView> {
        (0..n)
            .map(|k| {
                let start = (k * 37) % (seq.len() - 150);
                ReadView {
                    name_hash: first_hash + k as u64,
                    bases: seq[start..start + 150].to_vec(),
                    quals: vec![37; 150],
                    mapq: 60,
                    reverse: k % 2 == 1,
                    first_of_pair: true,
                    ref_start: start as u64,
                    cigar: vec![(0, 150)],
                }
            })
            .collect()
    }

    #[test]
    fn paralog_reads_are_dropped_and_a_real_het_cluster_is_kept() {
        let reference = random_seq(1000, 3);
        // A 2 % diverged copy: a difference every 50 bp, at ~25 % of the depth.
        let diffs: Vec<usize> = (10..1000).step_by(50).collect();
        let paralog = substitute(&reference, &diffs);
        // A real het cluster: three SNVs within 40 bp on one haplotype, at 50 %.
        let het = substitute(&reference, &[400, 415, 437]);
        let mut reads = tile(&reference, 150, 0);
        reads.extend(tile(&het, 150, 10_000));
        reads.extend(tile(&paralog, 100, 20_000));
        let suspect = suspect_fragments(&reads, &ParalogScreen::default());
        let paralog_dropped = (20_000..20_100).filter(|h| suspect.contains(h)).count();
        assert!(paralog_dropped >= 90, "{paralog_dropped}");
        assert!(suspect.iter().all(|&h| h >= 20_000), "only paralog reads are suspect: {suspect:?}");
        // Disabled: nothing dropped.
        let off = ParalogScreen { min_sites: 0, ..ParalogScreen::default() };
        assert_eq!(screen_paralog_reads(reads.clone(), &off).len(), reads.len());
        assert_eq!(screen_paralog_reads(reads, &ParalogScreen::default()).len(), 400 - paralog_dropped);
    }

    #[test]
    fn mismatches_beside_recurrent_indels_or_clips_are_not_sites() {
        let reference = random_seq(1000, 9);
        // Five linked substitutions at ~30 %: a paralog-like component…
        let odd = substitute(&reference, &[500, 503, 506, 509, 512]);
        let mut reads = tile(&reference, 140, 0);
        reads.extend(tile(&odd, 60, 10_000));
        let flagged = suspect_fragments(&reads, &ParalogScreen::default());
        assert!(!flagged.is_empty(), "control: without clips the component is paralog-like");
        // …but within 10 bp of an anchor where reads are soft-clipped (as reads misaligned around
        // a real indel are): not evidence.
        for k in 0..3u64 {
            reads.push(ReadView {
                name_hash: 50_000 + k,
                bases: reference[506..656].to_vec(),
                quals: vec![37; 150],
                mapq: 60,
                reverse: false,
                first_of_pair: true,
                ref_start: 511,
                cigar: vec![(4, 5), (0, 145)],
            });
        }
        assert!(suspect_fragments(&reads, &ParalogScreen::default()).is_empty());
    }

    #[test]
    fn hom_alt_clusters_and_low_quality_bases_are_not_evidence() {
        let reference = random_seq(1000, 5);
        let hom = substitute(&reference, &[300, 310, 320, 330, 340]);
        let mut reads = tile(&hom, 200, 0);
        // Low-quality noise shared by a quarter of the reads.
        let noisy = substitute(&hom, &[500, 520, 540, 560]);
        let mut extra = tile(&noisy, 60, 10_000);
        for r in &mut extra {
            r.quals.iter_mut().for_each(|q| *q = 11);
        }
        reads.extend(extra);
        assert!(suspect_fragments(&reads, &ParalogScreen::default()).is_empty());
    }
}
