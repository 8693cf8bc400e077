//! Site annotations of a germline call, as GATK 4.x defines them (the `StandardAnnotation` set of
//! HaplotypeCaller; GATK's annotator documentation for each key):
//! - `MQ` (RMSMappingQuality): sqrt(Σ MAPQ² / n) over every read over the site.
//! - `QD` (QualByDepth): QUAL / informative depth (Σ AD) of the sample when its GT is not
//!   hom-ref. GATK replaces a QD above 35 by 30 ± Gaussian noise; dagr writes the plain ratio.
//!   dagr's QUAL counts the paralog (artifact) hypothesis as not variant and saturates near 80–90
//!   for a 30x het, so its QD runs lower than GATK's (see `super` on QUAL).
//! - `FS` (FisherStrand): [`super::fisher_strand`], Phred of Fisher's exact two-sided test on
//!   REF/ALT × forward/reverse informative reads (all ALTs together).
//! - `SOR` (StrandOddsRatio): on that table with 1 added to every cell, R = (refF·altR)/(refR·altF),
//!   SOR = ln(R + 1/R) + ln(min(refF, refR)/max(refF, refR)) − ln(min(altF, altR)/max(altF, altR)).
//! - gVCF only, for joint genotyping: `RAW_MQandDP` (Σ MAPQ², reads) and FORMAT `SB` (the
//!   strand table above as four counts: REF forward, REF reverse, ALT forward, ALT reverse).
//! - `MQRankSum`, `ReadPosRankSum`, `BaseQRankSum` (RankSumTest): the Mann-Whitney U statistic of
//!   the ALT reads' values against the REF reads' (informative reads; all ALTs together), as a z
//!   score: z = (U_alt − n_alt·n_ref/2) / sqrt(n_alt·n_ref/12 · (n + 1 − Σ(t³ − t)/(n(n − 1)))),
//!   ties given their mean rank and the variance corrected for them; positive when the ALT reads'
//!   values are higher. Only where both REF and ALT reads exist. Values: MAPQ; the site's first
//!   base's distance from the nearer read end ([`super::evidence::position_in_read`]); its base
//!   quality. Reads that delete that base give no position or quality. GATK computes an exact U
//!   distribution for small samples, so its values can differ where either side has under ~10
//!   reads; the normal approximation is used throughout here.
//!
//! Pure. Cost per site O(reads · log reads) (the rank sums sort).

use super::evidence::SiteEvidence;
use crate::vcf::model::SiteAnnotations;

/// Every annotation of a site from its evidence, its QUAL and whether its GT carries an ALT.
pub fn annotate(ev: &SiteEvidence, qual: f64, variant_genotype: bool) -> SiteAnnotations {
    let mut ref_mq = Vec::new();
    let mut alt_mq = Vec::new();
    let mut ref_pos = Vec::new();
    let mut alt_pos = Vec::new();
    let mut ref_bq = Vec::new();
    let mut alt_bq = Vec::new();
    for (r, support) in ev.supports.iter().enumerate() {
        let Some(allele) = *support else { continue };
        let (mq, pos, bq) = if allele == 0 {
            (&mut ref_mq, &mut ref_pos, &mut ref_bq)
        } else {
            (&mut alt_mq, &mut alt_pos, &mut alt_bq)
        };
        mq.push(f64::from(ev.mapq[r]));
        if let Some(Some((distance, quality))) = ev.at_site.get(r) {
            pos.push(f64::from(*distance));
            bq.push(f64::from(*quality));
        }
    }
    let informative: u32 = ev.allele_depths().iter().sum();
    let square_sum: u64 = ev.mapq.iter().map(|&q| u64::from(q) * u64::from(q)).sum();
    SiteAnnotations {
        raw_mapq: Some((square_sum, ev.mapq.len() as u32)),
        strand_counts: Some(ev.strand_table().map(|c| c as u32)),
        rms_mapq: rms(ev.mapq.iter().map(|&q| f64::from(q))),
        qual_by_depth: (variant_genotype && informative > 0 && qual.is_finite())
            .then(|| qual.max(0.0) / f64::from(informative)),
        strand_odds_ratio: Some(strand_odds_ratio(ev.strand_table())),
        mq_rank_sum: rank_sum_z(&alt_mq, &ref_mq),
        read_pos_rank_sum: rank_sum_z(&alt_pos, &ref_pos),
        base_q_rank_sum: rank_sum_z(&alt_bq, &ref_bq),
    }
}

/// Root mean square; `None` for no value.
pub fn rms(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u64);
    for v in values {
        sum += v * v;
        n += 1;
    }
    (n > 0).then(|| (sum / n as f64).sqrt())
}

/// GATK's StrandOddsRatio of [ref fwd, ref rev, alt fwd, alt rev] (see the module docs).
pub fn strand_odds_ratio(table: [u64; 4]) -> f64 {
    let [ref_f, ref_r, alt_f, alt_r] = table.map(|c| c as f64 + 1.0);
    let ratio = (ref_f * alt_r) / (ref_r * alt_f);
    let symmetric = ratio + 1.0 / ratio;
    let ref_ratio = ref_f.min(ref_r) / ref_f.max(ref_r);
    let alt_ratio = alt_f.min(alt_r) / alt_f.max(alt_r);
    symmetric.ln() + ref_ratio.ln() - alt_ratio.ln()
}

/// Mann-Whitney U of `alt` against `ref_values` as a tie-corrected z score (see the module docs);
/// `None` unless both sides have values.
pub fn rank_sum_z(alt: &[f64], ref_values: &[f64]) -> Option<f64> {
    let (n1, n2) = (alt.len(), ref_values.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> =
        alt.iter().map(|&v| (v, true)).chain(ref_values.iter().map(|&v| (v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let mut alt_rank_sum = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        let tied = (j - i + 1) as f64;
        tie_term += tied * tied * tied - tied;
        alt_rank_sum += mean_rank * all[i..=j].iter().filter(|(_, is_alt)| *is_alt).count() as f64;
        i = j + 1;
    }
    let (n1, n2, nf) = (n1 as f64, n2 as f64, n as f64);
    let u = alt_rank_sum - n1 * (n1 + 1.0) / 2.0;
    let variance = n1 * n2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if variance <= 0.0 {
        return Some(0.0); // every value tied: no difference
    }
    Some((u - n1 * n2 / 2.0) / variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn strand_odds_ratio_by_hand() {
        // Balanced table: R = 1, ln(2) + ln(1) − ln(1).
        assert!(close(strand_odds_ratio([9, 9, 9, 9]), 2f64.ln()));
        // ref 10/10, alt 10/0 → cells 11, 11, 11, 1: R = (11·1)/(11·11) = 1/11,
        // ln(1/11 + 11) + ln(1) − ln(1/11) = ln(11.0909) + ln(11) = 2.4061 + 2.3979 = 4.8040.
        assert!(close(strand_odds_ratio([10, 10, 10, 0]), 4.8040), "{}", strand_odds_ratio([10, 10, 10, 0]));
        // ref 20/5, alt 3/12 → 21, 6, 4, 13: R = 273/24 = 11.375; ln(11.375 + 0.08791) = 2.4391;
        // ln(6/21) = −1.2528; −ln(4/13) = 1.1787 → 2.3650.
        assert!(close(strand_odds_ratio([20, 5, 3, 12]), 2.3650), "{}", strand_odds_ratio([20, 5, 3, 12]));
    }

    #[test]
    fn rank_sum_by_hand() {
        // ALT {1, 2}, REF {3, 4, 5}: ranks of ALT 1, 2 → U = 3 − 3 = 0; mean 3, var 2·3/12·6 = 3;
        // z = −3/√3 = −1.7321 (ALT lower).
        assert!(close(rank_sum_z(&[1.0, 2.0], &[3.0, 4.0, 5.0]).unwrap(), -1.7321));
        // Mirror image: ALT higher → +1.7321.
        assert!(close(rank_sum_z(&[4.0, 5.0], &[1.0, 2.0, 3.0]).unwrap(), 1.7321));
        // Ties: ALT {60, 60, 20}, REF {60, 60, 60}: sorted 20 | 60 ×5, ranks 1 | 4 each.
        // ALT rank sum 1 + 4 + 4 = 9, U = 9 − 6 = 3, mean 4.5; ties t = 5 (120) and 1 (0):
        // var = 9/12 · (7 − 120/30) = 0.75 · 3 = 2.25 → z = −1.5/1.5 = −1.
        assert!(close(rank_sum_z(&[60.0, 60.0, 20.0], &[60.0, 60.0, 60.0]).unwrap(), -1.0));
        // All tied: 0; one side empty: undefined.
        assert_eq!(rank_sum_z(&[60.0], &[60.0, 60.0]), Some(0.0));
        assert_eq!(rank_sum_z(&[], &[1.0]), None);
        assert_eq!(rank_sum_z(&[1.0], &[]), None);
    }

    #[test]
    fn position_in_read_counts_soft_clips_and_folds_at_the_middle() {
        use super::super::evidence::position_in_read;
        // 2S 5M 2D 3M at 100: SEQ offsets 0-1 clipped, 2-6 on 100-104, 7-9 on 107-109.
        let read = crate::call::types::ReadView {
            name_hash: 0,
            bases: b"AACCCCCGGG".to_vec(),
            quals: (10..20).collect(),
            mapq: 60,
            reverse: false,
            first_of_pair: true,
            ref_start: 100,
            cigar: vec![(4, 2), (0, 5), (2, 2), (0, 3)],
        };
        assert_eq!(position_in_read(&read, 100), Some((2, 12)), "offset 2 of 10 aligned-or-clipped bases");
        assert_eq!(position_in_read(&read, 104), Some((3, 16)), "offset 6 > 10/2 folds to 10 − 1 − 6");
        assert_eq!(position_in_read(&read, 105), None, "deleted in the read");
        assert_eq!(position_in_read(&read, 107), Some((2, 17)), "offset 7 folds to 2");
        assert_eq!(position_in_read(&read, 110), None, "past the read");
        assert_eq!(position_in_read(&read, 99), None, "before the read (clipped bases are not placed)");
    }

    #[test]
    fn rms_by_hand() {
        // sqrt((60² + 60² + 0²)/3) = sqrt(2400) = 48.99
        assert!(close(rms([60.0, 60.0, 0.0].into_iter()).unwrap(), 48.9898));
        assert_eq!(rms(std::iter::empty()), None);
    }

    #[test]
    fn qual_by_depth_divides_by_informative_reads_of_a_variant_genotype() {
        let ev = SiteEvidence {
            log10: vec![0.0; 8],
            alleles: 2,
            supports: vec![Some(0), Some(1), Some(1), None],
            mapq: vec![60, 60, 50, 0],
            reverse: vec![false, true, false, true],
            at_site: vec![Some((10, 30)), Some((2, 20)), Some((3, 25)), None],
            names: vec![1, 2, 3, 4],
        };
        let a = annotate(&ev, 90.0, true);
        assert!(close(a.qual_by_depth.unwrap(), 30.0), "QUAL 90 over 3 informative reads");
        assert_eq!(annotate(&ev, 90.0, false).qual_by_depth, None, "hom-ref GT: no QD");
        // MQ over all 4 reads: sqrt((3600 + 3600 + 2500 + 0)/4) = 49.244
        assert!(close(a.rms_mapq.unwrap(), 49.2443));
        // ALT MAPQ {60, 50} vs REF {60}: ranks 50→1, 60→2.5, 2.5: ALT sum 3.5, U = 0.5, mean 1,
        // ties t = 2 (6): var = 2/12 · (4 − 6/6) = 0.5 → z = −0.5/0.7071 = −0.7071.
        assert!(close(a.mq_rank_sum.unwrap(), -std::f64::consts::FRAC_1_SQRT_2));
        // Positions ALT {2, 3} vs REF {10}: U = 0 − ... ranks 1, 2 | 3: U = 3 − 3 = 0, mean 1,
        // var 2/12 · 4 = 0.6667 → z = −1.2247; base qualities ALT {20, 25} vs REF {30}: same.
        assert!(close(a.read_pos_rank_sum.unwrap(), -1.2247));
        assert!(close(a.base_q_rank_sum.unwrap(), -1.2247));
        // Strand table [ref f 1, ref r 0, alt f 1, alt r 1] → SOR on 2, 1, 2, 2.
        assert!(close(a.strand_odds_ratio.unwrap(), strand_odds_ratio([1, 0, 1, 1])));
        assert_eq!(a.strand_counts, Some([1, 0, 1, 1]));
        assert_eq!(a.raw_mapq, Some((3600 + 3600 + 2500, 4)), "RAW_MQandDP over every read");
    }
}
