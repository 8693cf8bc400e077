//! Genotype likelihoods, priors, the paralog/artifact hypothesis and the posterior summary.

use super::GenotypeConfig;
use super::evidence::SiteEvidence;
use super::sites::Site;

/// Genotypes of `alleles` alleles at `copies` copies, in VCF order: haploid 0, 1, …;
/// diploid (a, b) with a ≤ b ordered by b then a (0/0, 0/1, 1/1, 0/2, 1/2, 2/2, …).
pub fn genotypes(alleles: usize, copies: usize) -> Vec<Vec<u8>> {
    let alleles = alleles.min(usize::from(u8::MAX));
    match copies {
        1 => (0..alleles).map(|a| vec![a as u8]).collect(),
        2 => (0..alleles).flat_map(|b| (0..=b).map(move |a| vec![a as u8, b as u8])).collect(),
        _ => Vec::new(),
    }
}

/// log10 P(reads | genotype): each read from a copy chosen uniformly.
pub fn genotype_log10_likelihoods(ev: &SiteEvidence, genotypes: &[Vec<u8>]) -> Vec<f64> {
    let mut gl = vec![0.0; genotypes.len()];
    for r in 0..ev.reads() {
        let lk = ev.read(r);
        let best = lk.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for (slot, g) in gl.iter_mut().zip(genotypes) {
            let s: f64 = g.iter().map(|&a| 10f64.powf(lk[usize::from(a)] - best)).sum();
            *slot += (s / g.len() as f64).log10() + best;
        }
    }
    gl
}

/// log10 prior of each genotype (see the module docs for the model).
pub fn genotype_log10_priors(site: &Site, genotypes: &[Vec<u8>], config: &GenotypeConfig) -> Vec<f64> {
    let theta = |a: u8| {
        if site.is_indel.get(usize::from(a)).copied().unwrap_or(false) {
            config.indel_heterozygosity
        } else {
            config.snv_heterozygosity
        }
    };
    let raw: Vec<f64> = genotypes
        .iter()
        .map(|g| match g.as_slice() {
            [0] | [0, 0] => 0.0,
            [a] => theta(*a),
            [0, b] => theta(*b),
            [a, b] if a == b => theta(*a) / 2.0,
            [a, b] => theta(*a) * theta(*b),
            _ => 0.0,
        })
        .collect();
    let non_ref: f64 = raw.iter().sum();
    raw.iter()
        .zip(genotypes)
        .map(|(&p, g)| if g.iter().all(|&a| a == 0) { (1.0 - non_ref).max(1e-12).log10() } else { p.log10() })
        .collect()
}

/// The artifact hypothesis: reads are a mixture of REF and one ALT at a fraction f that no
/// genotype explains (a paralog absent from the reference, a mapping artifact), f uniform on
/// `config.artifact_fractions`. Returns log10 P(reads | artifact) + log10 prior.
pub fn artifact_log10_posterior_mass(ev: &SiteEvidence, alt: usize, config: &GenotypeConfig) -> f64 {
    let fractions = &config.artifact_fractions;
    if fractions.is_empty() || alt == 0 || alt >= ev.alleles {
        return f64::NEG_INFINITY;
    }
    let per_f: Vec<f64> = fractions
        .iter()
        .map(|&f| {
            (0..ev.reads())
                .map(|r| {
                    let lk = ev.read(r);
                    let best = lk[0].max(lk[alt]);
                    ((1.0 - f) * 10f64.powf(lk[0] - best) + f * 10f64.powf(lk[alt] - best)).log10() + best
                })
                .sum()
        })
        .collect();
    log10_sum(&per_f) - (fractions.len() as f64).log10() + artifact_log10_prior(ev, alt, config)
}

/// Artifact prior: `artifact_prior_unique` when the ALT-supporting reads map uniquely (mean
/// MAPQ ≥ 60), rising tenfold per `artifact_prior_mapq_decade` MAPQ below that, capped at
/// `artifact_prior_max`. Paralog reads map with fair but not perfect MAPQ.
fn artifact_log10_prior(ev: &SiteEvidence, alt: usize, config: &GenotypeConfig) -> f64 {
    let (sum, n) = ev
        .supports
        .iter()
        .zip(&ev.mapq)
        .filter(|(s, _)| **s == Some(alt))
        .fold((0.0, 0usize), |(s, n), (_, &q)| (s + f64::from(q.min(60)), n + 1));
    let mean = if n > 0 { sum / n as f64 } else { 60.0 };
    let lp = config.artifact_prior_unique.log10() + (60.0 - mean) / config.artifact_prior_mapq_decade;
    lp.min(config.artifact_prior_max.log10())
}

/// log10(Σ 10^x), stable.
pub fn log10_sum(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    xs.iter().map(|&x| 10f64.powf(x - max)).sum::<f64>().log10() + max
}

/// Phred of a probability given in log10, rounded and capped.
pub fn phred_capped(log10_p: f64, cap: u32) -> u32 {
    let q = (-10.0 * log10_p).round();
    if q.is_nan() || q <= 0.0 {
        0
    } else if q >= f64::from(cap) {
        cap
    } else {
        q as u32
    }
}

/// PL: Phred-scaled likelihoods normalized so that the best is 0.
pub fn phred_likelihoods(gl: &[f64]) -> Vec<u32> {
    let best = gl.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    gl.iter().map(|&l| phred_capped(l - best, 1_000_000)).collect()
}
