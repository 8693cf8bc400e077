//! Hand-made equivalent spellings (must match) and near misses (must not), first one cluster at a
//! time through [`judge`], then whole files through [`crate::bench::compare`].

use super::HaplotypeOptions;
use super::cluster::{Judgement, Verdict, judge};
use super::spell::{Edit, Window, spell};
use crate::bench::{CompareOptions, QueryFilter, TruthFilter, compare};
use crate::genome::region::Position;
use crate::vcf::normalize::NormalizedVariant;
use crate::vcf::record::Genotype;
use crate::vcf::sequence::InMemoryFasta;
use std::sync::Arc;

/// 40 bases that repeat nothing of the segments between them.
const SPACER: &str = "GATTCGCATGCAAGTCCTGAGGTTACAGTCGGATCCATAG";
/// 0-based: T0 C1 A2 C3 A4 C5 A6 G7, an STR of CA.
const STR: &str = "TCACACAG";
/// 0-based: A0 C1 G2 T3 T4 G5 C6 A7.
const PLAIN: &str = "ACGTTGCA";

/// `SPACER STR SPACER PLAIN SPACER STR SPACER`: STR at 40 and 136, PLAIN at 88.
fn reference() -> InMemoryFasta {
    let seq = [SPACER, STR, SPACER, PLAIN, SPACER, STR, SPACER].concat();
    InMemoryFasta::from_sequences([("c", seq.as_bytes())])
}

const STR_AT: u64 = 40;
const PLAIN_AT: u64 = 88;
const STR2_AT: u64 = 136;

/// A variant at 0-based `pos0` from file record `source`.
fn var(pos0: u64, r: &str, a: &str, gt: Option<&str>, source: u64) -> NormalizedVariant {
    NormalizedVariant {
        contig: Arc::from("c"),
        pos: Position::from_zero_based(pos0).unwrap(),
        ref_allele: r.as_bytes().into(),
        alt: a.as_bytes().into(),
        filter_pass: true,
        genotype: gt.map(|g| Genotype::parse(g, 1).unwrap()),
        ref_mismatch: false,
        source,
    }
}

fn run(truth: &[NormalizedVariant], query: &[NormalizedVariant]) -> Judgement {
    run_with(truth, query, HaplotypeOptions::default())
}

fn run_with(truth: &[NormalizedVariant], query: &[NormalizedVariant], options: HaplotypeOptions) -> Judgement {
    let t: Vec<&NormalizedVariant> = truth.iter().collect();
    let q: Vec<&NormalizedVariant> = query.iter().collect();
    judge(&t, &q, &reference(), options).unwrap()
}

fn verdict(truth: &[NormalizedVariant], query: &[NormalizedVariant]) -> Verdict {
    run(truth, query).verdict
}

#[test]
fn edits_trim_anchors_and_spell_in_order() {
    assert_eq!(Edit::new(10, b"TCA", b"T"), Edit { start: 11, end: 13, ins: vec![] });
    assert_eq!(Edit::new(10, b"T", b"TGG"), Edit { start: 11, end: 11, ins: b"GG".to_vec() });
    assert_eq!(Edit::new(10, b"ACA", b"G"), Edit { start: 10, end: 13, ins: b"G".to_vec() });
    let window = Window { start: 100, bases: b"ACGTACGT" };
    let edits = [Edit::new(101, b"C", b"T"), Edit::new(103, b"TAC", b"T"), Edit::new(103, b"T", b"TT")];
    assert_eq!(spell(&[0, 1], &edits, window).unwrap(), b"ATGTGT");
    // The insertion after T at 103 lies inside nothing, the deletion starts after it: fine.
    assert_eq!(spell(&[1, 2], &edits, window).unwrap(), b"ACGTTGT");
    // Overlapping spans, two insertions at one point: not one haplotype.
    assert_eq!(spell(&[1, 1], &edits, window), None);
    assert_eq!(spell(&[2, 2], &edits, window), None);
}

#[test]
fn snv_plus_indel_matches_the_complex_record() {
    let (s, p) = (STR_AT, PLAIN_AT);
    // TCACACAG -> TCACGG: delete CA at 1 and A6>G, or one complex ACA>G at 4.
    let truth = [var(s, "TCA", "T", Some("0/1"), 1), var(s + 6, "A", "G", Some("0/1"), 2)];
    let query = [var(s + 4, "ACA", "G", Some("0/1"), 7)];
    assert_eq!(run(&truth, &query), Judgement { verdict: Verdict::Match, alleles_only: false });
    // ACGTTGCA -> AGTGCA: SNV C1>G + deletion of G2T3 (both anchored at 1), or complex CGT>G.
    let truth = [var(p + 1, "C", "G", Some("1/1"), 1), var(p + 1, "CGT", "C", Some("1/1"), 2)];
    let query = [var(p + 1, "CGT", "G", Some("1/1"), 3)];
    assert_eq!(verdict(&truth, &query), Verdict::Match);
    // Near miss: the complex record inserts T instead of G.
    let query = [var(p + 1, "CGT", "T", Some("1/1"), 3)];
    assert_eq!(verdict(&truth, &query), Verdict::Differ);
}

#[test]
fn shifted_str_indels_match_and_other_lengths_do_not() {
    let s = STR_AT;
    // One CA unit deleted at the left or the right end of the repeat, beside an SNV after it.
    let truth = [var(s, "TCA", "T", Some("0|1"), 1), var(s + 7, "G", "T", Some("0|1"), 2)];
    let query = [var(s + 4, "ACA", "A", Some("0|1"), 1), var(s + 7, "G", "T", Some("0|1"), 2)];
    assert_eq!(verdict(&truth, &query), Verdict::Match);
    // An insertion of AC spelled at two points of the repeat.
    let truth = [var(s, "T", "TCA", Some("0/1"), 1)];
    let query = [var(s + 5, "C", "CAC", Some("0/1"), 1)];
    assert_eq!(verdict(&truth, &query), Verdict::Match);
    // Near misses: two units instead of one; a deletion of AC off the repeat's phase (TACACAG).
    let query = [var(s + 2, "ACACA", "A", Some("0/1"), 1)];
    assert_eq!(verdict(&[var(s, "TCA", "T", Some("0/1"), 1)], &query), Verdict::Differ);
    let query = [var(s, "TC", "T", Some("0/1"), 1), var(s + 7, "G", "GA", Some("0/1"), 2)];
    assert_eq!(verdict(&[var(s, "TCA", "T", Some("0/1"), 1)], &query), Verdict::Differ);
}

#[test]
fn mnp_matches_its_snvs_when_the_phase_allows() {
    let p = PLAIN_AT;
    // GTT at 2..5 -> CGA: an MNP, or three SNVs.
    let mnp = [var(p + 2, "GTT", "CGA", Some("0|1"), 1)];
    let snvs = |gts: [&str; 3]| {
        [
            var(p + 2, "G", "C", Some(gts[0]), 2),
            var(p + 3, "T", "G", Some(gts[1]), 3),
            var(p + 4, "T", "A", Some(gts[2]), 4),
        ]
    };
    // Unphased SNVs: some phasing puts all three on one haplotype.
    assert_eq!(verdict(&mnp, &snvs(["0/1", "0/1", "0/1"])), Verdict::Match);
    // Phased on both sides: the phase must agree (the pair is unordered, 1|0 everywhere is fine).
    assert_eq!(verdict(&mnp, &snvs(["1|0", "1|0", "1|0"])), Verdict::Match);
    assert_eq!(verdict(&mnp, &snvs(["0|1", "1|0", "0|1"])), Verdict::Differ);
    // One SNV missing: a near miss.
    assert_eq!(verdict(&mnp, &snvs(["0/1", "0/1", "0/1"])[..2]), Verdict::Differ);
}

#[test]
fn rows_of_one_unphased_record_keep_their_phase() {
    let s = STR_AT;
    // The truth's complex record atomized into two rows (one file record): cis, unphased.
    let truth = [var(s, "TCA", "T", Some("0/1"), 5), var(s + 6, "A", "G", Some("0/1"), 5)];
    let cis = [var(s, "TCA", "T", Some("0|1"), 1), var(s + 6, "A", "G", Some("0|1"), 2)];
    let trans = [var(s, "TCA", "T", Some("0|1"), 1), var(s + 6, "A", "G", Some("1|0"), 2)];
    assert_eq!(verdict(&truth, &cis), Verdict::Match);
    assert_eq!(verdict(&truth, &trans), Verdict::Differ);
    // The same rows from two unphased records may lie either way.
    let loose = [var(s, "TCA", "T", Some("0/1"), 5), var(s + 6, "A", "G", Some("0/1"), 6)];
    assert_eq!(verdict(&loose, &trans), Verdict::Match);
}

#[test]
fn zygosity_differences_are_counted_apart() {
    let s = STR_AT;
    let truth = [var(s, "TCA", "T", Some("1/1"), 1), var(s + 6, "A", "G", Some("1/1"), 2)];
    let het = [var(s + 4, "ACA", "G", Some("0/1"), 1)];
    assert_eq!(verdict(&truth, &het), Verdict::ZygosityOnly);
    // Het-alt truth (one STR deletion, one insertion) against a call of the deletion alone.
    let truth = [var(s, "TCA", "T", Some("1/0"), 1), var(s, "T", "TCA", Some("0/1"), 1)];
    assert_eq!(verdict(&truth, &[var(s, "TCA", "T", Some("0/1"), 1)]), Verdict::Differ);
    assert_eq!(
        verdict(&truth, &[var(s, "TCA", "T", Some("0/1"), 1), var(s, "T", "TCA", Some("1/0"), 2)]),
        Verdict::Match
    );
    // Haploid on both sides.
    let truth = [var(s, "TCA", "T", Some("1"), 1), var(s + 6, "A", "G", Some("1"), 2)];
    assert_eq!(verdict(&truth, &[var(s + 4, "ACA", "G", Some("1"), 1)]), Verdict::Match);
}

#[test]
fn without_genotypes_alleles_are_compared() {
    let s = STR_AT;
    let truth = [var(s, "TCA", "T", None, 1), var(s + 6, "A", "G", None, 2)];
    let query = [var(s + 4, "ACA", "G", Some("0/1"), 1)];
    assert_eq!(run(&truth, &query), Judgement { verdict: Verdict::Match, alleles_only: true });
    let query = [var(s + 4, "ACA", "T", Some("0/1"), 1)];
    assert_eq!(run(&truth, &query), Judgement { verdict: Verdict::Differ, alleles_only: true });
}

#[test]
fn guards_keep_the_exact_result() {
    let s = STR2_AT;
    let truth = [var(s + 1, "C", "G", Some("0/1"), 1)];
    // 8 unphased het SNVs: 8 free units, over a limit of 4.
    let bases = STR.as_bytes();
    let query: Vec<NormalizedVariant> = (0..8)
        .map(|i| {
            let r = (bases[i] as char).to_string();
            let a = if r == "A" { "C" } else { "A" };
            var(s + i as u64, &r, a, Some("0/1"), i as u64)
        })
        .collect();
    let tight = HaplotypeOptions { max_distance: 30, max_phasing_units: 4 };
    assert_eq!(run_with(&truth, &query, tight).verdict, Verdict::TooManyPhasings);
    assert_eq!(run(&truth, &query).verdict, Verdict::Differ);
    // Mixed ploidy on one side, a REF that does not match the reference.
    let mixed = [var(s + 1, "C", "G", Some("0/1"), 1), var(s + 3, "C", "G", Some("1"), 2)];
    assert_eq!(verdict(&mixed, &truth), Verdict::NotComparable);
    let mut bad = var(s + 1, "C", "G", Some("0/1"), 1);
    bad.ref_mismatch = true;
    assert_eq!(verdict(&[bad], &truth), Verdict::NotComparable);
}

/// Writes a one-sample VCF over contig `c` of [`reference`].
fn vcf(dir: &std::path::Path, name: &str, records: &[(u64, &str, &str, &str)]) -> std::path::PathBuf {
    let mut text = String::from("##fileformat=VCFv4.2\n##contig=<ID=c>\n");
    text.push_str("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n");
    for (pos1, r, a, gt) in records {
        text.push_str(&format!("c\t{pos1}\t.\t{r}\t{a}\t50\tPASS\t.\tGT\t{gt}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn compare_counts_truth_and_query_matches_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (s, p, s2) = (STR_AT + 1, PLAIN_AT + 1, STR2_AT + 1); // 1-based
    let truth = vcf(
        dir.path(),
        "truth.vcf",
        &[
            (s, "TCA", "T", "0|1"), // with the next: one complex query record
            (s + 6, "A", "G", "0|1"),
            (p + 5, "G", "T", "1|1"), // exact match
            (s2, "TCA", "T", "1|1"),  // near miss: the query spells ACA>T
            (s2 + 6, "A", "G", "1|1"),
        ],
    );
    let query = vcf(
        dir.path(),
        "query.vcf",
        &[(s + 4, "ACA", "G", "0/1"), (p + 5, "G", "T", "1/1"), (s2 + 4, "ACA", "T", "1/1")],
    );
    let options = CompareOptions {
        truth_filter: TruthFilter::Auto,
        query_filter: QueryFilter::PassWithAlt,
        ..Default::default()
    };
    let report = compare(&truth, &query, &reference(), &options).unwrap();
    // Exact: SNV 1 TP, 2 FN; INDEL 0 TP, 2 FP, 2 FN.
    assert_eq!((report.snv.tp, report.snv.fp, report.snv.fn_), (1, 0, 2));
    assert_eq!((report.indel.tp, report.indel.fp, report.indel.fn_), (0, 2, 2));
    let h = report.haplotype;
    assert_eq!((h.snv.tp_truth, h.snv.tp_query, h.snv.fp, h.snv.fn_), (2, 1, 0, 1));
    assert_eq!((h.indel.tp_truth, h.indel.tp_query, h.indel.fp, h.indel.fn_), (1, 1, 1, 1));
    assert_eq!(format!("{:.4} {:.4}", h.indel.precision, h.indel.recall), "0.5000 0.5000");
    let c = h.clusters;
    assert_eq!((c.total, c.with_exact_errors, c.examined, c.rescued), (3, 2, 2, 1));
    assert_eq!((c.zygosity_only, c.alleles_only, c.too_many_phasings, c.not_comparable), (0, 0, 0, 0));
    let table = crate::bench::render_table(&report);
    assert!(table.contains("haplotype-aware") && table.contains("1 rescued"), "{table}");
}
