//! The germline caller over one shard: reads → active regions → local assembly → pair-HMM →
//! genotypes, plus reference confidence for the gVCF and the callable regions.
//!
//! A shard reads its whole padded window and finds active regions there; it emits the calls of
//! the regions it owns (their start in its core, [`super::shards`]), even where a call lies past
//! the core's end, and also genotypes regions that start in its left padding but reach into its
//! core, only to keep their variants' REF spans out of its reference blocks. With a padding well
//! above the longest active region, every shard sees the same regions near an edge, so shard
//! edges neither create nor lose variants, and the gVCF does not depend on the shard size. Reference confidence is computed
//! per position of the core from the filtered pileup: with r reference-supporting and a other
//! observations and a per-base error e, log-likelihoods of 0/0, 0/1, 1/1 (or 0, 1 when haploid)
//! give PL and GQ; positions inside a called variant's REF are not blocks. Reference positions
//! that are not A/C/G/T (N runs: gaps, centromeres) are never reference-confident: no block, not
//! callable, not counted in the coverage figures, and no call has such a base in its REF; a
//! shard whose core is all N returns at once without fetching reads. Per-position blocks
//! are merged within the shard by GQ band, and merged again at the gather, which gives the same
//! blocks whatever the shard size.
//!
//! Depth guard: positions whose filtered depth is above `depth_guard` (a collapsed repeat, a
//! pileup far above the sample's depth, where assembly and the pair-HMM could run for hours on
//! reads that are not from one locus) are not called: active regions touching them are
//! skipped, and the positions are written as no-call gVCF blocks and left out of the callable
//! regions; the shard counts both.
//!
//! Het calls are phased by the reads and read pairs they share ([`phasing`]: links within the
//! shard here, across shard edges at the gather).
//!
//! Cost: one indexed fetch per shard; pileup O(aligned bases); per active region, assembly plus a
//! pair-HMM of reads × haplotypes × read length × haplotype length.

pub mod gather;
pub mod phasing;

use super::CallError;
use super::active::{ActiveConfig, active_regions_in};
use super::assembly::AssemblyConfig;
use super::genotype::{GenotypeConfig, genotype_region};
use super::pairhmm::{PairHmmConfig, region_likelihood_matrix};
use super::reads::downsample::{DEFAULT_REGION_CAP, ReadsByStart, reads_for_region};
use super::reads::evidence::{Evidence, UNIT, pileup_evidence};
use super::reads::{ReadFilter, fetch_reads};
use super::region::{ShardWindow, is_acgt, sort_dedup};
use super::shards::Shard;
use crate::genome::Reference;
use crate::genome::ploidy::{Ploidy, PloidyMap};
use crate::vcf::model::{CalledVariant, RefBlock};
use crate::vcf::writer::{GqBands, GvcfBlockMerger};
use rust_htslib::bam;

/// Everything the caller can be tuned with; defaults in each module.
#[derive(Debug, Clone)]
pub struct GermlineConfig {
    pub reads: ReadFilter,
    pub active: ActiveConfig,
    pub assembly: AssemblyConfig,
    pub pairhmm: PairHmmConfig,
    pub genotype: GenotypeConfig,
    pub filters: FilterConfig,
    /// Reads kept per active region (deterministic downsampling above).
    pub region_depth_cap: usize,
    /// Bases of context on each side of a shard (far more than an active region's reach).
    pub shard_padding: u64,
    /// The gVCF's reference-block GQ bands.
    pub gq_bands: GqBands,
    /// Filtered depth above which positions are not called (see the module docs); `None`: no guard.
    pub depth_guard: Option<u32>,
}

impl Default for GermlineConfig {
    fn default() -> Self {
        GermlineConfig {
            reads: ReadFilter::default(),
            active: ActiveConfig::default(),
            assembly: AssemblyConfig::default(),
            pairhmm: PairHmmConfig::default(),
            genotype: GenotypeConfig::default(),
            filters: FilterConfig::default(),
            region_depth_cap: DEFAULT_REGION_CAP,
            shard_padding: 3000,
            gq_bands: GqBands::default(),
            depth_guard: None,
        }
    }
}

/// Hard filters applied after genotyping; each is declared in the VCF header.
#[derive(Debug, Clone, Copy)]
pub struct FilterConfig {
    /// `LowQual`: QUAL below this.
    pub min_qual: f64,
    /// `LowDepth`: DP below this.
    pub min_depth: u32,
    /// `StrandBias`: FS above this (SNVs; indels use `max_fs_indel`).
    pub max_fs_snv: f64,
    pub max_fs_indel: f64,
    /// Callable: depth at least this and GQ at least `callable_min_gq`.
    pub callable_min_depth: u32,
    pub callable_min_gq: u32,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            min_qual: 10.0,
            min_depth: 4,
            max_fs_snv: 60.0,
            max_fs_indel: 200.0,
            callable_min_depth: 8,
            callable_min_gq: 20,
        }
    }
}

/// The filters a germline VCF may name, with their header descriptions.
pub fn declared_filters(f: &FilterConfig) -> Vec<(String, String)> {
    vec![
        ("LowQual".into(), format!("QUAL below {}", f.min_qual)),
        ("LowDepth".into(), format!("Filtered depth below {}", f.min_depth)),
        ("StrandBias".into(), format!("FS above {} (SNV) or {} (indel)", f.max_fs_snv, f.max_fs_indel)),
        (
            super::genotype::FILTER_ALLELE_BALANCE.into(),
            "Allele fraction far from the genotype's expectation (paralog or artifact pattern)".into(),
        ),
    ]
}

/// What one shard produced, in reference order, owned by the shard (serde: sent between MPI ranks).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ShardCalls {
    pub variants: Vec<CalledVariant>,
    /// Reference blocks of the core, merged by GQ band within the shard.
    pub blocks: Vec<RefBlock>,
    /// Callable intervals (tid, start, end) of the core.
    pub callable: Vec<(u32, u64, u64)>,
    /// Sum of filtered depth over the core and the number of positions, for coverage figures.
    pub depth_sum: u64,
    pub positions: u64,
    /// The phase links of the shard's hets (resolved across shards at the gather).
    #[serde(default)]
    pub phasing: phasing::ShardPhasing,
    /// Core positions above the depth guard, and the active regions this shard owns that the
    /// guard skipped.
    #[serde(default)]
    pub guarded_positions: u64,
    #[serde(default)]
    pub guarded_regions: u64,
}

/// A PASS het SNV `A>G` at `pos` on contig 0 (GT 0/1, 15/15 reads), for the tests of this module.
#[cfg(test)]
pub(crate) fn test_het(pos: u64) -> CalledVariant {
    CalledVariant {
        tid: 0,
        pos,
        ref_allele: b"A".to_vec(),
        alt_alleles: vec![b"G".to_vec()],
        genotype: vec![0, 1],
        qual: 50.0,
        gq: 50,
        pl: vec![50, 0, 500],
        allele_depths: vec![15, 15],
        depth: 30,
        filters: Vec::new(),
        fisher_strand: None,
        annotations: Default::default(),
        phase: None,
    }
}

/// Sets the phase of every het in a phase block of two or more, across all shards of a sample
/// (in reference order): resolves the links left open at shard edges ([`phasing`]). Call once,
/// before the gather writes the records.
pub fn phase_shards(shards: &mut [ShardCalls]) {
    let mut parts: Vec<(&mut [CalledVariant], phasing::ShardPhasing)> = shards
        .iter_mut()
        .map(|s| {
            let links = std::mem::take(&mut s.phasing);
            (&mut s.variants[..], links)
        })
        .collect();
    phasing::assign_phase_sets(&mut parts);
}

/// Calls one shard. `reader` is an indexed reader of the sample's BAM/CRAM (one per thread).
pub fn call_shard(
    shard: &Shard,
    contig: &str,
    reader: &mut bam::IndexedReader,
    reference: &Reference,
    ploidy: &PloidyMap,
    cfg: &GermlineConfig,
) -> Result<ShardCalls, CallError> {
    let Some(window) = ShardWindow::fetch(reference, contig, shard)? else {
        // A core of N only (a gap, a centromere): no call, block or callable base; no read fetch.
        return Ok(ShardCalls::default());
    };
    let reads = fetch_reads(reader, shard.tid, shard.padded_start, shard.padded_end, &cfg.reads)?;
    // One pileup for the active regions, the depth guard and the reference confidence.
    let ev = pileup_evidence(&reads, &window.bases, shard.padded_start, cfg.active.min_base_qual);
    let guarded = guarded_runs(&ev, cfg.depth_guard);
    let nearby = ReadsByStart::new(&reads);
    let mut variants = Vec::new();
    let mut guarded_regions = 0;
    // Calls of regions that start in the left padding belong to the neighbour, but their REF
    // spans must not become reference blocks here either.
    let mut spans = Vec::new();
    for region in active_regions_in(shard.tid, &ev, &cfg.active) {
        if region.end <= shard.start || region.start >= shard.end {
            continue;
        }
        let owned = shard.owns_region(&region);
        if guarded.iter().any(|&(s, e)| s < region.end && region.start < e) {
            guarded_regions += u64::from(owned);
            continue;
        }
        let region_reads = reads_for_region(nearby.reads_near(&region), &region, cfg.region_depth_cap.max(1));
        let Some(assembly) = window.assemble(&region, &region_reads, &cfg.assembly) else { continue };
        let matrix =
            region_likelihood_matrix(&region, &assembly.candidates, &region_reads, &assembly.haplotypes, &cfg.pairhmm);
        let calls = genotype_region(
            &assembly.candidates,
            &assembly.haplotypes,
            &region_reads,
            &matrix,
            |_, pos| ploidy.at(contig, pos),
            &cfg.genotype,
        );
        for site in calls {
            let mut call = site.call;
            if !call.genotype.iter().any(|&a| a > 0) || !call.ref_allele.iter().copied().all(is_acgt) {
                continue; // hom-ref, or REF over an N (reads over N are no evidence of a variant)
            }
            spans.push((call.pos, call.pos + call.ref_allele.len() as u64));
            if owned {
                apply_filters(&mut call, &cfg.filters);
                variants.push((call, site.read_alleles));
            }
        }
    }
    sort_dedup(&mut variants, |(a, _), (b, _)| {
        (a.pos, &a.ref_allele, &a.alt_alleles).cmp(&(b.pos, &b.ref_allele, &b.alt_alleles))
    });
    let hets = variants
        .iter()
        .enumerate()
        .filter_map(|(i, (call, read_alleles))| Some((i, call.tid, phasing::fragments(call, read_alleles)?)))
        .collect();
    let mut out = reference_confidence(shard, contig, &window.bases, &ev, &spans, ploidy, cfg);
    out.guarded_regions = guarded_regions;
    out.phasing = phasing::link_shard(hets);
    out.variants = variants.into_iter().map(|(call, _)| call).collect();
    Ok(out)
}

/// The runs of positions (absolute, half-open, in order) whose depth is above `guard`.
fn guarded_runs(ev: &Evidence, guard: Option<u32>) -> Vec<(u64, u64)> {
    let Some(guard) = guard else { return Vec::new() };
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (i, &depth) in ev.depth.iter().enumerate() {
        if depth > guard {
            let pos = ev.window_start + i as u64;
            match runs.last_mut() {
                Some(last) if last.1 == pos => last.1 = pos + 1,
                _ => runs.push((pos, pos + 1)),
            }
        }
    }
    runs
}

fn apply_filters(call: &mut CalledVariant, f: &FilterConfig) {
    let is_snv = call.ref_allele.len() == 1 && call.alt_alleles.iter().all(|a| a.len() == 1);
    if call.qual < f.min_qual {
        call.filters.push("LowQual".into());
    }
    if call.depth < f.min_depth {
        call.filters.push("LowDepth".into());
    }
    let max_fs = if is_snv { f.max_fs_snv } else { f.max_fs_indel };
    if call.fisher_strand.is_some_and(|fs| fs > max_fs) {
        call.filters.push("StrandBias".into());
    }
    call.filters.sort();
    call.filters.dedup();
}

/// Per-position reference confidence over the shard core → merged blocks and callable intervals,
/// from the window's pileup `ev`.
fn reference_confidence(
    shard: &Shard,
    contig: &str,
    window: &[u8],
    ev: &Evidence,
    variant_spans: &[(u64, u64)],
    ploidy: &PloidyMap,
    cfg: &GermlineConfig,
) -> ShardCalls {
    let mut covered = vec![false; (shard.end - shard.start) as usize];
    for &(start, end) in variant_spans {
        let s = start.max(shard.start);
        let e = end.min(shard.end);
        for p in s..e {
            covered[(p - shard.start) as usize] = true;
        }
    }
    let mut merger = GvcfBlockMerger::new(cfg.gq_bands.clone());
    let mut out = ShardCalls::default();
    let mut callable_open: Option<(u64, u64)> = None;
    for pos in shard.start..shard.end {
        let i = (pos - shard.padded_start) as usize;
        if !window.get(i).copied().is_some_and(is_acgt) {
            // N (or another non-ACGT base): not reference-confident, not callable, no block.
            if let Some(b) = merger.flush() {
                out.blocks.push(b);
            }
            continue;
        }
        let depth = ev.depth.get(i).copied().unwrap_or(0);
        out.depth_sum += u64::from(depth);
        out.positions += 1;
        let copies = ploidy.at(contig, pos);
        let in_variant = covered[(pos - shard.start) as usize];
        let other = (ev.mismatch.get(i).copied().unwrap_or(0) + ev.indel.get(i).copied().unwrap_or(0)).div_ceil(UNIT);
        let over_guard = cfg.depth_guard.is_some_and(|guard| depth > guard);
        out.guarded_positions += u64::from(over_guard);
        let (pl, gq) = hom_ref_likelihoods(depth, other.min(depth), copies);
        let confident = !over_guard
            && depth >= cfg.filters.callable_min_depth
            && (gq >= cfg.filters.callable_min_gq || in_variant)
            && copies != Ploidy::Absent;
        if confident {
            callable_open = match callable_open {
                Some((s, e)) if e == pos => Some((s, pos + 1)),
                Some(done) => {
                    out.callable.push((shard.tid, done.0, done.1));
                    Some((pos, pos + 1))
                }
                None => Some((pos, pos + 1)),
            };
        }
        if in_variant || copies == Ploidy::Absent {
            if let Some(b) = merger.flush() {
                out.blocks.push(b);
            }
            continue;
        }
        // Above the guard: no genotype, so no confidence either (GQ 0, PL 0).
        let (gq, pl) = if over_guard { (0, [0; 3]) } else { (gq, pl) };
        let block = RefBlock {
            tid: shard.tid,
            start: pos,
            end: pos + 1,
            min_depth: depth,
            depth,
            gq,
            ploidy: copies,
            pl,
            no_call: over_guard,
        };
        if let Some(done) = merger.push(block) {
            out.blocks.push(done);
        }
    }
    if let Some((s, e)) = callable_open {
        out.callable.push((shard.tid, s, e));
    }
    out.blocks.extend(merger.finish());
    out
}

/// Hom-ref PL (relative to 0/0, floored at 0) and GQ from `other` non-reference observations
/// among `depth`, with a per-observation error of 1 % (robust to binned qualities).
fn hom_ref_likelihoods(depth: u32, other: u32, ploidy: Ploidy) -> ([u32; 3], u32) {
    const ERROR: f64 = 0.01;
    let r = f64::from(depth - other);
    let a = f64::from(other);
    let (le, lc) = (ERROR.log10(), (1.0 - ERROR).log10());
    let hom_ref = r * lc + a * le;
    let het = (r + a) * 0.5f64.log10();
    let hom_alt = r * le + a * lc;
    let phred = |l: f64| ((hom_ref - l) * 10.0).round().clamp(0.0, 99_999.0) as u32;
    match ploidy {
        Ploidy::Haploid => {
            let pl = [0, phred(hom_alt), 0];
            (pl, pl[1].min(99))
        }
        _ => {
            let pl = [0, phred(het), phred(hom_alt)];
            (pl, pl[1].min(pl[2]).min(99))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_confidence_grows_with_clean_depth() {
        let (pl, gq) = hom_ref_likelihoods(30, 0, Ploidy::Diploid);
        assert_eq!(pl[0], 0);
        assert!((88..=90).contains(&gq), "30 clean reads: 30 × log10(0.99/0.5) ≈ 8.9 → GQ ≈ 89, got {gq}");
        let (_, gq) = hom_ref_likelihoods(4, 0, Ploidy::Diploid);
        assert!(gq < 20, "{gq}");
        let (_, gq) = hom_ref_likelihoods(30, 14, Ploidy::Diploid);
        assert_eq!(gq, 0, "a het-looking pileup is not confidently hom-ref");
        let (pl, _) = hom_ref_likelihoods(10, 0, Ploidy::Haploid);
        assert!(pl[1] > 0 && pl[2] == 0);
    }
}
