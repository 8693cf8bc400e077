//! The command line: clap definitions, one file per subcommand. Each subcommand returns an exit
//! code or a [`CliError`] that carries its failure class (0 ok, 1 runtime failure, 2 bad usage or
//! input, 3 interrupted: [`Failure::exit_code`] decides). The CLI wires the stage registry
//! (`stages::registry`) and the runner (`exec::local`, `exec::mpi`) into the engine.

pub mod bench;
pub mod demo;
pub mod logging;
pub mod output;
pub mod prepare_reference;
pub mod run;
pub mod slurm;
pub mod validate;

use crate::outcome::{Classify, Failure, chain};
use clap::{Parser, Subcommand};
use std::fmt;

/// Exit codes, as documented in the README: success here, the failures'
/// from [`Failure::exit_code`].
pub mod exit {
    pub use crate::outcome::SUCCESS;
}

/// An error for the user: its class (which decides the exit code) and the message, the error
/// with its causes on one line.
#[derive(Debug)]
pub struct CliError {
    pub failure: Failure,
    pub message: String,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self { failure: Failure::BadInput, message: message.into() }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self { failure: Failure::Runtime, message: message.into() }
    }
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.failure.exit_code()
    }
}

impl<E: Classify + std::error::Error + 'static> From<E> for CliError {
    fn from(e: E) -> Self {
        Self { failure: e.failure(), message: chain(&e) }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

const ABOUT: &str = "dagr: whole-genome secondary analysis — paired FASTQ to duplicate-marked BAM/CRAM and \
germline/somatic VCFs, as a DAG of parallel stages defined in YAML.";

const EXAMPLES: &str = "\
Examples:
  dagr demo                                          # the whole thing on the bundled test data
  dagr validate qc                                   # check a pipeline and print its DAG
  dagr prepare-reference GRCh38.fa                   # .fai, .dict, MD5s, minimap2 index (cached)
  dagr run qc --samplesheet samples.csv --reference GRCh38.fa --outdir results
  dagr bench compare --truth truth.vcf.gz --query calls.vcf.gz --reference GRCh38.fa --regions conf.bed

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input, 3 interrupted (resume with --resume).";

fn long_version() -> &'static str {
    Box::leak(format!("{} (commit {})", crate::VERSION, crate::GIT_COMMIT).into_boxed_str())
}

#[derive(Debug, Parser)]
#[command(name = "dagr", about = ABOUT, after_help = EXAMPLES, version = long_version(), propagate_version = true)]
pub struct Cli {
    /// Log format on stderr: text for people, json (one object per line) for log collectors
    #[arg(long, value_enum, global = true, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline on a samplesheet or one sample
    Run(Box<run::RunArgs>),
    /// Check a pipeline YAML and print its DAG
    Validate(validate::ValidateArgs),
    /// Run the shipped pipelines on the bundled test data
    Demo(demo::DemoArgs),
    /// Index a reference FASTA: .fai, .dict, per-contig MD5s, minimap2 index (cached by digest)
    PrepareReference(prepare_reference::PrepareReferenceArgs),
    /// Accuracy against a truth VCF (precision, recall, F1 for SNVs and indels)
    Bench(bench::BenchArgs),
    /// Many samples on a Slurm cluster: submit a samplesheet as a job array, follow it
    Slurm(slurm::SlurmArgs),
}

/// Runs the parsed command line.
pub fn dispatch(cli: &Cli) -> Result<u8, CliError> {
    match &cli.command {
        Command::Run(a) => run::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Demo(a) => demo::run(a),
        Command::PrepareReference(a) => prepare_reference::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Slurm(a) => slurm::run(a),
    }
}
