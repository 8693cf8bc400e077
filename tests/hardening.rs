//! Cases of the reliability review (`../shared/reviews/reliability.md`) that need more than one
//! command or a check beyond exit code and message (those are golden cases in `tests/golden/`):
//! a closed stdout (X05), SIGHUP (K06), resuming in a copied or moved outdir (RS3, RS4), a
//! missing `--tmp-dir` (O07), spill folders of dead runs (L02), a dry run without `--resume`, an
//! in-place reference edit with its mtime restored (R10b).
//! Signals are sent at an injected fault point (DAGR_FAULT_INJECT), never after a guessed delay.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn sheet(work: &Path) -> PathBuf {
    let bad = testdata().join("bad");
    one_sample_sheet(work, &bad.join("good_R1.fastq.gz"), &bad.join("good_R2.fastq.gz"))
}

/// X05: `dagr validate --list-stages | head -1`: a reader that closes the pipe ends dagr
/// quietly (exit 0), never with a panic (exit 101).
#[test]
fn a_closed_stdout_ends_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = dagr().args(["validate", "--list-stages"]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// K06: a lost terminal (SIGHUP) interrupts like SIGTERM: exit 3, the report says interrupted,
/// and `--resume` finishes the run.
#[test]
fn sighup_interrupts_and_resume_finishes() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let mut child = qc_run(work.path(), "qc", &sheet(work.path()), &out)
        .env("DAGR_FAULT_INJECT", "fastq_intake:after_lane:delay")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The fault point announces its 10 s delay on stderr: signal the process inside it.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0, "no delay announced: {seen}");
        seen.push_str(&line);
        if line.contains("injected 10 s delay") {
            break;
        }
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGHUP) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{seen}{rest}");
    assert_eq!(report(&out)["status"], "interrupted");
    let (code, _, err) = run(qc_run(work.path(), "qc", &sheet(work.path()), &out).arg("--resume"));
    assert_eq!(code, 0, "{err}");
}

/// RS3 and RS4: manifests name outputs relative to the outdir. A copied outdir with an output
/// deleted reruns the stage that made it (it never "reuses" the original's file); a moved
/// outdir, resumed from another working directory, reuses everything.
#[test]
fn a_copied_or_moved_outdir_resumes_its_own_files() {
    let work = tempfile::tempdir().unwrap();
    let sheet = sheet(work.path());
    let first = work.path().join("first");
    let (code, _, err) = run(&mut qc_run(work.path(), "qc", &sheet, &first));
    assert_eq!(code, 0, "{err}");

    let copy = work.path().join("copy");
    let cp = std::process::Command::new("cp").arg("-a").arg(&first).arg(&copy).status().unwrap();
    assert!(cp.success());
    let metrics = copy.join("S1/S1.fastq_metrics.json");
    std::fs::remove_file(&metrics).unwrap();
    let (code, _, err) = run(qc_run(work.path(), "qc", &sheet, &copy).arg("--resume"));
    assert_eq!(code, 0, "{err}");
    let status: Vec<_> = statuses(&copy).into_iter().map(|(_, stage, s)| (stage, s)).collect();
    assert!(status.contains(&("fastq_intake".into(), "done".into())), "{status:?}");
    assert!(metrics.is_file(), "the copy has its own metrics again");

    let moved = work.path().join("moved");
    std::fs::rename(&first, &moved).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _, err) = run(qc_run(work.path(), "qc", &sheet, &moved).arg("--resume").current_dir(elsewhere.path()));
    assert_eq!(code, 0, "{err}");
    assert!(statuses(&moved).iter().all(|(_, _, s)| s == "reused"), "{:?}", statuses(&moved));
}

/// O07: a `--tmp-dir` that does not exist is refused (exit 2) and never created.
#[test]
fn a_missing_tmp_dir_is_refused_and_not_created() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("nope/x");
    let (code, _, err) = run(dagr()
        .args(["run", "qc", "--samplesheet"])
        .arg(sheet(work.path()))
        .arg("--reference")
        .arg(testdata().join("ref/ref.fa"))
        .arg("--reference-cache")
        .arg(work.path().join("refcache"))
        .arg("--outdir")
        .arg(work.path().join("out"))
        .arg("--tmp-dir")
        .arg(&missing));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist or is not a folder"), "{err}");
    assert!(!work.path().join("nope").exists());
}

/// L02: the spill folder of a run that died (its lock file held by nobody) is removed by the
/// next run in the same `--tmp-dir`; the run's own is removed when it ends.
#[test]
fn spill_folders_of_dead_runs_are_removed() {
    let work = tempfile::tempdir().unwrap();
    let tmp = work.path().join("tmp");
    let dead = tmp.join("dagr-run-otherhost-7-deadbeef");
    std::fs::create_dir_all(dead.join("S1/align")).unwrap();
    std::fs::write(dead.join(".lock"), b"").unwrap();
    std::fs::write(dead.join("S1/align/run-000001.spill"), b"spilled records").unwrap();
    let (code, _, err) = run(&mut qc_run(work.path(), "qc", &sheet(work.path()), &work.path().join("out")));
    assert_eq!(code, 0, "{err}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A dry run without `--resume` says every stage would run (a fresh run ignores earlier
/// outputs) and creates no folder.
#[test]
fn a_dry_run_without_resume_would_run_everything_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let sheet = sheet(work.path());
    let out = work.path().join("out");
    let (code, _, err) = run(&mut qc_run(work.path(), "qc", &sheet, &out));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(qc_run(work.path(), "qc", &sheet, &out).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fresh run (no --resume)") && !err.contains("would_reuse"), "{err}");
    let fresh = work.path().join("fresh");
    let (code, _, err) = run(qc_run(work.path(), "qc", &sheet, &fresh).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(!fresh.exists(), "a dry run creates no folder");
}

/// R10b: a same-size in-place edit of the reference FASTA with its mtime restored reruns
/// `prepare_reference` and everything that reads the reference; a `chmod` alone (a new change
/// time, same sequence) reruns `prepare_reference` only, whose outputs are keyed by content.
#[test]
fn an_in_place_reference_edit_with_the_mtime_restored_reruns() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let sheet = sheet(work.path());
    let fasta = work.path().join("ref.fa");
    std::fs::copy(testdata().join("ref/ref.fa"), &fasta).unwrap();
    let out = work.path().join("out");
    let resume = || qc_run_with_reference(work.path(), "qc", &sheet, &out, &fasta).arg("--resume").output().unwrap();
    let (code, _, err) = run(&mut qc_run_with_reference(work.path(), "qc", &sheet, &out, &fasta));
    assert_eq!(code, 0, "{err}");
    let by_stage = || statuses(&out).into_iter().map(|(_, stage, s)| (stage, s)).collect::<Vec<_>>();

    std::fs::set_permissions(&fasta, std::fs::Permissions::from_mode(0o444)).unwrap();
    let output = resume();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(by_stage(), [("prepare_reference".into(), "done".into()), ("fastq_intake".into(), "reused".into())]);

    std::fs::set_permissions(&fasta, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mtime = std::fs::metadata(&fasta).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&fasta).unwrap();
    let second_line = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second_line] = if bytes[second_line] == b'A' { b'C' } else { b'A' };
    std::fs::write(&fasta, &bytes).unwrap();
    std::fs::File::options().write(true).open(&fasta).unwrap().set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&fasta).unwrap().modified().unwrap(), mtime);
    let output = resume();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(by_stage(), [("prepare_reference".into(), "done".into()), ("fastq_intake".into(), "done".into())]);
}
