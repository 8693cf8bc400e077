//! Runs a [`Plan`]: topological order, independent instances concurrently within one thread and
//! memory budget, resume decisions from chained cache keys, failure isolation (an instance whose
//! upstream failed is skipped; other samples go on), cancellation by signal.
//!
//! Budget: a ready instance starts when at least one thread is free; it gets
//! `min(requested, free)` threads and `min(requested, free)` memory (all free memory if it asks
//! for more than the whole budget and nothing else runs). Instances are considered in plan order,
//! so scheduling is deterministic for a given budget; outputs never depend on it.

use super::cache::{self, Decision, KeyMaterial, MANIFEST_FORMAT};
use super::pipeline::Pipeline;
use super::plan::{Instance, InstanceInput, Plan};
use super::provenance;
use super::stage::{Artifact, CancelFlag, Entity, FaultPlan, StageError};
use crate::exec::local::{self, InstanceJob, InstanceOutcome};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Settings of one run that the scheduler needs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub outdir: PathBuf,
    pub tmp_dir: PathBuf,
    pub reference_cache: Option<PathBuf>,
    pub threads: usize,
    pub max_memory: u64,
    pub resume: bool,
    pub dry_run: bool,
    pub cancel: CancelFlag,
    pub faults: FaultPlan,
    /// The canonical command line, handed to stages for output headers.
    pub command: String,
    /// Under `--mpi` (rank 0): the job's ranks. Instances then run one at a time, so that every
    /// rank takes part in the distributed ones in the same order.
    pub cluster: Option<ClusterHandle>,
}

/// The ranks of an MPI job, for the scheduler's config.
#[derive(Clone)]
pub struct ClusterHandle(pub std::sync::Arc<dyn crate::dist::Cluster>);

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rank {} of {}", self.0.rank(), self.0.size())
    }
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran and finished.
    Done,
    /// A previous run's outputs matched (`--resume`).
    Reused,
    /// `--dry-run`: would run.
    WouldRun,
    /// `--dry-run`: would be reused.
    WouldReuse,
    /// Bad input data (exit 2).
    FailedInput,
    /// Runtime failure (exit 1).
    Failed,
    /// Not run because an upstream instance failed.
    Skipped,
    /// Interrupted by a signal, or not started because of one.
    Interrupted,
}

/// The record of one instance, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRecord {
    pub stage: String,
    pub stage_kind: String,
    pub stage_version: u32,
    pub entity: String,
    pub status: Status,
    /// Why it ran (or why it was skipped).
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub cache_key: Option<String>,
    pub threads: usize,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    pub inputs: BTreeMap<String, Artifact>,
    pub outputs: BTreeMap<String, Artifact>,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    pub qc_passed_bases: Option<u64>,
}

struct Slot {
    record: Option<InstanceRecord>,
    running: bool,
}

/// Runs (or, with `dry_run`, plans) every instance. Returns one record per instance, in plan order.
pub fn run(pipeline: &Pipeline, plan: &Plan, config: &SchedulerConfig) -> Vec<InstanceRecord> {
    let n = plan.instances.len();
    let mut slots: Vec<Slot> = (0..n).map(|_| Slot { record: None, running: false }).collect();
    let mut free_threads = config.threads.max(1);
    let mut free_memory = config.max_memory;
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, usize, u64, InstanceRecord, InstanceOutcome)>();
    std::thread::scope(|scope| {
        loop {
            let mut progressed = false;
            let running = slots.iter().filter(|s| s.running).count();
            for i in 0..n {
                if slots[i].record.is_some() || slots[i].running {
                    continue;
                }
                let instance = &plan.instances[i];
                match readiness(instance, &slots) {
                    Readiness::Blocked(reason) => {
                        slots[i].record = Some(blank_record(pipeline, instance, Status::Skipped, vec![reason]));
                        progressed = true;
                        continue;
                    }
                    Readiness::Interrupted => {
                        slots[i].record = Some(blank_record(
                            pipeline,
                            instance,
                            Status::Interrupted,
                            vec!["not started: run interrupted".into()],
                        ));
                        progressed = true;
                        continue;
                    }
                    Readiness::Waiting => continue,
                    Readiness::Ready => {}
                }
                if config.cancel.is_cancelled() {
                    slots[i].record = Some(blank_record(
                        pipeline,
                        instance,
                        Status::Interrupted,
                        vec!["not started: run interrupted".into()],
                    ));
                    progressed = true;
                    continue;
                }
                let prepared = prepare(pipeline, plan, instance, &slots, config);
                let (material, inputs, decision, upstream_reruns) = prepared;
                let mut record = blank_record(pipeline, instance, Status::Done, Vec::new());
                record.cache_key = Some(material.key());
                record.inputs = inputs.clone();
                let work_dir = work_dir(config, pipeline, instance);
                if config.dry_run {
                    let reuse = decision == Decision::Reuse && !upstream_reruns;
                    record.status = if reuse { Status::WouldReuse } else { Status::WouldRun };
                    record.reasons = match decision {
                        Decision::Run(why) => why,
                        Decision::Reuse if upstream_reruns => vec!["an upstream stage would rerun".into()],
                        Decision::Reuse => vec!["up to date".into()],
                    };
                    if reuse {
                        fill_from_manifest(&mut record, &work_dir);
                    }
                    slots[i].record = Some(record);
                    progressed = true;
                    continue;
                }
                if decision == Decision::Reuse {
                    record.status = Status::Reused;
                    record.reasons = vec!["up to date".into()];
                    fill_from_manifest(&mut record, &work_dir);
                    tracing::info!(sample = %instance.entity.label(), stage = %record.stage, "reused: outputs of a previous run match");
                    slots[i].record = Some(record);
                    progressed = true;
                    continue;
                }
                let Decision::Run(reasons) = decision else { unreachable!("Reuse handled above") };
                let node = &pipeline.stages[instance.stage];
                if free_threads == 0 || (config.cluster.is_some() && slots.iter().any(|s| s.running)) {
                    continue;
                }
                let threads = node.resources.threads.min(free_threads).max(1);
                let wanted_memory = node.resources.memory_bytes;
                let memory = if wanted_memory <= free_memory {
                    wanted_memory
                } else if running == 0 && free_memory == config.max_memory {
                    tracing::warn!(stage = %node.name, "asks for {} bytes, more than --max-memory; running with {}", wanted_memory, free_memory);
                    free_memory
                } else {
                    continue;
                };
                free_threads -= threads;
                free_memory -= memory;
                record.threads = threads;
                record.reasons = reasons.clone();
                let job = InstanceJob {
                    stage_name: node.name.clone(),
                    kind: node.kind,
                    entity: instance.entity.clone(),
                    inputs,
                    params: node.params.clone(),
                    material,
                    output_dir: config.outdir.join(instance.entity.label()),
                    work_dir,
                    tmp_dir: config.tmp_dir.join(instance.entity.label()).join(&node.name),
                    reference_cache: config.reference_cache.clone(),
                    threads,
                    memory_bytes: memory,
                    cancel: config.cancel.clone(),
                    faults: config.faults.clone(),
                    command: config.command.clone(),
                    cluster: config.cluster.as_ref().map(|c| (c.0.clone(), i)),
                    time_limit_seconds: node.resources.time_seconds,
                };
                tracing::info!(sample = %instance.entity.label(), stage = %node.name, threads, "running: {}", reasons.join("; "));
                slots[i].running = true;
                progressed = true;
                let tx = tx.clone();
                scope.spawn(move || {
                    let span = tracing::info_span!("stage", sample = %job.entity.label(), stage = %job.stage_name);
                    let _guard = span.enter();
                    let outcome = local::run(&job);
                    let _ = tx.send((i, threads, memory, record, outcome));
                });
            }
            let running = slots.iter().filter(|s| s.running).count();
            if running == 0 && !progressed {
                break;
            }
            if progressed {
                continue;
            }
            let Ok((i, threads, memory, record, outcome)) = rx.recv() else { break };
            free_threads += threads;
            free_memory += memory;
            slots[i].running = false;
            slots[i].record = Some(finish(record, outcome));
        }
    });
    slots.into_iter().map(|s| s.record.expect("every instance gets a record before the loop ends")).collect()
}

enum Readiness {
    Ready,
    Waiting,
    Blocked(String),
    Interrupted,
}

fn readiness(instance: &Instance, slots: &[Slot]) -> Readiness {
    let mut waiting = false;
    for up in instance.upstream() {
        match &slots[up].record {
            None => waiting = true,
            Some(r) => match r.status {
                Status::Done | Status::Reused | Status::WouldRun | Status::WouldReuse => {}
                Status::Interrupted => return Readiness::Interrupted,
                Status::Failed | Status::FailedInput | Status::Skipped => {
                    return Readiness::Blocked(format!(
                        "not run: upstream `{}` for {} did not finish",
                        r.stage, r.entity
                    ));
                }
            },
        }
    }
    if waiting { Readiness::Waiting } else { Readiness::Ready }
}

/// Resolves inputs to artifacts and builds the key material and the resume decision.
fn prepare(
    pipeline: &Pipeline,
    plan: &Plan,
    instance: &Instance,
    slots: &[Slot],
    config: &SchedulerConfig,
) -> (KeyMaterial, BTreeMap<String, Artifact>, Decision, bool) {
    let node = &pipeline.stages[instance.stage];
    let mut inputs = BTreeMap::new();
    let mut upstream_reruns = false;
    for (slot, input) in &instance.inputs {
        let artifact = match input {
            InstanceInput::External(a) => a.clone(),
            InstanceInput::Upstream { instance: up, slot: out } => {
                let record = slots[*up].record.as_ref().expect("upstream finished before readiness");
                upstream_reruns |= record.status == Status::WouldRun;
                record
                    .outputs
                    .get(*out)
                    .cloned()
                    .unwrap_or(Artifact { kind: node.kind.inputs()[0].kind, files: Vec::new() })
            }
        };
        inputs.insert(slot.to_string(), artifact);
    }
    let _ = plan;
    let material = KeyMaterial {
        manifest_format: MANIFEST_FORMAT,
        stage_kind: node.kind.kind().to_string(),
        stage_version: node.kind.version(),
        dagr_version: crate::VERSION.to_string(),
        tools: provenance::tool_versions(),
        params: node.params.clone(),
        entity: entity_descriptor(&instance.entity),
        inputs: inputs.iter().map(|(k, a)| (k.clone(), KeyMaterial::digests(a))).collect(),
    };
    let decision = if config.resume || config.dry_run {
        cache::decide(&material, cache::read_manifest(&work_dir(config, pipeline, instance)).as_ref())
    } else {
        Decision::Run(vec!["fresh run (no --resume)".into()])
    };
    (material, inputs, decision, upstream_reruns)
}

/// The parts of an entity that decide outputs (file paths are keyed through the inputs).
pub fn entity_descriptor(entity: &Entity) -> serde_json::Value {
    let sample = |s: &super::samplesheet::Sample| {
        serde_json::json!({
            "name": s.name, "patient": s.patient, "sex": s.sex, "status": s.status,
            "lanes": s.lanes.iter().map(|l| serde_json::json!({"lane": l.lane, "library": l.library})).collect::<Vec<_>>(),
        })
    };
    match entity {
        Entity::Reference => serde_json::json!("reference"),
        Entity::Sample(s) => sample(s),
        Entity::Pair { tumour, normal } => serde_json::json!({"tumour": sample(tumour), "normal": sample(normal)}),
    }
}

fn work_dir(config: &SchedulerConfig, pipeline: &Pipeline, instance: &Instance) -> PathBuf {
    config.outdir.join(instance.entity.label()).join("work").join(&pipeline.stages[instance.stage].name)
}

fn blank_record(pipeline: &Pipeline, instance: &Instance, status: Status, reasons: Vec<String>) -> InstanceRecord {
    let node = &pipeline.stages[instance.stage];
    InstanceRecord {
        stage: node.name.clone(),
        stage_kind: node.kind.kind().to_string(),
        stage_version: node.kind.version(),
        entity: instance.entity.label(),
        status,
        reasons,
        error: None,
        cache_key: None,
        threads: 0,
        wall_seconds: 0.0,
        cpu_seconds: 0.0,
        peak_rss_bytes: 0,
        inputs: BTreeMap::new(),
        outputs: BTreeMap::new(),
        metrics: Default::default(),
        qc_passed_bases: None,
    }
}

fn fill_from_manifest(record: &mut InstanceRecord, work_dir: &std::path::Path) {
    if let Some(m) = cache::read_manifest(work_dir) {
        record.outputs = m.outputs;
        record.metrics = m.metrics;
        record.qc_passed_bases = m.qc_passed_bases;
    }
}

fn finish(mut record: InstanceRecord, outcome: InstanceOutcome) -> InstanceRecord {
    record.wall_seconds = outcome.wall_seconds;
    record.cpu_seconds = outcome.cpu_seconds;
    record.peak_rss_bytes = outcome.peak_rss_bytes;
    match outcome.result {
        Ok(out) => {
            record.status = Status::Done;
            record.outputs = out.artifacts;
            record.metrics = out.metrics;
            record.qc_passed_bases = out.qc_passed_bases;
            tracing::info!(sample = %record.entity, stage = %record.stage, "done in {:.1}s", record.wall_seconds);
        }
        Err(e) => {
            record.status = match e {
                StageError::BadInput(_) => Status::FailedInput,
                StageError::Runtime(_) => Status::Failed,
                StageError::Interrupted => Status::Interrupted,
            };
            record.error = Some(e.to_string());
            if record.status == Status::Interrupted {
                tracing::warn!(sample = %record.entity, stage = %record.stage, "interrupted");
            } else {
                tracing::error!(sample = %record.entity, stage = %record.stage, "failed: {e}");
            }
        }
    }
    record
}
