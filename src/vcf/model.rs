//! Records as the VCF writers take them: a called germline site ([`CalledVariant`]), a gVCF
//! reference block ([`RefBlock`]) and a somatic candidate with both samples' evidence
//! ([`SomaticCall`], [`SomaticSample`]). The variant callers above this module produce them;
//! the writers here turn them into VCF text. Coordinates are 0-based half-open on the reference (`tid` =
//! index in reference order); VCF's 1-based POS is made by the writer.

use crate::genome::ploidy::Ploidy;

/// A called site, ready for the VCF: alleles are VCF alleles (REF first), genotype alleles are
/// indices into `[ref, alts...]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CalledVariant {
    pub tid: u32,
    /// 0-based position of the first base of `ref_allele`.
    pub pos: u64,
    pub ref_allele: Vec<u8>,
    pub alt_alleles: Vec<Vec<u8>>,
    /// Allele indices, one per copy (ploidy), sorted ascending (unphased).
    pub genotype: Vec<u8>,
    /// Phred-scaled probability that the site is not variant.
    pub qual: f64,
    pub gq: u32,
    /// Phred-scaled genotype likelihoods in VCF order over `[ref, alts...]` (without `<NON_REF>`).
    pub pl: Vec<u32>,
    /// Reads supporting each allele (ref first), informative reads only.
    pub allele_depths: Vec<u32>,
    /// Filtered depth at the site.
    pub depth: u32,
    /// Names of failed filters (declared by the writer's header); empty means PASS.
    pub filters: Vec<String>,
    /// Strand-bias statistic (Phred-scaled Fisher exact test, as FS), when computed.
    pub fisher_strand: Option<f64>,
    /// The site-level INFO annotations GATK defines (computed by the caller; `None` where
    /// undefined, for example a rank sum without both REF and ALT reads).
    #[serde(default)]
    pub annotations: SiteAnnotations,
    /// Read-backed phase, when the call is in a phase block of two or more hets.
    #[serde(default)]
    pub phase: Option<Phase>,
}

/// A het's phase: written `a|b` with the genotype's alleles in their sorted order, or flipped
/// (`1|0`), and `PS` = the 1-based POS of the block's first het (`set_pos` is 0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phase {
    pub flipped: bool,
    pub set_pos: u64,
}

/// INFO annotations of a called site, as GATK 4 defines them (the germline caller's genotyper
/// computes them and cites the definitions). `AC`, `AN` and `AF`
/// are not stored: the writer derives them from the genotype.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SiteAnnotations {
    /// `MQ`: root mean square of the mapping qualities of all reads over the site.
    pub rms_mapq: Option<f64>,
    /// `QD`: QUAL divided by the informative depth (sum of AD) of the non-hom-ref sample.
    pub qual_by_depth: Option<f64>,
    /// `SOR`: symmetric odds ratio of the REF/ALT × forward/reverse table of informative reads.
    pub strand_odds_ratio: Option<f64>,
    /// `MQRankSum`, `ReadPosRankSum`, `BaseQRankSum`: Mann-Whitney U z-scores, ALT reads against
    /// REF reads, of mapping quality, distance from the nearer read end, and base quality.
    pub mq_rank_sum: Option<f64>,
    pub read_pos_rank_sum: Option<f64>,
    pub base_q_rank_sum: Option<f64>,
    /// gVCF `RAW_MQandDP`: Σ MAPQ² and the number of reads over the site (a joint genotyper sums
    /// them over samples for the cohort's MQ).
    pub raw_mapq: Option<(u64, u32)>,
    /// gVCF `SB`: informative reads as REF forward, REF reverse, ALT forward, ALT reverse (the
    /// table behind FS and SOR, summed over samples by a joint genotyper).
    pub strand_counts: Option<[u32; 4]>,
}

/// A run of reference-confident positions for the gVCF (`<NON_REF>` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefBlock {
    pub tid: u32,
    pub start: u64,
    pub end: u64,
    /// Smallest depth in the block (`FORMAT/MIN_DP`) and the median-ish representative depth (`DP`).
    pub min_depth: u32,
    pub depth: u32,
    /// Smallest GQ in the block; blocks are cut where GQ leaves its band.
    pub gq: u32,
    /// Hom-ref PL triple (0/0, 0/1, 1/1 against `<NON_REF>`), or (0/0... ) pair when haploid.
    pub ploidy: Ploidy,
    pub pl: [u32; 3],
    /// No genotype: the depth guard left the positions uncalled (a collapsed repeat, a pileup far
    /// above the sample's depth). Written `./.` (or `.`) with GQ 0 and PL 0; never merged with
    /// reference-confident positions.
    #[serde(default)]
    pub no_call: bool,
}

/// One sample's view of a somatic candidate: read counts by allele (REF, ALT) over informative
/// reads, the ALT fraction, the filtered depth, and read orientation counts per allele.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SomaticSample {
    pub ref_reads: u32,
    pub alt_reads: u32,
    pub alt_fraction: f64,
    pub depth: u32,
    /// Reads in F1R2 orientation (first of pair on the forward strand, or second on the
    /// reverse), per allele (REF, ALT); F2R1 the others. An imbalance on the ALT side is the
    /// signature of oxidation (8-oxoG) and FFPE artifacts.
    pub f1r2: [u32; 2],
    pub f2r1: [u32; 2],
}

/// A somatic candidate, biallelic, ready for the somatic VCF.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SomaticCall {
    pub tid: u32,
    /// 0-based position of the first base of `ref_allele`.
    pub pos: u64,
    pub ref_allele: Vec<u8>,
    pub alt_allele: Vec<u8>,
    /// log10 odds that the tumour carries the ALT at its best-fitting fraction rather than not.
    pub tumour_log_odds: f64,
    /// log10 odds that the normal does not carry the ALT (beyond tumour-in-normal) rather than
    /// carrying it as a het.
    pub normal_log_odds: f64,
    pub tumour: SomaticSample,
    pub normal: SomaticSample,
    /// Names of failed filters (declared by the writer's header); empty means PASS.
    pub filters: Vec<String>,
}
