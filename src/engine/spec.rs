//! Pipeline YAML → [`PipelineSpec`]: the shape of the file, nothing more.
//!
//! Unknown keys are rejected by serde; every value that a later check may complain about keeps
//! its source line ([`serde_saphyr::Spanned`]), so that [`super::pipeline`] can name the file,
//! line and key. Shipped pipelines (`pipelines/*.yaml`) are compiled into the binary and
//! resolved by name.
//!
//! ```yaml
//! pipeline: qc
//! description: Reference preparation and FASTQ validation.
//! stages:
//!   - name: prepare_reference        # unique within the pipeline
//!     stage: prepare_reference       # the stage kind (see `dagr validate --list-stages`)
//!     inputs: { fasta: reference }   # input slot: artifact (external `reference`, `reads`, or another stage's output)
//!     outputs: { index: reference_index }
//!     params: { minimizer_k: 21 }
//!     resources: { threads: 2, memory: 8G, time: 2h }
//!   - name: fastq_intake
//!     stage: fastq_intake
//!     samples: all                   # sample stages: all | normal | tumour
//!     inputs: { reads: reads, reference: reference_index }
//!     outputs: { metrics: fastq_metrics }
//! ```

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Pipelines shipped with dagr, by name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("qc", include_str!("../../pipelines/qc.yaml")),
    ("align", include_str!("../../pipelines/align.yaml")),
    ("germline", include_str!("../../pipelines/germline.yaml")),
    ("somatic", include_str!("../../pipelines/somatic.yaml")),
];

/// A spec-level error: the file, the 1-based line (0 if unknown) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

impl crate::outcome::Classify for SpecError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::BadInput
    }
}

/// Which samples a sample-scoped stage runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleFilter {
    All,
    Normal,
    Tumour,
}

/// A parameter value as written in YAML; typed against the stage's declaration later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawParam {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A list of integers: the value of a list parameter (`gq_bands: [0, 10, 20]`), refused like
    /// any other list for the other kinds.
    IntList(Vec<i64>),
    /// A list or a map: never a parameter value, refused with the key's name when the stage's
    /// parameters are checked (rather than as a failed parse of an internal type).
    Composite(serde::de::IgnoredAny),
}

impl fmt::Display for RawParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawParam::Bool(b) => write!(f, "{b}"),
            RawParam::Int(i) => write!(f, "{i}"),
            RawParam::Float(x) => write!(f, "{x}"),
            RawParam::Text(s) => write!(f, "{s:?}"),
            RawParam::IntList(v) => write!(f, "{v:?}"),
            RawParam::Composite(_) => f.write_str("a list or map"),
        }
    }
}

/// A count as written in YAML (`resources.threads`): any number, checked against its range with
/// the key's name rather than refused by the parser as "invalid u64".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawCount {
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for RawCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawCount::Int(i) => write!(f, "{i}"),
            RawCount::Float(x) => write!(f, "{x}"),
            RawCount::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A size (`512M`, `8G`) or plain number of bytes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    /// Anything else: a size with a unit, or a number no size can be (negative, fractional).
    Text(String),
    Number(f64),
}

/// Resource overrides of one stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    pub threads: Option<Spanned<RawCount>>,
    pub memory: Option<Spanned<RawSize>>,
    pub time: Option<Spanned<String>>,
}

/// One stage entry of a pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub name: Spanned<String>,
    pub stage: Spanned<String>,
    pub samples: Option<Spanned<SampleFilter>>,
    #[serde(default)]
    pub inputs: HashMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub outputs: HashMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub params: HashMap<Spanned<String>, Spanned<RawParam>>,
    pub resources: Option<ResourcesSpec>,
}

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub pipeline: Spanned<String>,
    pub description: Option<String>,
    pub stages: Vec<Spanned<StageSpec>>,
}

/// Where a pipeline came from, for messages and provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSource {
    /// The file path, or `pipelines/<name>.yaml (shipped)`.
    pub file: PathBuf,
    pub text: String,
    /// Shipped with dagr (then relative paths in parameters resolve against the working directory,
    /// not against `file`'s folder).
    pub shipped: bool,
}

impl SpecSource {
    /// The folder relative file parameters resolve against: the YAML's folder, or the working
    /// directory for a shipped pipeline.
    pub fn base_dir(&self) -> PathBuf {
        match self.file.parent() {
            Some(dir) if !self.shipped => dir.to_path_buf(),
            _ => PathBuf::new(),
        }
    }
}

/// Resolves PIPELINE: an existing path is read; otherwise a shipped name (`qc`, ...).
pub fn resolve(pipeline: &str) -> Result<SpecSource, SpecError> {
    let path = Path::new(pipeline);
    let looks_like_path = pipeline.contains('/') || pipeline.ends_with(".yaml") || pipeline.ends_with(".yml");
    if path.is_file() || looks_like_path {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read the pipeline file: {e}"),
        })?;
        return Ok(SpecSource { file: path.to_path_buf(), text, shipped: false });
    }
    match SHIPPED.iter().find(|(name, _)| *name == pipeline) {
        Some((name, text)) => Ok(SpecSource {
            file: PathBuf::from(format!("pipelines/{name}.yaml")),
            text: text.to_string(),
            shipped: true,
        }),
        None => Err(SpecError {
            file: path.to_path_buf(),
            line: 0,
            message: format!(
                "unknown pipeline `{pipeline}`: not a file, and not a shipped pipeline ({})",
                SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// Parses a pipeline's YAML text.
pub fn parse(source: &SpecSource) -> Result<PipelineSpec, SpecError> {
    serde_saphyr::from_str::<PipelineSpec>(&source.text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(0);
        let rendered = e.without_snippet().to_string();
        // The library appends "at line X column Y"; we report the line ourselves.
        let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
        let message = match first.rfind(" at line ") {
            Some(i) if line > 0 => first[..i].to_string(),
            _ => first.to_string(),
        };
        SpecError { file: source.file.clone(), line, message }
    })
}

/// The line of a spanned value.
pub fn line_of<T>(s: &Spanned<T>) -> u64 {
    s.referenced.line()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> SpecSource {
        SpecSource { file: PathBuf::from("p.yaml"), text: text.to_string(), shipped: false }
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = parse(&src("pipeline: x\nstages:\n  - name: a\n    stage: b\n    colour: red\n")).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("p.yaml:5:"), "{e}");
    }

    #[test]
    fn spans_are_kept() {
        let s = parse(&src(
            "pipeline: x\nstages:\n  - name: a\n    stage: b\n    params: { k: 3, f: 0.5, on: true, m: fast }\n",
        ))
        .unwrap();
        let st = &s.stages[0].value;
        assert_eq!(line_of(&st.stage), 4);
        let mut params: Vec<_> = st.params.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(params[0], ("f".into(), RawParam::Float(0.5)));
        assert_eq!(params[1], ("k".into(), RawParam::Int(3)));
        assert_eq!(params[2], ("m".into(), RawParam::Text("fast".into())));
        assert_eq!(params[3], ("on".into(), RawParam::Bool(true)));
    }

    #[test]
    fn unknown_pipeline_name_lists_shipped_ones() {
        let e = resolve("nonesuch").unwrap_err();
        assert!(e.message.contains("unknown pipeline `nonesuch`") && e.message.contains("qc"), "{e}");
    }
}
