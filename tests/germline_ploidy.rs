//! `ploidy_bed` on `call_germline`: a BED declaring part of the contig haploid gives haploid
//! calls (GT `1`, never `0/1`) and haploid gVCF blocks there, diploid ones elsewhere; an edited
//! BED reruns the stage on `--resume`; a bad BED is bad input (exit 2) naming the file and line.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Haploid half of the testdata window (0-based half-open); the reads cover 257,500-299,500.
const HAPLOID: (u64, u64) = (257_000, 278_000);

/// The shipped germline pipeline with `ploidy_bed: ploidy.bed`, written beside the BED in `dir`
/// (the path is relative: it resolves against the YAML's folder, not the working directory).
fn pipeline_with_bed(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/germline.yaml")).unwrap();
    assert!(text.contains("      sex_check: error\n"));
    let p = dir.join("germline-ploidy.yaml");
    std::fs::write(
        &p,
        text.replace("      sex_check: error\n", "      sex_check: error\n      ploidy_bed: ploidy.bed\n"),
    )
    .unwrap();
    p
}

fn gunzip(path: &Path) -> String {
    let out = std::process::Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    String::from_utf8(out.stdout).unwrap()
}

/// (0-based position, GT) of every record; blocks are `<NON_REF>`-only records.
fn records(text: &str) -> Vec<(u64, String, bool)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let gt = f[9].split(':').next().unwrap().to_string();
            (f[1].parse::<u64>().unwrap() - 1, gt, f[4] == "<NON_REF>")
        })
        .collect()
}

/// Whether a dry run's summary (stderr; a dry run writes no report) gives `stage` this status.
fn said(stderr: &str, stage: &str, status: &str) -> bool {
    stderr.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() >= 3 && w[1] == stage && w[2] == status
    })
}

fn run_in(work: &Path, pipeline: &Path, outdir: &Path, extra: &[&str]) -> (i32, String, String) {
    let sheet = testdata().join("samplesheet_germline.csv");
    run(qc_run(work, pipeline.to_str().unwrap(), &sheet, outdir).args(["--threads", "2"]).args(extra))
}

#[test]
fn a_haploid_bed_region_is_called_haploid_and_a_bad_bed_is_bad_input() {
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let bed = conf.join("ploidy.bed");
    std::fs::write(&bed, format!("# haploid stretch\nchr20_1M\t{}\t{}\t1\n", HAPLOID.0, HAPLOID.1)).unwrap();
    let pipeline = pipeline_with_bed(&conf);
    let out = work.path().join("out");
    let (code, _, err) = run_in(work.path(), &pipeline, &out, &[]);
    assert_eq!(code, 0, "{err}");

    let inside = |p: u64| p >= HAPLOID.0 && p < HAPLOID.1;
    let vcf = records(&gunzip(&out.join("GERM/GERM.vcf.gz")));
    let (hap, dip): (Vec<_>, Vec<_>) = vcf.iter().partition(|(p, _, _)| inside(*p));
    assert!(hap.len() >= 10 && dip.len() >= 10, "calls in both parts: {} haploid, {} diploid", hap.len(), dip.len());
    for (p, gt, _) in &hap {
        assert!(!gt.contains('/') && !gt.contains('|') && gt != "0", "haploid GT at {p}: {gt}");
    }
    assert!(hap.iter().any(|(_, gt, _)| gt == "1"), "haploid ALT calls are GT 1");
    assert!(dip.iter().all(|(_, gt, _)| gt.contains('/') || gt.contains('|')), "diploid outside the BED");
    assert!(dip.iter().any(|(_, gt, _)| ["0/1", "0|1", "1|0"].contains(&gt.as_str())), "hets outside the BED");

    let gvcf = records(&gunzip(&out.join("GERM/GERM.g.vcf.gz")));
    let blocks_in: Vec<_> = gvcf.iter().filter(|(p, _, b)| *b && inside(*p)).collect();
    let blocks_out: Vec<_> = gvcf.iter().filter(|(p, _, b)| *b && !inside(*p)).collect();
    assert!(!blocks_in.is_empty() && blocks_in.iter().all(|(_, gt, _)| gt == "0"), "haploid blocks are GT 0");
    assert!(!blocks_out.is_empty() && blocks_out.iter().all(|(_, gt, _)| gt == "0/0"), "diploid blocks elsewhere");
    // The VCF's calls are the gVCF's variant records.
    let gvcf_calls: Vec<_> = gvcf.iter().filter(|(_, _, b)| !b).map(|(p, gt, _)| (*p, gt.clone())).collect();
    let vcf_calls: Vec<_> = vcf.iter().map(|(p, gt, _)| (*p, gt.clone())).collect();
    assert_eq!(vcf_calls, gvcf_calls);
    // bcftools reads the gVCF without a word (a missing bcftools fails under CI, else skips this).
    if require_tool("bcftools") {
        let o = std::process::Command::new("bcftools")
            .args(["view", "-Ov", "-o", "/dev/null"])
            .arg(out.join("GERM/GERM.g.vcf.gz"))
            .output()
            .unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "bcftools: {}", String::from_utf8_lossy(&o.stderr));
    }

    // Resume: the same BED reuses the calls; an edited BED reruns them, saying why.
    let (code, _, err) = run_in(work.path(), &pipeline, &out, &["--resume", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(said(&err, "call_germline", "would_reuse"), "{err}");
    std::fs::write(&bed, format!("chr20_1M\t{}\t{}\t1\n", HAPLOID.0, HAPLOID.1 + 1)).unwrap();
    let (code, _, err) = run_in(work.path(), &pipeline, &out, &["--resume", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(said(&err, "call_germline", "would_run"), "{err}");
    assert!(err.contains("parameter ploidy_bed changed"), "{err}");
    assert!(said(&err, "align", "would_reuse"), "{err}");

    // Bad BEDs: exit 2, naming the file and the line; a malformed line is refused when the
    // pipeline is validated (naming the YAML key too), a contig only the reference can refute
    // when the stage starts.
    let bad = [
        ("chr20_1M\t0\t10\t1\nchrNope\t0\t10\t1\n", "ploidy.bed:2: contig `chrNope` is not in the reference", false),
        ("chr20_1M\t0\t2000000\t1\n", "ploidy.bed:1: end 2000000 is past the end of contig `chr20_1M`", false),
        ("chr20_1M\t0\t10\n", "ploidy.bed:1: expected 4 tab-separated columns", true),
        ("# ok\nchr20_1M\tten\t20\t1\n", "ploidy.bed:2: BED start `ten` is not a non-negative integer", true),
        ("chr20_1M\t0\t10\t3\n", "ploidy.bed:1: ploidy `3` is not 0, 1 or 2", true),
    ];
    for (text, message, at_validation) in bad {
        std::fs::write(&bed, text).unwrap();
        let (code, _, err) = run_in(work.path(), &pipeline, &out, &["--resume"]);
        assert_eq!(code, 2, "{text:?}: {err}");
        assert!(err.contains(message), "{text:?}: expected `{message}` in {err}");
        assert!(err.contains(&bed.display().to_string()), "the full path of the BED: {err}");
        assert_eq!(
            err.contains("germline-ploidy.yaml:") && err.contains("key `params.ploidy_bed`"),
            at_validation,
            "{err}"
        );
    }

    // A missing BED is refused before anything runs, naming the YAML line and key.
    std::fs::remove_file(&bed).unwrap();
    let (code, _, err) = run_in(work.path(), &pipeline, &out, &["--resume"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("germline-ploidy.yaml:") && err.contains("key `params.ploidy_bed`: cannot read"), "{err}");
}
