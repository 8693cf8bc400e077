//! `dagr run germline` on testdata: accuracy against the truth, standard outputs, and a VCF that
//! does not depend on the thread count or the shard size.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn run_germline(work: &Path, pipeline: &str, outdir: &Path, threads: &str) {
    let sheet = testdata().join("samplesheet_germline.csv");
    let (code, _, err) =
        run(qc_run(work, pipeline, &sheet, outdir).args(["--threads", threads]).env("SOURCE_DATE_EPOCH", "1790000000"));
    assert_eq!(code, 0, "{err}");
}

/// VCF text without the lines that name the command (pipeline path and outdir differ by design).
fn vcf_body(path: &Path) -> String {
    let out = std::process::Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("##dagr_command"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn shard_size_pipeline(work: &Path, size: u64) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/germline.yaml")).unwrap();
    assert!(text.contains("shard_size: 250000"));
    let p = work.join(format!("germline-{size}.yaml"));
    std::fs::write(&p, text.replace("shard_size: 250000", &format!("shard_size: {size}"))).unwrap();
    p
}

#[test]
fn germline_calls_match_the_truth_and_do_not_depend_on_threads_or_shards() {
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a");
    run_germline(work.path(), "germline", &a, "2");
    let vcf = a.join("GERM/GERM.vcf.gz");
    for f in [
        "GERM.vcf.gz",
        "GERM.vcf.gz.tbi",
        "GERM.g.vcf.gz",
        "GERM.g.vcf.gz.tbi",
        "GERM.callable.bed.gz",
        "GERM.variant_qc.json",
    ] {
        assert!(a.join("GERM").join(f).is_file(), "{f} missing");
        assert!(a.join("GERM").join(format!("{f}.md5")).is_file(), "{f}.md5 missing");
    }

    let reference = dagr::vcf::InMemoryFasta::from_path(&testdata().join("ref/ref.fa")).unwrap();
    let options = dagr::bench::CompareOptions { regions: Some(testdata().join("confident.bed")), ..Default::default() };
    let r = dagr::bench::compare(&testdata().join("germline/truth.vcf.gz"), &vcf, &reference, &options).unwrap();
    // Measured at the end of the session: SNV 79 TP / 0 FP / 0 FN, indel 18 / 0 / 0.
    assert!(r.snv.fp <= 1 && r.snv.fn_ <= 3, "SNV {:?}", r.snv);
    assert!(r.indel.fp <= 1 && r.indel.fn_ <= 1, "indel {:?}", r.indel);

    // Same VCF and gVCF at 1 thread and another shard size.
    let b = work.path().join("b");
    let p = shard_size_pipeline(work.path(), 10_000);
    run_germline(work.path(), p.to_str().unwrap(), &b, "1");
    assert_eq!(vcf_body(&vcf), vcf_body(&b.join("GERM/GERM.vcf.gz")));
    assert_eq!(vcf_body(&a.join("GERM/GERM.g.vcf.gz")), vcf_body(&b.join("GERM/GERM.g.vcf.gz")));

    // Readers accept it without a warning (a missing bcftools fails under CI, else skips this).
    if !require_tool("bcftools") {
        return;
    }
    for f in ["GERM.vcf.gz", "GERM.g.vcf.gz"] {
        let out = std::process::Command::new("bcftools")
            .args(["view", "-Ov", "-o", "/dev/null"])
            .arg(a.join("GERM").join(f))
            .output()
            .unwrap();
        assert!(out.status.success(), "bcftools view {f} failed");
        assert!(out.stderr.is_empty(), "bcftools warns on {f}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn shards_follow_the_reads_and_the_calls_do_not_move() {
    // The test contig (1 Mb, reads all along) and a 1 Mb contig that no read comes from: cut by
    // length, 4 + 4 shards of 250 kb; cut by the index's bytes (a BAI, or a CRAI for a CRAM), the
    // test contig's reads in pieces of about 250 kb at their typical coverage and the empty
    // contig in pieces of at most 500 kb.
    let work = tempfile::tempdir().unwrap();
    let reference = reference_with_an_empty_contig(work.path());
    let sheet = testdata().join("samplesheet_germline.csv");
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/germline.yaml")).unwrap();
    let cram = work.path().join("germline-cram.yaml");
    let outputs = "    outputs:\n      alignments: alignments\n";
    assert!(shipped.contains(outputs));
    std::fs::write(&cram, shipped.replace(outputs, &format!("{outputs}    params:\n      format: cram\n"))).unwrap();

    // The calls on the test contig are those of the test reference alone.
    let one = work.path().join("one");
    run_germline(work.path(), "germline", &one, "2");
    let records = |p: &Path| vcf_body(p).lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let alone = records(&one.join("GERM/GERM.vcf.gz"));
    assert!(!alone.is_empty());

    for (pipeline, name) in [("germline", "bam"), (cram.to_str().unwrap(), "cram")] {
        let out = work.path().join(name);
        let (code, _, err) = run(qc_run_with_reference(work.path(), pipeline, &sheet, &out, &reference)
            .args(["--threads", "2"])
            .env("SOURCE_DATE_EPOCH", "1790000000"));
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.join(format!("GERM/GERM.{name}")).is_file());
        let report = report(&out);
        let call = report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "call_germline").unwrap();
        let shards = call["metrics"]["shards"].as_u64().unwrap();
        assert!((5..=7).contains(&shards), "{name}: {shards} shards: {}", call["metrics"]);
        assert_eq!(records(&out.join("GERM/GERM.vcf.gz")), alone, "{name}: the calls moved");
    }
}
