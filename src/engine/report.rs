//! The run report: `<outdir>/run_report.json` for the whole run and
//! `<outdir>/<entity>/run_report.json` per sample, pair and the reference (schema
//! [`SCHEMA`]), plus a short human summary on stderr.
//!
//! Genome equivalents: nominal counts a normal (30x) sample as 1 and a tumour (90x) as 3 (a pair
//! is its tumour plus its normal, 4); measured is QC-passed bases / (30 × reference length).
//! Core-seconds per measured genome equivalent let a user project cluster cost.

use super::layout::RunLayout;
use super::pipeline::Pipeline;
use super::scheduler::{InstanceRecord, InstanceStatus};
use super::stage::ArtifactKind;
use super::stage::Entity;
use super::stage::artifact::role;
use crate::outcome::{Failure, SUCCESS};
use crate::output_file::{Sidecar, write_atomic};
use crate::qc::genome_equivalents::{self as ge, GenomeEquivalents};
use crate::samples::Samplesheet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the report layout; bump on incompatible changes.
pub const SCHEMA: &str = "dagr.run_report/1";

/// The overall outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
    DryRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub dagr_version: String,
    pub git_commit: String,
    pub tools: BTreeMap<String, String>,
    pub reference: PathBuf,
    pub reference_digest: Option<String>,
    /// The command line without execution-only flags.
    pub command: String,
    pub pipeline: String,
    pub pipeline_file: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    pub threads: usize,
    /// Ranks of the MPI job (`--mpi`), each with `threads` threads; absent in a single process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpi_ranks: Option<usize>,
    pub max_memory_bytes: u64,
    pub host: String,
    pub started_utc: String,
    pub finished_utc: String,
    pub wall_seconds: f64,
    pub process_cpu_seconds: f64,
    pub process_peak_rss_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityReport {
    pub schema: &'static str,
    pub entity: String,
    pub status: RunStatus,
    pub provenance: Provenance,
    pub execution: Execution,
    pub genome_equivalents: GenomeEquivalents,
    pub stages: Vec<InstanceRecord>,
}

/// A failed stage instance, as the report's `failures` list names it.
#[derive(Debug, Clone, Serialize)]
pub struct FailedStage {
    pub entity: String,
    pub stage: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub status: RunStatus,
    pub exit_code: u8,
    pub provenance: Provenance,
    pub execution: Execution,
    pub genome_equivalents: GenomeEquivalents,
    /// Entity → its report file.
    pub entities: BTreeMap<String, PathBuf>,
    pub failures: Vec<FailedStage>,
    pub stages: Vec<InstanceRecord>,
}

/// Status and exit code from the records: the worst failure decides (interrupted, then runtime,
/// then bad input; see [`Failure::worst`]), else success.
pub fn outcome(records: &[InstanceRecord], dry_run: bool) -> (RunStatus, u8) {
    match records.iter().filter_map(|r| r.status.failure()).reduce(Failure::worst) {
        Some(Failure::Interrupted) => (RunStatus::Interrupted, Failure::Interrupted.exit_code()),
        Some(f) => (RunStatus::Failed, f.exit_code()),
        None if dry_run => (RunStatus::DryRun, SUCCESS),
        None => (RunStatus::Succeeded, SUCCESS),
    }
}

/// Total reference length from the prepared reference's `.fai`, if the run prepared one.
pub fn reference_length(records: &[InstanceRecord]) -> Option<u64> {
    let fai = records
        .iter()
        .flat_map(|r| r.outputs.values())
        .filter(|a| a.kind == ArtifactKind::ReferenceIndex)
        .find_map(|a| a.file(role::FAI).ok().map(Path::to_path_buf))?;
    let records = crate::genome::fai::read_fai(&fai).ok()?;
    Some(records.iter().map(|r| r.length).sum())
}

/// Nominal genome equivalents of an entity: its samples' (none for the reference).
fn nominal(entity: &Entity) -> f64 {
    match entity {
        Entity::Reference => 0.0,
        Entity::Sample(s) => ge::nominal(s),
        Entity::Pair { tumour, normal } => ge::nominal(tumour) + ge::nominal(normal),
    }
}

/// Genome equivalents of a set of records (one entity, or the whole run).
fn genome_equivalents(nominal: f64, records: &[&InstanceRecord], ref_len: Option<u64>) -> GenomeEquivalents {
    let mut usage = ge::Usage::default();
    for r in records {
        let cpu = if r.status == InstanceStatus::Done { r.cpu_seconds } else { 0.0 };
        usage.add(&r.entity, r.qc_passed_bases, cpu);
    }
    ge::genome_equivalents(nominal, &usage, ref_len)
}

/// Inputs to report writing.
pub struct ReportInput<'a> {
    pub layout: &'a RunLayout,
    pub pipeline: &'a Pipeline,
    pub sheet: &'a Samplesheet,
    /// One record per instance of the plan, in plan order.
    pub records: &'a [InstanceRecord],
    /// The entity of each record (the plan's instances, same order).
    pub entities: &'a [&'a Entity],
    pub provenance: Provenance,
    pub execution: Execution,
    pub dry_run: bool,
}

/// Writes the per-entity reports and the run report; returns the run report.
pub fn write(input: ReportInput<'_>) -> std::io::Result<RunReport> {
    let (status, exit_code) = outcome(input.records, input.dry_run);
    let ref_len = reference_length(input.records);
    let mut entity_order: Vec<(&str, &Entity)> = Vec::new();
    for (r, e) in input.records.iter().zip(input.entities) {
        if !entity_order.iter().any(|(label, _)| *label == r.entity) {
            entity_order.push((&r.entity, e));
        }
    }
    let mut entities = BTreeMap::new();
    for &(entity, of) in &entity_order {
        let records: Vec<&InstanceRecord> = input.records.iter().filter(|r| r.entity == *entity).collect();
        let owned: Vec<InstanceRecord> = records.iter().map(|r| (*r).clone()).collect();
        let (entity_status, _) = outcome(&owned, input.dry_run);
        let report = EntityReport {
            schema: SCHEMA,
            entity: entity.to_string(),
            status: entity_status,
            provenance: input.provenance.clone(),
            execution: input.execution.clone(),
            genome_equivalents: genome_equivalents(nominal(of), &records, ref_len),
            stages: owned,
        };
        let path = input.layout.entity_report(entity);
        if !input.dry_run {
            std::fs::create_dir_all(input.layout.entity_dir(entity))?;
            write_atomic(&path, &to_json(&report)?, Sidecar::None)?;
        }
        entities.insert(entity.to_string(), path);
    }
    let all: Vec<&InstanceRecord> = input.records.iter().collect();
    let run_nominal: f64 = input.sheet.samples.iter().map(ge::nominal).sum();
    let failures = input
        .records
        .iter()
        .filter(|r| matches!(r.status, InstanceStatus::Failed(Failure::BadInput | Failure::Runtime)))
        .map(|r| FailedStage {
            entity: r.entity.clone(),
            stage: r.stage.clone(),
            error: r.error.clone().unwrap_or_default(),
        })
        .collect();
    let report = RunReport {
        schema: SCHEMA,
        status,
        exit_code,
        provenance: input.provenance,
        execution: input.execution,
        genome_equivalents: genome_equivalents(run_nominal, &all, ref_len),
        entities,
        failures,
        stages: input.records.to_vec(),
    };
    if !input.dry_run {
        write_atomic(&input.layout.report(), &to_json(&report)?, Sidecar::None)?;
    }
    Ok(report)
}

fn to_json<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    v.push(b'\n');
    Ok(v)
}

/// The human summary printed on stderr at the end of a run.
pub fn summary(report: &RunReport, layout: &RunLayout) -> String {
    let mut out = String::new();
    let count = |s: InstanceStatus| report.stages.iter().filter(|r| r.status == s).count();
    let verb = match report.status {
        RunStatus::Succeeded => "finished",
        RunStatus::Failed => "FAILED",
        RunStatus::Interrupted => "INTERRUPTED",
        RunStatus::DryRun => "dry run",
    };
    out.push_str(&format!(
        "dagr {} {verb}: {} stage runs ({} ran, {} reused, {} failed, {} skipped) in {:.1} s wall, {:.1} s CPU\n",
        report.provenance.pipeline,
        report.stages.len(),
        count(InstanceStatus::Done),
        count(InstanceStatus::Reused),
        count(InstanceStatus::Failed(Failure::Runtime)) + count(InstanceStatus::Failed(Failure::BadInput)),
        count(InstanceStatus::Skipped),
        report.execution.wall_seconds,
        report.execution.process_cpu_seconds,
    ));
    for r in &report.stages {
        let status = r.status.name();
        let detail = match (&r.error, r.status) {
            (Some(e), _) => e.clone(),
            (None, InstanceStatus::WouldRun) => format!("would run: {}", r.reasons.join("; ")),
            (None, InstanceStatus::Skipped) => r.reasons.join("; "),
            _ => format!("{:.1} s", r.wall_seconds),
        };
        out.push_str(&format!("  {:<20} {:<20} {:<12} {detail}\n", r.entity, r.stage, status));
    }
    let ge = &report.genome_equivalents;
    match ge.measured {
        Some(m) => out.push_str(&format!("genome equivalents: nominal {:.2}, measured {m:.4}\n", ge.nominal)),
        None => out.push_str(&format!("genome equivalents: nominal {:.2}\n", ge.nominal)),
    }
    if report.status != RunStatus::DryRun {
        out.push_str(&format!("outputs: {}  (report: {})\n", layout.outdir().display(), layout.report().display()));
    }
    for f in &report.failures {
        out.push_str(&format!("failed: {} ({}): {}\n", f.entity, f.stage, f.error));
    }
    if report.status == RunStatus::Interrupted {
        out.push_str("interrupted: rerun the same command with --resume to continue\n");
    }
    out
}
