//! Spanning deletions as VCF 4.2 `*` alleles, the way GATK writes them.
//!
//! After a region's sites are genotyped (and re-spellings dropped), sites are visited in
//! position order. When a called deletion allele of an earlier site (an ALT in its GT, shorter
//! than its REF) deletes the first base of a later site with a non-ref call, the haplotypes that
//! carry that deletion allele (they speak for no allele at the later site) become a `*` ALT
//! there, listed last, and the site is genotyped again: AD, PL and GT then cover `*` (a het
//! deletion over a het SNV on the other copy is `A C,*` with GT `1/2`). A genotype made of REF
//! and `*` only (`0/*`, `*/*`, haploid `*`) means the site's ALT reads were the deletion's
//! reads: the site is not called. `*` is not a new event at the site (see
//! [`super::genotype_site_with`] for its prior and QUAL).
//!
//! Which bases a deletion removes: its REF and ALT trimmed of their shared suffix (an anchor
//! base kept), then of their shared prefix: `ACT→AT` (a padded `AC→A`) removes only the `C`.
//! A deletion called in another active region is not seen here (regions are genotyped alone).
//! Cost: O(calls² × alleles × haplotypes) per region, with a handful of calls per region.

use super::evidence::site_evidence;
use super::model::{genotype_log10_priors, genotypes};
use super::sites::Site;
use super::{GenotypeConfig, SiteCall, genotype_site_with};
use crate::call::pairhmm::LikelihoodMatrix;
use crate::call::types::ReadView;
use crate::genome::ploidy::Ploidy;
use crate::vcf::model::CalledVariant;

/// The VCF spanning-deletion allele.
pub const STAR: &[u8] = b"*";

/// The reference bases `[start, end)` that `alt` deletes from `ref_allele` at `pos`, or None
/// when `alt` is not a deletion (not shorter than REF, empty, or `*`).
pub fn deleted_span(pos: u64, ref_allele: &[u8], alt: &[u8]) -> Option<(u64, u64)> {
    if alt.is_empty() || alt == STAR || alt.len() >= ref_allele.len() {
        return None;
    }
    let max_suffix = alt.len() - 1;
    let suffix = ref_allele.iter().rev().zip(alt.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    let (r, a) = (&ref_allele[..ref_allele.len() - suffix], &alt[..alt.len() - suffix]);
    let prefix = r.iter().zip(a).take_while(|(x, y)| x == y).count();
    let (start, end) = (pos + prefix as u64, pos + r.len() as u64);
    (start < end).then_some((start, end))
}

fn is_variant(call: &CalledVariant) -> bool {
    call.genotype.iter().any(|&a| a > 0)
}

/// Re-genotypes the non-ref calls that an upstream called deletion spans with a `*` allele, and
/// drops those left with REF and `*` only. `calls` are (site index, call) in site order.
pub(super) fn add_spanning_deletions(
    sites: &[Site],
    calls: Vec<(usize, SiteCall)>,
    reads: &[ReadView],
    likelihoods: &LikelihoodMatrix,
    ploidy: &impl Fn(u32, u64) -> Ploidy,
    config: &GenotypeConfig,
) -> Vec<SiteCall> {
    let mut done: Vec<(usize, SiteCall)> = Vec::with_capacity(calls.len());
    for (si, call) in calls {
        let site = &sites[si];
        let spanned = if is_variant(&call.call) { spanned_haplotypes(site, &done, sites) } else { Vec::new() };
        if spanned.is_empty() {
            done.push((si, call));
            continue;
        }
        let mut starred = site.clone();
        starred.alt_alleles.push(STAR.to_vec());
        starred.is_indel.push(true);
        let star = starred.allele_count() - 1;
        for &h in &spanned {
            starred.hap_allele[h] = Some(star);
        }
        let copies = ploidy(site.tid, site.pos).copies();
        let ev = site_evidence(&starred, reads, likelihoods, config);
        match genotype_site_with(&starred, &ev, copies, config, Some(star)) {
            Some(c) if c.call.genotype.iter().any(|&a| a > 0 && usize::from(a) != star) => done.push((si, c)),
            _ => tracing::debug!(tid = site.tid, pos = site.pos, "the site's ALT reads are a spanning deletion's"),
        }
    }
    done.into_iter().map(|(_, c)| c).collect()
}

/// Haplotypes (sorted) carrying a called deletion allele of an earlier site that deletes
/// `site.pos`, among those that speak for no allele at `site`.
fn spanned_haplotypes(site: &Site, done: &[(usize, SiteCall)], sites: &[Site]) -> Vec<usize> {
    let mut haps = Vec::new();
    for (k, prev) in done {
        let (up, c) = (&sites[*k], &prev.call);
        if c.tid != site.tid || c.pos >= site.pos {
            continue;
        }
        for &a in &c.genotype {
            let a = usize::from(a);
            // REF, or a `*` of the upstream site (its own deletion, if called, is met directly).
            if a == 0 || a >= up.allele_count() {
                continue;
            }
            let Some((start, end)) = deleted_span(c.pos, &c.ref_allele, &c.alt_alleles[a - 1]) else { continue };
            if !(start..end).contains(&site.pos) {
                continue;
            }
            for (h, carried) in up.hap_allele.iter().enumerate() {
                if *carried == Some(a) && site.hap_allele.get(h).is_some_and(Option::is_none) && !haps.contains(&h) {
                    haps.push(h);
                }
            }
        }
    }
    haps.sort_unstable();
    haps
}

/// Priors of `gts` over a site whose allele `star` is `*`: each genotype's prior is that of the
/// same genotype with `*` read as REF, over the site without `*`.
pub(super) fn priors_with_star(site: &Site, gts: &[Vec<u8>], star: usize, config: &GenotypeConfig) -> Vec<f64> {
    let mut base = site.clone();
    if star + 1 == base.allele_count() {
        base.alt_alleles.pop();
        base.is_indel.truncate(base.allele_count());
    }
    let copies = gts.first().map_or(0, Vec::len);
    let base_gts = genotypes(base.allele_count(), copies);
    let base_priors = genotype_log10_priors(&base, &base_gts, config);
    gts.iter()
        .map(|g| {
            let mut m: Vec<u8> = g.iter().map(|&a| if usize::from(a) == star { 0 } else { a }).collect();
            m.sort_unstable();
            base_gts.iter().position(|b| *b == m).map_or(f64::NEG_INFINITY, |i| base_priors[i])
        })
        .collect()
}
