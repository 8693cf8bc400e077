//! [`PipelineSpec`] → validated [`Pipeline`]: a DAG of typed stage nodes in topological order.
//!
//! Checks, each reported with file, line and key: unknown stage kind, duplicate stage name,
//! unknown or unbound input/output slot, an input that no stage produces (missing input), an
//! artifact produced by two stages, artifact kinds that do not match, scope mismatches (a
//! reference stage cannot read sample data; a pair stage names `tumour:`/`normal:`), unknown or
//! ill-typed parameters, bad resources, and cycles (Kahn's algorithm; O(stages + bindings)).

use super::spec::{PipelineSpec, RawCount, RawParam, RawSize, SampleFilter, SpecError, SpecSource, StageSpec, line_of};
use super::stage::{ArtifactKind, ParamKind, ParamValue, Params, Resources, Scope, Stage};
use crate::units;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Inputs that come from the command line / samplesheet rather than a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum External {
    /// `--reference`: the FASTA (scope reference).
    Reference,
    /// The sample's FASTQ lanes from the samplesheet (scope sample).
    Reads,
}

impl External {
    pub const ALL: [(&'static str, External); 2] = [("reference", External::Reference), ("reads", External::Reads)];

    pub fn kind(self) -> ArtifactKind {
        match self {
            External::Reference => ArtifactKind::ReferenceFasta,
            External::Reads => ArtifactKind::FastqReads,
        }
    }
    pub fn scope(self) -> Scope {
        match self {
            External::Reference => Scope::Reference,
            External::Reads => Scope::Sample,
        }
    }
}

/// For pair-scoped consumers of sample artifacts: which sample of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PairRole {
    Tumour,
    Normal,
}

/// Where an input slot's artifact comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    External(External),
    Stage { stage: usize, slot: &'static str },
}

#[derive(Debug, Clone)]
pub struct InputBinding {
    pub slot: &'static str,
    pub artifact: String,
    pub source: Source,
    pub role: Option<PairRole>,
}

/// One validated stage of the pipeline.
#[derive(Clone)]
pub struct StageNode {
    pub name: String,
    pub kind: &'static dyn Stage,
    pub scope: Scope,
    pub samples: SampleFilter,
    pub inputs: Vec<InputBinding>,
    /// Output slot → artifact name.
    pub outputs: Vec<(&'static str, String)>,
    pub params: Params,
    pub resources: Resources,
    pub line: u64,
}

impl std::fmt::Debug for StageNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageNode").field("name", &self.name).field("kind", &self.kind.kind()).finish()
    }
}

/// A validated pipeline; `stages` are in topological order and indices in [`Source::Stage`]
/// refer to that order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub stages: Vec<StageNode>,
    /// The bundled tools this pipeline's stages run and their versions (htslib, and what the
    /// stage kinds declare, e.g. minimap2 as linked): part of every stage's cache key and of the
    /// run report's provenance.
    pub tools: BTreeMap<String, String>,
}

struct Ctx<'a> {
    file: &'a PathBuf,
    /// Where relative file parameters resolve ([`SpecSource::base_dir`]).
    base_dir: PathBuf,
}

impl Ctx<'_> {
    fn err<T>(&self, line: u64, message: impl Into<String>) -> Result<T, SpecError> {
        Err(SpecError { file: self.file.clone(), line, message: message.into() })
    }
}

/// Validates a parsed spec against the stage registry.
pub fn build(source: &SpecSource, spec: &PipelineSpec, registry: &[&'static dyn Stage]) -> Result<Pipeline, SpecError> {
    let cx = Ctx { file: &source.file, base_dir: source.base_dir() };
    if spec.stages.is_empty() {
        return cx.err(line_of(&spec.pipeline), "key `stages`: the pipeline has no stages");
    }
    let mut nodes = Vec::with_capacity(spec.stages.len());
    let mut names: HashMap<&str, u64> = HashMap::new();
    for entry in &spec.stages {
        let s = &entry.value;
        if let Some(first) = names.insert(s.name.value.as_str(), line_of(&s.name)) {
            return cx.err(
                line_of(&s.name),
                format!("key `name`: stage `{}` is already defined on line {first}", s.name.value),
            );
        }
        nodes.push(node_without_inputs(&cx, s, registry)?);
    }
    // Who produces each artifact.
    let mut producers: HashMap<String, (usize, &'static str, u64)> = HashMap::new();
    for (i, entry) in spec.stages.iter().enumerate() {
        for (slot, artifact) in &entry.value.outputs {
            let line = line_of(artifact);
            if External::ALL.iter().any(|(n, _)| *n == artifact.value) {
                return cx
                    .err(line, format!("key `outputs.{}`: `{}` is a reserved input name", slot.value, artifact.value));
            }
            let slot_name = nodes[i].outputs.iter().find(|(s, _)| *s == slot.value).map(|(s, _)| *s).unwrap_or("");
            if let Some((other, _, other_line)) = producers.insert(artifact.value.clone(), (i, slot_name, line)) {
                return cx.err(
                    line,
                    format!(
                        "key `outputs.{}`: artifact `{}` is also written by stage `{}` (line {other_line}); each output must have one writer",
                        slot.value, artifact.value, nodes[other].name
                    ),
                );
            }
        }
    }
    // Structure first (what reads what, and cycles), then kinds and scopes: a cycle is reported
    // as a cycle even when its artifact kinds would not match either.
    for (i, entry) in spec.stages.iter().enumerate() {
        let inputs = bind_inputs(&cx, &entry.value, &nodes[i], &nodes, &producers, false)?;
        nodes[i].inputs = inputs;
    }
    let order = topological_order(&cx, &nodes)?;
    for (i, entry) in spec.stages.iter().enumerate() {
        bind_inputs(&cx, &entry.value, &nodes[i], &nodes, &producers, true)?;
    }
    Ok(reorder(spec, source, nodes, &order))
}

fn node_without_inputs(cx: &Ctx<'_>, s: &StageSpec, registry: &[&'static dyn Stage]) -> Result<StageNode, SpecError> {
    let Some(kind) = registry.iter().copied().find(|k| k.kind() == s.stage.value) else {
        let known: Vec<&str> = registry.iter().map(|k| k.kind()).collect();
        return cx.err(
            line_of(&s.stage),
            format!("key `stage`: unknown stage `{}` (known stages: {})", s.stage.value, known.join(", ")),
        );
    };
    if let Err(m) = crate::samples::check_safe_name(&s.name.value) {
        return cx.err(line_of(&s.name), format!("key `name`: stage name {m}"));
    }
    let samples = match &s.samples {
        Some(f) if kind.scope() != Scope::Sample => {
            return cx.err(
                line_of(f),
                format!("key `samples`: stage `{}` has scope {}, not sample", s.name.value, kind.scope()),
            );
        }
        Some(f) => f.value,
        None => SampleFilter::All,
    };
    let mut outputs = Vec::new();
    for (slot, artifact) in sorted(&s.outputs) {
        let Some(spec) = kind.outputs().iter().find(|o| o.name == slot.value) else {
            let known: Vec<&str> = kind.outputs().iter().map(|o| o.name).collect();
            return cx.err(
                line_of(slot),
                format!(
                    "key `outputs.{}`: stage kind `{}` has no output `{}` (outputs: {})",
                    slot.value,
                    kind.kind(),
                    slot.value,
                    known.join(", ")
                ),
            );
        };
        outputs.push((spec.name, artifact.value.clone()));
    }
    for o in kind.outputs() {
        if !outputs.iter().any(|(s, _)| *s == o.name) {
            return cx.err(
                line_of(&s.name),
                format!("key `outputs`: stage `{}` does not bind its output `{}`", s.name.value, o.name),
            );
        }
    }
    let params = check_params(cx, s, kind)?;
    if let Err((name, message)) = kind.check_params(&params) {
        let line = s.params.keys().find(|k| k.value == name).map_or_else(|| line_of(&s.name), line_of);
        return cx.err(line, format!("key `params.{name}`: {message}"));
    }
    Ok(StageNode {
        name: s.name.value.clone(),
        kind,
        scope: kind.scope(),
        samples,
        inputs: Vec::new(),
        outputs,
        params,
        resources: check_resources(cx, s, kind)?,
        line: line_of(&s.name),
    })
}

fn sorted<K: AsRef<str> + std::hash::Hash + Eq, V>(map: &HashMap<Spanned<K>, V>) -> Vec<(&Spanned<K>, &V)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by_key(|(k, _)| (k.referenced.line(), k.referenced.column()));
    v
}

fn check_params(cx: &Ctx<'_>, s: &StageSpec, kind: &'static dyn Stage) -> Result<Params, SpecError> {
    let mut params = BTreeMap::new();
    for p in kind.params() {
        params.insert(p.name.to_string(), ParamValue::from(p.default));
    }
    for (key, raw) in sorted(&s.params) {
        let line = line_of(key);
        let Some(p) = kind.params().iter().find(|p| p.name == key.value) else {
            let known: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return cx.err(
                line,
                format!(
                    "key `params.{}`: stage kind `{}` has no parameter `{}` (parameters: {known})",
                    key.value,
                    kind.kind(),
                    key.value
                ),
            );
        };
        let bad = |what: String| cx.err::<ParamValue>(line, format!("key `params.{}`: {what}", key.value));
        let is_list_kind = matches!(p.kind, ParamKind::IntList { .. });
        if matches!(raw.value, RawParam::Composite(_)) || (matches!(raw.value, RawParam::IntList(_)) && !is_list_kind) {
            bad("a list or map is not a parameter value; give a number, true/false or text".into())?;
        }
        let value = match (p.kind, &raw.value) {
            (ParamKind::Int { min, max }, RawParam::Int(i)) if (min..=max).contains(i) => ParamValue::Int(*i),
            (ParamKind::Int { min, max }, v) => bad(format!("`{v}` is not an integer in {min}..={max}"))?,
            (ParamKind::Float { min, max }, RawParam::Float(x)) if *x >= min && *x <= max => ParamValue::Float(*x),
            (ParamKind::Float { min, max }, RawParam::Int(i)) if (*i as f64) >= min && (*i as f64) <= max => {
                ParamValue::Float(*i as f64)
            }
            (ParamKind::Float { min, max }, v) => bad(format!("`{v}` is not a number in {min}..={max}"))?,
            (ParamKind::Bool, RawParam::Bool(b)) => ParamValue::Bool(*b),
            (ParamKind::Bool, v) => bad(format!("`{v}` is not true or false"))?,
            (ParamKind::Choice(options), RawParam::Text(t)) if options.contains(&t.as_str()) => {
                ParamValue::Text(t.clone())
            }
            (ParamKind::Choice(options), v) => bad(format!("`{v}` is not one of {}", options.join(", ")))?,
            (ParamKind::File, RawParam::Text(t)) if !t.trim().is_empty() => match file_param(&cx.base_dir, t) {
                Ok(v) => v,
                Err((path, e)) => bad(format!("cannot read `{}`: {e}", path.display()))?,
            },
            (ParamKind::File, v) => bad(format!("`{v}` is not a file path"))?,
            (ParamKind::IntList { min, max }, RawParam::IntList(list))
                if !list.is_empty() && list.iter().all(|i| (min..=max).contains(i)) =>
            {
                ParamValue::IntList(list.clone())
            }
            (ParamKind::IntList { min, max }, v) => {
                bad(format!("`{v}` is not a non-empty list of integers in {min}..={max}"))?
            }
        };
        params.insert(p.name.to_string(), value);
    }
    Ok(Params(params))
}

/// File parameters up to this size are keyed by content; larger ones (a genome-wide population
/// resource) by size, modification time and inode, as external inputs are.
const FILE_PARAM_CONTENT_DIGEST_LIMIT: u64 = 64 << 20;

/// A file parameter: `text` resolved against `base` (when relative), made absolute, and its
/// digest: the SHA-256 of its content up to [`FILE_PARAM_CONTENT_DIGEST_LIMIT`] (an edited file
/// changes the cache key), else its `stat` identity. Only regular files are accepted (a device
/// such as `/dev/zero` would be read without end). Cost: one read of a small file.
fn file_param(base: &std::path::Path, text: &str) -> Result<ParamValue, (std::path::PathBuf, std::io::Error)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let given = std::path::Path::new(text);
    let joined = if given.is_absolute() { given.to_path_buf() } else { base.join(given) };
    let path = std::path::absolute(&joined).unwrap_or(joined);
    let fail = |path: std::path::PathBuf, e: std::io::Error| Err((path, e));
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return fail(path, e),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return fail(path, e),
    };
    if !meta.is_file() {
        return fail(path, std::io::Error::other("not a regular file"));
    }
    if meta.len() > FILE_PARAM_CONTENT_DIGEST_LIMIT {
        let digest = format!("stat:{}:{}:{}", meta.len(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000, meta.ino());
        return Ok(ParamValue::File { path, digest });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if let Err(e) = file.take(FILE_PARAM_CONTENT_DIGEST_LIMIT + 1).read_to_end(&mut bytes) {
        return fail(path, e);
    }
    Ok(ParamValue::File { path, digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))) })
}

/// Largest memory a stage may ask for (64 TiB: more than any node), and the smallest (1 MiB).
const MAX_STAGE_MEMORY: u64 = 64 << 40;
const MIN_STAGE_MEMORY: u64 = 1 << 20;
/// Longest time limit a stage may ask for: one year.
const MAX_STAGE_SECONDS: u64 = 365 * 24 * 3600;

fn check_resources(cx: &Ctx<'_>, s: &StageSpec, kind: &'static dyn Stage) -> Result<Resources, SpecError> {
    let mut r = kind.default_resources();
    let Some(spec) = &s.resources else { return Ok(r) };
    if let Some(t) = &spec.threads {
        match t.value {
            RawCount::Int(n) if (1..=4096).contains(&n) => r.threads = n as usize,
            ref other => {
                return cx.err(
                    line_of(t),
                    format!("key `resources.threads`: `{other}` must be a whole number from 1 to 4096"),
                );
            }
        }
    }
    if let Some(m) = &spec.memory {
        let bytes = match &m.value {
            RawSize::Bytes(b) => *b,
            RawSize::Text(t) => {
                units::parse_size(t).or_else(|e| cx.err(line_of(m), format!("key `resources.memory`: {e}")))?
            }
            RawSize::Number(x) => {
                return cx.err(line_of(m), format!("key `resources.memory`: `{x}` is not a size like 512M or 8G"));
            }
        };
        if !(MIN_STAGE_MEMORY..=MAX_STAGE_MEMORY).contains(&bytes) {
            return cx.err(
                line_of(m),
                format!("key `resources.memory`: {bytes} bytes is outside 1M..64T (Slurm reads 0 as a whole node)"),
            );
        }
        r.memory_bytes = bytes;
    }
    if let Some(t) = &spec.time {
        let seconds =
            units::parse_duration(&t.value).or_else(|e| cx.err(line_of(t), format!("key `resources.time`: {e}")))?;
        if seconds == 0 || seconds > MAX_STAGE_SECONDS {
            return cx.err(line_of(t), format!("key `resources.time`: `{}` is outside 1s..365d", t.value));
        }
        r.time_seconds = seconds;
    }
    Ok(r)
}

fn bind_inputs(
    cx: &Ctx<'_>,
    s: &StageSpec,
    node: &StageNode,
    nodes: &[StageNode],
    producers: &HashMap<String, (usize, &'static str, u64)>,
    check_types: bool,
) -> Result<Vec<InputBinding>, SpecError> {
    let kind = node.kind;
    let mut bindings = Vec::new();
    for (slot, artifact) in sorted(&s.inputs) {
        let line = line_of(artifact);
        let key = format!("inputs.{}", slot.value);
        let Some(slot_spec) = kind.inputs().iter().find(|i| i.name == slot.value) else {
            let known: Vec<&str> = kind.inputs().iter().map(|i| i.name).collect();
            return cx.err(
                line_of(slot),
                format!(
                    "key `{key}`: stage kind `{}` has no input `{}` (inputs: {})",
                    kind.kind(),
                    slot.value,
                    known.join(", ")
                ),
            );
        };
        let (role, name) = match artifact.value.split_once(':') {
            Some(("tumour", n)) => (Some(PairRole::Tumour), n),
            Some(("normal", n)) => (Some(PairRole::Normal), n),
            Some((other, _)) => {
                return cx.err(line, format!("key `{key}`: prefix `{other}:` is not `tumour:` or `normal:`"));
            }
            None => (None, artifact.value.as_str()),
        };
        let (source, produced_kind, produced_scope, produced_samples) = if let Some((_, ext)) =
            External::ALL.iter().find(|(n, _)| *n == name)
        {
            (Source::External(*ext), ext.kind(), ext.scope(), SampleFilter::All)
        } else if let Some(&(stage, out_slot, _)) = producers.get(name) {
            let p = &nodes[stage];
            let out_kind = p.kind.outputs().iter().find(|o| o.name == out_slot).map(|o| o.kind);
            let Some(out_kind) = out_kind else {
                return cx.err(line, format!("key `{key}`: internal: unknown output slot"));
            };
            (Source::Stage { stage, slot: out_slot }, out_kind, p.scope, p.samples)
        } else {
            return cx.err(
                    line,
                    format!("key `{key}`: missing input: no stage produces `{name}` (and it is not an external input: reference, reads)"),
                );
        };
        if check_types {
            if produced_kind != slot_spec.kind {
                return cx.err(
                    line,
                    format!(
                        "key `{key}`: `{name}` is {produced_kind}, but input `{}` takes {}",
                        slot.value, slot_spec.kind
                    ),
                );
            }
            check_scope(cx, line, &key, node, name, role, produced_scope, produced_samples)?;
        }
        bindings.push(InputBinding { slot: slot_spec.name, artifact: name.to_string(), source, role });
    }
    for i in kind.inputs() {
        if !bindings.iter().any(|b| b.slot == i.name) {
            return cx.err(
                node.line,
                format!("key `inputs`: stage `{}` does not bind its input `{}` ({})", node.name, i.name, i.kind),
            );
        }
    }
    Ok(bindings)
}

#[allow(clippy::too_many_arguments)]
fn check_scope(
    cx: &Ctx<'_>,
    line: u64,
    key: &str,
    node: &StageNode,
    name: &str,
    role: Option<PairRole>,
    produced: Scope,
    produced_samples: SampleFilter,
) -> Result<(), SpecError> {
    let ok = match (node.scope, produced) {
        (_, Scope::Reference) => role.is_none(),
        (Scope::Sample, Scope::Sample) => role.is_none(),
        (Scope::Pair, Scope::Sample) => role.is_some(),
        (Scope::Pair, Scope::Pair) => role.is_none(),
        _ => false,
    };
    if !ok {
        let hint = match (node.scope, produced, role) {
            (Scope::Pair, Scope::Sample, None) => " (write `tumour:` or `normal:` before the artifact name)",
            (_, _, Some(_)) => " (`tumour:`/`normal:` are only for pair stages reading sample artifacts)",
            _ => "",
        };
        return cx.err(
            line,
            format!("key `{key}`: a {} stage cannot read `{name}`, which is per {produced}{hint}", node.scope),
        );
    }
    // A sample stage on all samples cannot read what exists only for normals (or tumours).
    let needs = match role {
        Some(PairRole::Tumour) => SampleFilter::Tumour,
        Some(PairRole::Normal) => SampleFilter::Normal,
        None if node.scope == Scope::Sample => node.samples,
        None => SampleFilter::All,
    };
    if produced == Scope::Sample && produced_samples != SampleFilter::All && produced_samples != needs {
        return cx.err(line, format!("key `{key}`: `{name}` exists only for {produced_samples:?} samples, but this stage needs it for {needs:?} samples"));
    }
    Ok(())
}

fn topological_order(cx: &Ctx<'_>, nodes: &[StageNode]) -> Result<Vec<usize>, SpecError> {
    let n = nodes.len();
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for b in &node.inputs {
            if let Source::Stage { stage, .. } = b.source {
                indegree[i] += 1;
                dependents[stage].push(i);
            }
        }
    }
    // Kahn's algorithm; ready stages taken in file order for a stable result.
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() < n {
        let in_cycle: Vec<&StageNode> = (0..n).filter(|&i| indegree[i] > 0).map(|i| &nodes[i]).collect();
        let names: Vec<String> = in_cycle.iter().map(|s| format!("`{}` (line {})", s.name, s.line)).collect();
        return cx.err(
            in_cycle[0].line,
            format!("key `inputs`: the stages {} form a cycle through their inputs", names.join(", ")),
        );
    }
    Ok(order)
}

fn reorder(spec: &PipelineSpec, source: &SpecSource, nodes: Vec<StageNode>, order: &[usize]) -> Pipeline {
    let mut position = vec![0usize; nodes.len()];
    for (new, &old) in order.iter().enumerate() {
        position[old] = new;
    }
    let mut slots: Vec<Option<StageNode>> = nodes.into_iter().map(Some).collect();
    let mut stages = Vec::with_capacity(order.len());
    for &old in order {
        let mut node = slots[old].take().expect("each index appears once in a topological order");
        for b in &mut node.inputs {
            if let Source::Stage { stage, .. } = &mut b.source {
                *stage = position[*stage];
            }
        }
        stages.push(node);
    }
    let mut tools = super::provenance::engine_tools();
    for node in &stages {
        tools.extend(node.kind.tool_versions().into_iter().map(|(tool, version)| (tool.to_string(), version)));
    }
    Pipeline {
        name: spec.pipeline.value.clone(),
        description: spec.description.clone().unwrap_or_default(),
        file: source.file.clone(),
        stages,
        tools,
    }
}

/// Resolves, parses and validates PIPELINE (a path or a shipped name).
pub fn load(pipeline: &str, registry: &[&'static dyn Stage]) -> Result<Pipeline, SpecError> {
    let source = super::spec::resolve(pipeline)?;
    let spec = super::spec::parse(&source)?;
    build(&source, &spec, registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::spec::{SpecSource, parse};
    use crate::engine::stage::*;

    struct Prep;
    struct Intake;
    static PREP_IN: [SlotSpec; 1] = [SlotSpec { name: "fasta", kind: ArtifactKind::ReferenceFasta, doc: "" }];
    static PREP_OUT: [SlotSpec; 1] = [SlotSpec { name: "index", kind: ArtifactKind::ReferenceIndex, doc: "" }];
    static PREP_PARAMS: [ParamSpec; 2] = [
        ParamSpec { name: "k", kind: ParamKind::Int { min: 10, max: 28 }, default: ParamDefault::Int(21), doc: "" },
        ParamSpec { name: "bed", kind: ParamKind::File, default: ParamDefault::Unset, doc: "" },
    ];
    static INTAKE_IN: [SlotSpec; 2] = [
        SlotSpec { name: "reads", kind: ArtifactKind::FastqReads, doc: "" },
        SlotSpec { name: "reference", kind: ArtifactKind::ReferenceIndex, doc: "" },
    ];
    static INTAKE_OUT: [SlotSpec; 1] = [SlotSpec { name: "metrics", kind: ArtifactKind::FastqMetrics, doc: "" }];
    const RES: Resources = Resources { threads: 1, memory_bytes: 1 << 30, time_seconds: 3600 };

    static PREP_INFO: StageInfo = StageInfo {
        kind: "prep",
        description: "",
        version: 1,
        scope: Scope::Reference,
        inputs: &PREP_IN,
        outputs: &PREP_OUT,
        params: &PREP_PARAMS,
        resources: RES,
    };
    static INTAKE_INFO: StageInfo = StageInfo {
        kind: "intake",
        description: "",
        version: 1,
        scope: Scope::Sample,
        inputs: &INTAKE_IN,
        outputs: &INTAKE_OUT,
        params: &[],
        resources: RES,
    };

    impl Stage for Prep {
        fn info(&self) -> &'static StageInfo {
            &PREP_INFO
        }
        fn run(&self, _: &StageContext<'_>) -> Result<StageOutputs, StageError> {
            Ok(StageOutputs::default())
        }
    }
    impl Stage for Intake {
        fn info(&self) -> &'static StageInfo {
            &INTAKE_INFO
        }
        fn run(&self, _: &StageContext<'_>) -> Result<StageOutputs, StageError> {
            Ok(StageOutputs::default())
        }
    }

    fn build_yaml(text: &str) -> Result<Pipeline, SpecError> {
        let source = SpecSource { file: PathBuf::from("t.yaml"), text: text.to_string(), shipped: false };
        let spec = parse(&source)?;
        build(&source, &spec, &[&Prep, &Intake])
    }

    const INTAKE: &str = "  - name: intake\n    stage: intake\n    inputs: { reads: reads, reference: idx }\n    outputs: { metrics: m }\n";
    const PREP: &str =
        "  - name: prep\n    stage: prep\n    inputs: { fasta: reference }\n    outputs: { index: idx }\n";

    #[test]
    fn stages_are_ordered_topologically() {
        let p = build_yaml(&format!("pipeline: t\nstages:\n{INTAKE}{PREP}")).unwrap();
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["prep", "intake"]);
        assert_eq!(p.stages[1].inputs[1].source, Source::Stage { stage: 0, slot: "index" });
        assert_eq!(p.stages[0].params.int("k").unwrap(), 21);
    }

    #[test]
    fn a_cycle_is_named_with_its_line() {
        let prep = PREP.replace("fasta: reference", "fasta: m");
        let e = build_yaml(&format!("pipeline: t\nstages:\n{prep}{INTAKE}")).unwrap_err();
        assert!(e.message.contains("form a cycle"), "{e}");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn a_missing_input_is_named() {
        let intake = INTAKE.replace("reference: idx", "reference: nothing");
        let e = build_yaml(&format!("pipeline: t\nstages:\n{PREP}{intake}")).unwrap_err();
        assert!(e.message.contains("key `inputs.reference`: missing input: no stage produces `nothing`"), "{e}");
        assert_eq!(e.line, 9);
    }

    #[test]
    fn two_writers_of_one_output_are_rejected() {
        let prep2 = PREP.replace("name: prep", "name: prep2");
        let e = build_yaml(&format!("pipeline: t\nstages:\n{PREP}{prep2}")).unwrap_err();
        assert!(e.message.contains("artifact `idx` is also written by stage `prep`"), "{e}");
    }

    #[test]
    fn params_are_typed_and_ranged() {
        let with = |p: &str| build_yaml(&format!("pipeline: t\nstages:\n{PREP}    params: {{ {p} }}\n"));
        assert!(with("k: 19").is_ok());
        assert!(with("k: 99").unwrap_err().message.contains("not an integer in 10..=28"));
        assert!(with("k: fast").unwrap_err().message.contains("not an integer"));
        assert!(with("q: 1").unwrap_err().message.contains("has no parameter `q`"));
    }

    #[test]
    fn file_params_resolve_against_the_yaml_and_carry_a_content_digest() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("conf")).unwrap();
        std::fs::write(d.path().join("conf/p.bed"), "c\t0\t10\t1\n").unwrap();
        let load = |file: PathBuf, shipped: bool, p: &str| {
            let text = format!("pipeline: t\nstages:\n{PREP}    params: {{ {p} }}\n");
            let source = SpecSource { file, text, shipped };
            let spec = parse(&source).unwrap();
            build(&source, &spec, &[&Prep, &Intake])
        };
        let yaml = d.path().join("conf/pipe.yaml");
        let p = load(yaml.clone(), false, "bed: p.bed").unwrap();
        let want = std::path::absolute(d.path().join("conf/p.bed")).unwrap();
        assert_eq!(p.stages[0].params.file("bed").unwrap(), Some(want.as_path()));
        let ParamValue::File { digest, .. } = &p.stages[0].params.0["bed"] else { panic!("not a file") };
        assert!(digest.starts_with("sha256:") && digest.len() == 7 + 64, "{digest}");
        // Absent: unset; an edited file: another digest; a missing file: the YAML line and key.
        let unset = load(yaml.clone(), false, "k: 21").unwrap();
        assert_eq!(unset.stages[0].params.file("bed").unwrap(), None);
        std::fs::write(d.path().join("conf/p.bed"), "c\t0\t10\t2\n").unwrap();
        let edited = load(yaml.clone(), false, "bed: p.bed").unwrap();
        assert_ne!(edited.stages[0].params, p.stages[0].params);
        let e = load(yaml.clone(), false, "bed: nope.bed").unwrap_err();
        assert!(e.message.contains("key `params.bed`: cannot read") && e.message.contains("nope.bed"), "{e}");
        assert_eq!(e.line, 7, "{e}");
        assert!(load(yaml, false, "bed: 3").unwrap_err().message.contains("not a file path"));
        // A shipped pipeline resolves against the working directory.
        let e = load(PathBuf::from("pipelines/t.yaml"), true, "bed: p.bed").unwrap_err();
        let cwd = std::env::current_dir().unwrap().join("p.bed");
        assert!(e.message.contains(&cwd.display().to_string()), "{e}");
    }

    #[test]
    fn kinds_and_scopes_are_checked() {
        let prep = PREP.replace("fasta: reference", "fasta: reads");
        let e = build_yaml(&format!("pipeline: t\nstages:\n{prep}")).unwrap_err();
        assert!(e.message.contains("is fastq_reads, but input `fasta` takes reference_fasta"), "{e}");
        let e = build_yaml("pipeline: t\nstages:\n  - name: x\n    stage: nope\n").unwrap_err();
        assert!(e.message.contains("unknown stage `nope`") && e.line == 4, "{e}");
    }
}
