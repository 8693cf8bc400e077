//! The somatic (tumour/normal) caller over one shard: the germline caller's machinery (active
//! regions, local assembly, the windowed pair-HMM), with a tumour/normal model instead of
//! genotypes.
//!
//! Per shard: tumour and normal reads are fetched with the germline read filters but without the
//! paralog screen (a subclone's linked mutations look like a paralog). Active regions come from
//! the tumour pileup at a lower threshold than germline (3 reads and 3 % of the depth), so that
//! subclonal mutations open a region; each region is assembled from tumour and normal reads
//! together, and both samples' reads are scored against its haplotypes. Per site and ALT allele,
//! each read's allele likelihoods are the best haplotype carrying the allele (mapping error mixed
//! in by MAPQ, as for germline); overlapping mates count once (the first mate).
//!
//! Model (per ALT, against REF only):
//! - Tumour log-odds TLOD = max_f Σ log10(f·P(r|ALT) + (1−f)·P(r|REF)) − Σ log10 P(r|REF), the
//!   best-fitting allele fraction f̂ on a grid of 0.005 steps.
//! - Normal log-odds NLOD = Σ log10((1−c·f̂)·P(r|REF) + c·f̂·P(r|ALT)) − Σ log10(½P(r|REF) + ½P(r|ALT))
//!   over normal reads: the normal carrying only tumour-in-normal contamination c (default 3 %)
//!   against carrying the allele as a het. So a normal with a few percent of tumour cells does not
//!   hide a truncal mutation, and a site where the normal carries the allele (germline) fails.
//!   At a germline site the normal's own allele is REF or the germline ALT; a different ALT there
//!   is scored on its own and can be somatic.
//! - A candidate is written when TLOD ≥ 3 (the best ALT of its site); filters (declared in the
//!   header by [`declared_filters`]): `weak_evidence` TLOD < 6.3; `germline` NLOD < 2.2;
//!   `normal_artifact` ≥ 2 ALT reads in the normal at half the tumour's fraction f̂ or more, among
//!   the filtered reads or (SNVs) among the normal's reads at any mapping quality (an ALT the
//!   normal carries on reads the aligner could not place: a segmental duplication); `strand_bias`
//!   FS > 60 with ≥ 4 ALT reads; `orientation` ≥ 5 ALT reads nearly all in one of F1R2/F2R1
//!   (binomial P < 1e-3); `base_qual` median ALT base quality < 20 (SNVs); `map_qual` median ALT
//!   MAPQ < 30; `position` median distance of the ALT base to the nearest read end < 5;
//!   `clustered_events` 3 or more candidates with TLOD ≥ 6.3 in one active region that are not
//!   germline (normal-filtered) variants.
//!
//! Identity: [`IdentityCounts`] over each shard core (pileups of both samples), summed over the
//! shards and judged by [`identity::check`], which refuses a pair whose tumour shares too few of
//! the normal's germline sites. Resources (panel of normals, population allele frequencies) filter
//! the calls afterwards: [`filters`].
//!
//! Not yet: multi-allelic somatic records.
//! Cost: as germline per region (assembly plus pair-HMM over both samples' reads), plus
//! O(reads × 200) per candidate for the fraction grid.

pub mod filters;
pub mod identity;

pub use identity::IdentityCounts;

use super::CallError;
use super::active::{ActiveConfig, active_regions};
use super::assembly::AssemblyConfig;
use super::genotype::{Site, binomial_half_lower_tail, build_sites, fisher_strand, mix_mapping_error, read_span};
use super::pairhmm::{LikelihoodMatrix, PairHmmConfig, region_likelihood_matrix};
use super::reads::downsample::{ReadsByStart, reads_for_region};
use super::reads::evidence::pileup_evidence;
use super::reads::paralog::ParalogScreen;
use super::reads::walk::{Event, walk};
use super::reads::{ReadFilter, fetch_reads};
use super::region::{ShardWindow, is_acgt, sort_dedup};
use super::shards::Shard;
use super::types::ReadView;
use crate::genome::Reference;
use crate::vcf::model::{SomaticCall, SomaticSample};
use identity::identity_counts;
use rust_htslib::bam;
use std::collections::HashSet;

/// `normal_artifact`: the normal shows the ALT at half the tumour's fraction or more, far above
/// any plausible tumour-in-normal contamination (which puts a truncal ALT at c × f̂ in the normal).
const NORMAL_ARTIFACT_RATIO: f64 = 0.5;

/// Everything the somatic caller can be tuned with.
#[derive(Debug, Clone)]
pub struct SomaticConfig {
    pub reads: ReadFilter,
    pub active: ActiveConfig,
    pub assembly: AssemblyConfig,
    pub pairhmm: PairHmmConfig,
    /// Reads kept per sample and active region (deterministic downsampling above).
    pub region_depth_cap: usize,
    pub shard_padding: u64,
    /// Fraction of tumour cells expected in the normal (c in the module docs).
    pub tumour_in_normal: f64,
    pub emit_log_odds: f64,
    pub min_tumour_log_odds: f64,
    pub min_normal_log_odds: f64,
    /// A read supports an allele when it is this many log10 units likelier than the other.
    pub informative_margin: f64,
    pub max_mapq: u8,
}

impl Default for SomaticConfig {
    fn default() -> Self {
        let active = ActiveConfig { min_alt: 3, min_fraction_pct: 3, ..ActiveConfig::default() };
        let assembly = AssemblyConfig { rescue_min_reads: 3, rescue_min_pct: 3, ..AssemblyConfig::default() };
        let reads =
            ReadFilter { paralog: ParalogScreen { min_sites: 0, ..ParalogScreen::default() }, ..ReadFilter::default() };
        SomaticConfig {
            reads,
            active,
            assembly,
            pairhmm: PairHmmConfig::default(),
            region_depth_cap: 1000,
            shard_padding: 3000,
            tumour_in_normal: 0.03,
            emit_log_odds: 3.0,
            min_tumour_log_odds: 6.3,
            min_normal_log_odds: 2.2,
            informative_margin: 0.2,
            max_mapq: 60,
        }
    }
}

/// Filter names and descriptions for the header.
pub fn declared_filters(cfg: &SomaticConfig) -> Vec<(String, String)> {
    vec![
        ("base_qual".into(), "Median base quality of ALT reads below 20".into()),
        ("clustered_events".into(), "Three or more somatic candidates in one active region".into()),
        (
            "germline".into(),
            format!("Normal log-odds below {} (the normal may carry the allele)", cfg.min_normal_log_odds),
        ),
        ("map_qual".into(), "Median mapping quality of ALT reads below 30".into()),
        ("normal_artifact".into(), "ALT reads in the normal beyond what tumour-in-normal explains".into()),
        (
            "orientation".into(),
            "ALT reads nearly all in one read orientation (F1R2/F2R1): oxidation or FFPE artifact".into(),
        ),
        ("position".into(), "ALT seen only near read ends (median distance below 5)".into()),
        ("strand_bias".into(), "ALT reads on one strand (FS above 60)".into()),
        ("weak_evidence".into(), format!("Tumour log-odds below {}", cfg.min_tumour_log_odds)),
    ]
}

/// One read's view of one site: REF and ALT log-likelihoods and what the filters need.
#[derive(Debug, Clone, Copy)]
struct ReadAtSite {
    l_ref: f64,
    l_alt: f64,
    /// Some(true): supports ALT; Some(false): supports REF; None: uninformative.
    supports_alt: Option<bool>,
    reverse: bool,
    f1r2: bool,
    mapq: u8,
    base_qual: Option<u8>,
    end_distance: Option<usize>,
}

/// What one shard of a pair produced (serde: so that ranks can send it, as for germline).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ShardSomatic {
    pub calls: Vec<SomaticCall>,
    pub identity: IdentityCounts,
}

/// Calls one shard of a tumour/normal pair; one indexed reader per sample.
pub fn call_shard_somatic(
    shard: &Shard,
    contig: &str,
    tumour_reader: &mut bam::IndexedReader,
    normal_reader: &mut bam::IndexedReader,
    reference: &Reference,
    cfg: &SomaticConfig,
) -> Result<ShardSomatic, CallError> {
    let Some(window) = ShardWindow::fetch(reference, contig, shard)? else {
        return Ok(ShardSomatic::default());
    };
    let tumour = fetch_reads(tumour_reader, shard.tid, shard.padded_start, shard.padded_end, &cfg.reads)?;
    // The normal at any mapping quality too: an ALT that the normal carries only on reads the
    // aligner could not place (a segmental duplication) is not somatic either. One fetch; the
    // filtered normal is its reads at the MAPQ floor (the paralog screen is off here).
    let any_mapq = ReadFilter { min_mapq: 0, ..cfg.reads };
    let normal_any = fetch_reads(normal_reader, shard.tid, shard.padded_start, shard.padded_end, &any_mapq)?;
    let normal: Vec<ReadView> = normal_any.iter().filter(|r| r.mapq >= cfg.reads.min_mapq).cloned().collect();
    let (tumour_near, normal_near) = (ReadsByStart::new(&tumour), ReadsByStart::new(&normal));
    let identity = identity_counts(
        &pileup_evidence(&tumour, &window.bases, shard.padded_start, cfg.active.min_base_qual),
        &pileup_evidence(&normal, &window.bases, shard.padded_start, cfg.active.min_base_qual),
        window.core.clone(),
    );
    let mut calls = Vec::new();
    for region in active_regions(shard.tid, &window.bases, shard.padded_start, &tumour, &cfg.active) {
        if !shard.owns_region(&region) {
            continue;
        }
        let cap = cfg.region_depth_cap.max(1);
        let t_reads = reads_for_region(tumour_near.reads_near(&region), &region, cap);
        let n_reads = reads_for_region(normal_near.reads_near(&region), &region, cap);
        let both: Vec<ReadView> = t_reads.iter().chain(&n_reads).cloned().collect();
        let Some(assembly) = window.assemble(&region, &both, &cfg.assembly) else { continue };
        let (cands, haps) = (&assembly.candidates, &assembly.haplotypes);
        let t_matrix = region_likelihood_matrix(&region, cands, &t_reads, haps, &cfg.pairhmm);
        let n_matrix = region_likelihood_matrix(&region, cands, &n_reads, haps, &cfg.pairhmm);
        let mut region_calls: Vec<SomaticCall> = build_sites(cands, haps)
            .iter()
            .filter_map(|site| call_site(site, &t_reads, &t_matrix, &n_reads, &n_matrix, cfg))
            .collect();
        // Germline variants (failing the normal test) are expected neighbours, not a cluster.
        for call in &mut region_calls {
            if call.ref_allele.len() == 1 && call.alt_allele.len() == 1 {
                let (alt, depth) = base_count(&normal_any, call.pos, call.alt_allele[0]);
                if alt >= 2 && f64::from(alt) >= NORMAL_ARTIFACT_RATIO * call.tumour.alt_fraction * f64::from(depth) {
                    call.filters.push("normal_artifact".to_string());
                }
            }
        }
        let strong = region_calls
            .iter()
            .filter(|c| c.tumour_log_odds >= cfg.min_tumour_log_odds)
            .filter(|c| !c.filters.iter().any(|f| f == "germline" || f == "normal_artifact"))
            .count();
        for call in &mut region_calls {
            if strong >= 3 {
                call.filters.push("clustered_events".into());
            }
            call.filters.sort();
            call.filters.dedup();
        }
        calls.extend(region_calls);
    }
    calls.retain(|c| c.ref_allele.iter().copied().all(is_acgt));
    sort_dedup(&mut calls, |a, b| (a.pos, &a.ref_allele, &a.alt_allele).cmp(&(b.pos, &b.ref_allele, &b.alt_allele)));
    Ok(ShardSomatic { calls, identity })
}

/// The best ALT of a site as a somatic candidate, when its TLOD reaches the emit threshold.
fn call_site(
    site: &Site,
    t_reads: &[ReadView],
    t_matrix: &LikelihoodMatrix,
    n_reads: &[ReadView],
    n_matrix: &LikelihoodMatrix,
    cfg: &SomaticConfig,
) -> Option<SomaticCall> {
    let mut best: Option<(f64, f64, usize, Vec<ReadAtSite>)> = None;
    for alt in 1..site.allele_count() {
        let tumour = reads_at_site(site, alt, t_reads, t_matrix, cfg);
        let (tlod, f_hat) = tumour_log_odds(&tumour);
        if best.as_ref().is_none_or(|b| tlod > b.0) {
            best = Some((tlod, f_hat, alt, tumour));
        }
    }
    let (tlod, f_hat, alt, tumour) = best?;
    if tlod < cfg.emit_log_odds {
        return None;
    }
    let normal = reads_at_site(site, alt, n_reads, n_matrix, cfg);
    let nlod = normal_log_odds(&normal, cfg.tumour_in_normal * f_hat);
    let t = summarize(&tumour, Some(f_hat));
    let n = summarize(&normal, None);
    let mut filters = Vec::new();
    if tlod < cfg.min_tumour_log_odds {
        filters.push("weak_evidence".to_string());
    }
    if nlod < cfg.min_normal_log_odds {
        filters.push("germline".to_string());
    }
    if n.alt_reads >= 2 && n.alt_fraction >= NORMAL_ARTIFACT_RATIO * f_hat {
        filters.push("normal_artifact".to_string());
    }
    let alt_reads: Vec<&ReadAtSite> = tumour.iter().filter(|r| r.supports_alt == Some(true)).collect();
    let ref_reads: Vec<&ReadAtSite> = tumour.iter().filter(|r| r.supports_alt == Some(false)).collect();
    let count = |rs: &[&ReadAtSite], reverse: bool| rs.iter().filter(|r| r.reverse == reverse).count() as u64;
    let table = [count(&ref_reads, false), count(&ref_reads, true), count(&alt_reads, false), count(&alt_reads, true)];
    if alt_reads.len() >= 4 && fisher_strand(table) > 60.0 {
        filters.push("strand_bias".to_string());
    }
    let n_alt = alt_reads.len() as u64;
    let alt_f1r2 = alt_reads.iter().filter(|r| r.f1r2).count() as u64;
    if n_alt >= 5 && binomial_half_lower_tail(alt_f1r2.min(n_alt - alt_f1r2), n_alt) < 1e-3 {
        filters.push("orientation".to_string());
    }
    let is_snv = site.ref_allele.len() == 1 && site.alt_alleles[alt - 1].len() == 1;
    if is_snv && median(alt_reads.iter().filter_map(|r| r.base_qual.map(usize::from))).is_some_and(|q| q < 20) {
        filters.push("base_qual".to_string());
    }
    if median(alt_reads.iter().map(|r| usize::from(r.mapq))).is_some_and(|q| q < 30) {
        filters.push("map_qual".to_string());
    }
    if median(alt_reads.iter().filter_map(|r| r.end_distance)).is_some_and(|d| d < 5) {
        filters.push("position".to_string());
    }
    // Trim the REF/ALT pair to a parsimonious biallelic record (the site's REF is the longest
    // of its alleles; a shorter ALT's shared suffix goes).
    let (ref_allele, alt_allele) = trim_shared_suffix(&site.ref_allele, &site.alt_alleles[alt - 1]);
    Some(SomaticCall {
        tid: site.tid,
        pos: site.pos,
        ref_allele,
        alt_allele,
        tumour_log_odds: tlod,
        normal_log_odds: nlod,
        tumour: t,
        normal: n,
        filters,
    })
}

fn trim_shared_suffix(r: &[u8], a: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut k = 0;
    while k + 1 < r.len() && k + 1 < a.len() && r[r.len() - 1 - k] == a[a.len() - 1 - k] {
        k += 1;
    }
    (r[..r.len() - k].to_vec(), a[..a.len() - k].to_vec())
}

fn median(values: impl Iterator<Item = usize>) -> Option<usize> {
    let mut v: Vec<usize> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// The reads over a site with their REF and ALT likelihoods; overlapping mates once.
fn reads_at_site(
    site: &Site,
    alt: usize,
    reads: &[ReadView],
    matrix: &LikelihoodMatrix,
    cfg: &SomaticConfig,
) -> Vec<ReadAtSite> {
    let (start, end) = site.span();
    let overlapping: Vec<usize> = (0..reads.len().min(matrix.reads))
        .filter(|&r| {
            let (rs, re) = read_span(&reads[r]);
            rs < end && re > start
        })
        .collect();
    let firsts: HashSet<u64> =
        overlapping.iter().filter(|&&r| reads[r].first_of_pair).map(|&r| reads[r].name_hash).collect();
    let mut out = Vec::with_capacity(overlapping.len());
    for r in overlapping {
        let read = &reads[r];
        if !read.first_of_pair && firsts.contains(&read.name_hash) {
            continue;
        }
        let row = matrix.row(r);
        let allele_best = |a: usize| {
            row.iter()
                .zip(&site.hap_allele)
                .filter(|(_, h)| **h == Some(a))
                .map(|(&l, _)| l)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let (l_ref, l_alt) = (allele_best(0), allele_best(alt));
        if !l_ref.is_finite() || !l_alt.is_finite() {
            continue;
        }
        // Mapping error, as for germline: with probability 10^(−MAPQ/10) the read is from elsewhere.
        let mut pair = [l_ref, l_alt];
        mix_mapping_error(&mut pair, read.mapq, cfg.max_mapq);
        let [l_ref, l_alt] = pair;
        let supports_alt = if l_alt - l_ref >= cfg.informative_margin {
            Some(true)
        } else if l_ref - l_alt >= cfg.informative_margin {
            Some(false)
        } else {
            None
        };
        let idx = read_index_at(read, site.pos);
        out.push(ReadAtSite {
            l_ref,
            l_alt,
            supports_alt,
            reverse: read.reverse,
            f1r2: read.first_of_pair != read.reverse,
            mapq: read.mapq,
            base_qual: idx.and_then(|i| read.quals.get(i).copied()),
            end_distance: idx.map(|i| i.min(read.bases.len().saturating_sub(1 + i))),
        });
    }
    out
}

/// Reads showing `base` (quality ≥ 10) at `pos`, and reads with any base there of that quality.
fn base_count(reads: &[ReadView], pos: u64, base: u8) -> (u32, u32) {
    let lo = reads.partition_point(|r| r.ref_start + 1000 <= pos);
    let (mut alt, mut depth) = (0, 0);
    for read in reads[lo..].iter().take_while(|r| r.ref_start <= pos) {
        if let Some(i) = read_index_at(read, pos)
            && read.quals.get(i).is_some_and(|&q| q >= 10)
        {
            depth += 1;
            if read.bases.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&base)) {
                alt += 1;
            }
        }
    }
    (alt, depth)
}

/// The read base aligned to reference position `pos`, if any.
fn read_index_at(read: &ReadView, pos: u64) -> Option<usize> {
    let mut found = None;
    walk(read, |e| {
        if let Event::Base { ref_pos, read_idx } = e
            && ref_pos == pos
        {
            found = Some(read_idx);
        }
    });
    found
}

/// Σ log10(f·P(ALT) + (1−f)·P(REF)).
fn mixture_log10(reads: &[ReadAtSite], f: f64) -> f64 {
    reads
        .iter()
        .map(|r| {
            let m = r.l_ref.max(r.l_alt);
            (f * 10f64.powf(r.l_alt - m) + (1.0 - f) * 10f64.powf(r.l_ref - m)).log10() + m
        })
        .sum()
}

/// TLOD and the best-fitting ALT fraction on a 0.005 grid.
fn tumour_log_odds(reads: &[ReadAtSite]) -> (f64, f64) {
    let none = mixture_log10(reads, 0.0);
    let (mut best, mut best_f) = (none, 0.0);
    for k in 1..=200 {
        let f = f64::from(k) * 0.005;
        let l = mixture_log10(reads, f);
        if l > best {
            (best, best_f) = (l, f);
        }
    }
    (best - none, best_f)
}

/// NLOD: the normal at contamination fraction `contamination` against a het.
fn normal_log_odds(reads: &[ReadAtSite], contamination: f64) -> f64 {
    mixture_log10(reads, contamination) - mixture_log10(reads, 0.5)
}

fn summarize(reads: &[ReadAtSite], fraction: Option<f64>) -> SomaticSample {
    let mut s = SomaticSample { depth: reads.len() as u32, ..SomaticSample::default() };
    for r in reads {
        let Some(alt) = r.supports_alt else { continue };
        let a = usize::from(alt);
        if alt {
            s.alt_reads += 1;
        } else {
            s.ref_reads += 1;
        }
        if r.f1r2 {
            s.f1r2[a] += 1;
        } else {
            s.f2r1[a] += 1;
        }
    }
    let informative = s.ref_reads + s.alt_reads;
    s.alt_fraction =
        fraction.unwrap_or(if informative == 0 { 0.0 } else { f64::from(s.alt_reads) / f64::from(informative) });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(alt: bool, strength: f64) -> ReadAtSite {
        let (l_ref, l_alt) = if alt { (-strength, 0.0) } else { (0.0, -strength) };
        ReadAtSite {
            l_ref,
            l_alt,
            supports_alt: Some(alt),
            reverse: false,
            f1r2: true,
            mapq: 60,
            base_qual: Some(37),
            end_distance: Some(50),
        }
    }

    #[test]
    fn tumour_fraction_is_estimated_and_log_odds_grow_with_support() {
        let mut reads: Vec<ReadAtSite> = (0..90).map(|_| read(false, 3.0)).collect();
        reads.extend((0..10).map(|_| read(true, 3.0)));
        let (tlod, f) = tumour_log_odds(&reads);
        assert!((f - 0.1).abs() < 0.02, "{f}");
        assert!(tlod > 15.0, "{tlod}");
        let (none, f0) = tumour_log_odds(&reads[..90]);
        assert!(none.abs() < 1e-9 && f0 == 0.0);
    }

    #[test]
    fn normal_log_odds_separate_germline_from_tumour_in_normal() {
        // Clean normal, 30 reads: confidently not a het.
        let clean: Vec<ReadAtSite> = (0..30).map(|_| read(false, 3.0)).collect();
        assert!(normal_log_odds(&clean, 0.015) > 5.0);
        // One ALT read out of 30 (tumour in normal): still not a het.
        let mut tin = clean.clone();
        tin[0] = read(true, 3.0);
        assert!(normal_log_odds(&tin, 0.015) > 2.2, "{}", normal_log_odds(&tin, 0.015));
        // A germline het: 14 of 30 ALT.
        let het: Vec<ReadAtSite> = (0..30).map(|k| read(k < 14, 3.0)).collect();
        assert!(normal_log_odds(&het, 0.015) < 0.0);
    }

    #[test]
    fn suffix_trim_keeps_one_base() {
        assert_eq!(trim_shared_suffix(b"ACGT", b"AGT"), (b"AC".to_vec(), b"A".to_vec()));
        assert_eq!(trim_shared_suffix(b"AT", b"GT"), (b"A".to_vec(), b"G".to_vec()));
    }
}
