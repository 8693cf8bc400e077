//! gVCF specifics: GQ bands, the reference-block merger, and `<NON_REF>` likelihoods for variant
//! records.
//!
//! **GQ bands.** A band is `[lower, next lower)`; the default lower bounds are `0,10,20,30,40`
//! (five bands; the boundary at 20 is where callers usually call a site confident; above 40 one
//! band, so that one or two error bases in a 30x pileup, which move a site's GQ from ~89 to ~69
//! or ~49, do not cut a block). Reference-block GQ is capped at 99 (GATK's convention), so every
//! block falls in a declared band. Each band is declared in the header as GATK writes it:
//! `##GVCFBlock10-20=minGQ=10(inclusive),maxGQ=20(exclusive)`.
//!
//! **Merging, honestly.** [`GvcfBlockMerger`] joins a block to the one before it when both are on
//! the same contig, abut (`next.start == previous.end`), have the same ploidy, are both covered or
//! both without coverage (MIN_DP 0: a site no read covers never shares a block with covered ones),
//! and their GQ (capped) falls in the same band. The merged block keeps the smallest GQ (so every
//! site's GQ is at least its block's) and MIN_DP (at most every site's depth), the PL of its
//! lowest-GQ piece (the first on a tie: PL and GQ of a block come from one real site), and the DP
//! of its first piece. All these rules are associative, so merging is independent of where blocks
//! were cut: blocks cut at shard edges and re-merged at the gather give the same records as an
//! uncut run fed the same pieces. Cost: O(1) per block, one block held.
//!
//! **`<NON_REF>` likelihoods** ([`extend_pl_with_non_ref`]). The caller's PL covers the observed
//! alleles only. A genotype holding `<NON_REF>` copies gets the *largest* PL among the genotypes
//! made by replacing each `<NON_REF>` copy by any observed allele: an unseen allele is taken to be
//! at least as unlikely as the least likely observed allele it could stand for. Reads that support
//! REF or an ALT argue against any other allele, so the rule never lets `<NON_REF>` beat the called
//! genotype nor claims more than the worst observed genotype's evidence; with uninformative PLs
//! (all 0) it stays uninformative. This matches in spirit GATK's use of a non-best allele's read
//! likelihood for `<NON_REF>`. AD gets 0 for `<NON_REF>` (AD counts informative reads only).

use crate::genome::ploidy::Ploidy;
use crate::vcf::model::RefBlock;

/// The largest GQ a reference block reports.
pub const MAX_BLOCK_GQ: u32 = 99;

/// Lower bounds of the default GQ bands: [0,10), [10,20), [20,30), [30,40), [40,99].
pub const DEFAULT_BAND_LOWER_BOUNDS: [u32; 5] = [0, 10, 20, 30, 40];

/// GQ band lower bounds (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GqBands {
    lower: Vec<u32>,
}

impl Default for GqBands {
    fn default() -> Self {
        GqBands { lower: DEFAULT_BAND_LOWER_BOUNDS.to_vec() }
    }
}

impl GqBands {
    /// Bands from their lower bounds: strictly increasing, starting at 0, at most 99.
    pub fn new(lower: Vec<u32>) -> Result<Self, String> {
        if lower.first() != Some(&0) {
            return Err("GQ bands must start at 0".into());
        }
        if lower.windows(2).any(|w| w[0] >= w[1]) || lower.iter().any(|&g| g > MAX_BLOCK_GQ) {
            return Err(format!("GQ band bounds must increase strictly and stay within 0..={MAX_BLOCK_GQ}"));
        }
        Ok(GqBands { lower })
    }

    /// Index of the band holding `gq` (capped at 99).
    pub fn band_of(&self, gq: u32) -> usize {
        self.lower.partition_point(|&lo| lo <= gq.min(MAX_BLOCK_GQ)) - 1
    }

    /// `##GVCFBlock…` lines, one per band.
    pub fn header_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.lower.iter().enumerate().map(|(i, &lo)| {
            let hi = self.lower.get(i + 1).copied().unwrap_or(MAX_BLOCK_GQ + 1);
            format!("##GVCFBlock{lo}-{hi}=minGQ={lo}(inclusive),maxGQ={hi}(exclusive)")
        })
    }
}

/// Merges consecutive reference blocks (see the module docs). Feed blocks in reference order;
/// each `push` returns the block it closed, if any; `finish` returns the last one.
#[derive(Debug, Clone)]
pub struct GvcfBlockMerger {
    bands: GqBands,
    open: Option<RefBlock>,
}

impl GvcfBlockMerger {
    pub fn new(bands: GqBands) -> Self {
        GvcfBlockMerger { bands, open: None }
    }

    /// Adds `block`; returns the previous block when `block` cannot extend it.
    pub fn push(&mut self, block: RefBlock) -> Option<RefBlock> {
        let bands = &self.bands;
        match self.open.as_mut() {
            Some(open) if mergeable(bands, open, &block) => {
                open.end = block.end;
                if block.gq < open.gq {
                    open.gq = block.gq;
                    open.pl = block.pl;
                }
                open.min_depth = open.min_depth.min(block.min_depth);
                None
            }
            _ => self.open.replace(block),
        }
    }

    /// Closes the open block, e.g. before a variant record or at the end of a contig.
    pub fn flush(&mut self) -> Option<RefBlock> {
        self.open.take()
    }

    /// The last block.
    pub fn finish(mut self) -> Option<RefBlock> {
        self.flush()
    }
}

fn mergeable(bands: &GqBands, open: &RefBlock, next: &RefBlock) -> bool {
    open.tid == next.tid
        && open.end == next.start
        && open.ploidy == next.ploidy
        && (open.min_depth == 0) == (next.min_depth == 0)
        && open.no_call == next.no_call
        && bands.band_of(open.gq) == bands.band_of(next.gq)
}

/// Number of genotypes of `ploidy` copies (1 or 2) over `alleles` alleles (VCF `Number=G`).
pub fn genotype_count(alleles: usize, ploidy: usize) -> usize {
    match ploidy {
        1 => alleles,
        2 => alleles * (alleles + 1) / 2,
        _ => 0,
    }
}

/// VCF index of a diploid genotype `a/b`.
pub fn diploid_index(a: usize, b: usize) -> usize {
    let (j, k) = if a <= b { (a, b) } else { (b, a) };
    k * (k + 1) / 2 + j
}

/// PL over `[observed..., <NON_REF>]` from PL over the `alleles` observed alleles (see the module
/// docs). `pl` must have `genotype_count(alleles, ploidy)` entries; `None` otherwise.
pub fn extend_pl_with_non_ref(pl: &[u32], alleles: usize, ploidy: usize) -> Option<Vec<u32>> {
    if alleles == 0 || pl.len() != genotype_count(alleles, ploidy) {
        return None;
    }
    let nr = alleles;
    match ploidy {
        1 => {
            let mut out = pl.to_vec();
            out.push(pl.iter().copied().max().unwrap_or(0));
            Some(out)
        }
        2 => {
            let mut out = Vec::with_capacity(genotype_count(alleles + 1, 2));
            for k in 0..=nr {
                for j in 0..=k {
                    let value = if k < nr {
                        pl[diploid_index(j, k)]
                    } else if j < nr {
                        (0..alleles).map(|a| pl[diploid_index(j, a)]).max().unwrap_or(0)
                    } else {
                        pl.iter().copied().max().unwrap_or(0)
                    };
                    out.push(value);
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// PL values a reference block writes for its ploidy (haploid: 0 and `<NON_REF>`).
pub(super) fn block_pl(block: &RefBlock) -> &[u32] {
    match block.ploidy {
        Ploidy::Haploid => &block.pl[..2],
        _ => &block.pl[..],
    }
}
