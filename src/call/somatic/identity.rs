//! Is the tumour from the same individual as its normal? Over positions where the normal looks
//! like a germline SNV, the same individual's tumour shows the same mismatches (tumour impurity
//! keeps the normal's alleles even across LOH); an unrelated person shares about half of them.
//! Counted per shard core from both pileups ([`identity_counts`], one pass over the window), summed
//! over the shards, judged once ([`check`]). A swapped sample caught here costs minutes instead of
//! a wrong report.

use super::super::reads::evidence::{Evidence, UNIT};
use crate::outcome::{Classify, Failure};

/// The check needs this many germline-looking sites of the normal to judge.
pub const MIN_IDENTITY_SITES: u64 = 20;
/// Below this share of the normal's germline sites seen in the tumour, the pair is refused.
pub const MIN_CONCORDANCE: f64 = 0.8;

/// Tumour/normal identity evidence: positions of the shard core where the normal looks like a
/// germline SNV (≥ 10 reads, ≥ 30 % mismatching), and how many of them show mismatches in the
/// tumour too (≥ 5 % of ≥ 10 reads). The same individual shares nearly all of them (tumour
/// impurity keeps the normal's alleles even across LOH); an unrelated one about half.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdentityCounts {
    pub sites: u64,
    pub concordant: u64,
}

impl IdentityCounts {
    pub fn add(&mut self, other: IdentityCounts) {
        self.sites += other.sites;
        self.concordant += other.concordant;
    }

    /// Share of the normal's germline-looking sites the tumour shares; `None` without sites.
    pub fn concordance(&self) -> Option<f64> {
        (self.sites > 0).then(|| self.concordant as f64 / self.sites as f64)
    }
}

/// Identity counts over `core` (window positions) from the two pileups.
pub(super) fn identity_counts(tumour: &Evidence, normal: &Evidence, core: std::ops::Range<usize>) -> IdentityCounts {
    let mut counts = IdentityCounts::default();
    for i in core {
        let (nd, nm) = (normal.depth.get(i).copied().unwrap_or(0), normal.mismatch.get(i).copied().unwrap_or(0));
        let (td, tm) = (tumour.depth.get(i).copied().unwrap_or(0), tumour.mismatch.get(i).copied().unwrap_or(0));
        // Mismatch weights are in UNITs of one full-quality base.
        if nd >= 10 && td >= 10 && nm * 10 >= 3 * nd * UNIT {
            counts.sites += 1;
            if tm * 20 >= td * UNIT {
                counts.concordant += 1;
            }
        }
    }
    counts
}

/// The tumour and the normal look like two individuals.
#[derive(Debug, thiserror::Error)]
#[error(
    "{tumour} and {normal} look like two individuals: the tumour shares {:.1} % of the normal's {sites} germline-looking \
     sites (the same individual shares over {:.0} %); check the samplesheet for a swapped sample, or set \
     `identity_check: warn` on call_somatic to call the pair anyway",
    100.0 * concordance,
    100.0 * MIN_CONCORDANCE
)]
pub struct IdentityMismatch {
    pub tumour: String,
    pub normal: String,
    pub sites: u64,
    pub concordance: f64,
}

impl Classify for IdentityMismatch {
    fn failure(&self) -> Failure {
        Failure::BadInput
    }
}

/// Judges the summed counts: a mismatch when there are enough sites and too few are shared.
pub fn check(counts: IdentityCounts, tumour: &str, normal: &str) -> Result<(), IdentityMismatch> {
    match counts.concordance() {
        Some(c) if counts.sites >= MIN_IDENTITY_SITES && c < MIN_CONCORDANCE => Err(IdentityMismatch {
            tumour: tumour.to_string(),
            normal: normal.to_string(),
            sites: counts.sites,
            concordance: c,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_counts_share_of_germline_sites() {
        let ev = |depth: Vec<u32>, mismatch: Vec<u32>| Evidence {
            window_start: 0,
            indel: vec![0; depth.len()],
            depth,
            mismatch,
        };
        // Position 0: normal het, tumour het (concordant); 1: normal het, tumour clean
        // (discordant); 2: normal clean (not a site); 3: normal het, tumour shallow (not a site).
        let normal = ev(vec![30, 30, 30, 30], vec![15 * UNIT, 14 * UNIT, 0, 15 * UNIT]);
        let tumour = ev(vec![90, 90, 90, 5], vec![30 * UNIT, 0, 40 * UNIT, 2 * UNIT]);
        let c = identity_counts(&tumour, &normal, 0..4);
        assert_eq!(c, IdentityCounts { sites: 2, concordant: 1 });
        assert_eq!(c.concordance(), Some(0.5));
    }

    #[test]
    fn few_sites_never_refuse_and_low_sharing_does() {
        let counts = |sites, concordant| IdentityCounts { sites, concordant };
        assert!(check(counts(19, 0), "T", "N").is_ok(), "too few sites to judge");
        assert!(check(counts(100, 80), "T", "N").is_ok());
        let e = check(counts(100, 50), "T", "N").unwrap_err();
        assert_eq!(e.failure(), Failure::BadInput);
        assert!(
            e.to_string()
                .starts_with("T and N look like two individuals: the tumour shares 50.0 % of the normal's 100")
        );
    }
}
