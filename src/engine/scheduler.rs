//! Runs a [`Plan`]: topological order, independent instances concurrently within one thread and
//! memory budget, resume decisions from chained cache keys, failure isolation (an instance whose
//! upstream failed is skipped; other samples go on), cancellation by signal. Each instance is
//! handed to the [`Runner`] the caller chose (one process, or rank 0 of an MPI job); the
//! scheduler never names a backend.
//!
//! Budget: a ready instance starts when at least one thread is free; it gets
//! `min(requested, free)` threads and `min(requested, free)` memory (all free memory if it asks
//! for more than the whole budget and nothing else runs). Instances are considered in plan order,
//! so scheduling is deterministic for a given budget; outputs never depend on it.

use super::cache::{self, Decision, KeyMaterial, MANIFEST_FORMAT};
use super::instance::{InstanceOutcome, RunSettings};
use super::pipeline::Pipeline;
use super::plan::{Instance, InstanceInput, Plan};
use super::runner::Runner;
use super::stage::{Artifact, Entity};
use crate::outcome::Failure;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Settings of one run that the scheduler needs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// What every instance shares: folders, cancel flag, fault plan, command, output date.
    pub settings: RunSettings,
    pub threads: usize,
    pub max_memory: u64,
    pub resume: bool,
    pub dry_run: bool,
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Ran and finished.
    Done,
    /// A previous run's outputs matched (`--resume`).
    Reused,
    /// `--dry-run`: would run.
    WouldRun,
    /// `--dry-run`: would be reused.
    WouldReuse,
    /// Ran and failed (bad input, runtime failure, or interrupted by a signal), or was not
    /// started because the run was interrupted.
    Failed(Failure),
    /// Not run because an upstream instance failed.
    Skipped,
}

impl InstanceStatus {
    /// The name in the run report (schema `dagr.run_report/1`).
    pub fn name(self) -> &'static str {
        match self {
            InstanceStatus::Done => "done",
            InstanceStatus::Reused => "reused",
            InstanceStatus::WouldRun => "would_run",
            InstanceStatus::WouldReuse => "would_reuse",
            InstanceStatus::Failed(Failure::BadInput) => "failed_input",
            InstanceStatus::Failed(Failure::Runtime) => "failed",
            InstanceStatus::Failed(Failure::Interrupted) => "interrupted",
            InstanceStatus::Skipped => "skipped",
        }
    }
    /// The failure, when the instance failed or was interrupted.
    pub fn failure(self) -> Option<Failure> {
        match self {
            InstanceStatus::Failed(f) => Some(f),
            _ => None,
        }
    }
}

impl Serialize for InstanceStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The record of one instance, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRecord {
    pub stage: String,
    pub stage_kind: String,
    pub stage_version: u32,
    pub entity: String,
    pub status: InstanceStatus,
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

/// A started instance's share of the budget, returned when it ends.
struct Grant {
    threads: usize,
    memory: u64,
}

/// What the scheduler does next with a ready instance.
enum Action {
    /// It has a record already (reused, planned, skipped, interrupted).
    Recorded(Box<InstanceRecord>),
    /// Run it (when the budget admits it).
    Run(Box<Start>),
}

/// What an instance that runs starts with: its record so far, key material, inputs and why it runs.
struct Start {
    record: InstanceRecord,
    material: KeyMaterial,
    inputs: BTreeMap<String, Artifact>,
    reasons: Vec<String>,
}

/// Runs (or, with `dry_run`, plans) every instance with `runner`. Returns one record per
/// instance, in plan order.
pub fn run(pipeline: &Pipeline, plan: &Plan, config: &SchedulerConfig, runner: &dyn Runner) -> Vec<InstanceRecord> {
    let n = plan.instances.len();
    let mut slots: Vec<Slot> = (0..n).map(|_| Slot { record: None, running: false }).collect();
    let mut free_threads = config.threads.max(1);
    let mut free_memory = config.max_memory;
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Grant, InstanceRecord, InstanceOutcome)>();
    std::thread::scope(|scope| {
        loop {
            let mut progressed = false;
            let running = slots.iter().filter(|s| s.running).count();
            for i in 0..n {
                if slots[i].record.is_some() || slots[i].running {
                    continue;
                }
                let instance = &plan.instances[i];
                let Some(action) = decide(pipeline, instance, &slots, config) else { continue };
                let (mut record, material, inputs, reasons) = match action {
                    Action::Recorded(record) => {
                        slots[i].record = Some(*record);
                        progressed = true;
                        continue;
                    }
                    Action::Run(start) => {
                        let Start { record, material, inputs, reasons } = *start;
                        (record, material, inputs, reasons)
                    }
                };
                let node = &pipeline.stages[instance.stage];
                if free_threads == 0 || (runner.one_at_a_time() && slots.iter().any(|s| s.running)) {
                    continue;
                }
                let threads = node.resources.threads.min(free_threads).max(1);
                let wanted_memory = node.resources.memory_bytes;
                let memory = if wanted_memory <= free_memory {
                    wanted_memory
                } else if running == 0 && free_memory == config.max_memory {
                    tracing::warn!(
                        stage = %node.name,
                        "its resources ask for {} of memory, more than --max-memory; running within {}",
                        crate::units::size_for_humans(wanted_memory),
                        crate::units::size_for_humans(free_memory)
                    );
                    free_memory
                } else {
                    continue;
                };
                free_threads -= threads;
                free_memory -= memory;
                record.threads = threads;
                record.reasons = reasons.clone();
                let job = config.settings.job(i, node, &instance.entity, inputs, Some(material), threads, memory);
                tracing::info!(sample = %instance.entity.label(), stage = %node.name, threads, "running: {}", reasons.join("; "));
                slots[i].running = true;
                progressed = true;
                let tx = tx.clone();
                scope.spawn(move || {
                    let span = tracing::info_span!("stage", sample = %job.entity.label(), stage = %job.stage_name);
                    let _guard = span.enter();
                    let outcome = runner.run(&job);
                    let _ = tx.send((i, Grant { threads, memory }, record, outcome));
                });
            }
            let running = slots.iter().filter(|s| s.running).count();
            if running == 0 && !progressed {
                break;
            }
            if progressed {
                continue;
            }
            let Ok((i, grant, record, outcome)) = rx.recv() else { break };
            free_threads += grant.threads;
            free_memory += grant.memory;
            slots[i].running = false;
            slots[i].record = Some(finish(record, outcome));
        }
    });
    slots.into_iter().map(|s| s.record.expect("every instance gets a record before the loop ends")).collect()
}

/// What to do with instance `instance` now: `None` while it waits for its upstream instances.
fn decide(pipeline: &Pipeline, instance: &Instance, slots: &[Slot], config: &SchedulerConfig) -> Option<Action> {
    let interrupted = || {
        Action::Recorded(Box::new(blank_record(
            pipeline,
            instance,
            InstanceStatus::Failed(Failure::Interrupted),
            vec!["not started: run interrupted".into()],
        )))
    };
    match readiness(instance, slots) {
        Readiness::Blocked(reason) => {
            let skipped = blank_record(pipeline, instance, InstanceStatus::Skipped, vec![reason]);
            return Some(Action::Recorded(Box::new(skipped)));
        }
        Readiness::Interrupted => return Some(interrupted()),
        Readiness::Waiting => return None,
        Readiness::Ready => {}
    }
    if config.settings.cancel.is_cancelled() {
        return Some(interrupted());
    }
    let (material, inputs, decision, upstream_reruns) = prepare(pipeline, instance, slots, config);
    let mut record = blank_record(pipeline, instance, InstanceStatus::Done, Vec::new());
    record.cache_key = Some(material.key());
    record.inputs = inputs.clone();
    let work_dir = config.settings.layout.work_dir(&instance.entity.label(), &pipeline.stages[instance.stage].name);
    if config.dry_run {
        let reuse = decision == Decision::Reuse && !upstream_reruns;
        record.status = if reuse { InstanceStatus::WouldReuse } else { InstanceStatus::WouldRun };
        record.reasons = match decision {
            Decision::Run(why) => why,
            Decision::Reuse if upstream_reruns => vec!["an upstream stage would rerun".into()],
            Decision::Reuse => vec!["up to date".into()],
        };
        if reuse {
            fill_from_manifest(&mut record, &work_dir, config.settings.layout.outdir());
        }
        return Some(Action::Recorded(Box::new(record)));
    }
    match decision {
        Decision::Reuse => {
            record.status = InstanceStatus::Reused;
            record.reasons = vec!["up to date".into()];
            fill_from_manifest(&mut record, &work_dir, config.settings.layout.outdir());
            tracing::info!(sample = %instance.entity.label(), stage = %record.stage, "reused: outputs of a previous run match");
            Some(Action::Recorded(Box::new(record)))
        }
        Decision::Run(reasons) => Some(Action::Run(Box::new(Start { record, material, inputs, reasons }))),
    }
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
                InstanceStatus::Done
                | InstanceStatus::Reused
                | InstanceStatus::WouldRun
                | InstanceStatus::WouldReuse => {}
                InstanceStatus::Failed(Failure::Interrupted) => return Readiness::Interrupted,
                InstanceStatus::Failed(_) | InstanceStatus::Skipped => {
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
                upstream_reruns |= record.status == InstanceStatus::WouldRun;
                record
                    .outputs
                    .get(*out)
                    .cloned()
                    .unwrap_or(Artifact { kind: node.kind.inputs()[0].kind, files: Vec::new() })
            }
        };
        inputs.insert(slot.to_string(), artifact);
    }
    let material = KeyMaterial {
        manifest_format: MANIFEST_FORMAT,
        stage_kind: node.kind.kind().to_string(),
        stage_version: node.kind.version(),
        dagr_version: crate::VERSION.to_string(),
        tools: pipeline.tools.clone(),
        params: node.params.clone(),
        entity: entity_descriptor(&instance.entity),
        inputs: inputs.iter().map(|(k, a)| (k.clone(), KeyMaterial::digests(a))).collect(),
    };
    let work_dir = config.settings.layout.work_dir(&instance.entity.label(), &node.name);
    let decision = if config.resume {
        cache::decide(&material, cache::read_manifest(&work_dir, config.settings.layout.outdir()).as_ref())
    } else {
        Decision::Run(vec!["fresh run (no --resume)".into()])
    };
    (material, inputs, decision, upstream_reruns)
}

/// The parts of an entity that decide outputs (file paths are keyed through the inputs).
pub fn entity_descriptor(entity: &Entity) -> serde_json::Value {
    let sample = |s: &crate::samples::Sample| {
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

fn blank_record(
    pipeline: &Pipeline,
    instance: &Instance,
    status: InstanceStatus,
    reasons: Vec<String>,
) -> InstanceRecord {
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

fn fill_from_manifest(record: &mut InstanceRecord, work_dir: &std::path::Path, outdir: &std::path::Path) {
    if let Some(m) = cache::read_manifest(work_dir, outdir) {
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
            record.status = InstanceStatus::Done;
            record.outputs = out.artifacts;
            record.metrics = out.metrics;
            record.qc_passed_bases = out.qc_passed_bases;
            tracing::info!(sample = %record.entity, stage = %record.stage, "done in {:.1}s", record.wall_seconds);
        }
        Err(e) => {
            record.status = InstanceStatus::Failed(e.failure());
            let error = e.chain();
            if e.is_interrupted() {
                tracing::warn!(sample = %record.entity, stage = %record.stage, "interrupted");
            } else {
                tracing::error!(sample = %record.entity, stage = %record.stage, "failed: {error}");
            }
            record.error = Some(error);
        }
    }
    record
}
