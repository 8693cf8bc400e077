//! Genotyping an active region: from candidate variants, haplotypes and the pair-HMM's
//! read × haplotype likelihoods to `CalledVariant`s with GT, GQ, PL, QUAL, AD, DP and FS.
//!
//! Model and defaults:
//! - Sites: candidates starting at one position form one site; REF is the longest REF and
//!   shorter-REF alts are padded with the remaining reference bases (`A→G` beside `ACT→A` becomes
//!   `ACT→GCT`), so het-alt `1/2` genotypes are possible. A haplotype carrying an event from
//!   another site that overlaps this one speaks for no allele here; alts no haplotype carries are
//!   dropped. Overlapping non-ref calls that re-spell one haplotype are resolved by read votes
//!   (see `drop_respellings`).
//! - Spanning deletions (VCF 4.2 `*`, as GATK writes them; see [`spanning`]): when a called
//!   deletion allele (in the GT of an upstream call of the region) deletes the first base of a
//!   later called site, the haplotypes carrying it become a `*` ALT there (listed last) and the
//!   site is genotyped again with it, AD and PL sized for it: a het deletion over a het SNV on
//!   the other copy is `A C,*` GT `1/2`. A site whose GT then carries no ALT but `*` is the
//!   deletion seen again and is not called. A deletion called in another active region is not
//!   seen (each region is genotyped alone).
//! - Reads: those whose alignment span overlaps the site (DP counts them). A read's allele
//!   likelihood is the best likelihood of any haplotype carrying the allele (GATK's
//!   marginalization), then mixed with a mapping-error probability 10^(−MAPQ/10) (MAPQ capped at
//!   60) under which the read is equally likely for every allele: a read says at most MAPQ/10
//!   log10 units, a MAPQ-0 read nothing. A read is informative (counted in AD and the strand
//!   table) when its best allele beats the next by ≥ 0.2 log10.
//! - Likelihoods: P(read | genotype) = mean over the genotype's copies; diploid genotypes in VCF
//!   PL order, haploid ones for haploid sites; absent sites are not genotyped.
//! - Priors (GATK's): heterozygosity θ = 1e-3 per SNV/MNP allele, 1.25e-4 per indel allele;
//!   0/k: θ_k, k/k: θ_k/2, j/k: θ_j·θ_k (two independent events), haploid k: θ_k; hom-ref takes
//!   the rest.
//! - Allele balance (paralogs absent from the reference put mismatches at 0.1–0.35 fractions):
//!   besides the genotypes, an explicit artifact hypothesis A says the reads are REF plus the
//!   main ALT (highest AD) at a fraction f uniform on {0.05, 0.10, …, 0.30}. Its prior is 1e-9
//!   when the ALT reads map uniquely (mean MAPQ 60) and rises tenfold per 5 MAPQ below that,
//!   capped at 1e-4 (reached at MAPQ 35), so a clean 8/30 het keeps a usable QUAL while a 6/30
//!   pattern at MAPQ 30 does not (and a balanced 15/15 het at MAPQ 30 keeps QUAL ≈ 28). At 30x a balanced het is only ~10^2 times likelier under
//!   f = 0.5 than under the grid, so QUAL and GQ of MAPQ-60 hets saturate near 80–90 (the
//!   artifact prior), not in the hundreds as GATK's do. A counts as non-variant: QUAL = Phred(P(hom-ref) + P(A)); when
//!   A is the most probable hypothesis the call is hom-ref with the `AlleleBalance` filter. Also,
//!   the one-sided binomial P(alt count ≤ observed | n, 0.5) of the main ALT is reported, and a
//!   het call with P < 1e-4 gets the `AlleleBalance` filter (a recommendation: the writer's
//!   header must declare it). The threshold is low because linked paralog differences are
//!   screened out before genotyping ([`crate::call::reads::paralog`]); what is left to this test
//!   is a lone site, where a true het at 30x shows 4 of 24 reads about once in 1,300 (P 7.7e-4).
//! - Outputs, as GATK 4 defines them: PL = Phred genotype likelihoods (no priors), lowest = 0;
//!   whether a site is called (GT not hom-ref) is decided by the posterior (priors and the
//!   artifact hypothesis A), and a called site's GT is then the genotype whose PL is 0 (GATK's
//!   "use PLs to assign"; a prior can make it differ from the most probable genotype, e.g. `1/2`
//!   where the likelihoods favour it but `0/1` is a priori likelier); GQ = the second-lowest PL,
//!   capped at 99; QUAL = Phred(P(hom-ref)), where the paralog artifact A (reads mismapped onto
//!   a hom-ref site) counts as hom-ref; AD over informative reads; the INFO annotations (FS,
//!   SOR, MQ, QD, rank sums) in [`annotate`]. Every site
//!   with at least one informative read is returned, hom-ref ones included (the VCF keeps the
//!   non-ref GTs, the gVCF all); sites with no informative read give no call.
//!
//! Pure, deterministic (fixed iteration order, no parallel reductions). Cost per site:
//! O(reads × haplotypes + reads × genotypes + reads × 6) for the artifact grid.

pub mod annotate;
mod evidence;
mod model;
mod sites;
mod spanning;
#[cfg(test)]
mod spanning_tests;
mod stats;
#[cfg(test)]
mod tests;

pub use evidence::{mix_mapping_error, read_span};
pub use model::genotypes;
pub use sites::{Site, build_sites};
pub use stats::{binomial_half_lower_tail, fisher_exact_two_sided, fisher_strand};

use super::pairhmm::LikelihoodMatrix;
use super::types::{CandidateVariant, Haplotype, ReadView};
use crate::genome::ploidy::Ploidy;
use crate::vcf::model::CalledVariant;
use evidence::{SiteEvidence, site_evidence};
use model::{artifact_log10_posterior_mass, genotype_log10_likelihoods, genotype_log10_priors};
use model::{log10_sum, phred_likelihoods};

/// Filter name recommended for allele-balance failures.
pub const FILTER_ALLELE_BALANCE: &str = "AlleleBalance";

/// Genotyper parameters (defaults in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct GenotypeConfig {
    pub snv_heterozygosity: f64,
    pub indel_heterozygosity: f64,
    pub informative_log10_margin: f64,
    pub max_mapq: u8,
    pub max_gq: u32,
    pub artifact_fractions: Vec<f64>,
    pub artifact_prior_unique: f64,
    pub artifact_prior_mapq_decade: f64,
    pub artifact_prior_max: f64,
    pub allele_balance_max_p: f64,
}

impl Default for GenotypeConfig {
    fn default() -> Self {
        GenotypeConfig {
            snv_heterozygosity: 1e-3,
            indel_heterozygosity: 1.25e-4,
            informative_log10_margin: 0.2,
            max_mapq: 60,
            max_gq: 99,
            artifact_fractions: vec![0.05, 0.10, 0.15, 0.20, 0.25, 0.30],
            artifact_prior_unique: 1e-9,
            artifact_prior_mapq_decade: 5.0,
            artifact_prior_max: 1e-4,
            allele_balance_max_p: 1e-4,
        }
    }
}

/// A genotyped site with the allele-balance evidence behind its filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteCall {
    pub call: CalledVariant,
    /// One-sided binomial P(main-ALT reads ≤ observed | ref + alt reads, 0.5).
    pub allele_balance_p: Option<f64>,
    /// Posterior probability of the artifact (paralog) hypothesis.
    pub artifact_probability: f64,
    /// Informative reads over the site: (name hash, allele index they support), for phasing.
    pub read_alleles: Vec<(u64, u8)>,
}

/// Genotype every site of a region. `likelihoods` must be the pair-HMM matrix of `reads` ×
/// `haplotypes`; `ploidy(tid, pos)` gives the copies at a site.
pub fn genotype_region(
    candidates: &[CandidateVariant],
    haplotypes: &[Haplotype],
    reads: &[ReadView],
    likelihoods: &LikelihoodMatrix,
    ploidy: impl Fn(u32, u64) -> Ploidy,
    config: &GenotypeConfig,
) -> Vec<SiteCall> {
    let sites = build_sites(candidates, haplotypes);
    let calls: Vec<(usize, SiteCall)> = sites
        .iter()
        .enumerate()
        .filter_map(|(i, site)| {
            let copies = ploidy(site.tid, site.pos).copies();
            if copies == 0 {
                return None;
            }
            let ev = site_evidence(site, reads, likelihoods, config);
            genotype_site(site, &ev, copies, config).map(|c| (i, c))
        })
        .collect();
    let kept = drop_respellings(&sites, calls, reads, likelihoods, config);
    spanning::add_spanning_deletions(&sites, kept, reads, likelihoods, &ploidy, config)
}

/// Loser/winner ratio of preferring reads at or below which an overlapping call is a re-spelling.
const RESPELLING_MAX_RATIO: f64 = 0.4;

/// Overlapping double spellings. Two non-ref calls conflict when a haplotype carrying a called
/// ALT of one carries an event overlapping the other (it speaks for no allele there), so each
/// site, genotyped alone, takes the other's reads as its own ALT support. For such a pair, every
/// read overlapping both sites votes for the call whose ALT haplotypes (those incompatible with the
/// other site) explain it better by ≥ the informative margin; a call whose votes are at most
/// `RESPELLING_MAX_RATIO` of the other's (which has at least one) is the same haplotype spelled
/// again and is dropped; otherwise both stay. Calls on different haplotypes (a het SNV on the
/// other copy of a het deletion) each keep their own reads and both stay.
fn drop_respellings(
    sites: &[Site],
    calls: Vec<(usize, SiteCall)>,
    reads: &[ReadView],
    likelihoods: &LikelihoodMatrix,
    config: &GenotypeConfig,
) -> Vec<(usize, SiteCall)> {
    let alt_haps = |site: &Site, call: &CalledVariant| -> Vec<bool> {
        site.hap_allele
            .iter()
            .map(|a| a.is_some_and(|a| a > 0 && call.genotype.iter().any(|&g| usize::from(g) == a)))
            .collect()
    };
    let mut dropped = vec![false; calls.len()];
    for i in 0..calls.len() {
        for j in i + 1..calls.len() {
            if dropped[i] || dropped[j] {
                continue;
            }
            let (si, ci) = (&sites[calls[i].0], &calls[i].1.call);
            let (sj, cj) = (&sites[calls[j].0], &calls[j].1.call);
            if !ci.genotype.iter().any(|&a| a > 0) || !cj.genotype.iter().any(|&a| a > 0) {
                continue;
            }
            let hi = alt_haps(si, ci);
            let hj = alt_haps(sj, cj);
            // Haplotypes carrying one call's ALT that the other site cannot place.
            let ai: Vec<usize> = (0..hi.len()).filter(|&h| hi[h] && sj.hap_allele[h].is_none()).collect();
            let aj: Vec<usize> = (0..hj.len()).filter(|&h| hj[h] && si.hap_allele[h].is_none()).collect();
            if ai.is_empty() || aj.is_empty() {
                continue;
            }
            let (lo, hi_end) = (si.span().0.max(sj.span().0), si.span().1.min(sj.span().1));
            let (mut vi, mut vj) = (0u32, 0u32);
            for (r, read) in reads.iter().enumerate() {
                let (rs, re) = read_span(read);
                if r >= likelihoods.reads || rs >= hi_end.max(lo + 1) || re <= lo {
                    continue;
                }
                let row = likelihoods.row(r);
                let best = |hs: &[usize]| hs.iter().map(|&h| row[h]).fold(f64::NEG_INFINITY, f64::max);
                let (li, lj) = (best(&ai), best(&aj));
                if li - lj >= config.informative_log10_margin {
                    vi += 1;
                } else if lj - li >= config.informative_log10_margin {
                    vj += 1;
                }
            }
            let loser = if f64::from(vj) <= RESPELLING_MAX_RATIO * f64::from(vi) && vi > 0 {
                Some(j)
            } else if f64::from(vi) <= RESPELLING_MAX_RATIO * f64::from(vj) && vj > 0 {
                Some(i)
            } else {
                None
            };
            if let Some(k) = loser {
                dropped[k] = true;
            }
        }
    }
    calls.into_iter().zip(dropped).filter_map(|(c, d)| (!d).then_some(c)).collect()
}

/// Genotype one site from its evidence; None when no read is informative.
pub(crate) fn genotype_site(
    site: &Site,
    ev: &SiteEvidence,
    copies: usize,
    config: &GenotypeConfig,
) -> Option<SiteCall> {
    genotype_site_with(site, ev, copies, config, None)
}

/// [`genotype_site`], where `star` (when given) is the index of a `*` allele (the haplotypes of
/// an upstream called deletion spanning the site, see [`spanning`]). `*` is not a new event here:
/// a genotype's prior is that of the same genotype with `*` read as REF, QUAL is the probability
/// that the genotype carries no allele but REF and `*`, and the artifact hypothesis and the
/// allele-balance test look at the real ALTs only.
pub(super) fn genotype_site_with(
    site: &Site,
    ev: &SiteEvidence,
    copies: usize,
    config: &GenotypeConfig,
    star: Option<usize>,
) -> Option<SiteCall> {
    let ad = ev.allele_depths();
    if ad.iter().all(|&d| d == 0) {
        return None;
    }
    let gts = genotypes(site.allele_count(), copies);
    let gl = genotype_log10_likelihoods(ev, &gts);
    let prior = match star {
        None => genotype_log10_priors(site, &gts, config),
        Some(s) => spanning::priors_with_star(site, &gts, s, config),
    };
    let mut post: Vec<f64> = gl.iter().zip(&prior).map(|(l, p)| l + p).collect();
    let real_ad: Vec<u32> = match star {
        Some(s) => ad.iter().enumerate().map(|(a, &d)| if a == s { 0 } else { d }).collect(),
        None => ad.clone(),
    };
    let main_alt = main_alt(&real_ad, &post, &gts, star);
    post.push(artifact_log10_posterior_mass(ev, main_alt, config));
    let total = log10_sum(&post);
    post.iter_mut().for_each(|p| *p -= total);
    let artifact = post.len() - 1;
    let best = (0..post.len()).fold(0, |b, i| if post[i] > post[b] { i } else { b });
    // Hom-ref is genotype 0 in VCF order; with `*`, every genotype of REF and `*` only is no
    // variant at this site.
    let no_variant = |i: usize| i == 0 || star.is_some_and(|s| gts[i].iter().all(|&a| a == 0 || usize::from(a) == s));
    let not_variant = match star {
        None => log10_sum(&[post[0], post[artifact]]),
        Some(_) => {
            let parts: Vec<f64> =
                (0..artifact).filter(|&i| no_variant(i)).map(|i| post[i]).chain([post[artifact]]).collect();
            log10_sum(&parts)
        }
    };
    // Whether the site is called is the posterior's decision (priors and the artifact
    // hypothesis); the written GT is then the genotype whose PL is 0 (lowest index on a tie), so
    // GT, GQ and PL agree as downstream tools read them.
    let pl = phred_likelihoods(&gl);
    let gt_index = if best == artifact || best == 0 { 0 } else { argmin_pl(&pl) };
    let genotype = gts[gt_index].clone();
    let n_ab = u64::from(ad[0] + ad[main_alt]);
    let allele_balance_p = (n_ab > 0).then(|| binomial_half_lower_tail(u64::from(ad[main_alt]), n_ab));
    let is_het = genotype.len() == 2 && genotype[0] == 0 && genotype[1] > 0 && !no_variant(gt_index);
    let mut filters = Vec::new();
    if best == artifact || (is_het && allele_balance_p.is_some_and(|p| p < config.allele_balance_max_p)) {
        filters.push(FILTER_ALLELE_BALANCE.to_string());
    }
    let qual = (-10.0 * not_variant).max(0.0);
    let annotations = annotate::annotate(ev, qual, !no_variant(gt_index));
    let call = CalledVariant {
        tid: site.tid,
        pos: site.pos,
        ref_allele: site.ref_allele.clone(),
        alt_alleles: site.alt_alleles.clone(),
        genotype,
        qual,
        gq: second_lowest(&pl).min(config.max_gq),
        pl,
        allele_depths: ad,
        depth: ev.reads() as u32,
        filters,
        fisher_strand: Some(fisher_strand(ev.strand_table())),
        annotations,
        phase: None,
    };
    let read_alleles = ev.names.iter().zip(&ev.supports).filter_map(|(&name, s)| s.map(|a| (name, a as u8))).collect();
    Some(SiteCall { call, allele_balance_p, artifact_probability: 10f64.powf(post[artifact]), read_alleles })
}

/// Index of the lowest PL, the lowest index on a tie.
fn argmin_pl(pl: &[u32]) -> usize {
    (0..pl.len()).fold(0, |b, i| if pl[i] < pl[b] { i } else { b })
}

/// GQ as downstream tools read it: the second-lowest PL (PLs are normalized so the lowest is 0).
fn second_lowest(pl: &[u32]) -> u32 {
    let mut sorted = pl.to_vec();
    sorted.sort_unstable();
    sorted.get(1).copied().unwrap_or(0)
}

/// The ALT the artifact hypothesis and the balance test look at: most informative reads, ties
/// (and no ALT reads) broken by the most probable genotype's first ALT, then the lowest index.
/// A `*` allele is never it (its AD is given as 0 and it is not preferred).
fn main_alt(ad: &[u32], post: &[f64], gts: &[Vec<u8>], star: Option<usize>) -> usize {
    let best_gt = (0..post.len()).fold(0, |b, i| if post[i] > post[b] { i } else { b });
    let real = |a: &&u8| **a > 0 && star != Some(usize::from(**a));
    let preferred = gts.get(best_gt).and_then(|g| g.iter().find(real)).map_or(1, |&a| usize::from(a));
    (1..ad.len()).fold(preferred.min(ad.len().saturating_sub(1)).max(1), |b, a| if ad[a] > ad[b] { a } else { b })
}
