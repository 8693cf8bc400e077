//! `dagr demo`: the main job on the embedded default data. Runs the shipped pipelines on
//! `testdata/` into a fresh folder and prints where the outputs are and a short summary.

use super::CliError;
use super::run::execute;
use crate::engine::run::{RunRequest, SampleSource};
use clap::Args;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  dagr demo                          # writes ./dagr-demo (or dagr-demo-2, ... if it exists)
  dagr demo --outdir /tmp/try-dagr --threads 4";

/// Shipped pipelines the demo runs, in order, each into `<outdir>/<pipeline>/`.
const DEMO_PIPELINES: &[&str] = &["qc", "align", "germline", "somatic"];

/// Germline samples of testdata/samplesheet.csv with their truth VCFs.
const GERMLINE_TRUTH: &[(&str, &str)] =
    &[("GERM", "germline/truth.vcf.gz"), ("NORMAL", "somatic/truth_germline.vcf.gz")];
/// Tumour/normal pairs of testdata/samplesheet.csv with their somatic truth VCFs.
const SOMATIC_TRUTH: &[(&str, &str)] = &[("TUMOR_vs_NORMAL", "somatic/truth_somatic.vcf.gz")];

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {
    /// Output folder (must not exist yet) [default: ./dagr-demo, or the next free dagr-demo-N]
    #[arg(long)]
    pub outdir: Option<PathBuf>,
    /// The test data folder [default: the testdata/ of the source tree dagr was built from]
    #[arg(long)]
    pub testdata: Option<PathBuf>,
    /// Threads for the run [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
}

fn fresh_outdir() -> PathBuf {
    let base = PathBuf::from("dagr-demo");
    if !base.exists() {
        return base;
    }
    (2..).map(|i| PathBuf::from(format!("dagr-demo-{i}"))).find(|p| !p.exists()).unwrap_or(base)
}

fn testdata_dir(args: &DemoArgs) -> Result<PathBuf, CliError> {
    let candidates: Vec<PathBuf> = match &args.testdata {
        Some(p) => vec![p.clone()],
        None => vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"), PathBuf::from("testdata")],
    };
    candidates.into_iter().find(|p| p.join("samplesheet.csv").is_file() && p.join("ref/ref.fa").is_file()).ok_or_else(
        || {
            CliError::bad_input(
                "cannot find the test data (testdata/samplesheet.csv, testdata/ref/ref.fa); pass --testdata DIR",
            )
        },
    )
}

pub fn run(args: &DemoArgs) -> Result<u8, CliError> {
    let testdata = testdata_dir(args)?;
    let outdir = match &args.outdir {
        Some(p) if p.exists() => {
            return Err(CliError::bad_input(format!(
                "{}: exists already; the demo writes a fresh folder",
                p.display()
            )));
        }
        Some(p) => p.clone(),
        None => fresh_outdir(),
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let mut worst = 0u8;
    for pipeline in DEMO_PIPELINES {
        let dir = outdir.join(pipeline);
        let request = RunRequest {
            pipeline: pipeline.to_string(),
            samples: SampleSource::Csv(testdata.join("samplesheet.csv")),
            reference: testdata.join("ref/ref.fa"),
            outdir: dir.clone(),
            reference_cache: Some(outdir.join("reference-cache")),
            threads,
            max_memory: 4 << 30,
            tmp_dir: std::env::temp_dir(),
            resume: false,
            dry_run: false,
            pair_stages: true,
            allow_shared_fastq: false,
            within: None,
        };
        eprintln!("== dagr demo: pipeline {pipeline} on {} ==", testdata.display());
        let code = execute(&request)?;
        print_highlights(&dir);
        if code == 0 {
            match *pipeline {
                "germline" => print_accuracy(&dir, &testdata, GERMLINE_TRUTH, "vcf.gz", "germline"),
                "somatic" => print_accuracy(&dir, &testdata, SOMATIC_TRUTH, "somatic.vcf.gz", "somatic"),
                _ => {}
            }
        }
        worst = worst.max(code);
        if code != 0 {
            break;
        }
    }
    super::output::print(&format!("demo outputs: {}\n", outdir.display()))?;
    Ok(worst)
}

/// Precision and recall of each germline or somatic VCF (`<entity>/<entity>.<suffix>`) against
/// testdata's truth, in its confident region.
fn print_accuracy(outdir: &Path, testdata: &Path, truths: &[(&str, &str)], suffix: &str, what: &str) {
    let reference = match crate::vcf::InMemoryFasta::from_path(&testdata.join("ref/ref.fa")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: cannot read the reference for scoring: {e}");
            return;
        }
    };
    let options = crate::bench::CompareOptions { regions: Some(testdata.join("confident.bed")), ..Default::default() };
    for (sample, truth) in truths {
        let query = outdir.join(sample).join(format!("{sample}.{suffix}"));
        match crate::bench::compare(&testdata.join(truth), &query, &reference, &options) {
            Ok(r) => print_line(format!(
                "{sample:<10} {what} VCF vs truth: SNV precision {:.4} recall {:.4} (TP {} FP {} FN {}); indel precision {:.4} recall {:.4} (TP {} FP {} FN {})",
                r.snv.precision,
                r.snv.recall,
                r.snv.tp,
                r.snv.fp,
                r.snv.fn_,
                r.indel.precision,
                r.indel.recall,
                r.indel.tp,
                r.indel.fp,
                r.indel.fn_
            )),
            Err(e) => eprintln!("demo: cannot score {}: {e}", query.display()),
        }
    }
}

/// A few numbers per sample from the run report.
fn print_highlights(outdir: &Path) {
    let Ok(text) = std::fs::read_to_string(outdir.join(crate::engine::layout::REPORT_FILE)) else { return };
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    let Some(stages) = report["stages"].as_array() else { return };
    for s in stages {
        let Some(metrics) = s["metrics"].as_object() else { continue };
        let scalars: Vec<String> = metrics
            .iter()
            .filter(|(_, v)| v.is_number() || v.is_string() || v.is_boolean())
            .map(|(k, v)| match v.as_f64() {
                Some(x) if x.fract() != 0.0 => format!("{k}={x:.4}"),
                _ => format!("{k}={}", v.to_string().trim_matches('"')),
            })
            .collect();
        if !scalars.is_empty() {
            print_line(format!(
                "{:<10} {:<18} {}",
                s["entity"].as_str().unwrap_or(""),
                s["stage"].as_str().unwrap_or(""),
                scalars.join(" ")
            ));
        }
    }
}

/// One line of the demo's report on stdout (a closed stdout ends the demo quietly).
fn print_line(line: String) {
    if let Err(e) = super::output::print(&format!("{line}\n")) {
        eprintln!("demo: {e}");
    }
}
