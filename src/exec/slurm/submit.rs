//! `dagr slurm submit`: validate the pipeline, samplesheet and reference exactly as `dagr run`
//! does, freeze the samplesheet, render the templates and submit them with `sbatch --parsable`:
//! reference preparation, then the sample array (`afterok` on it), then the pair array (`afterok`
//! on the samples) when the pipeline has pair stages. Every argument goes to `sbatch` as its own
//! argv word (no shell); rendered scripts quote every value.

use super::render::{self, NodeLimits};
use super::state::{self, TaskState, TaskStatus, Update};
use super::{Jobs, Layout, SlurmError, Submission, TaskBudget, write_atomic, write_json};
use crate::clock::{utc_timestamp, wall_clock_epoch};
use crate::engine::provenance::command_line;
use crate::engine::run::{RunError, RunRequest, SampleSource, validate};
use crate::engine::stage::{Resources, Scope, Stage};
use crate::samples::csv::sheet_csv;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `dagr slurm submit` was asked.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub pipeline: String,
    pub samplesheet: PathBuf,
    pub reference: PathBuf,
    pub outdir: PathBuf,
    pub reference_cache: Option<PathBuf>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub local_resources: bool,
    pub dry_run: bool,
    /// Each sample task as one MPI job of this shape (`--mpi-nodes`); `None`: one process per task.
    pub mpi: Option<MpiLayout>,
    /// `--allow-shared-fastq`, kept for the tasks in `submission.json`.
    pub allow_shared_fastq: bool,
}

/// The shape of an MPI sample job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpiLayout {
    pub nodes: usize,
    pub ranks_per_node: usize,
}

/// The jobs of a submission, in submission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    /// Reference preparation, first.
    Reference,
    /// The sample array, `afterok` on the reference job.
    Samples,
    /// The pair array, `afterok` on the sample array.
    Pairs,
}

impl JobKind {
    /// Name in log file names and messages.
    fn word(self) -> &'static str {
        match self {
            JobKind::Reference => "reference",
            JobKind::Samples => "samples",
            JobKind::Pairs => "pairs",
        }
    }
    /// The rendered script's file name under `<outdir>/slurm/`.
    fn script_name(self, mpi: bool) -> &'static str {
        match self {
            JobKind::Reference => "prepare_reference.sbatch",
            JobKind::Samples if mpi => "mpi_sample_array.sbatch",
            JobKind::Samples => "sample_array.sbatch",
            JobKind::Pairs => "pair.sbatch",
        }
    }
    /// The job this one waits for (`afterok`), if any.
    fn after(self) -> Option<JobKind> {
        match self {
            JobKind::Reference => None,
            JobKind::Samples => Some(JobKind::Reference),
            JobKind::Pairs => Some(JobKind::Samples),
        }
    }
}

/// One job to submit: its script and its `sbatch` arguments (without the dependency).
struct Job {
    kind: JobKind,
    script: PathBuf,
    text: String,
    args: Vec<String>,
}

/// Everything decided before anything is written or submitted.
struct Prepared {
    layout: Layout,
    submission: Submission,
    frozen: String,
    jobs: Vec<Job>,
}

/// Validates, renders and (unless `dry_run`) submits; returns the text for the user.
pub fn submit(req: &SubmitRequest, registry: &[&'static dyn Stage]) -> Result<String, SlurmError> {
    let p = prepare(req, registry)?;
    if req.dry_run {
        return Ok(dry_run_text(&p));
    }
    refuse_active(&p.layout)?;
    write_files(&p)?;
    let jobs = submit_jobs(&p).inspect_err(|e| {
        mark_all(&p, TaskState::Failed, Some(format!("not submitted: {}", crate::outcome::chain(e))));
    })?;
    write_json(&p.layout.jobs(), &jobs)?;
    let mut out = format!(
        "submitted {} samples of pipeline {} to Slurm: reference job {}, sample array {}",
        p.submission.sample_names.len(),
        p.submission.pipeline,
        jobs.reference.as_deref().unwrap_or("-"),
        jobs.samples.as_deref().unwrap_or("-"),
    );
    if let Some(pairs) = &jobs.pairs {
        out.push_str(&format!(", pair array {pairs}"));
    }
    out.push_str(&format!(
        "\nfollow it with: dagr slurm status --outdir {}\n",
        command_line(&[req.outdir.display().to_string()])
    ));
    Ok(out)
}

fn absolute(p: &Path) -> Result<PathBuf, SlurmError> {
    std::path::absolute(p).map_err(|source| SlurmError::Path { path: p.to_path_buf(), source })
}

fn prepare(req: &SubmitRequest, registry: &[&'static dyn Stage]) -> Result<Prepared, SlurmError> {
    let run = RunRequest {
        pipeline: req.pipeline.clone(),
        samples: SampleSource::Csv(req.samplesheet.clone()),
        reference: req.reference.clone(),
        outdir: req.outdir.clone(),
        reference_cache: req.reference_cache.clone(),
        threads: 1,
        // The tasks' own budgets are checked against the stages' floors below.
        max_memory: u64::MAX,
        tmp_dir: std::env::temp_dir(),
        resume: true,
        dry_run: true,
        pair_stages: true,
        allow_shared_fastq: req.allow_shared_fastq,
        within: None,
    };
    let v = validate(&run, registry)?;
    let outdir = absolute(&req.outdir)?;
    let reference = absolute(&req.reference)?;
    let cache = req.reference_cache.as_deref().map(absolute).transpose()?;
    let pipeline = if Path::new(&req.pipeline).is_file() {
        absolute(Path::new(&req.pipeline))?.display().to_string()
    } else {
        req.pipeline.clone()
    };
    let dagr = std::env::current_exe().map_err(SlurmError::CurrentExe)?;
    let limits = if req.local_resources { Some(node_limits(req.partition.as_deref())?) } else { None };
    let resources = |scope| render::scope_resources(&v.pipeline, scope).map(|r| render::clamp(r, limits));
    let sample_names: Vec<String> = v.sheet.samples.iter().map(|s| s.name.clone()).collect();
    let has_pairs = v.pipeline.stages.iter().any(|s| s.scope == Scope::Pair);
    let pairs = if has_pairs { v.sheet.pairs()? } else { Vec::new() };
    let pair_labels: Vec<String> = pairs.iter().map(|p| p.label()).collect();
    let names: Vec<&str> = sample_names.iter().map(String::as_str).collect();
    let frozen = sheet_csv(&v.sheet, &names)?;
    let layout = Layout::new(&outdir);

    let fallback = Resources { threads: 1, memory_bytes: 1 << 30, time_seconds: 3600 };
    let ref_res = resources(Scope::Reference).unwrap_or(fallback);
    let sample_res = resources(Scope::Sample).unwrap_or(ref_res);
    let mut jobs = Vec::new();
    let mut vars = render::common_vars(&v.pipeline, &dagr, &outdir, ref_res);
    vars.push(("REFERENCE_ARGS", render::reference_args(&v.pipeline, &reference, cache.as_deref(), ref_res.threads)));
    jobs.push(job(&layout, JobKind::Reference, render::PREPARE_REFERENCE, &vars, None, req)?);
    // Under MPI each rank gets its share of the node (CPUs, memory) for its threads.
    let rank_res = match req.mpi {
        Some(m) => Resources {
            threads: (sample_res.threads / m.ranks_per_node).max(1),
            memory_bytes: sample_res.memory_bytes / m.ranks_per_node as u64,
            time_seconds: sample_res.time_seconds,
        },
        None => sample_res,
    };
    if !sample_names.is_empty() {
        let mut vars = render::common_vars(&v.pipeline, &dagr, &outdir, rank_res);
        let template = match req.mpi {
            Some(m) => {
                vars.push(("NODES", m.nodes.to_string()));
                vars.push(("RANKS_PER_NODE", m.ranks_per_node.to_string()));
                vars.push(("NODE_MEMORY", crate::units::slurm_mem(sample_res.memory_bytes)));
                render::MPI_SAMPLE_ARRAY
            }
            None => render::SAMPLE_ARRAY,
        };
        jobs.push(job(&layout, JobKind::Samples, template, &vars, Some(sample_names.len()), req)?);
    }
    let pair_res = resources(Scope::Pair);
    if let (Some(r), false) = (pair_res, pair_labels.is_empty()) {
        let vars = render::common_vars(&v.pipeline, &dagr, &outdir, r);
        jobs.push(job(&layout, JobKind::Pairs, render::PAIR, &vars, Some(pair_labels.len()), req)?);
    }
    let budget = |r: Resources| TaskBudget { threads: r.threads, max_memory: r.memory_bytes / 10 * 9 };
    // A task whose memory is below a stage's floor would only fail on the cluster: refuse it here.
    let facts = crate::engine::run::reference_facts(&reference, cache.as_deref());
    for (scope, r) in [(Scope::Sample, Some(rank_res)), (Scope::Pair, pair_res)] {
        if let Some(b) = r.map(budget) {
            let checked = crate::engine::run::check_memory_floors(
                &v.pipeline,
                &v.plan,
                Some(scope),
                &facts,
                b.threads,
                b.max_memory,
            );
            if let Err(RunError::MemoryFloor { stage, budget, floor, .. }) = checked {
                let at_least = crate::units::size_rounded_up(floor.bytes / 9 * 10 + 1);
                return Err(SlurmError::Usage(format!(
                    "stage `{stage}`: a Slurm {scope} task gives it {} (90 % of the memory its job asks for), \
                     and it needs at least about {} ({}); raise the pipeline's `resources: memory:` of the \
                     {scope} stages to {at_least} or more",
                    crate::units::size_for_humans(budget),
                    crate::units::size_rounded_up(floor.bytes),
                    floor.detail,
                )));
            }
            checked?;
        }
    }
    let submission = Submission {
        pipeline,
        reference,
        reference_cache: cache,
        samples: budget(rank_res),
        pairs: pair_res.map(budget),
        sample_names,
        pair_labels,
        submitted_utc: utc_timestamp(wall_clock_epoch()),
        allow_shared_fastq: req.allow_shared_fastq,
    };
    Ok(Prepared { layout, submission, frozen, jobs })
}

fn job(
    layout: &Layout,
    kind: JobKind,
    template: &str,
    vars: &[(&str, String)],
    array: Option<usize>,
    req: &SubmitRequest,
) -> Result<Job, SlurmError> {
    let text = render::fill(template, vars)?;
    let script = layout.script(kind.script_name(req.mpi.is_some()));
    let mut args = vec!["--parsable".to_string(), "--kill-on-invalid-dep=yes".to_string()];
    args.push(format!("--chdir={}", layout.outdir.display()));
    let log = match array {
        Some(n) => {
            args.push(format!("--array=0-{}", n - 1));
            layout.logs().join(format!("{}_%A_%a.log", kind.word()))
        }
        None => layout.logs().join(format!("{}_%j.log", kind.word())),
    };
    args.push(format!("--output={}", log.display()));
    if let Some(p) = &req.partition {
        args.push(format!("--partition={p}"));
    }
    if let Some(a) = &req.account {
        args.push(format!("--account={a}"));
    }
    Ok(Job { kind, script, text, args })
}

/// The largest node of the partition (or of the cluster), from `sinfo`.
fn node_limits(partition: Option<&str>) -> Result<NodeLimits, SlurmError> {
    let mut cmd = Command::new("sinfo");
    cmd.args(["-h", "-o", "%c %m"]);
    if let Some(p) = partition {
        cmd.arg(format!("--partition={p}"));
    }
    let out = cmd.output().map_err(|e| SlurmError::Command(format!("--resources local needs sinfo: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    render::parse_sinfo(&text).ok_or_else(|| {
        SlurmError::Command(format!(
            "--resources local: sinfo reported no nodes ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })
}

fn dry_run_text(p: &Prepared) -> String {
    let mut out = String::new();
    for j in &p.jobs {
        out.push_str(&format!("# ===== {} =====\n{}\n", j.script.display(), j.text.trim_end()));
    }
    out.push_str("\n# ===== sbatch commands (dry run: nothing submitted, nothing written) =====\n");
    for j in &p.jobs {
        let mut words = vec!["sbatch".to_string()];
        words.extend(j.args.iter().cloned());
        if let Some(after) = j.kind.after() {
            words.push(format!("--dependency=afterok:<{} job id>", after.word()));
        }
        words.push(j.script.display().to_string());
        out.push_str(&command_line(&words));
        out.push('\n');
    }
    out
}

fn write_files(p: &Prepared) -> Result<(), SlurmError> {
    let l = &p.layout;
    std::fs::create_dir_all(l.logs()).map_err(|source| SlurmError::Io {
        path: l.logs(),
        action: "cannot create",
        source,
    })?;
    write_atomic(&l.frozen_sheet(), p.frozen.as_bytes())?;
    write_json(&l.submission(), &p.submission)?;
    for j in &p.jobs {
        write_atomic(&j.script, j.text.as_bytes())?;
    }
    mark_all(p, TaskState::Queued, None);
    Ok(())
}

/// Resets every entity's status file to `state` (queued on submit, failed if submitting failed).
fn mark_all(p: &Prepared, state: TaskState, reason: Option<String>) {
    let s = &p.submission;
    let entities = std::iter::once("reference")
        .chain(s.sample_names.iter().map(String::as_str))
        .chain(s.pair_labels.iter().map(String::as_str));
    for e in entities {
        let result = if state == TaskState::Queued {
            write_json(&p.layout.status_file(e), &TaskStatus::queued(e))
        } else {
            state::apply(
                &p.layout,
                e,
                Update { state, exit_code: None, reason: reason.clone(), failed_stage: None },
                false,
            )
            .map(|_| ())
        };
        if let Err(m) = result {
            tracing::warn!("{m}");
        }
    }
}

/// Refuses to submit while jobs of an earlier submission to this outdir are still queued or running.
fn refuse_active(layout: &Layout) -> Result<(), SlurmError> {
    let Ok(jobs) = super::read_json::<Jobs>(&layout.jobs()) else { return Ok(()) };
    let ids: Vec<&str> =
        [&jobs.reference, &jobs.samples, &jobs.pairs].into_iter().flatten().map(String::as_str).collect();
    let active = super::status::squeue(&ids).unwrap_or_default();
    if active.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = active.iter().map(|(id, st)| format!("{id} {}", st.state)).collect();
    Err(SlurmError::StillQueued { outdir: layout.outdir.clone(), jobs: list.join(", ") })
}

fn submit_jobs(p: &Prepared) -> Result<Jobs, SlurmError> {
    let mut jobs = Jobs { submitted_utc: utc_timestamp(wall_clock_epoch()), ..Jobs::default() };
    let mut submitted: Vec<String> = Vec::new();
    for j in &p.jobs {
        let mut args = j.args.clone();
        let after = match j.kind.after() {
            Some(JobKind::Reference) => jobs.reference.clone(),
            Some(_) => jobs.samples.clone(),
            None => None,
        };
        if let Some(id) = after {
            args.push(format!("--dependency=afterok:{id}"));
        }
        args.push(j.script.display().to_string());
        let id = match sbatch(&args) {
            Ok(id) => id,
            Err(e) => {
                if !submitted.is_empty() {
                    let _ = Command::new("scancel").args(&submitted).status();
                }
                return Err(e);
            }
        };
        submitted.push(id.clone());
        match j.kind {
            JobKind::Reference => jobs.reference = Some(id),
            JobKind::Samples => jobs.samples = Some(id),
            JobKind::Pairs => jobs.pairs = Some(id),
        }
    }
    Ok(jobs)
}

/// Runs `sbatch`, returns the job id (`--parsable` prints `id` or `id;cluster`).
fn sbatch(args: &[String]) -> Result<String, SlurmError> {
    let out = Command::new("sbatch")
        .args(args)
        .output()
        .map_err(|e| SlurmError::Command(format!("cannot run sbatch (is Slurm installed and on PATH?): {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if !out.status.success() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlurmError::Command(format!(
            "sbatch {} failed: {}{}",
            command_line(args),
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        )));
    }
    Ok(id)
}
