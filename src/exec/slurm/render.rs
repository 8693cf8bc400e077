//! Renders the sbatch templates of `slurm/` (compiled into the binary): `{{NAME}}` placeholders
//! filled with shell-quoted values, resources from the pipeline YAML (the maximum over the stages
//! the job runs), optionally clamped to what the cluster's nodes have (`--resources local`).

use crate::engine::pipeline::Pipeline;
use crate::engine::provenance::shell_quote;
use crate::engine::stage::{Resources, Scope};
use crate::units::{slurm_mem, slurm_time};
use std::path::Path;

pub const PRELUDE: &str = include_str!("../../../slurm/task_prelude.sh");
pub const PREPARE_REFERENCE: &str = include_str!("../../../slurm/prepare_reference.sbatch");
pub const SAMPLE_ARRAY: &str = include_str!("../../../slurm/sample_array.sbatch");
pub const PAIR: &str = include_str!("../../../slurm/pair.sbatch");
pub const MPI_SAMPLE_ARRAY: &str = include_str!("../../../slurm/mpi_sample_array.sbatch");

/// The largest CPU count and memory of a node, from `sinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub cpus: usize,
    pub memory_bytes: u64,
}

/// The resources of a job running the `scope` stages: the maximum of each over those stages.
pub fn scope_resources(pipeline: &Pipeline, scope: Scope) -> Option<Resources> {
    pipeline.stages.iter().filter(|s| s.scope == scope).map(|s| s.resources).reduce(|a, b| Resources {
        threads: a.threads.max(b.threads),
        memory_bytes: a.memory_bytes.max(b.memory_bytes),
        time_seconds: a.time_seconds.max(b.time_seconds),
    })
}

/// Clamps CPUs and memory to a node's; time is kept.
pub fn clamp(r: Resources, limits: Option<NodeLimits>) -> Resources {
    match limits {
        None => r,
        Some(l) => Resources {
            threads: r.threads.min(l.cpus).max(1),
            memory_bytes: r.memory_bytes.min(l.memory_bytes).max(1 << 20),
            time_seconds: r.time_seconds,
        },
    }
}

/// Parses `sinfo -h -o '%c %m'` (CPUs and memory in MB per node line; `+` marks mixed sizes).
pub fn parse_sinfo(text: &str) -> Option<NodeLimits> {
    let mut best: Option<NodeLimits> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let number = |w: Option<&str>| w.map(|w| w.trim_end_matches('+')).and_then(|w| w.parse::<u64>().ok());
        let (Some(cpus), Some(mb)) = (number(words.next()), number(words.next())) else { continue };
        let here = NodeLimits { cpus: cpus as usize, memory_bytes: mb << 20 };
        best = Some(match best {
            None => here,
            Some(b) => NodeLimits { cpus: b.cpus.max(here.cpus), memory_bytes: b.memory_bytes.max(here.memory_bytes) },
        });
    }
    best.filter(|b| b.cpus > 0 && b.memory_bytes > 0)
}

/// Fills the template's `{{NAME}}` placeholders in one pass over the template: values are
/// inserted as they are and never scanned again, so a value holding `{{...}}` (an outdir, say)
/// stays literal. A placeholder without a value is a bug in the template.
pub fn fill(template: &str, vars: &[(&str, String)]) -> Result<String, super::SlurmError> {
    let mut text = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        text.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let name_end =
            after.find("}}").filter(|&end| after[..end].bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        let Some(end) = name_end else {
            // Not a placeholder (shell `${{...}}` does not occur in the templates): keep it.
            text.push_str("{{");
            rest = after;
            continue;
        };
        let name = &after[..end];
        let value = vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        let Some(value) = value else { return Err(super::SlurmError::Template(format!("{{{{{name}}}}}"))) };
        text.push_str(value);
        rest = &after[end + 2..];
    }
    text.push_str(rest);
    Ok(text)
}

/// A pipeline name fit for a job name (`[A-Za-z0-9._-]`, others become `_`).
pub fn job_word(name: &str) -> String {
    let w: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if w.is_empty() { "pipeline".into() } else { w }
}

/// The placeholders every template shares, plus the resources of its job.
pub fn common_vars(pipeline: &Pipeline, dagr: &Path, outdir: &Path, r: Resources) -> Vec<(&'static str, String)> {
    vec![
        ("PRELUDE", PRELUDE.trim_end().to_string()),
        ("PIPELINE", job_word(&pipeline.name)),
        ("DAGR", shell_quote(&dagr.display().to_string())),
        ("OUTDIR", shell_quote(&outdir.display().to_string())),
        ("CPUS", r.threads.to_string()),
        ("MEMORY", slurm_mem(r.memory_bytes)),
        ("TIME", slurm_time(r.time_seconds)),
    ]
}

/// The arguments of `dagr prepare-reference` for the pipeline's reference stage: the FASTA, the
/// cache folder, threads, and the minimizer parameters the pipeline sets (so the index the tasks
/// look for is the one built).
pub fn reference_args(pipeline: &Pipeline, reference: &Path, cache: Option<&Path>, threads: usize) -> String {
    let mut words =
        vec![reference.display().to_string(), "--threads".into(), threads.clamp(1, u16::MAX as usize).to_string()];
    if let Some(node) = pipeline.stages.iter().find(|s| s.kind.kind() == "prepare_reference") {
        for (param, flag) in [("minimizer_k", "--minimizer-k"), ("minimizer_w", "--minimizer-w")] {
            if let Ok(v) = node.params.int(param) {
                words.push(flag.into());
                words.push(v.to_string());
            }
        }
    }
    if let Some(c) = cache {
        words.push("--cache-dir".into());
        words.push(c.display().to_string());
    }
    crate::engine::provenance::command_line(&words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinfo_lines_give_the_largest_node() {
        let l = parse_sinfo("2 19284\n16 128000+\n").unwrap();
        assert_eq!(l, NodeLimits { cpus: 16, memory_bytes: 128000 << 20 });
        assert_eq!(parse_sinfo("garbage\n"), None);
    }

    #[test]
    fn clamping_keeps_time() {
        let r = Resources { threads: 16, memory_bytes: 32 << 30, time_seconds: 3600 };
        let c = clamp(r, Some(NodeLimits { cpus: 2, memory_bytes: 4 << 30 }));
        assert_eq!((c.threads, c.memory_bytes, c.time_seconds), (2, 4 << 30, 3600));
        assert_eq!(clamp(r, None), r);
    }

    #[test]
    fn placeholders_are_filled_or_reported() {
        assert_eq!(fill("a={{A}} b={{A}}", &[("A", "1".into())]).unwrap(), "a=1 b=1");
        assert!(fill("{{B}}", &[("A", "1".into())]).unwrap_err().to_string().contains("{{B}}"));
        // A value is never scanned again: a `{{TIME}}` inside OUTDIR stays literal.
        let vars = [("OUTDIR", "out/x{{TIME}}".to_string()), ("TIME", "02:00:00".to_string())];
        assert_eq!(fill("{{OUTDIR}} {{TIME}}", &vars).unwrap(), "out/x{{TIME}} 02:00:00");
        assert_eq!(job_word("my pipe$"), "my_pipe_");
    }

    #[test]
    fn shipped_templates_have_the_requeue_options() {
        for t in [PREPARE_REFERENCE, SAMPLE_ARRAY, PAIR] {
            for opt in ["--requeue", "--open-mode=append", "--signal=B:USR1@120", "{{PRELUDE}}"] {
                assert!(t.contains(opt), "{opt}");
            }
        }
    }
}
