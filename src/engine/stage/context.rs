//! What a running stage instance sees: the entity it runs for, its inputs, parameters and
//! folders, its share of the budget, the cancel flag, fault points, and (under MPI) the ranks.

use super::cluster::Cluster;
use super::fault::{FaultAction, FaultPlan};
use super::{Artifact, Params, Scope, StageError};
use crate::samples::Sample;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
            Entity::Pair { tumour, normal } => crate::samples::pair_label(&tumour.name, &normal.name),
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

/// Set by SIGINT/SIGTERM/SIGUSR1; stages poll it between batches and return
/// an interrupted [`StageError`].
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
        if self.is_cancelled() { Err(StageError::interrupted()) } else { Ok(()) }
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
    /// The date written into outputs (VCF `##fileDate`), seconds since the epoch: decided once
    /// per run by the engine (`SOURCE_DATE_EPOCH` when set, see [`crate::clock`]).
    pub output_date_epoch: u64,
    /// Under `dagr run --mpi`, for stages that [`Stage::distributed`]: every rank of the job runs
    /// this instance together (rank 0 writes the outputs). `None` in a single process.
    pub cluster: Option<&'a dyn Cluster>,
}

impl StageContext<'_> {
    /// The artifact bound to an input slot.
    pub fn input(&self, slot: &str) -> Result<&Artifact, StageError> {
        self.inputs.get(slot).ok_or_else(|| StageError::runtime(format!("internal: input slot `{slot}` not bound")))
    }

    /// The sample this instance runs for (sample-scoped stages).
    pub fn sample(&self) -> Result<&Sample, StageError> {
        match self.entity {
            Entity::Sample(s) => Ok(s),
            other => Err(StageError::runtime(format!("internal: stage needs a sample, runs for {}", other.label()))),
        }
    }

    /// The tumour and the normal this instance runs for (pair-scoped stages).
    pub fn pair(&self) -> Result<(&Sample, &Sample), StageError> {
        match self.entity {
            Entity::Pair { tumour, normal } => Ok((tumour, normal)),
            other => Err(StageError::runtime(format!("internal: stage needs a pair, runs for {}", other.label()))),
        }
    }

    /// Under `--mpi`, shares `result` with every rank (see [`Cluster`]): `Ok` only
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
                return Err(StageError::runtime(format!(
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
