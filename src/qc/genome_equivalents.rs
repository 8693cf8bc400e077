//! Genome-equivalent accounting: how much sequencing a run processed, in units a national
//! centre plans with. Nominal: a normal (30x germline) sample counts 1, a tumour (90x) 3, a
//! tumour/normal pair 4. Measured: QC-passed bases / (30 × reference length). Core-seconds per
//! genome equivalent (measured, else nominal) let a user project cluster cost. Cost: a sum.

use crate::samples::{Sample, TissueStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// Coverage of one nominal genome equivalent.
pub const NOMINAL_DEPTH: f64 = 30.0;

/// A run's or an entity's genome equivalents, as the run report writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GenomeEquivalents {
    pub nominal: f64,
    pub measured: Option<f64>,
    pub qc_passed_bases: Option<u64>,
    pub reference_length: Option<u64>,
    /// CPU seconds of the stages that ran, per measured (else nominal) genome equivalent.
    pub core_seconds_per_genome_equivalent: Option<f64>,
}

/// Nominal genome equivalents of one sample: 1 for a normal (30x), 3 for a tumour (90x).
pub fn nominal(sample: &Sample) -> f64 {
    match sample.status {
        TissueStatus::Normal => 1.0,
        TissueStatus::Tumour => 3.0,
    }
}

/// What the accounting needs from the stages of a run (or of one entity).
#[derive(Debug, Clone, Default)]
pub struct Usage<'a> {
    /// Per sample, the largest QC-passed base count any stage reported (stages may re-count).
    pub qc_passed_bases: BTreeMap<&'a str, u64>,
    /// CPU seconds of the stages that ran (reused ones cost nothing now).
    pub cpu_seconds: f64,
}

impl<'a> Usage<'a> {
    /// Adds a stage's QC-passed base count for `sample` (the largest count wins) and its CPU time.
    pub fn add(&mut self, sample: &'a str, qc_passed_bases: Option<u64>, cpu_seconds: f64) {
        if let Some(b) = qc_passed_bases {
            let e = self.qc_passed_bases.entry(sample).or_insert(0);
            *e = (*e).max(b);
        }
        self.cpu_seconds += cpu_seconds;
    }
}

/// Genome equivalents of `usage`, against `nominal` and a reference of `reference_length` bases.
pub fn genome_equivalents(nominal: f64, usage: &Usage<'_>, reference_length: Option<u64>) -> GenomeEquivalents {
    let bases: Option<u64> =
        if usage.qc_passed_bases.is_empty() { None } else { Some(usage.qc_passed_bases.values().sum()) };
    let measured = match (bases, reference_length) {
        (Some(b), Some(l)) if l > 0 => Some(b as f64 / (NOMINAL_DEPTH * l as f64)),
        _ => None,
    };
    let divisor = measured.filter(|m| *m > 0.0).unwrap_or(nominal);
    GenomeEquivalents {
        nominal,
        measured,
        qc_passed_bases: bases,
        reference_length,
        core_seconds_per_genome_equivalent: (divisor > 0.0 && usage.cpu_seconds > 0.0)
            .then(|| usage.cpu_seconds / divisor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_uses_qc_passed_bases_and_the_largest_count_per_sample() {
        let mut usage = Usage::default();
        usage.add("S1", Some(900), 10.0);
        usage.add("S1", Some(1_200), 20.0);
        usage.add("S2", None, 30.0);
        let ge = genome_equivalents(1.0, &usage, Some(10));
        assert_eq!(ge.qc_passed_bases, Some(1_200));
        assert_eq!(ge.measured, Some(4.0));
        assert_eq!(ge.core_seconds_per_genome_equivalent, Some(15.0));
        let none = genome_equivalents(3.0, &Usage::default(), None);
        assert_eq!((none.measured, none.core_seconds_per_genome_equivalent), (None, None));
    }
}
