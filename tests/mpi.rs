//! `dagr run --mpi` under a real OpenMPI `mpirun` (built with `--features mpi`; `.ci/run` installs
//! OpenMPI and runs these). One thread per rank, `--oversubscribe`: 4 ranks fit a 2-core machine.
//! Outputs must equal a single process's: the same BAM records (BGZF blocks may differ), and
//! byte-identical VCF, gVCF, callable BED, QC files and indexes of the VCFs. Without `mpirun`
//! on PATH the tests fail under CI (`CI=true`, as `.ci/run` sets) and elsewhere print a note and
//! pass. Every wait has a timeout (`timeout`, `--mpi-timeout`).
//!
//! Two tests are about timeouts and so depend on time by nature (DESIGN.md asks for no
//! timing-based tests otherwise): a hung rank must end the job at `--mpi-timeout`, and a long
//! stage on rank 0 must not be taken for a lost rank. Each keeps a wide margin (see their docs).

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;

use common::{dagr, reference_with_an_empty_contig, require_tool, run, sam_records, testdata};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The germline test sample (4 lanes, ~4,400 pairs: one 8,192-pair batch per lane).
fn sheet() -> PathBuf {
    testdata().join("samplesheet_germline.csv")
}

/// `mpirun` is installed; without it a failure under CI, a note and false elsewhere.
fn mpirun_available() -> bool {
    require_tool("mpirun")
}

/// `dagr run germline` on the test sample into `outdir`, as arguments after the binary.
fn run_args(work: &Path, outdir: &Path) -> Vec<String> {
    let reference = testdata().join("ref/ref.fa");
    std::fs::create_dir_all(work.join("tmp")).unwrap();
    let mut a: Vec<String> = vec!["run".into(), "germline".into(), "--samplesheet".into()];
    a.push(sheet().display().to_string());
    a.extend(["--reference".into(), reference.display().to_string()]);
    a.extend(["--reference-cache".into(), work.join("refcache").display().to_string()]);
    a.extend(["--outdir".into(), outdir.display().to_string()]);
    a.extend(["--tmp-dir".into(), work.join("tmp").display().to_string()]);
    a.extend(["--threads".into(), "1".into()]);
    a
}

/// `mpirun -np <ranks> --oversubscribe dagr <args> --mpi`, root allowed, within 10 minutes.
fn mpirun(ranks: usize, args: &[String], extra_env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new("timeout");
    c.arg("600")
        .arg("mpirun")
        .args(["-np", &ranks.to_string(), "--oversubscribe"])
        .args(["-x", "RUST_LOG", "-x", "DAGR_FAULT_INJECT", "-x", "DAGR_FAULT_RANK"])
        .arg(env!("CARGO_BIN_EXE_dagr"))
        .args(args)
        .arg("--mpi")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RUST_LOG", "warn")
        .env("DAGR_FAULT_INJECT", "")
        .env("DAGR_FAULT_RANK", "");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    run(&mut c)
}

/// Files of the sample that must be byte-identical (the BAM is compared by records).
const IDENTICAL: &[&str] = &[
    "GERM.vcf.gz",
    "GERM.vcf.gz.tbi",
    "GERM.g.vcf.gz",
    "GERM.g.vcf.gz.tbi",
    "GERM.callable.bed.gz",
    "GERM.variant_qc.json",
    "GERM.alignment_qc.json",
    "GERM.stats",
    "GERM.markdup_metrics.txt",
];

fn assert_same_outputs(expected: &Path, got: &Path, what: &str) {
    let (e, g) = (expected.join("GERM"), got.join("GERM"));
    assert!(sam_records(&e.join("GERM.bam")) == sam_records(&g.join("GERM.bam")), "{what}: BAM records differ");
    for name in IDENTICAL {
        let a = std::fs::read(e.join(name)).unwrap_or_else(|err| panic!("{}: {err}", e.join(name).display()));
        let b = std::fs::read(g.join(name)).unwrap_or_else(|err| panic!("{what}: {name}: {err}"));
        assert!(a == b, "{what}: {name} differs from the single-process run");
    }
}

#[test]
fn mpi_runs_at_1_2_and_4_ranks_match_one_process() {
    if !mpirun_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // Every run writes the same outdir path (it is in the VCF header), moved aside afterwards.
    let outdir = work.path().join("out");
    let args = run_args(work.path(), &outdir);
    let (code, _, err) = run(dagr().args(&args));
    assert_eq!(code, 0, "single process: {err}");
    let single = work.path().join("single");
    std::fs::rename(&outdir, &single).unwrap();
    for ranks in [1, 2, 4] {
        let (code, _, err) = mpirun(ranks, &args, &[]);
        assert_eq!(code, 0, "mpirun -np {ranks}: {err}");
        assert_same_outputs(&single, &outdir, &format!("mpirun -np {ranks}"));
        let report = common::report(&outdir);
        assert_eq!(report["execution"]["mpi_ranks"], ranks, "the report records the ranks");
        assert!(
            report["genome_equivalents"]["core_seconds_per_genome_equivalent"].as_f64().unwrap_or(0.0) > 0.0,
            "the report states core-seconds per genome equivalent"
        );
        // How the calling spread over the shards and the ranks (issue 14, item 4's yardstick).
        let calling = report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "call_germline")
            .expect("call_germline in the report");
        let m = &calling["metrics"];
        for key in ["shard_cpu_seconds", "rank_cpu_seconds"] {
            let (max, median) =
                (m[format!("{key}_max")].as_f64().unwrap(), m[format!("{key}_median")].as_f64().unwrap());
            assert!(max >= median && median >= 0.0 && max > 0.0, "{key}: {m}");
        }
        // How the alignment slices spread over the ranks (rank 0's join and QC merge included).
        let align = report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "align").unwrap();
        let a = &align["metrics"];
        let (max, median) =
            (a["rank_cpu_seconds_max"].as_f64().unwrap(), a["rank_cpu_seconds_median"].as_f64().unwrap());
        assert!(max >= median && median > 0.0, "align rank CPU: {a}");
        assert!(a["rank0_join_and_qc_cpu_seconds"].as_f64().unwrap() >= 0.0, "{a}");
        // The QC files above are identical to one process's, from the slices' merged QC: rank 0
        // did not read the joined BAM back.
        assert_eq!(a["alignment_qc_reread"], false, "{a}");
        // No slice files are left behind.
        assert!(!outdir.join("GERM/work/align/mpi").exists());
        std::fs::rename(&outdir, work.path().join(format!("np{ranks}"))).unwrap();
    }
}

#[test]
fn a_failing_rank_fails_the_job_naming_it_and_resume_continues() {
    if !mpirun_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let args = run_args(work.path(), &outdir);
    let fault = [("DAGR_FAULT_INJECT", "align:after_lane:fail"), ("DAGR_FAULT_RANK", "1")];
    let (code, _, err) = mpirun(2, &args, &fault);
    assert_ne!(code, 0, "a failing rank must fail the job");
    assert!(
        err.contains("rank 1: injected fault at align:after_lane"),
        "the error names the rank and the cause: {err}"
    );
    let statuses = common::statuses(&outdir);
    let status = |stage: &str| statuses.iter().find(|s| s.1 == stage).map(|s| s.2.clone()).unwrap();
    assert_eq!(status("prepare_reference"), "done");
    assert_eq!(status("align"), "failed");
    assert_eq!(status("call_germline"), "skipped");

    let mut resumed = args.clone();
    resumed.push("--resume".into());
    let (code, _, err) = mpirun(2, &resumed, &[]);
    assert_eq!(code, 0, "resume after the fault: {err}");
    let statuses = common::statuses(&outdir);
    let status = |stage: &str| statuses.iter().find(|s| s.1 == stage).map(|s| s.2.clone()).unwrap();
    assert_eq!(status("prepare_reference"), "reused", "finished stages are not rerun");
    assert_eq!(status("align"), "done");
    assert_eq!(status("call_germline"), "done");
}

/// Timing is inherent here: the test is about the `--mpi-timeout` deadline. Rank 1 stops
/// answering for good (a `hang` fault, not a delay), so only rank 0's 3 s deadline can end the
/// job, long before the test's own 600 s `timeout`. The one way time can turn it: the 3 s apply
/// to every wait, so ranks drifting more than 3 s apart in an earlier step (a badly overloaded
/// machine) would end the job there, with a message that names that step instead.
#[test]
fn a_hung_rank_ends_the_job_at_the_timeout() {
    if !mpirun_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let mut args = run_args(work.path(), &outdir);
    args.extend(["--mpi-timeout".into(), "3".into()]);
    let fault = [("DAGR_FAULT_INJECT", "call_germline:before_calling:hang"), ("DAGR_FAULT_RANK", "1")];
    let (code, _, err) = mpirun(2, &args, &fault);
    assert_ne!(code, 0, "a hung rank must end the job");
    assert_ne!(code, 124, "the job must end at --mpi-timeout, not at the test's own timeout: {err}");
    assert!(
        err.contains("rank 0 of 2: no answer from the other ranks within 3 s while starting to call"),
        "the waiting rank says where it waited: {err}"
    );
}

/// Timing is inherent here: the test is about a wait that must outlast `--mpi-timeout`. The stage
/// is held 10 s (an injected sleep) against a 5 s timeout, so without the rule the job aborts on
/// any machine; with it the other ranks allow the stage's `resources.time` (hours), so a slow
/// machine cannot fail it either.
#[test]
fn a_long_stage_on_rank_0_alone_is_not_taken_for_a_lost_rank() {
    if !mpirun_available() {
        return;
    }
    // prepare_reference runs on rank 0 alone and is held 10 s, twice the timeout: the other ranks
    // were told its time limit and wait for it rather than abort.
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let mut args = run_args(work.path(), &outdir);
    args.extend(["--mpi-timeout".into(), "5".into()]);
    let fault = [("DAGR_FAULT_INJECT", "prepare_reference:start:delay"), ("DAGR_FAULT_RANK", "0")];
    let (code, _, err) = mpirun(2, &args, &fault);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("injected 10 s delay at prepare_reference:start"), "the delay happened: {err}");
    let statuses = common::statuses(&outdir);
    assert!(statuses.iter().all(|s| s.2 == "done"), "{statuses:?}");
}

#[test]
fn slices_follow_the_reads_not_the_reference_length() {
    if !mpirun_available() {
        return;
    }
    // Half the reference holds every read: slices of equal length would give rank 1 none.
    let work = tempfile::tempdir().unwrap();
    let reference = reference_with_an_empty_contig(work.path());
    let outdir = work.path().join("out");
    let mut args = run_args(work.path(), &outdir);
    args[1] = "align".into();
    let at = args.iter().position(|a| a == "--reference").unwrap();
    args[at + 1] = reference.display().to_string();
    let (code, _, err) = run(dagr().args(&args));
    assert_eq!(code, 0, "single process: {err}");
    let single = work.path().join("single");
    std::fs::rename(&outdir, &single).unwrap();
    let (code, _, err) = mpirun(2, &args, &[]);
    assert_eq!(code, 0, "mpirun -np 2: {err}");
    let (e, g) = (single.join("GERM"), outdir.join("GERM"));
    assert!(sam_records(&e.join("GERM.bam")) == sam_records(&g.join("GERM.bam")), "BAM records differ");
    for name in ["GERM.alignment_qc.json", "GERM.stats", "GERM.markdup_metrics.txt"] {
        assert!(std::fs::read(e.join(name)).unwrap() == std::fs::read(g.join(name)).unwrap(), "{name} differs");
    }
    let report = common::report(&outdir);
    let align = report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "align").unwrap();
    let m = &align["metrics"];
    let (fewest, most) = (m["rank_records_min"].as_u64().unwrap(), m["rank_records_max"].as_u64().unwrap());
    // The cut by coverage splits the sampled records in two halves (every batch is in the sample
    // here); bins of 1,024 bases and the floor for unsampled bins leave a few percent of slack.
    assert!(fewest * 10 >= most * 9, "records per rank {fewest}..{most}: {m}");
    assert_eq!(m["alignment_qc_reread"], false, "{m}");
}
