//! `dagr slurm` against a real Slurm (slurmctld + slurmd + munge, e.g. `slurm/local-cluster.sh up`).
//! The tests that need a cluster are `#[ignore]`d, so that a plain `cargo test` does not need
//! one; `scripts/ci-slurm.sh` starts a cluster and runs them with `--include-ignored`. Run by
//! hand without Slurm installed or without a cluster that answers, they fail under CI (`CI=true`,
//! as `.ci/run` sets) and elsewhere print a note and pass. `SLURM_CONF` defaults to the local
//! cluster's `/tmp/dagr-slurm/slurm.conf` when that exists. Every wait has a timeout.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;

use common::{dagr, require, require_tool, run, testdata};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(300); // a requeued task waits ~2 min (Slurm's requeue delay)

fn slurm_conf() -> Option<PathBuf> {
    if let Ok(c) = std::env::var("SLURM_CONF") {
        return Some(PathBuf::from(c));
    }
    let dir = std::env::var("DAGR_SLURM_DIR").unwrap_or_else(|_| "/tmp/dagr-slurm".into());
    let conf = Path::new(&dir).join("slurm.conf");
    conf.is_file().then_some(conf)
}

/// The environment for Slurm commands; None (with a note) when Slurm is not installed or no
/// cluster answers, and a failure instead under CI.
fn cluster() -> Option<Vec<(String, String)>> {
    if !require_tool("scontrol") || !require_tool("sbatch") {
        return None;
    }
    let env: Vec<(String, String)> =
        slurm_conf().map(|c| vec![("SLURM_CONF".into(), c.display().to_string())]).unwrap_or_default();
    let ping = Command::new("scontrol").arg("ping").envs(env.iter().cloned()).output();
    let up = ping.is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("is UP"));
    require(up, "no Slurm cluster answers `scontrol ping` (start one: slurm/local-cluster.sh up)").then_some(env)
}

fn sheet(dir: &Path, rows: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::from("patient,sex,status,sample,lane,fastq_1,fastq_2\n");
    for (sample, r1, r2) in rows {
        let (a, b) = (testdata().join(r1), testdata().join(r2));
        text.push_str(&format!("P_{sample},XX,0,{sample},L1,{},{}\n", a.display(), b.display()));
    }
    let p = dir.join("samples.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn dagr_slurm(env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    run(dagr().arg("slurm").args(args).envs(env.iter().cloned()))
}

fn submit(env: &[(String, String)], sheet: &Path, reference: &Path, outdir: &Path) {
    let (code, out, err) = dagr_slurm(
        env,
        &["submit", "qc", "--samplesheet", sheet.to_str().unwrap(), "--reference", reference.to_str().unwrap()]
            .into_iter()
            .chain(["--outdir", outdir.to_str().unwrap(), "--resources", "local"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "submit failed:\n{out}\n{err}");
    assert!(out.contains("submitted 3 samples"), "{out}");
}

/// Polls `dagr slurm status` until no entity is queued or running; returns the last table.
fn wait_settled(env: &[(String, String)], outdir: &Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        let (code, table, err) = dagr_slurm(env, &["status", "--outdir", outdir.to_str().unwrap()]);
        assert_eq!(code, 0, "{table}\n{err}");
        let busy = table
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1).is_some_and(|s| matches!(s, "queued" | "running")));
        if !busy {
            eprintln!("{what}:\n{table}");
            return table;
        }
        assert!(start.elapsed() < WAIT, "{what}: jobs still queued or running after {WAIT:?}:\n{table}");
        std::thread::sleep(Duration::from_millis(1000));
    }
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn status_file(outdir: &Path, entity: &str) -> serde_json::Value {
    json(&outdir.join("slurm/status").join(format!("{entity}.json")))
}

/// The status of `stage` in a sample task's run report.
fn stage_status(outdir: &Path, sample: &str, stage: &str) -> String {
    let report = json(&outdir.join("slurm/runs").join(sample).join("run_report.json"));
    let stages = report["stages"].as_array().unwrap();
    let s = stages.iter().find(|s| s["stage"] == stage && s["entity"] == sample).unwrap();
    s["status"].as_str().unwrap().to_string()
}

fn row_state(table: &str, entity: &str) -> String {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(entity))
        .unwrap_or_else(|| panic!("{entity} in\n{table}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
#[ignore = "needs a running Slurm: scripts/ci-slurm.sh"]
fn array_failure_fix_resubmit_and_requeue_on_a_real_slurm() {
    let Some(env) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // Own copy of the reference, so the reference cache is this test's.
    let reference = work.join("ref.fa");
    std::fs::copy(testdata().join("ref/ref.fa"), &reference).unwrap();
    let outdir = work.join("out");
    let good = [
        ("S1", "bad/good_R1.fastq.gz", "bad/good_R2.fastq.gz"),
        ("S2", "germline/germline_L1_R1.fastq.gz", "germline/germline_L1_R2.fastq.gz"),
    ];
    let corrupt = ("S3", "bad/truncated_r1.fastq.gz", "bad/truncated_r2.fastq.gz");
    let fixed = ("S3", "germline/germline_L2_R1.fastq.gz", "germline/germline_L2_R2.fastq.gz");

    // 1. S3's FASTQ is truncated: it fails alone, with the reason in its status file.
    submit(&env, &sheet(work, &[good[0], good[1], corrupt]), &reference, &outdir);
    let table = wait_settled(&env, &outdir, "first submission");
    assert!(outdir.join("slurm/samplesheet.frozen.csv").is_file());
    assert_eq!(row_state(&table, "reference"), "done", "{table}");
    for s in ["S1", "S2"] {
        assert_eq!(row_state(&table, s), "done", "{table}");
        assert_eq!(status_file(&outdir, s)["exit_code"], 0);
        assert!(outdir.join(s).join(format!("{s}.fastq_metrics.json")).is_file(), "{s}'s outputs in <outdir>/{s}/");
    }
    assert_eq!(row_state(&table, "S3"), "failed", "{table}");
    let s3 = status_file(&outdir, "S3");
    assert_eq!(s3["state"], "failed");
    assert_eq!(s3["failed_stage"], "fastq_intake");
    let reason = s3["reason"].as_str().unwrap();
    assert!(reason.contains("fastq_intake") && reason.contains("truncated"), "reason: {reason}");
    assert!(table.contains("truncated gzip"), "status shows the reason:\n{table}");

    // 2. Fix the samplesheet and resubmit: only S3 runs, S1 and S2 reuse everything.
    submit(&env, &sheet(work, &[good[0], good[1], fixed]), &reference, &outdir);
    let table = wait_settled(&env, &outdir, "after the fix");
    for s in ["S1", "S2", "S3"] {
        assert_eq!(row_state(&table, s), "done", "{table}");
    }
    assert_eq!(stage_status(&outdir, "S1", "fastq_intake"), "reused");
    assert_eq!(stage_status(&outdir, "S2", "fastq_intake"), "reused");
    assert_eq!(stage_status(&outdir, "S3", "fastq_intake"), "done");

    // 3. Requeue a finished task: it runs again and resumes (reuses) instead of restarting.
    let jobs = json(&outdir.join("slurm/jobs.json"));
    let task = format!("{}_0", jobs["samples"].as_str().unwrap());
    let before = std::fs::metadata(outdir.join("S1/S1.fastq_metrics.json")).unwrap().modified().unwrap();
    let out = Command::new("scontrol").args(["requeue", &task]).envs(env.iter().cloned()).output().unwrap();
    assert!(out.status.success(), "scontrol requeue {task}: {}", String::from_utf8_lossy(&out.stderr));
    let start = Instant::now();
    let (_, queued, _) = dagr_slurm(&env, &["status", "--outdir", outdir.to_str().unwrap()]);
    eprintln!("just after the requeue:\n{queued}");
    while status_file(&outdir, "S1")["restarts"].as_u64().unwrap_or(0) < 1
        || status_file(&outdir, "S1")["state"] != "done"
    {
        assert!(start.elapsed() < WAIT, "requeued task {task} did not finish again: {}", status_file(&outdir, "S1"));
        std::thread::sleep(Duration::from_millis(1000));
    }
    let table = wait_settled(&env, &outdir, "after the requeue");
    assert_eq!(row_state(&table, "S1"), "done", "{table}");
    assert_eq!(stage_status(&outdir, "S1", "fastq_intake"), "reused", "the requeued task resumed");
    let after = std::fs::metadata(outdir.join("S1/S1.fastq_metrics.json")).unwrap().modified().unwrap();
    assert_eq!(before, after, "outputs were not rewritten");
    let log = std::fs::read_dir(outdir.join("slurm/logs"))
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(&format!("{task}.log")));
    let log = std::fs::read_to_string(log.expect("the task's log").path()).unwrap();
    assert_eq!(
        log.matches("dagr slurm task: S1 done").count(),
        2,
        "the appended log holds the first run and the requeued one:\n{log}"
    );
}

#[test]
fn dry_run_renders_valid_scripts_and_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("out");
    let rows = [
        ("A", "bad/good_R1.fastq.gz", "bad/good_R2.fastq.gz"),
        ("B", "germline/germline_L1_R1.fastq.gz", "germline/germline_L1_R2.fastq.gz"),
    ];
    let sheet = sheet(dir.path(), &rows);
    let reference = testdata().join("ref/ref.fa");
    let (code, out, err) = run(dagr()
        .args(["slurm", "submit", "align", "--samplesheet"])
        .arg(&sheet)
        .arg("--reference")
        .arg(&reference)
        .arg("--outdir")
        .arg(&outdir)
        .args(["--dry-run", "--partition", "p 1"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!outdir.exists(), "a dry run writes nothing");
    for want in [
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --mem=32768M",
        "#SBATCH --time=1-00:00:00",
        "--array=0-1",
        "--dependency=afterok:",
        "'--partition=p 1'",
        "--requeue",
    ] {
        assert!(out.contains(want), "missing {want}:\n{out}");
    }
    // Every rendered script is valid bash.
    for script in out.split("# ===== ").skip(1).filter(|s| s.contains(".sbatch =====")) {
        let body = script.split_once('\n').unwrap().1;
        let f = dir.path().join("check.sh");
        std::fs::write(&f, body).unwrap();
        let ok = Command::new("bash").arg("-n").arg(&f).status().unwrap();
        assert!(ok.success(), "bash -n failed:\n{body}");
    }
    // The templates themselves (pair.sbatch included, which no shipped pipeline renders yet).
    for t in ["prepare_reference.sbatch", "sample_array.sbatch", "pair.sbatch", "task_prelude.sh", "local-cluster.sh"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("slurm").join(t);
        assert!(Command::new("bash").arg("-n").arg(&path).status().unwrap().success(), "bash -n {t}");
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("out");
    let (code, _, err) = run(dagr()
        .args(["slurm", "submit", "qc", "--samplesheet"])
        .arg(testdata().join("bad/samplesheet_missing_file.csv"))
        .arg("--reference")
        .arg(testdata().join("ref/ref.fa"))
        .arg("--outdir")
        .arg(&outdir));
    assert_eq!(code, 2, "{err}");
    assert!(!outdir.exists());
    let (code, _, err) = run(dagr().args(["slurm", "status", "--outdir"]).arg(&outdir));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dagr slurm submit"), "{err}");
}

/// A sample task whose memory is below `align`'s floor would only fail on the cluster: submit
/// refuses it (exit 2) with the least it needs and the pipeline setting to raise, and submits
/// nothing.
#[test]
fn a_task_below_the_memory_floor_is_refused_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("out");
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/align.yaml")).unwrap();
    assert!(shipped.contains("memory: 32G"), "the test edits align's memory");
    let pipeline = dir.path().join("tiny.yaml");
    std::fs::write(&pipeline, shipped.replace("memory: 32G", "memory: 100M")).unwrap();
    let (code, _, err) = run(dagr()
        .args(["slurm", "submit"])
        .arg(&pipeline)
        .arg("--samplesheet")
        .arg(testdata().join("samplesheet_germline.csv"))
        .arg("--reference")
        .arg(testdata().join("ref/ref.fa"))
        .arg("--outdir")
        .arg(&outdir)
        .arg("--dry-run"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stage `align`") && err.contains("needs at least about"), "{err}");
    assert!(err.contains("raise") && err.contains("resources: memory:"), "names what to change: {err}");
    assert!(!outdir.exists());
}

/// The somatic pipeline on Slurm: a sample array (each task runs its sample's stages only) and a
/// pair array after it (the pair task reuses the samples' stages and calls the pair).
#[test]
#[ignore = "needs a running Slurm: scripts/ci-slurm.sh"]
fn somatic_pair_job_runs_after_the_sample_array_on_a_real_slurm() {
    let Some(env) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let reference = work.join("ref.fa");
    std::fs::copy(testdata().join("ref/ref.fa"), &reference).unwrap();
    let s = testdata().join("somatic");
    let sheet = work.join("pair.csv");
    std::fs::write(
        &sheet,
        format!(
            "patient,sex,status,sample,lane,fastq_1,fastq_2\nPT1,XX,0,NORMAL,L1,{},{}\nPT1,XX,1,TUMOR,L1,{},{}\n",
            s.join("normal_R1.fastq.gz").display(),
            s.join("normal_R2.fastq.gz").display(),
            s.join("tumor_R1.fastq.gz").display(),
            s.join("tumor_R2.fastq.gz").display()
        ),
    )
    .unwrap();
    let outdir = work.join("out");
    let (code, out, err) = dagr_slurm(
        &env,
        &[
            "submit",
            "somatic",
            "--samplesheet",
            sheet.to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--outdir",
            outdir.to_str().unwrap(),
            "--resources",
            "local",
        ],
    );
    assert_eq!(code, 0, "submit failed:\n{out}\n{err}");
    assert!(out.contains("pair array"), "{out}");
    let table = wait_settled(&env, &outdir, "somatic submission");
    for entity in ["reference", "NORMAL", "TUMOR", "TUMOR_vs_NORMAL"] {
        assert_eq!(row_state(&table, entity), "done", "{entity}:\n{table}");
    }
    assert!(outdir.join("TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz").is_file());
    assert!(outdir.join("NORMAL/NORMAL.vcf.gz").is_file(), "the normal's germline VCF");
    // The sample tasks ran the alignments; the pair task reused them.
    assert_eq!(stage_status(&outdir, "TUMOR", "align"), "done");
    let report = json(&outdir.join("slurm/runs/TUMOR_vs_NORMAL/run_report.json"));
    let stages = report["stages"].as_array().unwrap();
    let status = |stage: &str, entity: &str| {
        stages.iter().find(|s| s["stage"] == stage && s["entity"] == entity).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("align", "TUMOR"), "reused");
    assert_eq!(status("align", "NORMAL"), "reused");
    assert_eq!(status("call_somatic", "TUMOR_vs_NORMAL"), "done");
}

/// `srun --mpi=pmix -n 2 dagr run --mpi` (PMIx, no mpirun) on the local Slurm gives what one
/// process gives: the same BAM records and byte-identical VCF and gVCF.
#[cfg(feature = "mpi")]
#[test]
#[ignore = "needs a running Slurm: scripts/ci-slurm.sh"]
fn srun_pmix_mpi_run_matches_one_process() {
    let Some(env) = cluster() else { return };
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let reference = testdata().join("ref/ref.fa");
    std::fs::create_dir_all(work.path().join("tmp")).unwrap();
    let args: Vec<String> = vec![
        "run".into(),
        "germline".into(),
        "--samplesheet".into(),
        testdata().join("samplesheet_germline.csv").display().to_string(),
        "--reference".into(),
        reference.display().to_string(),
        "--reference-cache".into(),
        work.path().join("refcache").display().to_string(),
        "--outdir".into(),
        outdir.display().to_string(),
        "--tmp-dir".into(),
        work.path().join("tmp").display().to_string(),
        "--threads".into(),
        "1".into(),
    ];
    let (code, _, err) = run(dagr().args(&args));
    assert_eq!(code, 0, "single process: {err}");
    let single = work.path().join("single");
    std::fs::rename(&outdir, &single).unwrap();

    let mut srun = Command::new("timeout");
    srun.args(["600", "srun", "--mpi=pmix", "-n", "2", "--cpus-per-task=1"])
        .arg(format!("--chdir={}", work.path().display()))
        .arg(env!("CARGO_BIN_EXE_dagr"))
        .args(&args)
        .arg("--mpi")
        .envs(env.iter().cloned())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RUST_LOG", "warn")
        .env_remove("DAGR_FAULT_INJECT");
    let (code, _, err) = run(&mut srun);
    assert_eq!(code, 0, "srun --mpi=pmix -n 2 dagr run --mpi: {err}");
    assert_eq!(json(&outdir.join("run_report.json"))["execution"]["mpi_ranks"], 2);
    assert!(
        common::sam_records(&single.join("GERM/GERM.bam")) == common::sam_records(&outdir.join("GERM/GERM.bam")),
        "BAM records differ from the single-process run"
    );
    for name in ["GERM.vcf.gz", "GERM.g.vcf.gz", "GERM.callable.bed.gz", "GERM.markdup_metrics.txt"] {
        let a = std::fs::read(single.join("GERM").join(name)).unwrap();
        let b = std::fs::read(outdir.join("GERM").join(name)).unwrap();
        assert!(a == b, "{name} differs from the single-process run");
    }
}

/// `dagr slurm submit --mpi-nodes 1 --mpi-ranks-per-node 2`: the sample runs as one MPI job of
/// two ranks (`srun --mpi=pmix` inside the rendered script), rank 0 keeps the status file, and
/// the outputs are those of a one-process run.
#[cfg(feature = "mpi")]
#[test]
#[ignore = "needs a running Slurm: scripts/ci-slurm.sh"]
fn mpi_sample_job_on_a_real_slurm_matches_one_process() {
    let Some(env) = cluster() else { return };
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let reference = work.path().join("ref.fa");
    std::fs::copy(testdata().join("ref/ref.fa"), &reference).unwrap();
    let sheet = testdata().join("samplesheet_germline.csv");
    let (code, out, err) = dagr_slurm(
        &env,
        &[
            "submit",
            "germline",
            "--samplesheet",
            sheet.to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--outdir",
            outdir.to_str().unwrap(),
            "--resources",
            "local",
            "--mpi-nodes",
            "1",
            "--mpi-ranks-per-node",
            "2",
        ],
    );
    assert_eq!(code, 0, "submit failed:\n{out}\n{err}");
    let script = std::fs::read_to_string(outdir.join("slurm/mpi_sample_array.sbatch")).unwrap();
    assert!(script.contains("srun --mpi=pmix") && script.contains("--ntasks-per-node=2"), "{script}");
    let table = wait_settled(&env, &outdir, "MPI sample job");
    assert_eq!(row_state(&table, "GERM"), "done", "{table}");
    let report = json(&outdir.join("slurm/runs/GERM/run_report.json"));
    assert_eq!(report["execution"]["mpi_ranks"], 2, "the sample ran over two ranks");

    // The same sample in one process, same reference: same records, same calls.
    let single = work.path().join("single");
    let (code, _, err) = run(dagr()
        .args(["run", "germline", "--samplesheet"])
        .arg(&sheet)
        .arg("--reference")
        .arg(&reference)
        .arg("--outdir")
        .arg(&single)
        .args(["--threads", "1"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        common::sam_records(&single.join("GERM/GERM.bam")) == common::sam_records(&outdir.join("GERM/GERM.bam")),
        "BAM records differ"
    );
    let body = |vcf: PathBuf| {
        let out = Command::new("bcftools").args(["view", "-H"]).arg(vcf).output().unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert!(body(single.join("GERM/GERM.vcf.gz")) == body(outdir.join("GERM/GERM.vcf.gz")), "VCF records differ");
}
