//! Per-read evidence at a site: allele likelihoods marginalized over haplotypes, mixed with the
//! read's mapping-error probability, the informative-read counts (AD, strand table), and what
//! the annotations need per read (MAPQ, strand, position in the read, base quality).

use super::GenotypeConfig;
use super::sites::Site;
use crate::call::pairhmm::LikelihoodMatrix;
use crate::call::types::ReadView;

/// Floor for an allele no haplotype speaks for (log10).
const MISSING_ALLELE_LOG10: f64 = -1e4;

/// Reads overlapping one site and what they say about its alleles.
#[derive(Debug, Clone, Default)]
pub struct SiteEvidence {
    /// Row-major reads × alleles, log10 P(read | allele) after mapping-error mixing.
    pub log10: Vec<f64>,
    pub alleles: usize,
    /// Per read overlapping the site: the allele it supports when informative.
    pub supports: Vec<Option<usize>>,
    pub mapq: Vec<u8>,
    pub reverse: Vec<bool>,
    /// Per read: the site's first reference base in the read, as (distance from the nearer end
    /// of the read, base quality there); `None` where the read deletes that base.
    pub at_site: Vec<Option<(u32, u8)>>,
    /// Per read: its name hash (mates share it), for phasing.
    pub names: Vec<u64>,
}

impl SiteEvidence {
    pub fn reads(&self) -> usize {
        self.supports.len()
    }

    pub fn read(&self, r: usize) -> &[f64] {
        &self.log10[r * self.alleles..(r + 1) * self.alleles]
    }

    /// Informative reads per allele (AD).
    pub fn allele_depths(&self) -> Vec<u32> {
        let mut ad = vec![0u32; self.alleles];
        for a in self.supports.iter().flatten() {
            ad[*a] += 1;
        }
        ad
    }

    /// Informative reads as [ref fwd, ref rev, alt fwd, alt rev] (all alts together).
    pub fn strand_table(&self) -> [u64; 4] {
        let mut t = [0u64; 4];
        for (s, &rev) in self.supports.iter().zip(&self.reverse) {
            if let Some(a) = s {
                t[usize::from(*a > 0) * 2 + usize::from(rev)] += 1;
            }
        }
        t
    }
}

/// Reference span [start, end) of a read's alignment (M/D/N/=/X consume the reference).
pub fn read_span(read: &ReadView) -> (u64, u64) {
    let len: u64 =
        read.cigar.iter().filter(|(op, _)| matches!(op, 0 | 2 | 3 | 7 | 8)).map(|&(_, l)| u64::from(l)).sum();
    (read.ref_start, read.ref_start + len)
}

/// Collect the evidence of the reads overlapping `site` (same contig assumed: one region).
pub fn site_evidence(
    site: &Site,
    reads: &[ReadView],
    likelihoods: &LikelihoodMatrix,
    config: &GenotypeConfig,
) -> SiteEvidence {
    let alleles = site.allele_count();
    let (start, end) = site.span();
    let mut ev = SiteEvidence { alleles, ..SiteEvidence::default() };
    let mut lk = vec![0.0; alleles];
    for (r, read) in reads.iter().enumerate() {
        let (rs, re) = read_span(read);
        if rs >= end || re <= start || r >= likelihoods.reads {
            continue;
        }
        marginalize(likelihoods.row(r), &site.hap_allele, &mut lk);
        mix_mapping_error(&mut lk, read.mapq, config.max_mapq);
        ev.supports.push(informative_allele(&lk, config.informative_log10_margin));
        ev.log10.extend_from_slice(&lk);
        ev.mapq.push(read.mapq);
        ev.reverse.push(read.reverse);
        ev.at_site.push(position_in_read(read, site.pos));
        ev.names.push(read.name_hash);
    }
    ev
}

/// Where reference position `ref_pos` lies in `read`: (distance from the nearer end, base
/// quality). As GATK's ReadPosRankSum defines it: the offset in SEQ (soft clips and insertions
/// before it counted), folded at half the bases aligned or soft-clipped (M, =, X, S), so that
/// offset o of n such bases becomes n − 1 − o past n/2. `None` inside a deletion or skip, or off
/// the read.
pub fn position_in_read(read: &ReadView, ref_pos: u64) -> Option<(u32, u8)> {
    let mut query = 0u64;
    let mut reference = read.ref_start;
    let mut offset = None;
    for &(op, len) in &read.cigar {
        let len = u64::from(len);
        match op {
            0 | 7 | 8 => {
                if offset.is_none() && (reference..reference + len).contains(&ref_pos) {
                    offset = Some(query + (ref_pos - reference));
                }
                query += len;
                reference += len;
            }
            1 | 4 => query += len,
            2 | 3 => {
                if offset.is_none() && (reference..reference + len).contains(&ref_pos) {
                    return None;
                }
                reference += len;
            }
            _ => {}
        }
    }
    let offset = offset?;
    let quality = *read.quals.get(offset as usize)?;
    let aligned: u64 =
        read.cigar.iter().filter(|(op, _)| matches!(op, 0 | 4 | 7 | 8)).map(|&(_, l)| u64::from(l)).sum();
    let folded = if offset > aligned / 2 { aligned.saturating_sub(offset + 1) } else { offset };
    Some((u32::try_from(folded).unwrap_or(u32::MAX), quality))
}

/// Allele likelihood = best haplotype carrying the allele (GATK's marginalization).
fn marginalize(hap_lk: &[f64], hap_allele: &[Option<usize>], out: &mut [f64]) {
    out.fill(f64::NEG_INFINITY);
    for (&l, allele) in hap_lk.iter().zip(hap_allele) {
        if let Some(a) = *allele
            && l > out[a]
        {
            out[a] = l;
        }
    }
    for v in out.iter_mut() {
        if !v.is_finite() {
            *v = MISSING_ALLELE_LOG10;
        }
    }
}

/// With probability p_m = 10^(−MAPQ/10) (MAPQ capped at `max_mapq`) the read comes from
/// elsewhere and is equally likely under every allele: l'(a) = log10((1 − p_m)·10^l(a) + p_m·10^best).
/// This caps what one read can say at MAPQ/10 log10 units; MAPQ 0 reads say nothing.
pub fn mix_mapping_error(lk: &mut [f64], mapq: u8, max_mapq: u8) {
    let best = lk.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pm = 10f64.powf(-f64::from(mapq.min(max_mapq)) / 10.0);
    for v in lk.iter_mut() {
        *v = ((1.0 - pm) * 10f64.powf(*v - best) + pm).log10() + best;
    }
}

/// The best allele when it beats the runner-up by at least `margin` log10 units.
fn informative_allele(lk: &[f64], margin: f64) -> Option<usize> {
    let mut best = 0;
    for (a, &v) in lk.iter().enumerate() {
        if v > lk[best] {
            best = a;
        }
    }
    let second = lk.iter().enumerate().filter(|&(a, _)| a != best).map(|(_, &v)| v).fold(f64::NEG_INFINITY, f64::max);
    (lk[best] - second >= margin).then_some(best)
}
