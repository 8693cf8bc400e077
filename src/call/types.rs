//! Types shared by the callers' building blocks: reads as the callers see them, active regions,
//! candidate variants and haplotypes from local assembly. What the callers hand the VCF writers
//! (called variants, reference blocks, somatic calls) is `crate::vcf::model`. Coordinates are
//! 0-based half-open on the reference (`tid` = index in the BAM header / reference order).

/// One read as the callers use it: filtered (MAPQ, duplicates, secondary, QC-fail), with the
/// bases of its alignment and where it is placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadView {
    /// FNV-1a hash of the read name (see `reads::name_hash`): stable tie-breaks and
    /// deterministic downsampling.
    pub name_hash: u64,
    /// Bases as sequenced on the reference strand (as in BAM SEQ), upper case.
    pub bases: Vec<u8>,
    /// Phred base qualities, same length as `bases`.
    pub quals: Vec<u8>,
    pub mapq: u8,
    pub reverse: bool,
    pub first_of_pair: bool,
    /// 0-based reference position of the first aligned (non-clipped) base.
    pub ref_start: u64,
    /// CIGAR as (op, length) with BAM op codes (0 M, 1 I, 2 D, 3 N, 4 S, 5 H, 6 P, 7 =, 8 X).
    pub cigar: Vec<(u8, u32)>,
}

/// A stretch of the reference with evidence of variation, padded, where haplotypes are
/// assembled and scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActiveRegion {
    pub tid: u32,
    pub start: u64,
    pub end: u64,
}

/// A candidate biallelic variant, left-aligned and trimmed to parsimony (VCF-style: an indel
/// carries its anchor base before the event).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CandidateVariant {
    pub tid: u32,
    /// 0-based position of the first base of `ref_allele`.
    pub pos: u64,
    pub ref_allele: Vec<u8>,
    pub alt_allele: Vec<u8>,
}

/// A haplotype of an active region: its full sequence over the region and which candidate
/// variants (indices into the region's candidate list) it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Haplotype {
    pub bases: Vec<u8>,
    pub is_reference: bool,
    pub variants: Vec<usize>,
}
