//! `dagr bench`: accuracy against a truth set. `bench compare` normalizes both files, scores SNVs
//! and indels (precision, recall, F1) exactly and haplotype-aware, prints a table, optionally
//! writes JSON and fails below F1 thresholds on either figure. See [`crate::bench`] for the method.

use super::{CliError, exit};
use crate::bench::{
    CompareOptions, F1Threshold, HaplotypeOptions, QueryFilter, TruthFilter, compare, parse_thresholds, render_table,
};
use crate::output_file::{Sidecar, write_atomic};
use crate::vcf::sequence::InMemoryFasta;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  # Score a germline callset inside the confident regions
  dagr bench compare --truth truth.vcf.gz --query calls.vcf.gz --reference ref.fa \\
      --regions confident.bed

  # Keep the numbers as JSON and fail (exit 1) when an F1 is too low: exact SNV and indel F1,
  # and the haplotype-aware indel F1 (`hap:` prefix; no prefix or `exact:` = exact alleles)
  dagr bench compare --truth truth.vcf.gz --query calls.vcf.gz --reference ref.fa \\
      --regions confident.bed --json scores.json --fail-below snv=0.99,indel=0.95,hap:indel=0.99

  # Somatic calls: the truth has no samples, score PASS calls without a genotype test
  dagr bench compare --truth truth_somatic.vcf.gz --query somatic.vcf.gz --reference ref.fa \\
      --regions confident.bed --query-filter pass";

/// `dagr bench ...`
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Compare a callset with a truth set: TP/FP/FN, precision, recall, F1 per SNV and INDEL,
    /// exact and haplotype-aware.
    #[command(after_help = AFTER_HELP)]
    Compare(CompareArgs),
}

/// Which query records are scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum QueryFilterArg {
    /// FILTER PASS or `.`, and the sample's GT carries an ALT (PASS alone without samples).
    #[default]
    PassAlt,
    /// FILTER PASS or `.` only (somatic calls).
    Pass,
}

/// Which truth records are scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TruthFilterArg {
    /// GT carries an ALT when the truth has samples, every record otherwise.
    #[default]
    Auto,
    /// Every record.
    All,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Truth VCF / VCF.gz / BCF.
    #[arg(long, value_name = "VCF")]
    pub truth: PathBuf,
    /// Calls to score (VCF / VCF.gz / BCF).
    #[arg(long, value_name = "VCF")]
    pub query: PathBuf,
    /// Reference FASTA both files were called against (held in memory).
    #[arg(long, value_name = "FASTA")]
    pub reference: PathBuf,
    /// Score only variants whose POS lies in these regions.
    #[arg(long, value_name = "BED")]
    pub regions: Option<PathBuf>,
    /// Also write the report as JSON (atomically).
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Exit 1 when an F1 is below its threshold: `[METRIC:]CLASS=F1,...` with CLASS snv or
    /// indel and METRIC `exact` (the default) or `hap` (haplotype-aware), e.g.
    /// `snv=0.99,indel=0.95,hap:indel=0.99`.
    #[arg(long, value_name = "[hap:]CLASS=F1,...", value_parser = parse_thresholds_arg)]
    pub fail_below: Option<Thresholds>,
    /// Haplotype-aware figures: records at most this many bases apart form one cluster.
    #[arg(long, value_name = "BP", default_value_t = HaplotypeOptions::default().max_distance)]
    pub cluster_distance: u64,
    /// Haplotype-aware figures: a cluster side with more free phase units than this (2^(N-1)
    /// phasings to try) keeps its exact result (counted in the report).
    #[arg(long, value_name = "N", default_value_t = HaplotypeOptions::default().max_phasing_units,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_phasing_units: u32,
    /// Truth sample whose GT is used (default: the first).
    #[arg(long, value_name = "NAME")]
    pub truth_sample: Option<String>,
    /// Query sample whose GT is used (default: the first).
    #[arg(long, value_name = "NAME")]
    pub query_sample: Option<String>,
    /// Which query records are scored.
    #[arg(long, value_enum, default_value_t)]
    pub query_filter: QueryFilterArg,
    /// Which truth records are scored.
    #[arg(long, value_enum, default_value_t)]
    pub truth_filter: TruthFilterArg,
}

/// Parsed `--fail-below` value.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds(pub Vec<F1Threshold>);

fn parse_thresholds_arg(text: &str) -> Result<Thresholds, String> {
    parse_thresholds(text).map(Thresholds)
}

/// The reference through its `.fai` (memory-mapped: whole genomes) when one sits beside the
/// FASTA, else read into memory (fine for small references such as the benchmark's 1 Mb).
fn open_reference(fasta: &std::path::Path) -> Result<Box<dyn crate::vcf::sequence::SequenceSource>, CliError> {
    let mut fai = fasta.as_os_str().to_owned();
    fai.push(".fai");
    let fai = std::path::PathBuf::from(fai);
    if fai.is_file() {
        let r =
            crate::genome::reference::Reference::open(fasta, &fai).map_err(|e| CliError::bad_input(e.to_string()))?;
        return Ok(Box::new(r));
    }
    let r = InMemoryFasta::from_path(fasta).map_err(|e| CliError::bad_input(e.to_string()))?;
    Ok(Box::new(r))
}

/// Runs `dagr bench ...`; returns the exit code.
pub fn run(args: &BenchArgs) -> Result<u8, CliError> {
    match &args.command {
        BenchCommand::Compare(compare_args) => run_compare(compare_args),
    }
}

fn run_compare(args: &CompareArgs) -> Result<u8, CliError> {
    let reference = open_reference(&args.reference)?;
    let options = CompareOptions {
        regions: args.regions.clone(),
        truth_sample: args.truth_sample.clone(),
        query_sample: args.query_sample.clone(),
        truth_filter: match args.truth_filter {
            TruthFilterArg::Auto => TruthFilter::Auto,
            TruthFilterArg::All => TruthFilter::All,
        },
        query_filter: match args.query_filter {
            QueryFilterArg::PassAlt => QueryFilter::PassWithAlt,
            QueryFilterArg::Pass => QueryFilter::Pass,
        },
        haplotype: HaplotypeOptions { max_distance: args.cluster_distance, max_phasing_units: args.max_phasing_units },
    };
    let report = compare(&args.truth, &args.query, reference.as_ref(), &options)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    super::output::print(&render_table(&report))?;
    if let Some(path) = &args.json {
        let mut json = serde_json::to_vec_pretty(&report)
            .map_err(|e| CliError::failure(format!("cannot serialize the report: {e}")))?;
        json.push(b'\n');
        write_atomic(path, &json, Sidecar::None)
            .map_err(|e| CliError::failure(format!("{}: cannot write: {e}", path.display())))?;
    }
    let failures = args.fail_below.as_ref().map(|t| report.failures(&t.0)).unwrap_or_default();
    if failures.is_empty() { Ok(exit::SUCCESS) } else { Err(CliError::failure(failures.join("; "))) }
}
