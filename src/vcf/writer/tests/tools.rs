//! Checks with the standard tools. A missing tool fails the test under CI; elsewhere the check
//! is skipped with a note (`crate::test_tools::require_tool`).

use crate::test_tools::require_tool;
use std::path::Path;
use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn skip(tool: &str) -> bool {
    !require_tool(tool)
}

pub fn bcftools_view_is_silent(path: &Path) {
    if skip("bcftools") {
        return;
    }
    let out = run("bcftools", &["view", "-Ov", "-o", "/dev/null", path.to_str().unwrap()]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}: {}", path.display(), text(&out.stderr));
}

pub fn norm_finds_no_mismatch(path: &Path, fasta: &Path) {
    if skip("bcftools") {
        return;
    }
    let out = run(
        "bcftools",
        &["norm", "-c", "e", "-f", fasta.to_str().unwrap(), "-Ov", "-o", "/dev/null", path.to_str().unwrap()],
    );
    let err = text(&out.stderr);
    assert!(out.status.success() && !err.contains("[W::") && !err.contains("[E::"), "{}: {err}", path.display());
}

pub fn region_query_works(path: &Path) {
    if skip("tabix") || skip("bcftools") {
        return;
    }
    let p = path.to_str().unwrap();
    let out = run("tabix", &[p, "chr1:90-200"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().any(|l| l.starts_with("chr1\t")), "{}: nothing in chr1:90-200", path.display());
    let out = run("bcftools", &["view", "-H", "-r", "chr2", p]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert!(!lines.is_empty() && lines.lines().all(|l| l.starts_with("chr2\t")));
}

pub fn vcf_validator_is_silent(path: &Path) {
    if skip("vcf-validator") {
        return;
    }
    let out = run("vcf-validator", &[path.to_str().unwrap()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "{}: {said}", path.display());
}

pub fn gvcf_merge_works(dir: &Path, fasta: &Path, a: &Path, b: &Path) {
    if skip("bcftools") {
        return;
    }
    let merged = dir.join("merged.vcf");
    let args = [
        "merge",
        "-g",
        fasta.to_str().unwrap(),
        "-Ov",
        "-o",
        merged.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ];
    let out = run("bcftools", &args);
    let err = text(&out.stderr);
    assert!(out.status.success() && !err.contains("[W::") && !err.contains("[E::"), "merge -g: {err}");
    let out = run("bcftools", &["query", "-l", merged.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "S1\nS2\n");
    let out = run("bcftools", &["view", "-H", merged.to_str().unwrap()]);
    let body = text(&out.stdout);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out.stderr));
    // Both samples' variants are present, and S2 is hom-ref (0/0 from its block) at S1's deletion.
    assert!(body.lines().any(|l| l.starts_with("chr1\t701\t")), "{body}");
    let del = body.lines().find(|l| l.starts_with("chr1\t301\t")).unwrap_or_default();
    assert!(del.contains("\t1/1:") && del.contains("\t0/0:"), "{del}");
}
