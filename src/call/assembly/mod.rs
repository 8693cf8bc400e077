//! Local assembly of one active region into candidate haplotypes and candidate variants.
//!
//! Algorithm: the reads' bases that fall in the region (soft clips included, placed by
//! extrapolating the alignment) and the reference window build a de Bruijn graph ([`graph`]):
//! k = 25 first, then 35, 45, 55 while a k-mer repeats in the reference window or the pruned
//! graph has a cycle; read edges seen in fewer than 2 reads and k-mers with a base below
//! quality 10 are pruned. Up to 128 paths, best first by transition probability, become
//! haplotypes spanning the window; each is aligned to the reference ([`align`]: trimmed
//! prefix/suffix, Gotoh affine gaps) and its differences become left-aligned VCF-style variants
//! ([`variants`]: an MNP as its SNVs, a complex event as its SNVs and indels). Haplotypes with an
//! indel longer than 50 bp are dropped. Pileup alleles ([`pileup`]) back assembly up: when no k
//! gives a usable graph, every allele seen in ≥ 2 reads (bases of quality ≥ 20) becomes a
//! candidate; when assembly worked, alleles it missed that have ≥ 2 reads and ≥ 15 % of the depth
//! are added. Each pileup candidate gets a haplotype of its own (the reference plus it).
//! Output: candidates sorted and unique; haplotypes with the reference haplotype first, each
//! listing its candidates' indices. Deterministic: ties are broken by node ids, which follow
//! reference then read order, and reads come sorted.
//! Cost: graph O(bases in region); paths O(edges × 128); alignment O(haplotypes × d²) where d is
//! the span between a haplotype's first and last difference.

pub mod align;
pub mod graph;
pub mod pileup;
pub mod variants;

#[cfg(test)]
pub(crate) mod tests;

use crate::call::types::{ActiveRegion, CandidateVariant, Haplotype, ReadView};
use graph::{Graph, Segment};
use std::collections::BTreeSet;
use variants::LocalVariant;

/// Assembly parameters (defaults in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssemblyConfig {
    pub kmer_sizes: Vec<usize>,
    pub min_kmer_qual: u8,
    pub min_edge_weight: u32,
    pub max_haplotypes: usize,
    pub max_indel_len: usize,
    pub pileup_min_base_qual: u8,
    pub fallback_min_reads: u32,
    pub rescue_min_reads: u32,
    pub rescue_min_pct: u32,
}

impl Default for AssemblyConfig {
    fn default() -> Self {
        AssemblyConfig {
            kmer_sizes: vec![25, 35, 45, 55],
            min_kmer_qual: 10,
            min_edge_weight: 2,
            max_haplotypes: 128,
            max_indel_len: 50,
            pileup_min_base_qual: 20,
            fallback_min_reads: 2,
            rescue_min_reads: 2,
            rescue_min_pct: 15,
        }
    }
}

/// What assembly found in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembly {
    pub candidates: Vec<CandidateVariant>,
    /// Reference haplotype first; every haplotype spans the region.
    pub haplotypes: Vec<Haplotype>,
    /// The k that gave the graph; `None` when only pileup candidates were used.
    pub kmer_size: Option<usize>,
}

/// Read indices whose (extrapolated) reference position lies in `start..end`, as a range: the
/// pair-HMM's read placement ([`crate::call::pairhmm::window::place_read`]).
fn project(read: &ReadView, start: u64, end: u64) -> Option<(usize, usize)> {
    crate::call::pairhmm::window::place_read(read, start, end).map(|p| p.bases)
}

/// Assembles `region` from its reference bases (`reference` = `region.start..region.end`) and
/// the reads overlapping it (already filtered and capped).
pub fn assemble(region: &ActiveRegion, reference: &[u8], reads: &[ReadView], cfg: &AssemblyConfig) -> Assembly {
    let segments: Vec<Segment<'_>> = reads
        .iter()
        .filter_map(|r| {
            let (lo, hi) = project(r, region.start, region.end)?;
            Some(Segment { bases: &r.bases[lo..hi], quals: &r.quals[lo..hi] })
        })
        .collect();
    let mut haps: Vec<(Vec<u8>, Vec<LocalVariant>)> = Vec::new();
    let mut kmer_size = None;
    for &k in &cfg.kmer_sizes {
        if let Some(g) = Graph::build(reference, &segments, k, cfg.min_kmer_qual, cfg.min_edge_weight) {
            kmer_size = Some(k);
            haps = assembled_haplotypes(&g, reference, cfg);
            break;
        }
    }
    add_pileup_haplotypes(&mut haps, reference, reads, region.start, kmer_size.is_some(), cfg);
    finish(region, reference, haps, kmer_size)
}

/// The graph's best paths as (bases, variants), the reference path excluded.
fn assembled_haplotypes(g: &Graph, reference: &[u8], cfg: &AssemblyConfig) -> Vec<(Vec<u8>, Vec<LocalVariant>)> {
    g.best_paths(cfg.max_haplotypes)
        .into_iter()
        .filter(|p| p.as_slice() != reference)
        .filter_map(|p| {
            let vars = variants::variants(&align::diffs(&p, reference), reference);
            let too_long = vars.iter().any(|v| v.indel_len() > cfg.max_indel_len);
            (!too_long && !vars.is_empty()).then_some((p, vars))
        })
        .collect()
}

/// Adds one haplotype per pileup allele that assembly missed (all of them when it failed),
/// then, when assembly failed, read-backed combinations: pileup alleles that reads carry together (a hom-alt SNV 6 bp
/// from another, an STR change beside a SNV) get one haplotype per combination seen in at
/// least `rescue_min_reads` reads. Without them a read carrying two pileup alleles fits each
/// single-allele haplotype equally badly and speaks for neither.
fn add_pileup_haplotypes(
    haps: &mut Vec<(Vec<u8>, Vec<LocalVariant>)>,
    reference: &[u8],
    reads: &[ReadView],
    window_start: u64,
    assembled: bool,
    cfg: &AssemblyConfig,
) {
    let known: BTreeSet<LocalVariant> = haps.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
    let mut usable: BTreeSet<LocalVariant> = BTreeSet::new();
    let mut added: BTreeSet<LocalVariant> = BTreeSet::new();
    for allele in pileup::pileup_alleles(reads, reference, window_start, cfg.pileup_min_base_qual) {
        let keep = if assembled {
            allele.reads >= cfg.rescue_min_reads && allele.reads * 100 >= cfg.rescue_min_pct * allele.depth
        } else {
            allele.reads >= cfg.fallback_min_reads
        };
        let v = allele.variant;
        if v.indel_len() > cfg.max_indel_len {
            continue;
        }
        if known.contains(&v) {
            usable.insert(v);
            continue;
        }
        if !keep || haps.len() + 1 >= cfg.max_haplotypes {
            continue;
        }
        haps.push((apply_variants(reference, std::slice::from_ref(&v)), vec![v.clone()]));
        usable.insert(v.clone());
        added.insert(v);
    }
    if assembled || added.is_empty() {
        return;
    }
    let mut combos: std::collections::BTreeMap<Vec<LocalVariant>, u32> = std::collections::BTreeMap::new();
    for read in reads {
        let mut carried: Vec<LocalVariant> =
            pileup::read_alleles(read, reference, window_start, cfg.pileup_min_base_qual, None)
                .into_iter()
                .filter(|v| usable.contains(v))
                .collect();
        carried.sort();
        carried.dedup();
        if carried.len() >= 2 && carried.iter().any(|v| added.contains(v)) && non_overlapping(&carried) {
            *combos.entry(carried).or_insert(0) += 1;
        }
    }
    let mut ranked: Vec<(u32, Vec<LocalVariant>)> =
        combos.into_iter().filter(|&(_, n)| n >= cfg.rescue_min_reads).map(|(c, n)| (n, c)).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, combo) in ranked {
        if haps.len() + 1 >= cfg.max_haplotypes {
            break;
        }
        let bases = apply_variants(reference, &combo);
        if haps.iter().any(|(b, _)| *b == bases) {
            continue;
        }
        // Reads in repeats carry one haplotype in several aligner spellings: realign the
        // combination to the reference, as assembled paths are, for one canonical spelling.
        let vars = variants::variants(&align::diffs(&bases, reference), reference);
        if vars.is_empty() || vars.iter().any(|v| v.indel_len() > cfg.max_indel_len) {
            continue;
        }
        haps.push((bases, vars));
    }
}

/// Whether sorted variants leave each other's reference bases alone.
fn non_overlapping(vars: &[LocalVariant]) -> bool {
    vars.windows(2).all(|w| w[0].pos + w[0].ref_allele.len() <= w[1].pos)
}

/// The window with `vars` (sorted, non-overlapping) applied.
fn apply_variants(reference: &[u8], vars: &[LocalVariant]) -> Vec<u8> {
    let mut bases = Vec::with_capacity(reference.len() + 64);
    let mut at = 0;
    for v in vars {
        bases.extend_from_slice(&reference[at..v.pos]);
        bases.extend_from_slice(&v.alt_allele);
        at = v.pos + v.ref_allele.len();
    }
    bases.extend_from_slice(&reference[at..]);
    bases
}

/// Sorted unique candidates and haplotypes indexing them, the reference haplotype first.
fn finish(
    region: &ActiveRegion,
    reference: &[u8],
    haps: Vec<(Vec<u8>, Vec<LocalVariant>)>,
    kmer_size: Option<usize>,
) -> Assembly {
    let unique: Vec<LocalVariant> =
        haps.iter().flat_map(|(_, v)| v.iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
    let candidates = unique
        .iter()
        .map(|v| CandidateVariant {
            tid: region.tid,
            pos: region.start + v.pos as u64,
            ref_allele: v.ref_allele.clone(),
            alt_allele: v.alt_allele.clone(),
        })
        .collect();
    let mut haplotypes = vec![Haplotype { bases: reference.to_vec(), is_reference: true, variants: Vec::new() }];
    for (bases, vars) in haps {
        let mut idx: Vec<usize> = vars.iter().filter_map(|v| unique.binary_search(v).ok()).collect();
        idx.sort_unstable();
        idx.dedup();
        haplotypes.push(Haplotype { bases, is_reference: false, variants: idx });
    }
    Assembly { candidates, haplotypes, kmer_size }
}
