//! Helpers shared by the integration tests: run the `dagr` binary, find `testdata/`, read reports.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `require_tool("bcftools")`: true when installed; otherwise a failure under CI (`CI=true`, as
/// `.ci/run` sets) and a NOTE plus false elsewhere. The same file serves the unit tests.
#[path = "../../src/test_tools.rs"]
mod test_tools;
#[allow(unused_imports)] // each test crate uses some of them
pub use test_tools::{require, require_tool, under_ci};

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

pub fn dagr() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dagr"));
    c.env_remove("DAGR_FAULT_INJECT").env("RUST_LOG", "warn");
    c
}

/// Runs and returns (exit code or -signal, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("dagr binary runs");
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        -status.signal().unwrap_or(0)
    });
    (code, String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

/// A samplesheet in `dir` with one sample `S1` (one lane) over the given FASTQs.
pub fn one_sample_sheet(dir: &Path, r1: &Path, r2: &Path) -> PathBuf {
    let p = dir.join("samples.csv");
    std::fs::write(
        &p,
        format!("patient,sex,status,sample,lane,fastq_1,fastq_2\nP1,XX,0,S1,L1,{},{}\n", r1.display(), r2.display()),
    )
    .unwrap();
    p
}

/// The run report of an outdir, parsed.
pub fn report(outdir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(outdir.join("run_report.json")).expect("run_report.json exists");
    serde_json::from_str(&text).expect("run_report.json is JSON")
}

/// (entity, stage) → status of every stage run in the report.
pub fn statuses(outdir: &Path) -> Vec<(String, String, String)> {
    report(outdir)["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["entity"].as_str().unwrap().to_string(),
                s["stage"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `dagr run` with the test reference and its own reference cache under `work`.
pub fn qc_run(work: &Path, pipeline: &str, sheet: &Path, outdir: &Path) -> Command {
    qc_run_with_reference(work, pipeline, sheet, outdir, &testdata().join("ref/ref.fa"))
}

/// `dagr run` with another reference.
pub fn qc_run_with_reference(work: &Path, pipeline: &str, sheet: &Path, outdir: &Path, reference: &Path) -> Command {
    let mut c = dagr();
    c.args(["run", pipeline])
        .arg("--samplesheet")
        .arg(sheet)
        .arg("--reference")
        .arg(reference)
        .arg("--reference-cache")
        .arg(work.join("refcache"))
        .arg("--outdir")
        .arg(outdir)
        .arg("--tmp-dir")
        .arg(work.join("tmp"));
    std::fs::create_dir_all(work.join("tmp")).unwrap();
    c
}

/// The records of a BAM as SAM text (`samtools view`, no header): compares records whatever
/// the BGZF blocking. Needs samtools, with or without CI: the callers cannot do without it.
pub fn sam_records(bam: &Path) -> String {
    assert!(test_tools::on_path("samtools"), "samtools is not installed (apt-get install -y samtools)");
    let out = Command::new("samtools").arg("view").arg(bam).output().expect("samtools runs");
    assert!(out.status.success(), "samtools view {}", bam.display());
    String::from_utf8(out.stdout).expect("SAM text is UTF-8")
}

/// testdata's GERM samplesheet, paths made absolute, plus one more GERM lane `lane` from
/// `testdata/<folder>/<folder>_R{1,2}.fastq.gz` (the `paralog/` and `collapsed/` cases); written
/// into `dir` and returned.
pub fn germ_sheet_with_extra_lane(dir: &Path, folder: &str, lane: &str) -> PathBuf {
    let td = testdata();
    let mut text = String::new();
    for (i, line) in std::fs::read_to_string(td.join("samplesheet_germline.csv")).unwrap().lines().enumerate() {
        if i == 0 {
            text.push_str(line);
        } else {
            text.push_str(&line.replace("germline/", &format!("{}/germline/", td.display())));
        }
        text.push('\n');
    }
    let extra = td.join(folder);
    text.push_str(&format!(
        "PG,XX,0,GERM,{lane},{},{}\n",
        extra.join(format!("{folder}_R1.fastq.gz")).display(),
        extra.join(format!("{folder}_R2.fastq.gz")).display()
    ));
    let sheet = dir.join(format!("samplesheet_{folder}.csv"));
    std::fs::write(&sheet, text).unwrap();
    sheet
}

/// A reference of the test contig and a second 1 Mb contig of random sequence that no read comes
/// from, with its `.fai`.
pub fn reference_with_an_empty_contig(dir: &Path) -> PathBuf {
    let mut fasta = std::fs::read(testdata().join("ref/ref.fa")).unwrap();
    let mut fai = std::fs::read_to_string(testdata().join("ref/ref.fa.fai")).unwrap();
    let header = b">no_reads\n";
    fai.push_str(&format!("no_reads\t1000000\t{}\t80\t81\n", fasta.len() + header.len()));
    fasta.extend_from_slice(header);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..1_000_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        fasta.push(b"ACGT"[(state >> 32) as usize % 4]);
        if i % 80 == 79 {
            fasta.push(b'\n');
        }
    }
    let path = dir.join("two_contigs.fa");
    std::fs::write(&path, fasta).unwrap();
    std::fs::write(dir.join("two_contigs.fa.fai"), fai).unwrap();
    path
}
