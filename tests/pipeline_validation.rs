//! `dagr validate`: the shipped pipeline is valid; broken YAML fails with exit 2 and a message
//! naming the file, the line and the key.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;

#[test]
fn shipped_qc_pipeline_is_valid_and_printed_as_a_dag() {
    let (code, out, err) =
        run(dagr().args(["validate"]).arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/qc.yaml")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1. prepare_reference [prepare_reference v1] scope: reference"), "{out}");
    assert!(out.contains("2. fastq_intake [fastq_intake v1] scope: sample"), "{out}");
    assert!(out.contains("consumes reference    ← reference_index (prepare_reference.index)"), "{out}");
    let (code, by_name, _) = run(dagr().args(["validate", "qc"]));
    assert_eq!(code, 0);
    assert!(by_name.contains("pipeline qc (pipelines/qc.yaml): valid, 2 stages"), "{by_name}");
}

fn invalid(name: &str) -> String {
    let path = testdata().join("pipelines").join(name);
    let (code, _, err) = run(dagr().arg("validate").arg(&path));
    assert_eq!(code, 2, "{name}: {err}");
    assert!(err.contains(&format!("{}:", path.display())), "{name}: message must name the file: {err}");
    err
}

#[test]
fn cycle_names_file_line_and_key() {
    let err = invalid("cycle.yaml");
    assert!(
        err.contains(
            "cycle.yaml:4: key `inputs`: the stages `prepare_reference` (line 4), `fastq_intake` (line 8) form a cycle"
        ),
        "{err}"
    );
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = invalid("unknown_key.yaml");
    assert!(err.contains("unknown_key.yaml:7:") && err.contains("thread"), "{err}");
}

#[test]
fn missing_input_names_file_line_and_key() {
    let err = invalid("missing_input.yaml");
    assert!(
        err.contains(
            "missing_input.yaml:5: key `inputs.reference`: missing input: no stage produces `reference_index`"
        ),
        "{err}"
    );
}

#[test]
fn unknown_pipeline_name_is_bad_usage() {
    let (code, _, err) = run(dagr().args(["validate", "germline_v9"]));
    assert_eq!(code, 2);
    assert!(err.contains("unknown pipeline `germline_v9`") && err.contains("qc"), "{err}");
}
