//! Clusters of nearby truth and query records, the verdict on each, and the counts that follow.

use super::spell::{Edit, Layout, Placed, UnitKey, Window, spell_all};
use super::{ClusterCounts, HaplotypeClassScores, HaplotypeOptions, HaplotypeScores};
use crate::bench::BenchError;
use crate::vcf::normalize::NormalizedVariant;
use crate::vcf::record::VariantClass;
use crate::vcf::sequence::SequenceSource;

/// The exact comparison's result: per record, and counted per class (0 = SNV, 1 = INDEL).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExactOutcome<'a> {
    pub truth: &'a [&'a NormalizedVariant],
    /// Per truth record: matched exactly (false = an exact FN).
    pub truth_matched: &'a [bool],
    pub query: &'a [&'a NormalizedVariant],
    /// Per query record: an exact FP.
    pub query_false: &'a [bool],
    pub tp: [u64; 2],
    pub fp: [u64; 2],
    pub fn_: [u64; 2],
}

/// How one examined cluster compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Both sides spell the same haplotypes.
    Match,
    /// Genotype-aware: not the same haplotypes, but the same distinct non-reference haplotypes.
    ZygosityOnly,
    Differ,
    TooManyPhasings,
    NotComparable,
}

/// A verdict and whether it was reached on alleles only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Judgement {
    pub verdict: Verdict,
    pub alleles_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Truth,
    Query,
}

/// One record of either side, by its REF span.
#[derive(Debug, Clone, Copy)]
struct Member<'a> {
    contig: &'a str,
    start: u64,
    end: u64,
    side: Side,
    index: usize,
}

fn class_index(v: &NormalizedVariant) -> usize {
    match v.class() {
        VariantClass::Snv => 0,
        VariantClass::Indel => 1,
    }
}

fn span(v: &NormalizedVariant) -> (u64, u64) {
    let start = v.pos.zero_based();
    (start, start + v.ref_allele.len() as u64)
}

/// Haplotype-aware scores from the exact outcome (see the module documentation).
pub(crate) fn score(
    exact: &ExactOutcome<'_>,
    reference: &dyn SequenceSource,
    options: HaplotypeOptions,
) -> Result<HaplotypeScores, BenchError> {
    let sides = [(Side::Truth, exact.truth), (Side::Query, exact.query)];
    let mut members: Vec<Member<'_>> = Vec::with_capacity(exact.truth.len() + exact.query.len());
    for (side, records) in sides {
        for (index, v) in records.iter().enumerate() {
            let (start, end) = span(v);
            members.push(Member { contig: &v.contig, start, end, side, index });
        }
    }
    members.sort_by(|a, b| (a.contig, a.start, a.end).cmp(&(b.contig, b.start, b.end)));
    let mut tally = Tally { tp_truth: exact.tp, tp_query: exact.tp, fp: exact.fp, fn_: exact.fn_, ..Tally::default() };
    let mut begin = 0;
    while begin < members.len() {
        let first = members[begin];
        let mut end = begin + 1;
        let mut span_end = first.end;
        while let Some(next) = members.get(end) {
            if next.contig != first.contig || next.start > span_end.saturating_add(options.max_distance) {
                break;
            }
            span_end = span_end.max(next.end);
            end += 1;
        }
        tally.cluster(&members[begin..end], exact, reference, options)?;
        begin = end;
    }
    Ok(HaplotypeScores {
        options,
        snv: HaplotypeClassScores::new(tally.tp_truth[0], tally.tp_query[0], tally.fp[0], tally.fn_[0]),
        indel: HaplotypeClassScores::new(tally.tp_truth[1], tally.tp_query[1], tally.fp[1], tally.fn_[1]),
        clusters: tally.clusters,
    })
}

/// Running counts, per class where indexed.
#[derive(Debug, Default)]
struct Tally {
    tp_truth: [u64; 2],
    tp_query: [u64; 2],
    fp: [u64; 2],
    fn_: [u64; 2],
    clusters: ClusterCounts,
}

impl Tally {
    fn cluster(
        &mut self,
        members: &[Member<'_>],
        exact: &ExactOutcome<'_>,
        reference: &dyn SequenceSource,
        options: HaplotypeOptions,
    ) -> Result<(), BenchError> {
        self.clusters.total += 1;
        let wrong = |m: &Member<'_>| match m.side {
            Side::Truth => !exact.truth_matched.get(m.index).copied().unwrap_or(true),
            Side::Query => exact.query_false.get(m.index).copied().unwrap_or(false),
        };
        if !members.iter().any(wrong) {
            return Ok(());
        }
        self.clusters.with_exact_errors += 1;
        let truth = pick(members, Side::Truth, exact.truth);
        let query = pick(members, Side::Query, exact.query);
        if truth.is_empty() || query.is_empty() {
            return Ok(());
        }
        self.clusters.examined += 1;
        let t: Vec<&NormalizedVariant> = truth.iter().map(|(_, v)| *v).collect();
        let q: Vec<&NormalizedVariant> = query.iter().map(|(_, v)| *v).collect();
        let judgement = judge(&t, &q, reference, options)?;
        if judgement.alleles_only {
            self.clusters.alleles_only += 1;
        }
        match judgement.verdict {
            Verdict::Match => {}
            Verdict::ZygosityOnly => {
                self.clusters.zygosity_only += 1;
                return Ok(());
            }
            Verdict::Differ => return Ok(()),
            Verdict::TooManyPhasings => {
                self.clusters.too_many_phasings += 1;
                return Ok(());
            }
            Verdict::NotComparable => {
                self.clusters.not_comparable += 1;
                return Ok(());
            }
        }
        self.clusters.rescued += 1;
        for (index, v) in truth {
            if !exact.truth_matched.get(index).copied().unwrap_or(true) {
                let c = class_index(v);
                self.fn_[c] = self.fn_[c].saturating_sub(1);
                self.tp_truth[c] += 1;
            }
        }
        for (index, v) in query {
            if exact.query_false.get(index).copied().unwrap_or(false) {
                let c = class_index(v);
                self.fp[c] = self.fp[c].saturating_sub(1);
                self.tp_query[c] += 1;
            }
        }
        Ok(())
    }
}

/// The records of one side of a cluster, with their index in that side's selection.
fn pick<'v>(
    members: &[Member<'_>],
    side: Side,
    records: &[&'v NormalizedVariant],
) -> Vec<(usize, &'v NormalizedVariant)> {
    members.iter().filter(|m| m.side == side).filter_map(|m| Some((m.index, *records.get(m.index)?))).collect()
}

/// Compares the haplotypes the two sides of one cluster spell.
pub(super) fn judge(
    truth: &[&NormalizedVariant],
    query: &[&NormalizedVariant],
    reference: &dyn SequenceSource,
    options: HaplotypeOptions,
) -> Result<Judgement, BenchError> {
    let all = || truth.iter().chain(query);
    let alleles_only = !all().all(|v| usable_genotype(v));
    let verdict = |verdict| Ok(Judgement { verdict, alleles_only });
    if all().any(|v| v.ref_mismatch) {
        return verdict(Verdict::NotComparable);
    }
    let (Some(truth_layout), Some(query_layout)) = (layout(truth, alleles_only), layout(query, alleles_only)) else {
        return verdict(Verdict::NotComparable);
    };
    let limit = options.max_phasing_units as usize;
    if truth_layout.free_units() > limit || query_layout.free_units() > limit {
        return verdict(Verdict::TooManyPhasings);
    }
    let Some(contig) = truth.first().map(|v| v.contig.clone()) else {
        return verdict(Verdict::Differ);
    };
    let start = all().map(|v| span(v).0).min().unwrap_or(0);
    let end = all().map(|v| span(v).1).max().unwrap_or(start);
    let bases = reference.fetch(&contig, start, end).map_err(|message| BenchError::Reference {
        contig: contig.to_string(),
        start0: start,
        end0: end,
        message,
    })?;
    let bases = bases.to_ascii_uppercase();
    let window = Window { start, bases: &bases };
    let edits = |records: &[&NormalizedVariant]| -> Vec<Edit> {
        records.iter().map(|v| Edit::new(v.pos.zero_based(), &v.ref_allele, &v.alt)).collect()
    };
    let truth_spelled = spell_all(&truth_layout, &edits(truth), window);
    let query_spelled = spell_all(&query_layout, &edits(query), window);
    let same_alleles = query_spelled.alleles.iter().any(|a| truth_spelled.alleles.contains(a));
    if alleles_only {
        return verdict(if same_alleles { Verdict::Match } else { Verdict::Differ });
    }
    if query_spelled.genotype.iter().any(|g| truth_spelled.genotype.contains(g)) {
        verdict(Verdict::Match)
    } else if same_alleles {
        verdict(Verdict::ZygosityOnly)
    } else {
        verdict(Verdict::Differ)
    }
}

/// A GT that places the record: every allele called, one carrying the ALT, ploidy 1 or 2.
fn usable_genotype(v: &NormalizedVariant) -> bool {
    v.genotype.as_ref().is_some_and(|g| g.carries_alt() && (1..=2).contains(&g.alleles.len()))
}

/// One side's phase units. Genotype-aware: by GT (one ploidy per side, else `None`); alleles
/// only: every record a free het of its own.
fn layout(records: &[&NormalizedVariant], alleles_only: bool) -> Option<Layout> {
    if alleles_only {
        let mut layout = Layout::new(2);
        for (i, _) in records.iter().enumerate() {
            layout.place(UnitKey::Record(i as u64), Placed { edit: i, mask: 0b01 });
        }
        return Some(layout);
    }
    let ploidy = records.first()?.genotype.as_ref()?.alleles.len();
    let mut layout = Layout::new(ploidy);
    for (i, v) in records.iter().enumerate() {
        let gt = v.genotype.as_ref()?;
        if gt.alleles.len() != ploidy {
            return None;
        }
        let mask = gt
            .alleles
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Some(k) if *k > 0))
            .fold(0u8, |m, (h, _)| m | 1 << h);
        let key = if gt.phased { UnitKey::Phased } else { UnitKey::Record(v.source) };
        layout.place(key, Placed { edit: i, mask });
    }
    Some(layout)
}
