//! The comparison itself: select, match, count.

use super::BenchError;
use super::haplotype::{self, ExactOutcome, HaplotypeOptions};
use super::report::{CallsetSummary, ClassScores, CompareReport, GenotypeConcordance, RegionsSummary};
use crate::genome::region::RegionSet;
use crate::vcf::normalize::{NormalizedCallset, NormalizedVariant, normalize_file};
use crate::vcf::record::VariantClass;
use crate::vcf::sequence::SequenceSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Which truth records count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TruthFilter {
    /// GT carries an ALT when the truth has samples; every record when it has none.
    #[default]
    Auto,
    /// Every record (`score.sh ... none`).
    All,
}

/// Which query records count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueryFilter {
    /// FILTER `PASS` or `.`, and GT carries an ALT when the query has samples.
    #[default]
    PassWithAlt,
    /// FILTER `PASS` or `.` only (somatic calls; `score.sh ... PASS`).
    Pass,
}

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// BED of the regions to score in (POS must lie inside); everywhere when `None`.
    pub regions: Option<PathBuf>,
    /// Whose GT to read from the truth (default: the first sample).
    pub truth_sample: Option<String>,
    /// Whose GT to read from the query (default: the first sample).
    pub query_sample: Option<String>,
    pub truth_filter: TruthFilter,
    pub query_filter: QueryFilter,
    /// Clustering and phasing bounds of the haplotype-aware figures.
    pub haplotype: HaplotypeOptions,
}

/// A record-selection rule and its description for the report.
#[derive(Debug, Clone, Copy)]
struct Rule {
    require_pass: bool,
    require_alt_gt: bool,
}

impl Rule {
    fn describe(self) -> String {
        match (self.require_pass, self.require_alt_gt) {
            (true, true) => "FILTER PASS or `.`, GT carries an ALT",
            (true, false) => "FILTER PASS or `.`",
            (false, true) => "GT carries an ALT",
            (false, false) => "all records",
        }
        .to_string()
    }

    fn keeps(self, v: &NormalizedVariant) -> bool {
        (!self.require_pass || v.filter_pass)
            && (!self.require_alt_gt || v.genotype.as_ref().is_some_and(|g| g.carries_alt()))
    }
}

/// Compares `query` with `truth`, both read and normalized against `reference`.
pub fn compare(
    truth: &Path,
    query: &Path,
    reference: &dyn SequenceSource,
    options: &CompareOptions,
) -> Result<CompareReport, BenchError> {
    let regions = match &options.regions {
        Some(path) => {
            let set = RegionSet::from_bed(path)?;
            let contigs = set.contigs();
            if !contigs.is_empty() && contigs.iter().all(|c| reference.contig_length(c).is_none()) {
                let named: Vec<&str> = contigs.iter().take(3).copied().collect();
                return Err(BenchError::RegionsOffReference { path: path.clone(), contigs: named.join(", ") });
            }
            Some((path.clone(), set))
        }
        None => None,
    };
    let truth_set = normalize_file(truth, options.truth_sample.as_deref(), reference)?;
    let query_set = normalize_file(query, options.query_sample.as_deref(), reference)?;
    let truth_rule = Rule {
        require_pass: false,
        require_alt_gt: options.truth_filter == TruthFilter::Auto && !truth_set.samples.is_empty(),
    };
    let query_rule = Rule {
        require_pass: true,
        require_alt_gt: options.query_filter == QueryFilter::PassWithAlt && !query_set.samples.is_empty(),
    };
    let region_set = regions.as_ref().map(|(_, set)| set);
    let (truth_kept, truth_summary) = select(&truth_set, region_set, truth_rule);
    let (query_kept, query_summary) = select(&query_set, region_set, query_rule);
    let counts = match_variants(&truth_kept, &query_kept);
    let exact = ExactOutcome {
        truth: &truth_kept,
        truth_matched: &counts.truth_matched,
        query: &query_kept,
        query_false: &counts.query_false,
        tp: counts.tp,
        fp: counts.fp,
        fn_: counts.fn_,
    };
    let haplotype = haplotype::score(&exact, reference, options.haplotype)?;
    Ok(CompareReport {
        dagr_version: crate::VERSION.to_string(),
        truth: truth_summary,
        query: query_summary,
        regions: regions.map(|(path, set)| RegionsSummary {
            path,
            intervals: set.interval_count() as u64,
            bases: set.total_bases(),
        }),
        snv: ClassScores::new(counts.tp[0], counts.fp[0], counts.fn_[0]),
        indel: ClassScores::new(counts.tp[1], counts.fp[1], counts.fn_[1]),
        genotype_concordance: GenotypeConcordance::new(counts.gt_compared, counts.gt_concordant),
        haplotype,
    })
}

/// Records of a callset inside the regions that pass `rule`, and its summary.
fn select<'a>(
    set: &'a NormalizedCallset,
    regions: Option<&RegionSet>,
    rule: Rule,
) -> (Vec<&'a NormalizedVariant>, CallsetSummary) {
    let in_regions: Vec<&NormalizedVariant> =
        set.variants.iter().filter(|v| regions.is_none_or(|r| r.contains(&v.contig, v.pos))).collect();
    let in_regions_count = in_regions.len() as u64;
    let kept: Vec<&NormalizedVariant> = in_regions.into_iter().filter(|v| rule.keeps(v)).collect();
    let summary = CallsetSummary {
        path: set.path.clone(),
        samples: set.samples.len() as u64,
        sample: set.sample.clone(),
        selection: rule.describe(),
        normalization: set.stats.clone(),
        in_regions: in_regions_count,
        selected: kept.len() as u64,
    };
    (kept, summary)
}

/// Per class (index 0 SNV, 1 INDEL) TP/FP/FN, genotype agreement among TPs, and per record
/// which truth records matched and which query records are FPs.
#[derive(Debug, Default)]
struct Counts {
    tp: [u64; 2],
    fp: [u64; 2],
    fn_: [u64; 2],
    gt_compared: u64,
    gt_concordant: u64,
    truth_matched: Vec<bool>,
    query_false: Vec<bool>,
}

fn class_index(v: &NormalizedVariant) -> usize {
    match v.class() {
        VariantClass::Snv => 0,
        VariantClass::Indel => 1,
    }
}

type Key<'a> = (&'a str, u64, &'a [u8], &'a [u8]);

fn key(v: &NormalizedVariant) -> Key<'_> {
    (&v.contig, v.pos.get(), &v.ref_allele, &v.alt)
}

/// Exact matching on (CHROM, POS, REF, ALT); each side is already free of duplicates.
fn match_variants(truth: &[&NormalizedVariant], query: &[&NormalizedVariant]) -> Counts {
    let index: HashMap<Key<'_>, usize> = truth.iter().enumerate().map(|(i, v)| (key(v), i)).collect();
    let mut matched = vec![false; truth.len()];
    let mut counts = Counts { query_false: vec![false; query.len()], ..Counts::default() };
    for (qi, q) in query.iter().enumerate() {
        let class = class_index(q);
        let Some(&t) = index.get(&key(q)) else {
            counts.fp[class] += 1;
            counts.query_false[qi] = true;
            continue;
        };
        if matched[t] {
            // A duplicate query record (possible only for unsorted input): counted once.
            continue;
        }
        matched[t] = true;
        counts.tp[class] += 1;
        if let (Some(tg), Some(qg)) = (&truth[t].genotype, &q.genotype) {
            counts.gt_compared += 1;
            if tg.zygosity() == qg.zygosity() {
                counts.gt_concordant += 1;
            }
        }
    }
    for (t, was_matched) in truth.iter().zip(&matched) {
        if !was_matched {
            counts.fn_[class_index(t)] += 1;
        }
    }
    counts.truth_matched = matched;
    counts
}
