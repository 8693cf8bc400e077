//! `dagr slurm`: submit a samplesheet to Slurm as a job array (`submit`), follow it (`status`),
//! and the two commands the rendered job scripts call inside a job (`task`, `mark`; hidden).
//! See [`crate::exec::slurm`].

use super::{CliError, exit};
use crate::exec::slurm::state::{self, TaskState, Update};
use crate::exec::slurm::submit::SubmitRequest;
use crate::exec::slurm::task::{self, Target};
use crate::exec::slurm::{Layout, status};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  # every sample of a samplesheet as one array task each, after reference preparation
  dagr slurm submit align --samplesheet samples.csv --reference GRCh38.fa --outdir results \\
      --partition compute --account genomics

  # what would be submitted: the rendered scripts and the sbatch commands
  dagr slurm submit qc --samplesheet samples.csv --reference GRCh38.fa --outdir results --dry-run

  # a small test cluster: clamp CPUs and memory to what its nodes have
  dagr slurm submit qc --samplesheet samples.csv --reference ref.fa --outdir results --resources local

  # an urgent genome: each sample as one MPI job over 8 nodes (dagr built with --features mpi)
  dagr slurm submit germline --samplesheet urgent.csv --reference GRCh38.fa --outdir results --mpi-nodes 8

  # per sample: queued, running, done, or failed with the reason
  dagr slurm status --outdir results

After a failure, fix the input and submit again with the same --outdir: every task resumes, so
only what changed or failed runs again. Job scripts, logs and status files are under
<outdir>/slurm/. A throw-away single-node Slurm for trying this: slurm/local-cluster.sh up.";

/// `dagr slurm ...`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct SlurmArgs {
    #[command(subcommand)]
    pub command: SlurmCommand,
}

#[derive(Debug, Subcommand)]
pub enum SlurmCommand {
    /// Validate, render the job scripts into <outdir>/slurm/ and submit them with sbatch
    #[command(after_help = EXAMPLES)]
    Submit(SubmitArgs),
    /// Per sample (and pair): queued, running, done, failed with the reason
    Status(StatusArgs),
    /// Inside an array task: run the task's sample or pair (called by the job scripts)
    #[command(hide = true)]
    Task(TaskArgs),
    /// Inside a job: update a status file (called by the job scripts' signal traps)
    #[command(hide = true)]
    Mark(MarkArgs),
}

/// Where resources of the job scripts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceSource {
    /// The `resources:` of the pipeline YAML (maximum over the stages of each job)
    Pipeline,
    /// The same, clamped to the CPUs and memory of the largest node `sinfo` reports
    Local,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Pipeline: a YAML file or a shipped name (qc, align, germline, somatic)
    pub pipeline: String,
    /// Samplesheet CSV (patient,[sex,status,]sample,lane,fastq_1,fastq_2[,library])
    #[arg(long)]
    pub samplesheet: PathBuf,
    /// Reference FASTA
    #[arg(long)]
    pub reference: PathBuf,
    /// Output folder (shared by all tasks; must be on a file system the nodes share)
    #[arg(long)]
    pub outdir: PathBuf,
    /// Where prepared references are cached (default: <FASTA>.dagr/ beside the FASTA)
    #[arg(long)]
    pub reference_cache: Option<PathBuf>,
    /// Slurm partition
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm account
    #[arg(long)]
    pub account: Option<String>,
    /// Resources of the jobs
    #[arg(long, value_enum, default_value_t = ResourceSource::Pipeline)]
    pub resources: ResourceSource,
    /// Print the rendered scripts and the sbatch commands; write and submit nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Run each sample as one MPI job over this many nodes (`srun --mpi=pmix`; urgent cases):
    /// align and call_germline split the sample over the ranks. Needs dagr built with `--features mpi`
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub mpi_nodes: Option<u32>,
    /// Accept one FASTQ file used twice (as R1 and R2 of a lane, in two lanes or by two samples),
    /// which is refused otherwise as a likely samplesheet mistake
    #[arg(long)]
    pub allow_shared_fastq: bool,
    /// With --mpi-nodes: MPI ranks per node, each with the node's CPUs divided among them
    #[arg(long, default_value_t = 1, requires = "mpi_nodes", value_parser = clap::value_parser!(u32).range(1..))]
    pub mpi_ranks_per_node: u32,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The --outdir of `dagr slurm submit`
    #[arg(long)]
    pub outdir: PathBuf,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    #[arg(long)]
    pub outdir: PathBuf,
    /// Index in the sample array
    #[arg(long, conflicts_with = "pair_index", required_unless_present = "pair_index")]
    pub sample_index: Option<usize>,
    /// Index in the pair array
    #[arg(long)]
    pub pair_index: Option<usize>,
    /// Run the task as one MPI job over the ranks of `srun --mpi=pmix` (rank 0 keeps the status)
    #[arg(long)]
    pub mpi: bool,
}

#[derive(Debug, Args)]
pub struct MarkArgs {
    #[arg(long)]
    pub outdir: PathBuf,
    /// The entity by name (`reference`, a sample, a pair)
    #[arg(long, required_unless_present_any = ["sample_index", "pair_index"])]
    pub entity: Option<String>,
    #[arg(long, conflicts_with_all = ["entity", "pair_index"])]
    pub sample_index: Option<usize>,
    #[arg(long, conflicts_with = "entity")]
    pub pair_index: Option<usize>,
    /// queued, running, done, failed or preempted
    #[arg(long)]
    pub state: String,
    #[arg(long, allow_negative_numbers = true)]
    pub exit_code: Option<i32>,
    #[arg(long)]
    pub reason: Option<String>,
    /// Change nothing unless the file says `running`
    #[arg(long)]
    pub only_if_running: bool,
}

/// Runs `dagr slurm ...`.
pub fn run(args: &SlurmArgs) -> Result<u8, CliError> {
    match &args.command {
        SlurmCommand::Submit(a) => submit(a),
        SlurmCommand::Status(a) => show_status(a),
        SlurmCommand::Task(a) => run_task(a),
        SlurmCommand::Mark(a) => mark(a),
    }
}

fn submit(a: &SubmitArgs) -> Result<u8, CliError> {
    let req = SubmitRequest {
        pipeline: a.pipeline.clone(),
        samplesheet: a.samplesheet.clone(),
        reference: a.reference.clone(),
        outdir: a.outdir.clone(),
        reference_cache: a.reference_cache.clone(),
        partition: a.partition.clone(),
        account: a.account.clone(),
        local_resources: a.resources == ResourceSource::Local,
        dry_run: a.dry_run,
        mpi: a.mpi_nodes.map(|nodes| crate::exec::slurm::submit::MpiLayout {
            nodes: nodes as usize,
            ranks_per_node: a.mpi_ranks_per_node as usize,
        }),
        allow_shared_fastq: a.allow_shared_fastq,
    };
    if req.mpi.is_some() && !cfg!(feature = "mpi") {
        return Err(CliError::bad_input(
            "--mpi-nodes: this dagr was built without MPI support; build it with `cargo build --release --features mpi` \
             (needs libopenmpi-dev), or submit without --mpi-nodes",
        ));
    }
    let text = crate::exec::slurm::submit::submit(&req, &crate::stages::registry())?;
    super::output::print(&text)?;
    Ok(exit::SUCCESS)
}

fn show_status(a: &StatusArgs) -> Result<u8, CliError> {
    let layout = Layout::new(&a.outdir);
    let (rows, note) = status::rows(&layout)?;
    super::output::print(&status::render(&rows, note.as_deref()))?;
    Ok(exit::SUCCESS)
}

fn target(sample: Option<usize>, pair: Option<usize>) -> Option<Target> {
    sample.map(Target::Sample).or(pair.map(Target::Pair))
}

fn run_task(a: &TaskArgs) -> Result<u8, CliError> {
    let t = target(a.sample_index, a.pair_index)
        .ok_or_else(|| CliError::bad_input("give --sample-index or --pair-index"))?;
    if a.mpi {
        return run_task_mpi(a, t);
    }
    Ok(task::run_task(&a.outdir, t, &crate::stages::registry())?)
}

/// `dagr slurm task --mpi`, one process per rank under `srun --mpi=pmix` (see
/// `exec::slurm::task::run_task_mpi`).
#[cfg(feature = "mpi")]
fn run_task_mpi(a: &TaskArgs, t: Target) -> Result<u8, CliError> {
    // The entity must exist before MPI starts (a bad index fails fast, on every rank alike).
    task::entity_of(&Layout::new(&a.outdir), t)?;
    let (_universe, cluster) = super::run::init_mpi(std::time::Duration::from_secs(3600))?;
    Ok(task::run_task_mpi(&a.outdir, t, &crate::stages::registry(), cluster)?)
}

#[cfg(not(feature = "mpi"))]
fn run_task_mpi(_a: &TaskArgs, _t: Target) -> Result<u8, CliError> {
    Err(CliError::bad_input(
        "slurm task --mpi: this dagr was built without MPI support (cargo feature `mpi`); resubmit without \
         --mpi-nodes or with a dagr built with `cargo build --release --features mpi`",
    ))
}

fn mark(a: &MarkArgs) -> Result<u8, CliError> {
    let layout = Layout::new(&a.outdir);
    let entity = match (&a.entity, target(a.sample_index, a.pair_index)) {
        (Some(e), _) => e.clone(),
        (None, Some(t)) => task::entity_of(&layout, t)?,
        (None, None) => return Err(CliError::bad_input("give --entity, --sample-index or --pair-index")),
    };
    crate::samples::check_safe_name(&entity).map_err(|m| CliError::bad_input(format!("entity {m}")))?;
    let state =
        TaskState::parse(&a.state).ok_or_else(|| CliError::bad_input(format!("unknown state `{}`", a.state)))?;
    let update = Update { state, exit_code: a.exit_code, reason: a.reason.clone(), failed_stage: None };
    state::apply(&layout, &entity, update, a.only_if_running)?;
    Ok(exit::SUCCESS)
}
