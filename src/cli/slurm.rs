//! `dagr slurm`: submit a samplesheet to Slurm as a job array (`submit`), follow it (`status`),
//! and the two commands the rendered job scripts call inside a job (`task`, `mark`; hidden).
//! See [`crate::exec::slurm`].

use super::run::{RunArgs, execute};
use super::{CliError, exit};
use crate::exec::slurm::state::{self, TaskState, Update};
use crate::exec::slurm::submit::{SlurmError, SubmitRequest};
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
    /// Samplesheet CSV (patient,sex,status,sample,lane,fastq_1,fastq_2[,library])
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
    };
    if req.mpi.is_some() && !cfg!(feature = "mpi") {
        return Err(CliError::bad_input(
            "--mpi-nodes: this dagr was built without MPI support; build it with `cargo build --release --features mpi` \
             (needs libopenmpi-dev), or submit without --mpi-nodes",
        ));
    }
    match crate::exec::slurm::submit::submit(&req) {
        Ok(text) => {
            print!("{text}");
            Ok(exit::SUCCESS)
        }
        Err(SlurmError::Invalid(m)) => Err(CliError::bad_input(m)),
        Err(SlurmError::Runtime(m)) => Err(CliError::failure(m)),
    }
}

fn show_status(a: &StatusArgs) -> Result<u8, CliError> {
    let layout = Layout::new(&a.outdir);
    let (rows, note) = status::rows(&layout).map_err(CliError::bad_input)?;
    print!("{}", status::render(&rows, note.as_deref()));
    Ok(exit::SUCCESS)
}

fn target(sample: Option<usize>, pair: Option<usize>) -> Option<Target> {
    sample.map(Target::Sample).or(pair.map(Target::Pair))
}

fn run_task(a: &TaskArgs) -> Result<u8, CliError> {
    if a.mpi {
        return run_task_mpi(a);
    }
    let layout = Layout::new(&a.outdir);
    let t = target(a.sample_index, a.pair_index)
        .ok_or_else(|| CliError::bad_input("give --sample-index or --pair-index"))?;
    let entity = task::entity_of(&layout, t).map_err(CliError::bad_input)?;
    let record = |u: Update| state::apply(&layout, &entity, u, false).map_err(CliError::failure);
    record(Update { state: TaskState::Running, exit_code: None, reason: None, failed_stage: None })?;
    let prepared = match task::prepare(&layout, t) {
        Ok(p) => p,
        Err(m) => {
            record(task::outcome(&layout.run_dir(&entity), exit::BAD_INPUT, Some(m.clone())))?;
            return Err(CliError::bad_input(m));
        }
    };
    let args = task_run_args(&prepared, false);
    eprintln!("dagr slurm task: {} in {}: {}", prepared.entity, prepared.run_dir.display(), args.canonical_command());
    // A sample task runs that sample's stages only; its pairs are the pair array's tasks.
    let mut request = args.to_request()?;
    request.pair_stages = matches!(t, Target::Pair(_));
    record_outcome(&layout, &entity, &prepared, execute(&request))
}

/// Records a task's outcome in its status file and says it on stderr; returns the exit code.
fn record_outcome(
    layout: &Layout,
    entity: &str,
    prepared: &task::TaskRun,
    outcome: Result<u8, CliError>,
) -> Result<u8, CliError> {
    let (code, message) = match outcome {
        Ok(code) => (code, None),
        Err(e) => (e.code, Some(e.message)),
    };
    let status = state::apply(layout, entity, task::outcome(&prepared.run_dir, code, message), false)
        .map_err(CliError::failure)?;
    eprintln!(
        "dagr slurm task: {} {} (exit {code}){}",
        entity,
        status.state,
        status.reason.map(|r| format!(": {r}")).unwrap_or_default()
    );
    Ok(code)
}

/// The run arguments of a prepared task.
fn task_run_args(prepared: &task::TaskRun, mpi: bool) -> RunArgs {
    let sub = &prepared.submission;
    RunArgs {
        pipeline: sub.pipeline.clone(),
        samplesheet: Some(prepared.samplesheet.clone()),
        sample: None,
        fastq1: None,
        fastq2: None,
        sex: "NA".into(),
        reference: sub.reference.clone(),
        outdir: prepared.run_dir.clone(),
        reference_cache: sub.reference_cache.clone(),
        threads: Some(prepared.budget.threads.max(1)),
        max_memory: Some(prepared.budget.max_memory.max(1 << 20).to_string()),
        tmp_dir: None,
        resume: true,
        dry_run: false,
        mpi,
        mpi_timeout: 3600,
    }
}

/// `dagr slurm task --mpi`, one process per rank under `srun --mpi=pmix`: rank 0 marks the task
/// running, prepares it and records the outcome in the status file; every rank runs the sample's
/// stages together ([`super::run::execute_mpi`]). Sample tasks only (the pair stage is not
/// distributed).
#[cfg(feature = "mpi")]
fn run_task_mpi(a: &TaskArgs) -> Result<u8, CliError> {
    use crate::engine::stage::StageError;
    let layout = Layout::new(&a.outdir);
    let t = target(a.sample_index, a.pair_index)
        .ok_or_else(|| CliError::bad_input("give --sample-index or --pair-index"))?;
    let entity = task::entity_of(&layout, t).map_err(CliError::bad_input)?;
    let (_universe, cluster) = super::run::init_mpi(std::time::Duration::from_secs(3600))?;
    let rank = cluster.rank();
    let record = |u: Update| state::apply(&layout, &entity, u, false).map_err(CliError::failure);
    let prepared: Result<task::TaskRun, String> = if rank == 0 {
        record(Update { state: TaskState::Running, exit_code: None, reason: None, failed_stage: None })?;
        task::prepare(&layout, t)
    } else {
        Err(String::new())
    };
    // Rank 0 prepares (writes the run folder); the others read the same once it is done.
    let shared = cluster.agree(
        "preparing the Slurm task",
        if rank == 0 { prepared.as_ref().map(|_| ()).map_err(|m| StageError::BadInput(m.clone())) } else { Ok(()) },
    );
    if let Err(e) = shared {
        if rank == 0 {
            let m = e.to_string();
            record(task::outcome(&layout.run_dir(&entity), exit::BAD_INPUT, Some(m.clone())))?;
            return Err(CliError::bad_input(m));
        }
        return Ok(exit::BAD_INPUT);
    }
    let prepared = match prepared {
        Ok(p) => p,
        Err(_) => task::prepared(&layout, t).map_err(CliError::bad_input)?,
    };
    let args = task_run_args(&prepared, true);
    let mut request = args.to_request()?;
    request.pair_stages = matches!(t, Target::Pair(_));
    if rank == 0 {
        eprintln!(
            "dagr slurm task: {} in {} over {} MPI ranks: {}",
            prepared.entity,
            prepared.run_dir.display(),
            cluster.size(),
            args.canonical_command()
        );
    }
    let outcome = super::run::execute_mpi(&request, cluster);
    if rank != 0 {
        return outcome;
    }
    record_outcome(&layout, &entity, &prepared, outcome)
}

#[cfg(not(feature = "mpi"))]
fn run_task_mpi(_a: &TaskArgs) -> Result<u8, CliError> {
    Err(CliError::bad_input(
        "slurm task --mpi: this dagr was built without MPI support (cargo feature `mpi`); resubmit without \
         --mpi-nodes or with a dagr built with `cargo build --release --features mpi`",
    ))
}

fn mark(a: &MarkArgs) -> Result<u8, CliError> {
    let layout = Layout::new(&a.outdir);
    let entity = match (&a.entity, target(a.sample_index, a.pair_index)) {
        (Some(e), _) => e.clone(),
        (None, Some(t)) => task::entity_of(&layout, t).map_err(CliError::bad_input)?,
        (None, None) => return Err(CliError::bad_input("give --entity, --sample-index or --pair-index")),
    };
    crate::engine::samplesheet::check_safe_name(&entity).map_err(|m| CliError::bad_input(format!("entity {m}")))?;
    let state =
        TaskState::parse(&a.state).ok_or_else(|| CliError::bad_input(format!("unknown state `{}`", a.state)))?;
    let update = Update { state, exit_code: a.exit_code, reason: a.reason.clone(), failed_stage: None };
    state::apply(&layout, &entity, update, a.only_if_running).map_err(CliError::failure)?;
    Ok(exit::SUCCESS)
}
