//! Resume, cache keys, fault injection and signals, end to end through the `dagr` binary.
//! Faults are injected deterministically (DAGR_FAULT_INJECT), never by timing.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};

struct Case {
    dir: tempfile::TempDir,
    sheet: PathBuf,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let bad = testdata().join("bad");
        let sheet = one_sample_sheet(dir.path(), &bad.join("good_R1.fastq.gz"), &bad.join("good_R2.fastq.gz"));
        Case { dir, sheet }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn outdir(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }
    fn qc(&self, pipeline: &str, outdir: &Path) -> std::process::Command {
        qc_run(self.path(), pipeline, &self.sheet, outdir)
    }
    /// A copy of the shipped qc pipeline with `from` replaced by `to`.
    fn pipeline_with(&self, from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/qc.yaml")).unwrap();
        assert!(text.contains(from), "qc.yaml has no `{from}`");
        let p = self.path().join(format!("qc-{}.yaml", to.replace([' ', ':'], "_")));
        std::fs::write(&p, text.replace(from, to)).unwrap();
        p.display().to_string()
    }
}

fn stage_status(outdir: &Path, stage: &str) -> String {
    statuses(outdir).into_iter().find(|(_, s, _)| s == stage).map(|(_, _, st)| st).unwrap()
}

fn metrics_json(outdir: &Path) -> Vec<u8> {
    std::fs::read(outdir.join("S1/S1.fastq_metrics.json")).unwrap()
}

#[test]
fn resume_reruns_nothing_and_threads_do_not_enter_the_key() {
    let c = Case::new();
    let out = c.outdir("out");
    let (code, _, err) = run(&mut c.qc("qc", &out));
    assert_eq!(code, 0, "{err}");
    assert!(statuses(&out).iter().all(|(_, _, s)| s == "done"), "{:?}", statuses(&out));
    let (code, _, err) = run(c.qc("qc", &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert!(statuses(&out).iter().all(|(_, _, s)| s == "reused"), "{:?}", statuses(&out));
    let (code, _, err) = run(c.qc("qc", &out).args(["--resume", "--threads", "1", "--max-memory", "1G"]));
    assert_eq!(code, 0, "{err}");
    assert!(statuses(&out).iter().all(|(_, _, s)| s == "reused"), "--threads must not rerun: {:?}", statuses(&out));
    assert!(out.join("S1/S1.fastq_metrics.json.md5").is_file());
    assert!(out.join("S1/run_report.json").is_file());
}

#[test]
fn a_changed_parameter_reruns_that_stage_and_its_descendants_only() {
    let c = Case::new();
    let out = c.outdir("out");
    assert_eq!(run(&mut c.qc("qc", &out)).0, 0);
    // fastq_intake's parameter: only fastq_intake reruns.
    let p = c.pipeline_with("min_base_quality: 20", "min_base_quality: 30");
    let (code, _, err) = run(c.qc(&p, &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(stage_status(&out, "prepare_reference"), "reused");
    assert_eq!(stage_status(&out, "fastq_intake"), "done");
    let reasons = &report(&out)["stages"][1]["reasons"];
    assert!(reasons.to_string().contains("parameter min_base_quality changed (20 → 30)"), "{reasons}");
    // prepare_reference's parameter: it reruns, and so does its descendant.
    let p = c.pipeline_with("minimizer_k: 21", "minimizer_k: 19");
    let (code, _, err) = run(c.qc(&p, &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(stage_status(&out, "prepare_reference"), "done");
    assert_eq!(stage_status(&out, "fastq_intake"), "done");
    // --dry-run says what would run and why, and runs nothing.
    let (code, _, err) = run(c.qc("qc", &out).args(["--resume", "--dry-run"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would run: parameter minimizer_k changed (19 → 21)"), "{err}");
}

fn no_final_name_is_half_written(outdir: &Path) {
    let final_json = outdir.join("S1/S1.fastq_metrics.json");
    assert!(!final_json.exists(), "a killed stage left a file with its final name");
    assert!(!final_json.with_extension("json.md5").exists());
}

#[test]
fn a_node_failure_mid_output_then_resume_gives_identical_outputs() {
    let c = Case::new();
    let clean = c.outdir("clean");
    assert_eq!(run(&mut c.qc("qc", &clean)).0, 0);

    let out = c.outdir("crashed");
    let (code, _, err) = run(c.qc("qc", &out).env("DAGR_FAULT_INJECT", "fastq_intake:mid_output:abort"));
    assert_eq!(code, -6, "the process must die of SIGABRT: {err}");
    no_final_name_is_half_written(&out);
    let (code, _, err) = run(c.qc("qc", &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(stage_status(&out, "prepare_reference"), "reused");
    assert_eq!(stage_status(&out, "fastq_intake"), "done");
    assert_eq!(metrics_json(&out), metrics_json(&clean));
    let leftovers: Vec<_> = std::fs::read_dir(out.join("S1")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(leftovers.iter().all(|n| !n.to_string_lossy().contains("dagr-tmp")), "{leftovers:?}");
}

#[test]
fn an_injected_failure_exits_1_and_resume_finishes() {
    let c = Case::new();
    let out = c.outdir("out");
    let (code, _, err) = run(c.qc("qc", &out).env("DAGR_FAULT_INJECT", "fastq_intake:after_lane:fail"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("failed: S1 (fastq_intake): injected fault at fastq_intake:after_lane"), "{err}");
    assert_eq!(report(&out)["failures"][0]["entity"], "S1");
    no_final_name_is_half_written(&out);
    let (code, _, err) = run(c.qc("qc", &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(stage_status(&out, "prepare_reference"), "reused");
}

#[test]
fn sigterm_exits_3_with_an_interrupted_report_and_resumes() {
    let c = Case::new();
    let out = c.outdir("out");
    let (code, _, err) = run(c.qc("qc", &out).env("DAGR_FAULT_INJECT", "fastq_intake:after_lane:sigterm"));
    assert_eq!(code, 3, "{err}");
    assert_eq!(report(&out)["status"], "interrupted");
    assert!(err.contains("--resume"), "{err}");
    no_final_name_is_half_written(&out);
    let (code, _, err) = run(c.qc("qc", &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(stage_status(&out, "prepare_reference"), "reused");
    assert_eq!(stage_status(&out, "fastq_intake"), "done");
}

#[test]
fn one_bad_sample_fails_alone() {
    let c = Case::new();
    let bad = testdata().join("bad");
    let sheet = c.path().join("two.csv");
    std::fs::write(
        &sheet,
        format!(
            "patient,sex,status,sample,lane,fastq_1,fastq_2\nP1,XX,0,GOOD,L1,{},{}\nP2,XY,0,BAD,L1,{},{}\n",
            bad.join("good_R1.fastq.gz").display(),
            bad.join("good_R2.fastq.gz").display(),
            bad.join("mismatched_names_R1.fastq.gz").display(),
            bad.join("mismatched_names_R2.fastq.gz").display(),
        ),
    )
    .unwrap();
    let out = c.outdir("out");
    let (code, _, err) = run(&mut qc_run(c.path(), "qc", &sheet, &out));
    assert_eq!(code, 2, "bad input in one sample: exit 2: {err}");
    assert!(out.join("GOOD/GOOD.fastq_metrics.json").is_file());
    assert!(!out.join("BAD/BAD.fastq_metrics.json").exists());
    assert!(err.contains("failed: BAD (fastq_intake)"), "{err}");
    assert_eq!(report(&out)["failures"].as_array().unwrap().len(), 1);
}

#[test]
fn a_second_run_on_a_busy_outdir_is_refused() {
    let c = Case::new();
    let out = c.outdir("out");
    std::fs::create_dir_all(&out).unwrap();
    let lock =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(out.join(".dagr.lock")).unwrap();
    lock.lock().unwrap();
    let (code, _, err) = run(&mut c.qc("qc", &out));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another dagr run"), "{err}");
}
