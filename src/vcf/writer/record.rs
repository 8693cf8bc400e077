//! Record lines: a called variant (VCF or gVCF form) and a gVCF reference block.
//!
//! Formats: POS is the 0-based start + 1; ID `.`; QUAL with one decimal (`.` when not finite),
//! negative values written as 0; FILTER `PASS` or the failed filters joined by `;`; INFO keys in
//! alphabetical order, each where defined: AC, AF, AN (VCF only), BaseQRankSum, DP (filtered
//! depth, all reads), FS, MQ, MQRankSum, QD, ReadPosRankSum, SOR (the caller computes
//! them; their definitions are documented with it), QD and MQ with two decimals, the others three; gVCF
//! variant records add INFO `RAW_MQandDP` and FORMAT `SB` (after PL) for joint genotyping;
//! FORMAT GT:AD:DP:GQ:PL, DP the informative reads (sum of AD), GT
//! unphased (`0/1`, `1/2`, haploid `1`), or phased (`0|1`, `1|0`) with `:PS` appended (the
//! 1-based POS of the phase block's first het), AD `.` when the caller gives none. gVCF variant records
//! add `<NON_REF>` as the last ALT, AD 0 for it and PL extended for it
//! ([`super::gvcf::extend_pl_with_non_ref`]). Reference blocks: REF the reference base at the
//! start (upper case; any base other than A/C/G/T written N), ALT `<NON_REF>`, QUAL and FILTER
//! `.`, `END=`, FORMAT GT:DP:GQ:MIN_DP:PL with GQ capped at 99.

use super::gvcf::{MAX_BLOCK_GQ, block_pl, extend_pl_with_non_ref, genotype_count};
use crate::genome::ploidy::Ploidy;
use crate::vcf::model::{CalledVariant, RefBlock, SomaticCall};
use std::io::Write as _;

/// Appends `v` as one line. `non_ref`: gVCF form. The message says what is inconsistent.
pub(super) fn variant_line(out: &mut Vec<u8>, contig: &str, v: &CalledVariant, non_ref: bool) -> Result<(), String> {
    check_variant(v)?;
    let alleles = v.alt_alleles.len() + 1;
    let ploidy = v.genotype.len();
    let pl = if non_ref {
        extend_pl_with_non_ref(&v.pl, alleles, ploidy).ok_or("PL has the wrong number of values")?
    } else {
        v.pl.clone()
    };
    let _ = write!(out, "{contig}\t{}\t.\t", v.pos + 1);
    out.extend(v.ref_allele.iter().map(u8::to_ascii_uppercase));
    out.push(b'\t');
    for (i, alt) in v.alt_alleles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(alt.iter().map(u8::to_ascii_uppercase));
    }
    if non_ref {
        out.extend_from_slice(b",<NON_REF>");
    }
    out.push(b'\t');
    if v.qual.is_finite() {
        let _ = write!(out, "{:.1}", v.qual.max(0.0));
    } else {
        out.push(b'.');
    }
    out.push(b'\t');
    if v.filters.is_empty() {
        out.extend_from_slice(b"PASS");
    } else {
        out.extend_from_slice(v.filters.join(";").as_bytes());
    }
    out.push(b'\t');
    info_column(out, v, !non_ref);
    let strand_counts = v.annotations.strand_counts.filter(|_| non_ref);
    out.extend_from_slice(b"\tGT:AD:DP:GQ:PL");
    if strand_counts.is_some() {
        out.extend_from_slice(b":SB");
    }
    if v.phase.is_some() {
        out.extend_from_slice(b":PS");
    }
    out.push(b'\t');
    write_gt(out, &v.genotype, v.phase.map(|p| p.flipped));
    out.push(b':');
    if v.allele_depths.is_empty() {
        out.push(b'.');
    } else {
        join(out, &v.allele_depths);
        if non_ref {
            out.extend_from_slice(b",0");
        }
    }
    let informative: u32 = v.allele_depths.iter().sum();
    let _ = write!(out, ":{informative}:{}:", v.gq);
    join(out, &pl);
    if let Some(sb) = strand_counts {
        out.push(b':');
        join(out, &sb);
    }
    if let Some(phase) = v.phase {
        let _ = write!(out, ":{}", phase.set_pos + 1);
    }
    out.push(b'\n');
    Ok(())
}

/// The INFO column of a variant record, keys in alphabetical order (as GATK writes them), each
/// only where defined; `.` when none is. `allele_counts`: AC, AF and AN from the genotype (the
/// VCF; a gVCF leaves them to the joint genotyper, as GATK's does).
fn info_column(out: &mut Vec<u8>, v: &CalledVariant, allele_counts: bool) {
    let a = &v.annotations;
    let float = |x: Option<f64>, decimals: usize| x.filter(|x| x.is_finite()).map(|x| fixed(x, decimals));
    let mut fields: Vec<(&str, Option<String>)> = Vec::with_capacity(11);
    if allele_counts {
        let an = v.genotype.len();
        let ac: Vec<usize> =
            (1..=v.alt_alleles.len()).map(|k| v.genotype.iter().filter(|&&g| usize::from(g) == k).count()).collect();
        let list = |values: Vec<String>| Some(values.join(","));
        fields.push(("AC", list(ac.iter().map(usize::to_string).collect())));
        fields.push(("AF", list(ac.iter().map(|&c| fixed(c as f64 / an as f64, 3)).collect())));
        fields.push(("AN", Some(an.to_string())));
    }
    fields.extend([
        ("BaseQRankSum", float(a.base_q_rank_sum, 3)),
        ("DP", Some(v.depth.to_string())),
        ("FS", float(v.fisher_strand.map(|fs| fs.max(0.0)), 3)),
        ("MQ", float(a.rms_mapq, 2)),
        ("MQRankSum", float(a.mq_rank_sum, 3)),
        ("QD", float(a.qual_by_depth, 2)),
        ("RAW_MQandDP", a.raw_mapq.filter(|_| !allele_counts).map(|(squares, reads)| format!("{squares},{reads}"))),
        ("ReadPosRankSum", float(a.read_pos_rank_sum, 3)),
        ("SOR", float(a.strand_odds_ratio, 3)),
    ]);
    let mut first = true;
    for (key, value) in fields {
        let Some(value) = value else { continue };
        if !first {
            out.push(b';');
        }
        first = false;
        let _ = write!(out, "{key}={value}");
    }
}

/// `x` with `decimals` decimals, never `-0.000`.
fn fixed(x: f64, decimals: usize) -> String {
    let scale = 10f64.powi(decimals as i32);
    let rounded = (x * scale).round() / scale + 0.0;
    format!("{rounded:.decimals$}")
}

/// Appends `block` as one line; `ref_base` is the reference base at `block.start`.
/// A somatic record: `GT:AD:AF:DP:F1R2:F2R1` for the tumour then the normal sample.
pub(super) fn somatic_line(out: &mut Vec<u8>, contig: &str, c: &SomaticCall) -> Result<(), String> {
    if c.ref_allele.is_empty() || c.alt_allele.is_empty() || c.ref_allele == c.alt_allele {
        return Err("a somatic record needs distinct, non-empty REF and ALT".into());
    }
    if !c.tumour_log_odds.is_finite() || !c.normal_log_odds.is_finite() {
        return Err("log-odds must be finite".into());
    }
    let _ = write!(out, "{contig}\t{}\t.\t", c.pos + 1);
    out.extend(c.ref_allele.iter().map(u8::to_ascii_uppercase));
    out.push(b'\t');
    out.extend(c.alt_allele.iter().map(u8::to_ascii_uppercase));
    out.extend_from_slice(b"\t.\t");
    if c.filters.is_empty() {
        out.extend_from_slice(b"PASS");
    } else {
        out.extend_from_slice(c.filters.join(";").as_bytes());
    }
    let _ = write!(out, "\tTLOD={:.2};NLOD={:.2}\tGT:AD:AF:DP:F1R2:F2R1", c.tumour_log_odds, c.normal_log_odds);
    for (sample, gt) in [(&c.tumour, "0/1"), (&c.normal, "0/0")] {
        let _ = write!(
            out,
            "\t{gt}:{},{}:{:.3}:{}:{},{}:{},{}",
            sample.ref_reads,
            sample.alt_reads,
            sample.alt_fraction,
            sample.depth,
            sample.f1r2[0],
            sample.f1r2[1],
            sample.f2r1[0],
            sample.f2r1[1]
        );
    }
    out.push(b'\n');
    Ok(())
}

pub(super) fn block_line(out: &mut Vec<u8>, contig: &str, block: &RefBlock, ref_base: u8) -> Result<(), String> {
    if block.start >= block.end {
        return Err(format!("reference block end {} is not after its start", block.end));
    }
    let base = match ref_base.to_ascii_uppercase() {
        b @ (b'A' | b'C' | b'G' | b'T') => b,
        _ => b'N',
    };
    if block.pl[0] != 0 {
        return Err("reference block PL must be 0 for the hom-ref genotype".into());
    }
    let gt: &[u8] = match (block.ploidy, block.no_call) {
        (Ploidy::Haploid, false) => b"0",
        (Ploidy::Diploid, false) => b"0/0",
        (Ploidy::Haploid, true) => b".",
        (Ploidy::Diploid, true) => b"./.",
        (Ploidy::Absent, _) => return Err("reference block with absent ploidy".into()),
    };
    if block.no_call && (block.gq != 0 || block.pl.iter().any(|&p| p != 0)) {
        return Err("a no-call block must have GQ 0 and PL 0".into());
    }
    let _ = write!(
        out,
        "{contig}\t{}\t.\t{}\t<NON_REF>\t.\t.\tEND={}\tGT:DP:GQ:MIN_DP:PL\t",
        block.start + 1,
        base as char,
        block.end
    );
    out.extend_from_slice(gt);
    let _ = write!(out, ":{}:{}:{}:", block.depth, block.gq.min(MAX_BLOCK_GQ), block.min_depth);
    join(out, block_pl(block));
    out.push(b'\n');
    Ok(())
}

fn check_variant(v: &CalledVariant) -> Result<(), String> {
    let allele_ok = |a: &[u8]| !a.is_empty() && a.iter().all(|b| b"ACGTNacgtn".contains(b));
    if !allele_ok(&v.ref_allele) {
        return Err(format!("REF {:?} is not a non-empty A/C/G/T/N string", String::from_utf8_lossy(&v.ref_allele)));
    }
    if v.alt_alleles.is_empty() {
        return Err("no ALT allele".into());
    }
    for (i, alt) in v.alt_alleles.iter().enumerate() {
        if !(allele_ok(alt) || alt.as_slice() == b"*") {
            return Err(format!("ALT {:?} is not an A/C/G/T/N string or `*`", String::from_utf8_lossy(alt)));
        }
        if alt.eq_ignore_ascii_case(&v.ref_allele) || v.alt_alleles[..i].iter().any(|a| a.eq_ignore_ascii_case(alt)) {
            return Err(format!("ALT {:?} repeats REF or another ALT", String::from_utf8_lossy(alt)));
        }
    }
    let alleles = v.alt_alleles.len() + 1;
    let ploidy = v.genotype.len();
    if !(1..=2).contains(&ploidy) {
        return Err(format!("genotype has {ploidy} alleles (haploid or diploid expected)"));
    }
    if v.genotype.iter().any(|&a| usize::from(a) >= alleles) || v.genotype.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!("genotype {:?} is not sorted allele indices below {alleles}", v.genotype));
    }
    let expected = genotype_count(alleles, ploidy);
    if v.pl.len() != expected {
        return Err(format!(
            "PL has {} values, {expected} expected for {alleles} alleles and ploidy {ploidy}",
            v.pl.len()
        ));
    }
    if !v.allele_depths.is_empty() && v.allele_depths.len() != alleles {
        return Err(format!("AD has {} values, {alleles} expected", v.allele_depths.len()));
    }
    Ok(())
}

/// GT: unphased `a/b` (sorted), or phased `a|b`, `b|a` when `flipped`.
fn write_gt(out: &mut Vec<u8>, genotype: &[u8], flipped: Option<bool>) {
    let order: Vec<u8> =
        if flipped == Some(true) { genotype.iter().rev().copied().collect() } else { genotype.to_vec() };
    let separator = if flipped.is_some() { b'|' } else { b'/' };
    for (i, a) in order.iter().enumerate() {
        if i > 0 {
            out.push(separator);
        }
        let _ = write!(out, "{a}");
    }
}

fn join(out: &mut Vec<u8>, values: &[u32]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{v}");
    }
}
