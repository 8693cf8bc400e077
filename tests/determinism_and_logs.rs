//! Outputs do not depend on the thread count; `--log-format json` gives one JSON object per
//! line, tagged with sample and stage.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;

#[test]
fn fastq_metrics_are_identical_at_1_and_2_threads() {
    let work = tempfile::tempdir().unwrap();
    let sheet = testdata().join("samplesheet_germline.csv");
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = work.path().join(format!("t{threads}"));
        let (code, _, err) = run(qc_run(work.path(), "qc", &sheet, &out).args(["--threads", threads]));
        assert_eq!(code, 0, "{err}");
        outputs.push(std::fs::read(out.join("GERM/GERM.fastq_metrics.json")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let metrics: serde_json::Value = serde_json::from_slice(&outputs[0]).unwrap();
    assert_eq!(metrics["lanes"].as_array().unwrap().len(), 4, "four lanes, four read groups");
    assert_eq!(metrics["total"]["pairs"], 4370);
}

#[test]
fn json_logs_carry_sample_and_stage() {
    let work = tempfile::tempdir().unwrap();
    let bad = testdata().join("bad");
    let sheet = one_sample_sheet(work.path(), &bad.join("good_R1.fastq.gz"), &bad.join("good_R2.fastq.gz"));
    let mut cmd = qc_run(work.path(), "qc", &sheet, &work.path().join("out"));
    cmd.args(["--log-format", "json"]).env("RUST_LOG", "info");
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert!(!events.is_empty(), "{err}");
    let done = events
        .iter()
        .find(|e| {
            e["fields"]["message"].as_str().is_some_and(|m| m.starts_with("done"))
                && e["fields"]["stage"] == "fastq_intake"
        })
        .expect("a `done` event for fastq_intake");
    assert_eq!(done["fields"]["sample"], "S1");
    let inside =
        events.iter().find(|e| e["span"]["stage"] == "fastq_intake").expect("events inside the stage carry its span");
    assert_eq!(inside["span"]["sample"], "S1");
}
