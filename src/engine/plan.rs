//! [`Pipeline`] × samplesheet → [`Plan`]: one [`Instance`] per stage and entity (the reference,
//! each selected sample, each tumour/normal pair), with every input resolved to an external
//! artifact or to the instance that produces it. Instances are in topological order.

use super::pipeline::{External, PairRole, Pipeline, Source};
use super::spec::SampleFilter;
use super::stage::artifact::role;
use super::stage::{Artifact, ArtifactFile, ArtifactKind, Entity, Scope};
use crate::outcome::{Classify, Failure};
use crate::samples::SamplesheetError;
use crate::samples::{Sample, Samplesheet, TissueStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a pipeline cannot be instantiated for a samplesheet.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Pairs(#[from] SamplesheetError),
    #[error("pipeline `{pipeline}` calls tumour/normal pairs, but the samplesheet has no tumour (status 1)")]
    NoTumour { pipeline: String },
    #[error("{}: cannot read the reference: {source}", path.display())]
    Reference { path: PathBuf, source: std::io::Error },
    #[error("sample `{sample}`: cannot read a FASTQ: {source}")]
    Fastq { sample: String, source: std::io::Error },
    #[error("stage `{stage}` for {entity} needs `{artifact}`, which stage `{producer}` does not produce for {wanted}")]
    NoProducer { stage: String, entity: String, artifact: String, producer: String, wanted: String },
    /// An invariant of the plan builder does not hold (a bug in dagr).
    #[error("internal: {0}")]
    Internal(String),
}

impl Classify for PlanError {
    fn failure(&self) -> Failure {
        match self {
            PlanError::Internal(_) => Failure::Runtime,
            _ => Failure::BadInput,
        }
    }
}

/// Where one input of an instance comes from.
#[derive(Debug, Clone)]
pub enum InstanceInput {
    External(Artifact),
    Upstream { instance: usize, slot: &'static str },
}

/// One stage run for one entity.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Index of the stage in [`Pipeline::stages`].
    pub stage: usize,
    pub entity: Entity,
    /// Input slot → source, in the stage's declared order.
    pub inputs: Vec<(&'static str, InstanceInput)>,
}

impl Instance {
    pub fn upstream(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().filter_map(|(_, i)| match i {
            InstanceInput::Upstream { instance, .. } => Some(*instance),
            InstanceInput::External(_) => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub instances: Vec<Instance>,
}

/// A file of an external input, keyed by path, size and modification time.
pub fn external_file(role: &str, path: &Path) -> std::io::Result<ArtifactFile> {
    let meta = std::fs::metadata(path)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(ArtifactFile {
        role: role.to_string(),
        path: abs,
        digest: format!("stat:{}:{}", meta.len(), mtime_ns(&meta)),
        size: meta.len(),
    })
}

/// The reference FASTA, keyed also by inode and change time: an in-place edit that keeps the
/// size and restores the mtime still reruns `prepare_reference`. A false alarm (a `chmod`, a
/// copy with `cp -a`) costs one rescan there: its outputs are keyed by content (the prepared
/// files' MD5s), so the stages below it are still reused when the sequence is the same.
fn reference_file(role: &str, path: &Path) -> std::io::Result<ArtifactFile> {
    use std::os::unix::fs::MetadataExt;
    let mut file = external_file(role, path)?;
    let meta = std::fs::metadata(path)?;
    let ctime_ns = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
    file.digest = format!("{}:ino{}:ctime{ctime_ns}", file.digest, meta.ino());
    Ok(file)
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
}

fn reads_artifact(sample: &Sample) -> std::io::Result<Artifact> {
    let mut files = Vec::new();
    for lane in &sample.lanes {
        files.push(external_file(&format!("{}.R1", lane.lane), &lane.fastq_1)?);
        files.push(external_file(&format!("{}.R2", lane.lane), &lane.fastq_2)?);
    }
    Ok(Artifact { kind: ArtifactKind::FastqReads, files })
}

fn selected(filter: SampleFilter, s: &Sample) -> bool {
    match filter {
        SampleFilter::All => true,
        SampleFilter::Normal => s.status == TissueStatus::Normal,
        SampleFilter::Tumour => s.status == TissueStatus::Tumour,
    }
}

/// Same entity, or the matching sample of a pair, or the reference.
fn entity_matches(producer: &Entity, wanted: &Entity) -> bool {
    match (producer, wanted) {
        (Entity::Reference, Entity::Reference) => true,
        (Entity::Sample(a), Entity::Sample(b)) => a.name == b.name,
        (Entity::Pair { tumour: t1, normal: n1 }, Entity::Pair { tumour: t2, normal: n2 }) => {
            t1.name == t2.name && n1.name == n2.name
        }
        _ => false,
    }
}

/// Instantiates the pipeline. Errors (a tumour without a normal when a pair stage exists,
/// an unreadable FASTQ or FASTA) are messages for the user. With `with_pairs` false the
/// pair-scoped stages get no instances (a Slurm sample task runs one sample's stages; its pairs
/// run in pair tasks).
pub fn build(pipeline: &Pipeline, sheet: &Samplesheet, reference: &Path, with_pairs: bool) -> Result<Plan, PlanError> {
    let samples: Vec<Arc<Sample>> = sheet.samples.iter().cloned().map(Arc::new).collect();
    let needs_pairs = with_pairs && pipeline.stages.iter().any(|s| s.scope == Scope::Pair);
    let pairs: Vec<(Arc<Sample>, Arc<Sample>)> = if needs_pairs {
        let names = sheet.pairs()?;
        let find = |n: &str| {
            samples
                .iter()
                .find(|s| s.name == n)
                .cloned()
                .ok_or_else(|| PlanError::Internal(format!("sample `{n}` vanished")))
        };
        names.iter().map(|p| Ok((find(&p.tumour)?, find(&p.normal)?))).collect::<Result<_, PlanError>>()?
    } else {
        Vec::new()
    };
    if needs_pairs && pairs.is_empty() {
        return Err(PlanError::NoTumour { pipeline: pipeline.name.clone() });
    }
    let reference_artifact = Artifact {
        kind: ArtifactKind::ReferenceFasta,
        files: vec![
            reference_file(role::FASTA, reference)
                .map_err(|source| PlanError::Reference { path: reference.to_path_buf(), source })?,
        ],
    };

    let mut instances: Vec<Instance> = Vec::new();
    for (stage_index, stage) in pipeline.stages.iter().enumerate() {
        let entities: Vec<Entity> = match stage.scope {
            Scope::Reference => vec![Entity::Reference],
            Scope::Sample => {
                samples.iter().filter(|s| selected(stage.samples, s)).map(|s| Entity::Sample(s.clone())).collect()
            }
            Scope::Pair => pairs.iter().map(|(t, n)| Entity::Pair { tumour: t.clone(), normal: n.clone() }).collect(),
        };
        for entity in entities {
            let mut inputs = Vec::new();
            for b in &stage.inputs {
                let input = match &b.source {
                    Source::External(External::Reference) => InstanceInput::External(reference_artifact.clone()),
                    Source::External(External::Reads) => {
                        let sample = sample_for(&entity, b.role)?;
                        InstanceInput::External(
                            reads_artifact(&sample)
                                .map_err(|source| PlanError::Fastq { sample: sample.name.clone(), source })?,
                        )
                    }
                    Source::Stage { stage: producer_stage, slot } => {
                        let wanted = match (pipeline.stages[*producer_stage].scope, b.role) {
                            (Scope::Reference, _) => Entity::Reference,
                            (Scope::Sample, Some(_)) => Entity::Sample(sample_for(&entity, b.role)?),
                            _ => entity.clone(),
                        };
                        let producer = instances
                            .iter()
                            .position(|i| i.stage == *producer_stage && entity_matches(&i.entity, &wanted))
                            .ok_or_else(|| PlanError::NoProducer {
                                stage: stage.name.clone(),
                                entity: entity.label(),
                                artifact: b.artifact.clone(),
                                producer: pipeline.stages[*producer_stage].name.clone(),
                                wanted: wanted.label(),
                            })?;
                        InstanceInput::Upstream { instance: producer, slot }
                    }
                };
                inputs.push((b.slot, input));
            }
            instances.push(Instance { stage: stage_index, entity, inputs });
        }
    }
    Ok(Plan { instances })
}

fn sample_for(entity: &Entity, role: Option<PairRole>) -> Result<Arc<Sample>, PlanError> {
    match (entity, role) {
        (Entity::Sample(s), None) => Ok(s.clone()),
        (Entity::Pair { tumour, .. }, Some(PairRole::Tumour)) => Ok(tumour.clone()),
        (Entity::Pair { normal, .. }, Some(PairRole::Normal)) => Ok(normal.clone()),
        (e, r) => Err(PlanError::Internal(format!("no sample for {} with role {r:?}", e.label()))),
    }
}
