//! The comparison's result: a serializable report (JSON through serde), the human table, and
//! `--fail-below` thresholds on F1.

use super::haplotype::HaplotypeScores;
use crate::vcf::normalize::NormalizationStats;
use crate::vcf::record::VariantClass;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

/// TP/FP/FN and the scores derived from them (0 where a denominator is 0, as `score.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl ClassScores {
    pub fn new(tp: u64, fp: u64, fn_: u64) -> Self {
        let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Self { tp, fp, fn_, precision, recall, f1 }
    }
}

/// Matched records whose genotypes (both sides present) have the same zygosity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GenotypeConcordance {
    pub compared: u64,
    pub concordant: u64,
    /// `concordant / compared`; absent when nothing was compared.
    pub fraction: Option<f64>,
}

impl GenotypeConcordance {
    pub fn new(compared: u64, concordant: u64) -> Self {
        Self { compared, concordant, fraction: (compared > 0).then(|| concordant as f64 / compared as f64) }
    }
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallsetSummary {
    pub path: PathBuf,
    /// Samples in the file.
    pub samples: u64,
    /// The sample whose GT was used.
    pub sample: Option<String>,
    /// The record selection applied.
    pub selection: String,
    pub normalization: NormalizationStats,
    /// Normalized records with POS inside the regions (all of them without regions).
    pub in_regions: u64,
    /// Of those, the records the selection kept: what was scored.
    pub selected: u64,
}

/// The regions scored in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionsSummary {
    pub path: PathBuf,
    pub intervals: u64,
    pub bases: u64,
}

/// Everything `dagr bench compare` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    pub dagr_version: String,
    pub truth: CallsetSummary,
    pub query: CallsetSummary,
    pub regions: Option<RegionsSummary>,
    pub snv: ClassScores,
    pub indel: ClassScores,
    pub genotype_concordance: GenotypeConcordance,
    /// The haplotype-aware figures (see [`crate::bench::haplotype`]).
    pub haplotype: HaplotypeScores,
}

impl CompareReport {
    pub fn scores(&self, class: VariantClass) -> &ClassScores {
        match class {
            VariantClass::Snv => &self.snv,
            VariantClass::Indel => &self.indel,
        }
    }

    /// The F1 of one class under one metric.
    pub fn f1(&self, metric: Metric, class: VariantClass) -> f64 {
        match (metric, class) {
            (Metric::Exact, _) => self.scores(class).f1,
            (Metric::Haplotype, VariantClass::Snv) => self.haplotype.snv.f1,
            (Metric::Haplotype, VariantClass::Indel) => self.haplotype.indel.f1,
        }
    }

    /// One message per threshold not met.
    pub fn failures(&self, thresholds: &[F1Threshold]) -> Vec<String> {
        thresholds
            .iter()
            .filter(|t| self.f1(t.metric, t.class) < t.min_f1)
            .map(|t| {
                let (label, prefix) = match t.metric {
                    Metric::Exact => ("", ""),
                    Metric::Haplotype => ("haplotype-aware ", "hap:"),
                };
                format!(
                    "{label}{} F1 {:.4} is below the threshold {} (--fail-below {prefix}{}={})",
                    t.class.name(),
                    self.f1(t.metric, t.class),
                    t.min_f1,
                    t.class.name().to_ascii_lowercase(),
                    t.min_f1
                )
            })
            .collect()
    }
}

/// Which figure a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Exact allele matching (`snv=`, `exact:snv=`).
    Exact,
    /// Haplotype-aware matching (`hap:snv=`, `haplotype:snv=`).
    Haplotype,
}

/// A minimum F1 for one class under one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F1Threshold {
    pub metric: Metric,
    pub class: VariantClass,
    pub min_f1: f64,
}

/// Parses `snv=0.99,indel=0.95,hap:indel=0.99`: `[METRIC:]CLASS=F1`, METRIC `exact` (the
/// default) or `hap`/`haplotype`, CLASS `snv` or `indel`, case-insensitive, F1 in [0, 1].
pub fn parse_thresholds(text: &str) -> Result<Vec<F1Threshold>, String> {
    let mut out: Vec<F1Threshold> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected [hap:]CLASS=F1, e.g. snv=0.99 or hap:indel=0.99"))?;
        let name = name.trim().to_ascii_lowercase();
        let (metric, class_name) = match name.split_once(':') {
            None => (Metric::Exact, name.as_str()),
            Some(("exact", c)) => (Metric::Exact, c),
            Some(("hap" | "haplotype", c)) => (Metric::Haplotype, c),
            Some((other, _)) => return Err(format!("`{other}`: unknown metric (expected exact or hap)")),
        };
        let class = match class_name.trim() {
            "snv" | "snp" => VariantClass::Snv,
            "indel" => VariantClass::Indel,
            other => return Err(format!("`{other}`: unknown class (expected snv or indel)")),
        };
        let min_f1: f64 = value.trim().parse().map_err(|_| format!("`{value}`: not a number"))?;
        if !(0.0..=1.0).contains(&min_f1) {
            return Err(format!("`{value}`: an F1 threshold lies between 0 and 1"));
        }
        if out.iter().any(|t| t.class == class && t.metric == metric) {
            return Err(format!("{} given twice", class.name()));
        }
        out.push(F1Threshold { metric, class, min_f1 });
    }
    if out.is_empty() {
        return Err("no threshold given (expected e.g. snv=0.99,indel=0.95)".to_string());
    }
    Ok(out)
}

/// The human-readable summary.
pub fn render_table(report: &CompareReport) -> String {
    let mut out = String::new();
    for (label, side) in [("truth", &report.truth), ("query", &report.query)] {
        let sample = side.sample.as_deref().map(|s| format!(", sample {s}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{label}: {}{sample}: {} records read, {} normalized, {} in regions, {} selected ({})",
            side.path.display(),
            side.normalization.records_read,
            side.normalization.kept,
            side.in_regions,
            side.selected,
            side.selection
        );
    }
    if let Some(r) = &report.regions {
        let _ = writeln!(out, "regions: {} ({} intervals, {} bp)", r.path.display(), r.intervals, r.bases);
    }
    let _ = writeln!(
        out,
        "\nexact alleles\n{:<6} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}",
        "class", "TP", "FP", "FN", "precision", "recall", "F1"
    );
    for (name, s) in [("SNV", &report.snv), ("INDEL", &report.indel)] {
        let _ = writeln!(
            out,
            "{name:<6} {:>8} {:>8} {:>8} {:>10.4} {:>8.4} {:>8.4}",
            s.tp, s.fp, s.fn_, s.precision, s.recall, s.f1
        );
    }
    render_haplotype(&mut out, &report.haplotype);
    let gc = &report.genotype_concordance;
    match gc.fraction {
        Some(f) => {
            let _ = writeln!(out, "\ngenotype concordance: {}/{} matched records ({f:.4})", gc.concordant, gc.compared);
        }
        None => {
            let _ = writeln!(out, "\ngenotype concordance: not computed (a side without genotypes)");
        }
    }
    for (label, side) in [("truth", &report.truth), ("query", &report.query)] {
        let n = &side.normalization;
        if n.ref_mismatches > 0 {
            let _ = writeln!(
                out,
                "warning: {label}: {} record(s) with REF not matching the reference, left unnormalized (e.g. {})",
                n.ref_mismatches,
                n.ref_mismatch_examples.join("; ")
            );
        }
        let dropped = n.invalid_alt_dropped + n.alt_equals_ref_dropped;
        if dropped > 0 {
            let _ =
                writeln!(out, "warning: {label}: {dropped} record(s) with an invalid ALT or ALT equal to REF dropped");
        }
    }
    out
}

/// The haplotype-aware rows and what happened to the clusters.
fn render_haplotype(out: &mut String, h: &HaplotypeScores) {
    let _ = writeln!(
        out,
        "\nhaplotype-aware (records <= {} bp apart clustered; same haplotypes = all matched)\n{:<6} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}",
        h.options.max_distance, "class", "TP truth", "TP query", "FP", "FN", "precision", "recall", "F1"
    );
    for (name, s) in [("SNV", &h.snv), ("INDEL", &h.indel)] {
        let _ = writeln!(
            out,
            "{name:<6} {:>8} {:>8} {:>8} {:>8} {:>10.4} {:>8.4} {:>8.4}",
            s.tp_truth, s.tp_query, s.fp, s.fn_, s.precision, s.recall, s.f1
        );
    }
    let c = &h.clusters;
    let _ = writeln!(
        out,
        "clusters: {} in all, {} with an exact FP/FN, {} of them with records on both sides: {} rescued, \
         {} differ only by zygosity (not rescued), {} compared on alleles only;\n  exact result kept for {} \
         (more than {} free phase units) and {} not comparable (ploidy, REF mismatch)",
        c.total,
        c.with_exact_errors,
        c.examined,
        c.rescued,
        c.zygosity_only,
        c.alleles_only,
        c.too_many_phasings,
        h.options.max_phasing_units,
        c.not_comparable
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_score_sh_conventions() {
        let s = ClassScores::new(1345, 2, 0);
        assert_eq!(format!("{:.4} {:.4} {:.4}", s.precision, s.recall, s.f1), "0.9985 1.0000 0.9993");
        let z = ClassScores::new(0, 0, 5);
        assert_eq!((z.precision, z.recall, z.f1), (0.0, 0.0, 0.0));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"fn\":0"), "{json}");
    }

    #[test]
    fn thresholds_parse_and_reject() {
        let t = parse_thresholds("snv=0.99, INDEL=0.9,hap:indel=0.95,HAPLOTYPE:snv=0.5").unwrap();
        let th = |metric, class, min_f1| F1Threshold { metric, class, min_f1 };
        assert_eq!(
            t,
            vec![
                th(Metric::Exact, VariantClass::Snv, 0.99),
                th(Metric::Exact, VariantClass::Indel, 0.9),
                th(Metric::Haplotype, VariantClass::Indel, 0.95),
                th(Metric::Haplotype, VariantClass::Snv, 0.5),
            ]
        );
        for bad in [
            "",
            "snv",
            "mnp=0.5",
            "snv=x",
            "snv=1.5",
            "snv=0.5,snv=0.6",
            "vcfeval:snv=0.5",
            "hap:x=0.5",
            "exact:snv=0.5,snv=0.6",
        ] {
            assert!(parse_thresholds(bad).is_err(), "{bad}");
        }
    }
}
