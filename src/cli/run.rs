//! `dagr run`: run a pipeline on a samplesheet (or one sample given by flags).

use super::CliError;
use crate::engine::run::{RunRequest, RunResult, SampleSource};
use crate::genome::ploidy::Sex;
use crate::units::parse_size;
use clap::Args;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  # every sample of a samplesheet through the QC pipeline
  dagr run qc --samplesheet samples.csv --reference GRCh38.fa --outdir results

  # one sample without a samplesheet
  dagr run qc --sample NA12878 --fastq1 R1.fastq.gz --fastq2 R2.fastq.gz --sex XX \\
      --reference GRCh38.fa --outdir results

  # after a failure, a preemption or a change of parameters: reuse what is up to date
  dagr run pipelines/qc.yaml --samplesheet samples.csv --reference GRCh38.fa --outdir results --resume

  # tumour/normal pairs (status 1 and 0 of one patient): BAMs, the normal's germline VCF and
  # <tumour>_vs_<normal>/<tumour>_vs_<normal>.somatic.vcf.gz
  dagr run somatic --samplesheet pairs.csv --reference GRCh38.fa --outdir results

  # one urgent genome over the ranks of an MPI job (dagr built with --features mpi); also
  # under `srun --mpi=pmix`, or `dagr slurm submit ... --mpi-nodes N`
  mpirun -np 8 dagr run germline --samplesheet urgent.csv --reference GRCh38.fa --outdir results \\
      --threads 16 --mpi

  # what would run, and why, without running anything
  dagr run qc --samplesheet samples.csv --reference GRCh38.fa --outdir results --resume --dry-run

Samplesheet (CSV, nf-core/sarek columns; relative paths resolve against the samplesheet's folder):
  patient,sex,status,sample,lane,fastq_1,fastq_2[,library]    (sex, status, library optional)
  P1,XX,0,P1_normal,L001,P1_N_L001_R1.fastq.gz,P1_N_L001_R2.fastq.gz

Exit codes: 0 success, 1 runtime failure (any sample), 2 bad usage or bad input, 3 interrupted.";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// Pipeline: a YAML file or a shipped name (qc, align, germline, somatic)
    pub pipeline: String,
    /// Samplesheet CSV (patient,[sex,status,]sample,lane,fastq_1,fastq_2[,library])
    #[arg(long, conflicts_with_all = ["sample", "fastq1", "fastq2"])]
    pub samplesheet: Option<PathBuf>,
    /// One sample without a samplesheet: its name (needs --fastq1 and --fastq2)
    #[arg(long, requires_all = ["fastq1", "fastq2"])]
    pub sample: Option<String>,
    /// R1 FASTQ of --sample
    #[arg(long, requires = "sample")]
    pub fastq1: Option<PathBuf>,
    /// R2 FASTQ of --sample
    #[arg(long, requires = "sample")]
    pub fastq2: Option<PathBuf>,
    /// Sex of --sample, for ploidy: XX, XY or NA
    #[arg(long, default_value = "NA", requires = "sample")]
    pub sex: String,
    /// Reference FASTA
    #[arg(long)]
    pub reference: PathBuf,
    /// Output folder: <outdir>/<sample>/ per sample, <outdir>/<tumour>_vs_<normal>/ per pair
    #[arg(long)]
    pub outdir: PathBuf,
    /// Where prepared references are cached (default: <FASTA>.dagr/ beside the FASTA)
    #[arg(long)]
    pub reference_cache: Option<PathBuf>,
    /// Threads for the whole run, shared by the stages that run at once [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Memory budget for the whole run, e.g. 16G [default: 75% of physical memory]
    #[arg(long)]
    pub max_memory: Option<String>,
    /// Folder for spill files [default: $TMPDIR or /tmp]
    #[arg(long)]
    pub tmp_dir: Option<PathBuf>,
    /// Reuse the outputs of a previous run where inputs, parameters and versions match
    #[arg(long)]
    pub resume: bool,
    /// Print what would run and why, run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Accept one FASTQ file used twice (as R1 and R2 of a lane, in two lanes or by two samples),
    /// which is refused otherwise as a likely samplesheet mistake
    #[arg(long)]
    pub allow_shared_fastq: bool,
    /// Run as one MPI job over all ranks of `mpirun`/`srun --mpi=pmix` (built with feature `mpi`):
    /// align and call_germline split one sample over the ranks; outputs as without MPI
    #[arg(long)]
    pub mpi: bool,
    /// Under --mpi: longest wait (seconds) for the other ranks at any step before the whole job
    /// is aborted (a rank died or hung)
    #[arg(long, default_value_t = 3600, requires = "mpi", value_parser = clap::value_parser!(u64).range(1..))]
    pub mpi_timeout: u64,
}

impl RunArgs {
    pub fn to_request(&self) -> Result<RunRequest, CliError> {
        let samples = match (&self.samplesheet, &self.sample, &self.fastq1, &self.fastq2) {
            (Some(sheet), _, _, _) => SampleSource::Csv(sheet.clone()),
            (None, Some(name), Some(r1), Some(r2)) => {
                let sex = Sex::parse(&self.sex)
                    .ok_or_else(|| CliError::bad_input(format!("--sex `{}` is not XX, XY or NA", self.sex)))?;
                SampleSource::Single { name: name.clone(), fastq_1: r1.clone(), fastq_2: r2.clone(), sex }
            }
            _ => return Err(CliError::bad_input("give --samplesheet FILE, or --sample NAME --fastq1 R1 --fastq2 R2")),
        };
        let threads = match self.threads {
            Some(0) => return Err(CliError::bad_input("--threads must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        };
        let max_memory = match &self.max_memory {
            Some(m) => parse_size(m).map_err(|e| CliError::bad_input(format!("--max-memory: {e}")))?,
            None => default_memory(),
        };
        let tmp_dir = self.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
        Ok(RunRequest {
            pipeline: self.pipeline.clone(),
            samples,
            reference: self.reference.clone(),
            outdir: self.outdir.clone(),
            reference_cache: self.reference_cache.clone(),
            threads,
            max_memory,
            tmp_dir,
            resume: self.resume,
            dry_run: self.dry_run,
            pair_stages: true,
            allow_shared_fastq: self.allow_shared_fastq,
            within: None,
        })
    }
}

/// 75 % of physical memory, or 8 GiB when it cannot be read.
fn default_memory() -> u64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<u64>().ok());
    total_kib.map(|k| k * 1024 / 4 * 3).unwrap_or(8 << 30)
}

/// Runs `dagr run`; the summary goes to stderr, the exit code follows the report.
pub fn run(args: &RunArgs) -> Result<u8, CliError> {
    let request = args.to_request()?;
    if args.mpi {
        return run_mpi(&request, std::time::Duration::from_secs(args.mpi_timeout));
    }
    execute(&request)
}

/// `--mpi`: every rank runs the request; rank 0 leads, the others serve (see `exec::mpi`).
#[cfg(feature = "mpi")]
fn run_mpi(request: &RunRequest, timeout: std::time::Duration) -> Result<u8, CliError> {
    if request.dry_run {
        return Err(CliError::bad_input("--dry-run plans without running: leave out --mpi"));
    }
    let (_universe, cluster) = init_mpi(timeout)?;
    match crate::exec::mpi::execute(request, &crate::stages::registry(), cluster)? {
        crate::exec::mpi::RankOutcome::Led(result) => finish(*result),
        crate::exec::mpi::RankOutcome::Served(code) => Ok(code),
    }
}

/// Initializes MPI; keep the universe until the end (dropping it finalizes MPI).
#[cfg(feature = "mpi")]
pub fn init_mpi(
    timeout: std::time::Duration,
) -> Result<(mpi::environment::Universe, std::sync::Arc<dyn crate::engine::stage::Cluster>), CliError> {
    let (universe, cluster) = crate::exec::mpi::backend::init(timeout)?;
    Ok((universe, std::sync::Arc::new(cluster)))
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_request: &RunRequest, _timeout: std::time::Duration) -> Result<u8, CliError> {
    Err(CliError::bad_input(
        "--mpi: this dagr was built without MPI support; rebuild with `cargo build --release --features mpi` \
         (needs libopenmpi-dev), or run without --mpi",
    ))
}

/// Runs a request in this process with signal handling; shared by `run` and `demo`.
pub fn execute(request: &RunRequest) -> Result<u8, CliError> {
    finish(crate::exec::local::execute(request, &crate::stages::registry()))
}

/// Prints a finished run's summary on stderr; its exit code follows the report.
fn finish(result: Result<RunResult, crate::engine::run::RunError>) -> Result<u8, CliError> {
    let result = result?;
    crate::console::summary(&result.summary);
    Ok(result.exit_code)
}
