//! Bad input: each case exits 2 with a message naming the file and the problem, and leaves no
//! output with a final name. Fixtures are in testdata/bad/ (see testdata/README.md).

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn bad(name: &str) -> PathBuf {
    testdata().join("bad").join(name)
}

/// `dagr run qc` on one sample with these FASTQs; returns (exit code, stderr).
fn intake(r1: &str, r2: &str) -> (i32, String) {
    let work = tempfile::tempdir().unwrap();
    let sheet = one_sample_sheet(work.path(), &bad(r1), &bad(r2));
    let out = work.path().join("out");
    let (code, _, err) = run(&mut qc_run(work.path(), "qc", &sheet, &out));
    assert!(!out.join("S1/S1.fastq_metrics.json").exists(), "no output for a bad sample");
    (code, err)
}

fn assert_bad(code: i32, err: &str, file: &str, problem: &str) {
    assert_eq!(code, 2, "exit code for bad input: {err}");
    assert!(err.contains(file), "message must name `{file}`: {err}");
    assert!(err.contains(problem), "message must say `{problem}`: {err}");
}

#[test]
fn truncated_r2_fastq_gz() {
    let (code, err) = intake("truncated_r1.fastq.gz", "truncated_r2.fastq.gz");
    assert_bad(code, &err, "truncated_r2.fastq.gz", "truncated gzip stream");
}

#[test]
fn r1_longer_than_r2() {
    let (code, err) = intake("r1_longer_R1.fastq.gz", "r1_longer_R2.fastq.gz");
    assert_bad(code, &err, "r1_longer_R2.fastq.gz", "R1 has more reads than R2");
}

#[test]
fn mismatched_read_names() {
    let (code, err) = intake("mismatched_names_R1.fastq.gz", "mismatched_names_R2.fastq.gz");
    assert_bad(code, &err, "mismatched_names_R1.fastq.gz", "read names of the pair differ at record 3");
}

#[test]
fn quality_length_differs_from_sequence_length() {
    let (code, err) = intake("qual_length_R1.fastq.gz", "qual_length_R2.fastq.gz");
    assert_bad(code, &err, "qual_length_R1.fastq.gz", "quality length 149 differs from sequence length 150");
}

#[test]
fn empty_fastq() {
    let (code, err) = intake("empty_R1.fastq.gz", "empty_R2.fastq.gz");
    assert_bad(code, &err, "empty_R1.fastq.gz", "contains no reads");
}

fn run_sheet(sheet: &Path) -> (i32, String) {
    let work = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&mut qc_run(work.path(), "qc", sheet, &work.path().join("out")));
    assert!(!work.path().join("out").exists(), "nothing may run before the samplesheet is valid");
    (code, err)
}

#[test]
fn samplesheet_row_pointing_to_a_missing_file() {
    let (code, err) = run_sheet(&bad("samplesheet_missing_file.csv"));
    assert_bad(code, &err, "samplesheet_missing_file.csv:2", "missing_R2.fastq.gz does not exist");
}

#[test]
fn samplesheet_duplicate_sample_lane() {
    let (code, err) = run_sheet(&bad("samplesheet_duplicate_lane.csv"));
    assert_bad(code, &err, "samplesheet_duplicate_lane.csv:3", "duplicate sample/lane `GOOD`/`L1`");
}

#[test]
fn reference_with_duplicate_contig_names() {
    let work = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(dagr().arg("prepare-reference").arg(bad("duplicate_contigs.fa")).arg("--cache-dir").arg(work.path()));
    assert_bad(code, &err, "duplicate_contigs.fa", "contig `ctg1` is a duplicate of the contig at line 1");
    // The same through a pipeline run: the reference stage fails as bad input, nothing downstream runs.
    let sheet = one_sample_sheet(work.path(), &bad("good_R1.fastq.gz"), &bad("good_R2.fastq.gz"));
    let out = work.path().join("out");
    let (code, _, err) = run(&mut qc_run_with_reference(work.path(), "qc", &sheet, &out, &bad("duplicate_contigs.fa")));
    assert_bad(code, &err, "duplicate_contigs.fa", "is a duplicate");
    assert_eq!(report(&out)["stages"][1]["status"], "skipped");
}

#[test]
fn reference_with_non_iupac_characters_or_an_empty_contig() {
    let work = tempfile::tempdir().unwrap();
    let (code, _, err) =
        run(dagr().arg("prepare-reference").arg(bad("non_iupac.fa")).arg("--cache-dir").arg(work.path()));
    assert_bad(code, &err, "non_iupac.fa", "character 'J' is not an IUPAC nucleotide code");
    let (code, _, err) =
        run(dagr().arg("prepare-reference").arg(bad("empty_contig.fa")).arg("--cache-dir").arg(work.path()));
    assert_bad(code, &err, "empty_contig.fa", "contig `ctg2` has an empty sequence");
}

#[test]
fn unknown_pipeline_name() {
    let work = tempfile::tempdir().unwrap();
    let sheet = one_sample_sheet(work.path(), &bad("good_R1.fastq.gz"), &bad("good_R2.fastq.gz"));
    let (code, _, err) = run(&mut qc_run(work.path(), "germline_v9", &sheet, &work.path().join("out")));
    assert_bad(code, &err, "germline_v9", "unknown pipeline `germline_v9`");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(dagr().args(["run", "qc", "--outdir", "x"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(dagr().args(["run", "qc", "--reference", "r.fa", "--outdir", "x"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--samplesheet"), "{err}");
}

/// `--mpi` from a dagr built without the `mpi` feature: refused (exit 2) with how to get one.
#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_flag_without_mpi_support() {
    let work = tempfile::tempdir().unwrap();
    let sheet = testdata().join("samplesheet_germline.csv");
    let out = work.path().join("out");
    let (code, _, err) = run(qc_run(work.path(), "germline", &sheet, &out).arg("--mpi"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("built without MPI support") && err.contains("--features mpi"), "{err}");
    assert!(!out.exists(), "nothing is written");
}

/// `--mpi-timeout` without `--mpi`, or a timeout of 0: refused as bad usage (exit 2).
#[test]
fn mpi_timeout_needs_mpi_and_a_positive_value() {
    let (code, _, err) = run(dagr().args([
        "run",
        "qc",
        "--sample",
        "S",
        "--fastq1",
        "a",
        "--fastq2",
        "b",
        "--reference",
        "r",
        "--outdir",
        "o",
        "--mpi-timeout",
        "5",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--mpi"), "{err}");
    let (code, _, err) = run(dagr().args([
        "run",
        "qc",
        "--sample",
        "S",
        "--fastq1",
        "a",
        "--fastq2",
        "b",
        "--reference",
        "r",
        "--outdir",
        "o",
        "--mpi",
        "--mpi-timeout",
        "0",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--mpi-timeout"), "{err}");
}
