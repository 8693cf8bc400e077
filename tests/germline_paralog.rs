//! `dagr run germline` on GERM plus the reads of a diverged paralog that the reference lacks
//! (`testdata/paralog/`, an extra lane): the paralog's differences must not be PASS calls, and
//! GERM's truth in `confident.bed` must still be recalled with no PASS false positive.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use rust_htslib::bam::{self, Read as _};
use std::path::Path;

/// (pos 1-based, ref, alt) of the paralog differences.
fn paralog_diffs() -> Vec<(u64, String, String)> {
    std::fs::read_to_string(testdata().join("paralog/paralog_diffs.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].parse().unwrap(), f[2].to_string(), f[3].to_string())
        })
        .collect()
}

/// PASS records carrying an ALT in their GT: (pos 1-based, REF length, line).
fn pass_variant_records(vcf: &Path) -> Vec<(u64, u64, String)> {
    let out = std::process::Command::new("gzip").arg("-dc").arg(vcf).output().expect("gzip runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let gt = f[9].split(':').next().unwrap_or("");
            let has_alt = gt.split(['/', '|']).any(|a| a != "0" && a != ".");
            (f[6] == "PASS" && has_alt).then(|| (f[1].parse().unwrap(), f[3].len() as u64, l.to_string()))
        })
        .collect()
}

#[test]
fn paralog_differences_are_not_called_and_germ_truth_is_kept() {
    let work = tempfile::tempdir().unwrap();
    let sheet = germ_sheet_with_extra_lane(work.path(), "paralog", "L5");
    let outdir = work.path().join("out");
    let (code, _, err) = run(qc_run(work.path(), "germline", &sheet, &outdir)
        .args(["--threads", "2"])
        .env("SOURCE_DATE_EPOCH", "1790000000"));
    assert_eq!(code, 0, "{err}");
    let dir = outdir.join("GERM");

    // The case is real: the paralog reads are in the BAM, placed over the copied segment with
    // usable MAPQ (so a caller that trusts them calls the differences).
    let mut reader = bam::Reader::from_path(dir.join("GERM.bam")).unwrap();
    let mut placed = 0;
    for rec in reader.records() {
        let rec = rec.unwrap();
        if rec.qname().starts_with(b"PARA:") && !rec.is_unmapped() && rec.mapq() >= 20 {
            assert!((261_500..266_500).contains(&rec.pos()), "paralog read outside its segment at {}", rec.pos());
            placed += 1;
        }
    }
    assert!(placed >= 300, "only {placed} paralog reads placed with MAPQ >= 20");

    let vcf = dir.join("GERM.vcf.gz");
    let pass = pass_variant_records(&vcf);
    let diffs = paralog_diffs();
    assert_eq!(diffs.len(), 80);
    let called: Vec<&String> = diffs
        .iter()
        .flat_map(|&(pos, _, _)| pass.iter().filter(move |(p, len, _)| *p <= pos && pos < p + len).map(|(_, _, l)| l))
        .collect();
    assert!(called.is_empty(), "{} paralog differences called PASS:\n{called:#?}", called.len());

    let reference = dagr::vcf::InMemoryFasta::from_path(&testdata().join("ref/ref.fa")).unwrap();
    let options = dagr::bench::CompareOptions { regions: Some(testdata().join("confident.bed")), ..Default::default() };
    let r = dagr::bench::compare(&testdata().join("germline/truth.vcf.gz"), &vcf, &reference, &options).unwrap();
    // Measured: SNV 79 TP / 0 FP / 0 FN, indel 18 / 0 / 0 (GERM alone scores the same).
    assert!(r.snv.fp == 0 && r.snv.fn_ == 0, "SNV {:?}", r.snv);
    assert!(r.indel.fp == 0 && r.indel.fn_ == 0, "indel {:?}", r.indel);
}
