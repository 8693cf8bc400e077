//! The contract between the engine and a stage.
//!
//! A stage kind (one file in `src/stages/`) declares its scope, its input and output slots with
//! their artifact kinds, its parameters with defaults, its default resources and a version; the
//! engine binds slots to artifacts from the pipeline YAML, instantiates the stage once per
//! reference, sample or tumour/normal pair, and calls [`Stage::run`] with a [`StageContext`].
//! A stage writes its files through [`crate::output_file`] (atomic, hashed while written) and
//! returns them as [`Artifact`]s; the engine records them in the stage's manifest for resume.

use crate::engine::samplesheet::Sample;
use crate::output_file::WrittenFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one stage instance runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Once per run, for the reference.
    Reference,
    /// Once per sample of the samplesheet.
    Sample,
    /// Once per tumour/normal pair of a patient.
    Pair,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Reference => "reference",
            Scope::Sample => "sample",
            Scope::Pair => "pair",
        })
    }
}

/// The typed kinds of artifacts that flow between stages; a binding must connect equal kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// The reference FASTA given with `--reference` (external input `reference`).
    ReferenceFasta,
    /// The prepared reference: `.fai`, `.dict`, per-contig MD5 table, minimap2 `.mmi`.
    ReferenceIndex,
    /// A sample's paired FASTQ lanes from the samplesheet (external input `reads`).
    FastqReads,
    /// Read counts and quality metrics of a sample's FASTQ (JSON).
    FastqMetrics,
    /// A coordinate-sorted, duplicate-marked BAM or CRAM with its index and alignment QC files.
    Alignments,
    /// Germline calls: VCF + index, gVCF + index, callable-regions BED, variant QC.
    GermlineVariants,
    /// Somatic calls of a tumour/normal pair: VCF + index.
    SomaticVariants,
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string));
        f.write_str(s.as_deref().unwrap_or("?"))
    }
}

/// One input or output slot of a stage kind.
#[derive(Debug, Clone, Copy)]
pub struct SlotSpec {
    pub name: &'static str,
    pub kind: ArtifactKind,
    pub doc: &'static str,
}

/// The type and range of a parameter. `File` is an optional file (e.g. a BED): a relative path
/// resolves against the pipeline YAML's folder (the working directory for a shipped pipeline);
/// the file is read when the pipeline is validated, and its content digest, not only its path,
/// enters the cache key, so an edited file reruns the stage.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Bool,
    Choice(&'static [&'static str]),
    File,
}

/// A parameter's default, in a form that can live in a `static`.
#[derive(Debug, Clone, Copy)]
pub enum ParamDefault {
    Int(i64),
    Float(f64),
    Bool(bool),
    Choice(&'static str),
    /// No value (an optional file not given).
    Unset,
}

/// One parameter of a stage kind.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: ParamDefault,
    pub doc: &'static str,
}

/// A validated parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A file parameter: the absolute path and `sha256:<hex>` of its content when validated.
    File {
        path: PathBuf,
        digest: String,
    },
    /// An optional parameter that is not set (`null` in manifests).
    Unset,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => f.write_str(s),
            ParamValue::File { path, digest } => {
                let short = digest.get(..digest.find(':').map_or(0, |i| i + 1) + 12).unwrap_or(digest);
                write!(f, "{} ({short})", path.display())
            }
            ParamValue::Unset => f.write_str("none"),
        }
    }
}

impl From<ParamDefault> for ParamValue {
    fn from(d: ParamDefault) -> Self {
        match d {
            ParamDefault::Int(i) => ParamValue::Int(i),
            ParamDefault::Float(x) => ParamValue::Float(x),
            ParamDefault::Bool(b) => ParamValue::Bool(b),
            ParamDefault::Choice(s) => ParamValue::Text(s.to_string()),
            ParamDefault::Unset => ParamValue::Unset,
        }
    }
}

/// All parameters of a stage instance, defaults filled in, in canonical (sorted) order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(pub BTreeMap<String, ParamValue>);

impl Params {
    fn get(&self, name: &str) -> Result<&ParamValue, StageError> {
        self.0
            .get(name)
            .ok_or_else(|| StageError::Runtime(format!("internal: parameter `{name}` missing after validation")))
    }
    pub fn int(&self, name: &str) -> Result<i64, StageError> {
        match self.get(name)? {
            ParamValue::Int(i) => Ok(*i),
            other => Err(StageError::Runtime(format!("internal: parameter `{name}` is {other:?}, not an integer"))),
        }
    }
    pub fn float(&self, name: &str) -> Result<f64, StageError> {
        match self.get(name)? {
            ParamValue::Float(x) => Ok(*x),
            ParamValue::Int(i) => Ok(*i as f64),
            other => Err(StageError::Runtime(format!("internal: parameter `{name}` is {other:?}, not a number"))),
        }
    }
    pub fn bool(&self, name: &str) -> Result<bool, StageError> {
        match self.get(name)? {
            ParamValue::Bool(b) => Ok(*b),
            other => Err(StageError::Runtime(format!("internal: parameter `{name}` is {other:?}, not a boolean"))),
        }
    }
    pub fn text(&self, name: &str) -> Result<&str, StageError> {
        match self.get(name)? {
            ParamValue::Text(s) => Ok(s),
            other => Err(StageError::Runtime(format!("internal: parameter `{name}` is {other:?}, not text"))),
        }
    }
    /// A file parameter: its absolute path, or `None` when not set.
    pub fn file(&self, name: &str) -> Result<Option<&Path>, StageError> {
        match self.get(name)? {
            ParamValue::File { path, .. } => Ok(Some(path)),
            ParamValue::Unset => Ok(None),
            other => Err(StageError::Runtime(format!("internal: parameter `{name}` is {other:?}, not a file"))),
        }
    }
}

/// What a stage asks for: also what the Slurm renderer writes into `#SBATCH` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub threads: usize,
    pub memory_bytes: u64,
    pub time_seconds: u64,
}

/// The samplesheet entity a stage instance runs for.
#[derive(Debug, Clone)]
pub enum Entity {
    Reference,
    Sample(Arc<Sample>),
    Pair { tumour: Arc<Sample>, normal: Arc<Sample> },
}

impl Entity {
    /// Folder name under the outdir: `reference`, the sample name, or `<tumour>_vs_<normal>`.
    pub fn label(&self) -> String {
        match self {
            Entity::Reference => "reference".to_string(),
            Entity::Sample(s) => s.name.clone(),
            Entity::Pair { tumour, normal } => format!("{}_vs_{}", tumour.name, normal.name),
        }
    }
    pub fn scope(&self) -> Scope {
        match self {
            Entity::Reference => Scope::Reference,
            Entity::Sample(_) => Scope::Sample,
            Entity::Pair { .. } => Scope::Pair,
        }
    }
}

/// One file of an artifact. `digest` is the content MD5 for files dagr wrote, or
/// `stat:<size>:<mtime_ns>` for external inputs that were not hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    pub role: String,
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
}

impl ArtifactFile {
    pub fn from_written(role: impl Into<String>, w: &WrittenFile) -> Self {
        Self { role: role.into(), path: w.path.clone(), digest: w.md5.clone(), size: w.size }
    }
}

/// A typed set of files produced by one stage output (or given as an external input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub files: Vec<ArtifactFile>,
}

impl Artifact {
    /// The file with this role, or an error naming what is missing.
    pub fn file(&self, role: &str) -> Result<&Path, StageError> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .map(|f| f.path.as_path())
            .ok_or_else(|| StageError::Runtime(format!("internal: {} artifact has no `{role}` file", self.kind)))
    }
}

/// What a finished stage hands back.
#[derive(Debug, Clone, Default)]
pub struct StageOutputs {
    /// Output slot name → artifact.
    pub artifacts: BTreeMap<String, Artifact>,
    /// Counts and metrics for the run report (stage-defined JSON object).
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Bases that passed QC, for measured genome equivalents (sample stages that read reads).
    pub qc_passed_bases: Option<u64>,
}

/// How a stage failed; decides the exit code (bad input 2, runtime 1, interrupted 3).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The input data is wrong; the message names the file and what is wrong.
    #[error("{0}")]
    BadInput(String),
    /// Anything else: I/O failure, internal error, injected fault.
    #[error("{0}")]
    Runtime(String),
    /// The run was cancelled by a signal.
    #[error("interrupted by a signal")]
    Interrupted,
}

/// Set by SIGINT/SIGTERM/SIGUSR1; stages poll it between batches and return
/// [`StageError::Interrupted`].
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(pub Arc<AtomicBool>);

impl CancelFlag {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
    /// The flag itself, for domain modules that take a plain `&AtomicBool`.
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
    pub fn check(&self) -> Result<(), StageError> {
        if self.is_cancelled() { Err(StageError::Interrupted) } else { Ok(()) }
    }
}

/// Test-only fault injection: `DAGR_FAULT_INJECT=<stage>:<point>:<action>[:<entity>]`, where
/// action is `fail` (the stage returns an error), `abort` (the process dies on the spot, like a
/// node failure or SIGKILL), `sigterm` (the process sends itself SIGTERM), `hang` (the
/// process stops answering) or `delay` (10 s of sleep, then on: a slow stage). Under `--mpi`, `DAGR_FAULT_RANK=<n>` limits the faults to rank `n`. Stages call
/// [`StageContext::fault_point`] at named points; with the variable unset nothing happens.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub rules: Vec<FaultRule>,
    /// `DAGR_FAULT_RANK=<n>`: under `--mpi`, only rank `n` hits the faults.
    pub only_rank: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub stage: String,
    pub point: String,
    pub action: FaultAction,
    pub entity: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    Fail,
    Abort,
    Sigterm,
    /// Stops answering (sleeps for good), like a hung node: for the MPI timeout tests.
    Hang,
    /// Sleeps 10 s, then goes on: a slow stage.
    Delay,
}

impl FaultPlan {
    pub const ENV: &'static str = "DAGR_FAULT_INJECT";
    pub const RANK_ENV: &'static str = "DAGR_FAULT_RANK";

    /// Reads [`FaultPlan::ENV`]; several rules separated by `,`. Malformed rules are an error.
    pub fn from_env() -> Result<Self, String> {
        let mut plan = match std::env::var(Self::ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v)?,
            _ => Self::default(),
        };
        if let Ok(rank) = std::env::var(Self::RANK_ENV)
            && !rank.trim().is_empty()
        {
            plan.only_rank =
                Some(rank.trim().parse().map_err(|_| format!("{}: `{rank}` is not a rank number", Self::RANK_ENV))?);
        }
        Ok(plan)
    }

    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let parts: Vec<&str> = rule.split(':').collect();
            if parts.len() < 3 || parts.len() > 4 {
                return Err(format!(
                    "{}: `{rule}` is not <stage>:<point>:<fail|abort|sigterm|hang|delay>[:<entity>]",
                    Self::ENV
                ));
            }
            let action = match parts[2] {
                "fail" => FaultAction::Fail,
                "abort" => FaultAction::Abort,
                "sigterm" => FaultAction::Sigterm,
                "hang" => FaultAction::Hang,
                "delay" => FaultAction::Delay,
                other => return Err(format!("{}: unknown action `{other}` in `{rule}`", Self::ENV)),
            };
            rules.push(FaultRule {
                stage: parts[0].to_string(),
                point: parts[1].to_string(),
                action,
                entity: parts.get(3).map(|s| s.to_string()),
            });
        }
        Ok(Self { rules, only_rank: None })
    }

    fn matching(&self, stage: &str, point: &str, entity: &str) -> Option<FaultAction> {
        self.rules
            .iter()
            .find(|r| r.stage == stage && r.point == point && r.entity.as_deref().is_none_or(|e| e == entity))
            .map(|r| r.action)
    }
}

/// Everything a running stage instance may use.
pub struct StageContext<'a> {
    /// The stage's name in the pipeline YAML.
    pub stage_name: &'a str,
    pub entity: &'a Entity,
    /// Input slot name → artifact.
    pub inputs: &'a BTreeMap<String, Artifact>,
    pub params: &'a Params,
    /// `<outdir>/<entity>/`: final outputs of this entity.
    pub output_dir: &'a Path,
    /// `<outdir>/<entity>/work/<stage>/`: intermediate files of this stage instance.
    pub work_dir: &'a Path,
    /// Spill files (`--tmp-dir`); the stage removes what it creates.
    pub tmp_dir: &'a Path,
    /// Where prepared references are cached (`--reference-cache`), if not beside the FASTA.
    pub reference_cache: Option<&'a Path>,
    /// This instance's share of `--threads` and `--max-memory`.
    pub threads: usize,
    pub memory_bytes: u64,
    /// The instance's own rayon pool of `threads` threads.
    pub pool: &'a rayon::ThreadPool,
    pub cancel: &'a CancelFlag,
    pub faults: &'a FaultPlan,
    /// The run's canonical command line (execution-only flags dropped), for `@PG` and `##dagr_command`.
    pub command: &'a str,
    /// Under `dagr run --mpi`, for stages that [`Stage::distributed`]: every rank of the job runs
    /// this instance together (rank 0 writes the outputs). `None` in a single process.
    pub cluster: Option<&'a dyn crate::dist::Cluster>,
}

impl StageContext<'_> {
    /// The artifact bound to an input slot.
    pub fn input(&self, slot: &str) -> Result<&Artifact, StageError> {
        self.inputs.get(slot).ok_or_else(|| StageError::Runtime(format!("internal: input slot `{slot}` not bound")))
    }

    /// The sample this instance runs for (sample-scoped stages).
    pub fn sample(&self) -> Result<&Sample, StageError> {
        match self.entity {
            Entity::Sample(s) => Ok(s),
            other => Err(StageError::Runtime(format!("internal: stage needs a sample, runs for {}", other.label()))),
        }
    }

    /// The tumour and the normal this instance runs for (pair-scoped stages).
    pub fn pair(&self) -> Result<(&Sample, &Sample), StageError> {
        match self.entity {
            Entity::Pair { tumour, normal } => Ok((tumour, normal)),
            other => Err(StageError::Runtime(format!("internal: stage needs a pair, runs for {}", other.label()))),
        }
    }

    /// Under `--mpi`, shares `result` with every rank (see [`crate::dist::Cluster`]): `Ok` only
    /// when every rank succeeded, else the first failing rank's error on all of them. A
    /// distributed stage passes every fallible step through here before its next collective.
    /// In a single process it returns `result` as it is.
    pub fn agree<T>(&self, what: &str, result: Result<T, StageError>) -> Result<T, StageError> {
        match self.cluster {
            Some(cluster) => cluster.agree(what, result),
            None => result,
        }
    }

    /// This process's rank and the number of ranks (`(0, 1)` in a single process).
    pub fn rank_and_size(&self) -> (usize, usize) {
        self.cluster.map_or((0, 1), |c| (c.rank(), c.size()))
    }

    /// A named point where tests may inject a fault (see [`FaultPlan`]); also a cancellation point.
    pub fn fault_point(&self, point: &str) -> Result<(), StageError> {
        let rank = self.cluster.map_or(0, |c| c.rank());
        if self.faults.only_rank.is_some_and(|r| r != rank) {
            return self.cancel.check();
        }
        match self.faults.matching(self.stage_name, point, &self.entity.label()) {
            None => {}
            Some(FaultAction::Delay) => {
                eprintln!("dagr: injected 10 s delay at {}:{point} (rank {rank})", self.stage_name);
                std::thread::sleep(std::time::Duration::from_secs(10));
            }
            Some(FaultAction::Hang) => {
                eprintln!("dagr: injected hang at {}:{point} (rank {rank})", self.stage_name);
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
            Some(FaultAction::Fail) => {
                return Err(StageError::Runtime(format!(
                    "injected fault at {}:{point} ({})",
                    self.stage_name,
                    FaultPlan::ENV
                )));
            }
            Some(FaultAction::Abort) => {
                eprintln!("dagr: injected abort at {}:{point}", self.stage_name);
                std::process::abort();
            }
            Some(FaultAction::Sigterm) => {
                // SAFETY: raise() only delivers a signal to this process; the handler sets a flag.
                unsafe {
                    libc::raise(libc::SIGTERM);
                }
            }
        }
        self.cancel.check()
    }
}

/// What a stage kind declares about itself, as one `static` per kind.
#[derive(Debug)]
pub struct StageInfo {
    /// The name used in pipeline YAML (`stage: <kind>`).
    pub kind: &'static str,
    /// One line for `dagr validate` and `--help`.
    pub description: &'static str,
    /// Bumped whenever the stage's outputs change for the same inputs and parameters.
    pub version: u32,
    pub scope: Scope,
    pub inputs: &'static [SlotSpec],
    pub outputs: &'static [SlotSpec],
    pub params: &'static [ParamSpec],
    /// Requested when the pipeline YAML sets no `resources`.
    pub resources: Resources,
}

/// A stage kind. Implementations live in `src/stages/`, one per file, and adapt a domain module:
/// a `static StageInfo` and `run`.
pub trait Stage: Send + Sync {
    fn info(&self) -> &'static StageInfo;
    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError>;

    fn kind(&self) -> &'static str {
        self.info().kind
    }
    fn description(&self) -> &'static str {
        self.info().description
    }
    fn version(&self) -> u32 {
        self.info().version
    }
    fn scope(&self) -> Scope {
        self.info().scope
    }
    fn inputs(&self) -> &'static [SlotSpec] {
        self.info().inputs
    }
    fn outputs(&self) -> &'static [SlotSpec] {
        self.info().outputs
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.info().params
    }
    fn default_resources(&self) -> Resources {
        self.info().resources
    }
    /// Whether the stage can split one instance over the ranks of an MPI job (then every rank
    /// runs it with [`StageContext::cluster`] set); other stages run on rank 0 alone.
    fn distributed(&self) -> bool {
        false
    }
    /// Checks of typed parameters that only the stage kind knows (e.g. the content of a file
    /// parameter), run when the pipeline is validated, before anything runs: an error names the
    /// parameter and what is wrong. Checks that need the data (contig names) wait for `run`.
    fn check_params(&self, _params: &Params) -> Result<(), (&'static str, String)> {
        Ok(())
    }
}
