//! Outputs do not depend on the thread count; `--log-format json` gives one JSON object per
//! line, tagged with sample and stage, the run summary included; text logs into a file or a pipe
//! carry no escape codes.

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
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect();
    assert!(!events.is_empty(), "{err}");
    let summary = events
        .iter()
        .find(|e| e["fields"]["message"] == "run summary")
        .expect("the end-of-run summary is a JSON event too");
    assert!(summary["fields"]["summary"].as_str().unwrap().starts_with("dagr qc finished"), "{summary}");
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

#[test]
fn text_logs_into_a_file_carry_no_escape_codes() {
    let work = tempfile::tempdir().unwrap();
    let bad = testdata().join("bad");
    let sheet = one_sample_sheet(work.path(), &bad.join("good_R1.fastq.gz"), &bad.join("good_R2.fastq.gz"));
    let log = work.path().join("stderr.log");
    let mut cmd = qc_run(work.path(), "qc", &sheet, &work.path().join("out"));
    cmd.env("RUST_LOG", "info").env_remove("NO_COLOR").stderr(std::fs::File::create(&log).unwrap());
    let status = cmd.status().unwrap();
    let err = std::fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&err);
    assert!(status.success(), "{text}");
    assert!(text.contains("INFO") && text.contains("dagr qc finished"), "logs and the summary: {text}");
    assert!(!err.contains(&0x1b), "escape codes in a log file: {text:?}");
}

#[test]
fn json_logs_end_a_failed_run_with_a_json_error() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("no-such-sheet.csv");
    let mut cmd = qc_run(work.path(), "qc", &missing, &work.path().join("out"));
    cmd.args(["--log-format", "json"]);
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 2, "{err}");
    let last: serde_json::Value =
        serde_json::from_str(err.lines().last().expect("an error on stderr")).expect("the error is a JSON event");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["fields"]["exit_code"], 2, "{last}");
    assert!(last["fields"]["message"].as_str().unwrap().contains("no-such-sheet.csv"), "{last}");
}
