//! Grouping a region's candidate variants into sites and assigning each haplotype the allele it
//! carries at each site.

use std::collections::BTreeMap;

use crate::call::types::{CandidateVariant, Haplotype};

/// One site: candidates starting at the same position, REF normalized to the longest.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub tid: u32,
    pub pos: u64,
    pub ref_allele: Vec<u8>,
    pub alt_alleles: Vec<Vec<u8>>,
    /// Per allele (REF first): whether it is an indel against REF (after padding).
    pub is_indel: Vec<bool>,
    /// Per haplotype: the allele it carries here, or None when it carries an overlapping event
    /// from another site (then it speaks for no allele of this site).
    pub hap_allele: Vec<Option<usize>>,
}

impl Site {
    pub fn allele_count(&self) -> usize {
        1 + self.alt_alleles.len()
    }

    /// Reference span [start, end) the site's alleles cover.
    pub fn span(&self) -> (u64, u64) {
        (self.pos, self.pos + self.ref_allele.len().max(1) as u64)
    }
}

/// The reference bases an event really changes: an indel's shared anchor base is excluded.
/// An insertion changes none: it is the empty span `(b, b)` at the boundary `b` after its anchor.
fn event_span(pos: u64, ref_allele: &[u8], alt_allele: &[u8]) -> (u64, u64) {
    let anchored =
        ref_allele.len() != alt_allele.len() && !ref_allele.is_empty() && ref_allele.first() == alt_allele.first();
    let start = if anchored { pos + 1 } else { pos };
    let end = (pos + ref_allele.len() as u64).max(start);
    (start, end)
}

/// Whether two events cannot both sit on one haplotype. Spans are half-open; an empty span (an
/// insertion at a boundary) conflicts only with an event changing bases on both sides of the
/// boundary, or with another insertion at the same boundary: an insertion next to a
/// substitution or a deletion is a haplotype carrying both.
fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    match (a.0 == a.1, b.0 == b.1) {
        (false, false) => a.0 < b.1 && b.0 < a.1,
        (true, false) => b.0 < a.0 && a.0 < b.1,
        (false, true) => a.0 < b.0 && b.0 < a.1,
        (true, true) => a.0 == b.0,
    }
}

/// Build the sites of a region, in (tid, pos) order.
pub fn build_sites(candidates: &[CandidateVariant], haplotypes: &[Haplotype]) -> Vec<Site> {
    let mut groups: BTreeMap<(u32, u64), Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if !c.ref_allele.is_empty() && !c.alt_allele.is_empty() && c.ref_allele != c.alt_allele {
            groups.entry((c.tid, c.pos)).or_default().push(i);
        }
    }
    groups
        .into_iter()
        .filter_map(|((tid, pos), members)| build_site(tid, pos, &members, candidates, haplotypes))
        .collect()
}

fn build_site(
    tid: u32,
    pos: u64,
    members: &[usize],
    candidates: &[CandidateVariant],
    haplotypes: &[Haplotype],
) -> Option<Site> {
    let ref_allele = members.iter().map(|&i| &candidates[i].ref_allele).max_by_key(|r| r.len())?.clone();
    // Candidate index → padded alt; alts deduplicated in candidate order.
    let mut alt_alleles: Vec<Vec<u8>> = Vec::new();
    let mut member_allele: Vec<(usize, usize)> = Vec::new();
    for &i in members {
        let c = &candidates[i];
        if !ref_allele.starts_with(&c.ref_allele) {
            continue; // incompatible REF (cannot happen for one reference): ignore
        }
        let mut alt = c.alt_allele.clone();
        alt.extend_from_slice(&ref_allele[c.ref_allele.len()..]);
        if alt == ref_allele {
            continue;
        }
        let idx = match alt_alleles.iter().position(|a| *a == alt) {
            Some(k) => k + 1,
            None => {
                alt_alleles.push(alt);
                alt_alleles.len()
            }
        };
        member_allele.push((i, idx));
    }
    let site_span = members
        .iter()
        .map(|&i| event_span(pos, &candidates[i].ref_allele, &candidates[i].alt_allele))
        .fold((u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let hap_allele: Vec<Option<usize>> =
        haplotypes.iter().map(|h| haplotype_allele(h, &member_allele, site_span, candidates)).collect();
    prune_unsupported(Site { tid, pos, ref_allele, alt_alleles, is_indel: vec![], hap_allele })
}

fn haplotype_allele(
    hap: &Haplotype,
    member_allele: &[(usize, usize)],
    site_span: (u64, u64),
    candidates: &[CandidateVariant],
) -> Option<usize> {
    let mut carried = None;
    for &v in &hap.variants {
        if let Some(&(_, allele)) = member_allele.iter().find(|(i, _)| *i == v) {
            if carried.is_some_and(|a| a != allele) {
                return None; // two alleles at one site: inconsistent haplotype
            }
            carried = Some(allele);
        } else if let Some(c) = candidates.get(v)
            && overlaps(event_span(c.pos, &c.ref_allele, &c.alt_allele), site_span)
            && !member_allele.iter().any(|(i, _)| candidates.get(*i) == Some(c))
        {
            return None;
        }
    }
    Some(carried.unwrap_or(0))
}

/// Drop alts no haplotype carries, renumber, and fill `is_indel`; None when no alt is left.
fn prune_unsupported(mut site: Site) -> Option<Site> {
    let n = site.allele_count();
    let mut keep = vec![false; n];
    keep[0] = true;
    for a in site.hap_allele.iter().flatten() {
        keep[*a] = true;
    }
    let mut renumber = vec![0usize; n];
    let mut alts = Vec::new();
    for (k, alt) in site.alt_alleles.drain(..).enumerate() {
        if keep[k + 1] {
            alts.push(alt);
            renumber[k + 1] = alts.len();
        }
    }
    if alts.is_empty() {
        return None;
    }
    for a in site.hap_allele.iter_mut().flatten() {
        *a = renumber[*a];
    }
    site.alt_alleles = alts;
    site.is_indel =
        std::iter::once(false).chain(site.alt_alleles.iter().map(|a| a.len() != site.ref_allele.len())).collect();
    Some(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(pos: u64, r: &[u8], a: &[u8]) -> CandidateVariant {
        CandidateVariant { tid: 0, pos, ref_allele: r.to_vec(), alt_allele: a.to_vec() }
    }

    /// An insertion after base p and an event at p + 1 can share a haplotype: the haplotype
    /// speaks for its allele at the second site (the public set's STR at 450,562 once needed it).
    #[test]
    fn insertion_next_to_a_later_site_keeps_the_haplotype_allele() {
        let candidates = vec![cand(10, b"A", b"AT"), cand(11, b"A", b"AATAT"), cand(11, b"A", b"T")];
        let haps = vec![
            Haplotype { bases: vec![], is_reference: true, variants: vec![] },
            Haplotype { bases: vec![], is_reference: false, variants: vec![0, 1] },
            Haplotype { bases: vec![], is_reference: false, variants: vec![2] },
        ];
        let sites = build_sites(&candidates, &haps);
        let second = sites.iter().find(|s| s.pos == 11).expect("site at 11");
        assert_eq!(second.alt_alleles, vec![b"AATAT".to_vec(), b"T".to_vec()]);
        assert_eq!(second.hap_allele, vec![Some(0), Some(1), Some(2)]);
        // A deletion of bases 10..12 does conflict with the insertion after base 10.
        assert!(overlaps(event_span(9, b"AAA", b"A"), event_span(10, b"A", b"AT")));
        assert!(!overlaps(event_span(10, b"A", b"AT"), event_span(11, b"A", b"T")));
    }
}
