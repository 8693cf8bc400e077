//! The contract between the engine and a stage.
//!
//! A stage kind (one file in `src/stages/`) declares its scope, its input and output slots with
//! their artifact kinds, its parameters with defaults, its default resources and a version; the
//! engine binds slots to artifacts from the pipeline YAML, instantiates the stage once per
//! reference, sample or tumour/normal pair, and calls [`Stage::run`] with a [`StageContext`].
//! A stage writes its files through [`crate::output_file`] (atomic, hashed while written) and
//! returns them as [`Artifact`]s; the engine records them in the stage's manifest for resume.

//!
//! Submodules: [`artifact`] (kinds, slots, files), [`params`] (parameter specs and values,
//! resources), [`context`] (entity, context, cancel flag), [`error`] ([`StageError`]),
//! [`fault`] (test-only fault injection) and [`cluster`] (the collectives of an MPI job).

pub mod artifact;
pub mod cluster;
pub mod context;
pub mod error;
pub mod fault;
pub mod params;

pub use artifact::{Artifact, ArtifactFile, ArtifactKind, SlotSpec, StageOutputs};
pub use cluster::Cluster;
pub use context::{CancelFlag, Entity, StageContext};
pub use error::StageError;
pub use fault::{FaultAction, FaultPlan, FaultPlanError, FaultRule};
pub use params::{ParamDefault, ParamKind, ParamSpec, ParamValue, Params, Resources};

use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// Bundled tools (other than htslib) whose behaviour decides this stage's outputs, with the
    /// versions linked into this binary, e.g. `("minimap2", "2.29-r1283")`: they enter the cache
    /// keys (a new version reruns) and the run report's provenance.
    fn tool_versions(&self) -> Vec<(&'static str, String)> {
        Vec::new()
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
    /// The least memory the stage runs in at `threads` for `reference`, estimated before
    /// anything runs, so that `dagr run` refuses a smaller `--max-memory` up front (the stage
    /// checks again with what it finds). `None`: no floor beyond the process itself.
    fn memory_floor(&self, _reference: &ReferenceFacts, _threads: usize) -> Option<MemoryFloor> {
        None
    }
}

/// What is known of the reference before a run, for [`Stage::memory_floor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceFacts {
    /// Its length in bases (from the `.fai`, or the FASTA's size when there is none).
    pub bases: u64,
    /// Its prepared-reference folder, when it was prepared and the FASTA is unchanged since.
    pub prepared_dir: Option<std::path::PathBuf>,
}

/// What a stage needs at least ([`Stage::memory_floor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFloor {
    pub bytes: u64,
    /// What the floor is made of, e.g. `the minimap2 index ~303M, buffers 176M`.
    pub detail: String,
}
