//! `dagr validate`: check a pipeline YAML and print its DAG.

use super::CliError;
use crate::engine::pipeline::{self, Pipeline, Source};
use crate::engine::stage::{ParamKind, Stage};
use clap::Args;
use std::fmt::Write;

const EXAMPLES: &str = "\
Examples:
  dagr validate qc                    # a shipped pipeline
  dagr validate my-pipeline.yaml      # your own; errors name file, line and key
  dagr validate --list-stages         # every stage kind with its inputs, outputs and parameters";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct ValidateArgs {
    /// Pipeline: a YAML file or a shipped name
    #[arg(required_unless_present = "list_stages")]
    pub pipeline: Option<String>,
    /// List the stage kinds that pipelines can use
    #[arg(long)]
    pub list_stages: bool,
}

pub fn run(args: &ValidateArgs) -> Result<u8, CliError> {
    let registry = crate::stages::registry();
    if args.list_stages {
        for kind in &registry {
            super::output::print(&describe_kind(*kind))?;
        }
        return Ok(0);
    }
    let name = args.pipeline.as_deref().unwrap_or_default();
    let pipeline = pipeline::load(name, &registry)?;
    super::output::print(&render(&pipeline))?;
    Ok(0)
}

/// The DAG in order: scope, what each stage consumes and produces, resources.
pub fn render(p: &Pipeline) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pipeline {} ({}): valid, {} stages", p.name, p.file.display(), p.stages.len());
    if !p.description.is_empty() {
        let _ = writeln!(out, "  {}", p.description);
    }
    for (i, s) in p.stages.iter().enumerate() {
        let samples = if s.scope == crate::engine::stage::Scope::Sample {
            format!(", samples: {:?}", s.samples).to_lowercase()
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{}. {} [{} v{}] scope: {}{}",
            i + 1,
            s.name,
            s.kind.kind(),
            s.kind.version(),
            s.scope,
            samples
        );
        for b in &s.inputs {
            let from = match &b.source {
                Source::External(_) => "external".to_string(),
                Source::Stage { stage, slot } => format!("{}.{}", p.stages[*stage].name, slot),
            };
            let role = b.role.map(|r| format!("{r:?}:").to_lowercase()).unwrap_or_default();
            let _ = writeln!(out, "     consumes {:<12} ← {role}{} ({from})", b.slot, b.artifact);
        }
        for (slot, artifact) in &s.outputs {
            let _ = writeln!(out, "     produces {slot:<12} → {artifact}");
        }
        let params: Vec<String> = s.params.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !params.is_empty() {
            let _ = writeln!(out, "     params   {}", params.join(" "));
        }
        let r = &s.resources;
        let _ = writeln!(
            out,
            "     resources threads={} memory={} time={}",
            r.threads,
            crate::units::slurm_mem(r.memory_bytes),
            crate::units::slurm_time(r.time_seconds)
        );
    }
    out
}

fn describe_kind(kind: &dyn Stage) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} (v{}, scope {}): {}", kind.kind(), kind.version(), kind.scope(), kind.description());
    for i in kind.inputs() {
        let _ = writeln!(out, "  input  {:<14} {:<16} {}", i.name, i.kind.to_string(), i.doc);
    }
    for o in kind.outputs() {
        let _ = writeln!(out, "  output {:<14} {:<16} {}", o.name, o.kind.to_string(), o.doc);
    }
    for p in kind.params() {
        let range = match p.kind {
            ParamKind::Int { min, max } => format!("int {min}..={max}"),
            ParamKind::Float { min, max } => format!("number {min}..={max}"),
            ParamKind::Bool => "true|false".into(),
            ParamKind::Choice(c) => c.join("|"),
            ParamKind::File => "file (optional)".into(),
            ParamKind::IntList { min, max } => format!("list of int {min}..={max}"),
        };
        let _ = writeln!(
            out,
            "  param  {:<14} {:<16} {} (default {})",
            p.name,
            range,
            p.doc,
            crate::engine::stage::ParamValue::from(p.default)
        );
    }
    out
}
