//! Stage parameters as the engine validates them ([`ParamSpec`]: type, range, default, stated
//! once per stage kind) and as a stage reads them back: [`Params::typed`] turns an instance's
//! validated parameters into the stage's own `#[derive(Deserialize)]` struct in one step, so a
//! stage never reads a parameter by name or restates a default. Also the resources a stage asks
//! for.

use super::StageError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The type and range of a parameter. `File` is an optional file (e.g. a BED): a relative path
/// resolves against the pipeline YAML's folder (the working directory for a shipped pipeline);
/// the file is read when the pipeline is validated, and its content digest, not only its path,
/// enters the cache key, so an edited file reruns the stage.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    Choice(&'static [&'static str]),
    File,
    /// A non-empty list of integers, each in range (a stage checks more in `check_params`).
    IntList {
        min: i64,
        max: i64,
    },
}

/// A parameter's default, in a form that can live in a `static`.
#[derive(Debug, Clone, Copy)]
pub enum ParamDefault {
    Int(i64),
    Float(f64),
    Bool(bool),
    Choice(&'static str),
    IntList(&'static [i64]),
    /// No value (an optional file not given).
    Unset,
}

/// One parameter of a stage kind.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: ParamDefault,
    pub doc: &'static str,
}

/// A validated parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    IntList(Vec<i64>),
    /// A file parameter: the absolute path and `sha256:<hex>` of its content when validated.
    File {
        path: PathBuf,
        digest: String,
    },
    /// An optional parameter that is not set (`null` in manifests).
    Unset,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => f.write_str(s),
            ParamValue::IntList(v) => f.write_str(&v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
            ParamValue::File { path, digest } => {
                let short = digest.get(..digest.find(':').map_or(0, |i| i + 1) + 12).unwrap_or(digest);
                write!(f, "{} ({short})", path.display())
            }
            ParamValue::Unset => f.write_str("none"),
        }
    }
}

impl From<ParamDefault> for ParamValue {
    fn from(d: ParamDefault) -> Self {
        match d {
            ParamDefault::Int(i) => ParamValue::Int(i),
            ParamDefault::Float(x) => ParamValue::Float(x),
            ParamDefault::Bool(b) => ParamValue::Bool(b),
            ParamDefault::Choice(s) => ParamValue::Text(s.to_string()),
            ParamDefault::IntList(v) => ParamValue::IntList(v.to_vec()),
            ParamDefault::Unset => ParamValue::Unset,
        }
    }
}

/// All parameters of a stage instance, defaults filled in, in canonical (sorted) order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(pub BTreeMap<String, ParamValue>);

impl Params {
    /// The defaults of `specs`, as the engine fills them in: what a stage's typed parameters
    /// look like when the YAML sets none (each stage's unit tests deserialize them).
    pub fn defaults(specs: &[ParamSpec]) -> Params {
        Params(specs.iter().map(|p| (p.name.to_string(), ParamValue::from(p.default))).collect())
    }

    /// The parameters as the stage's own struct `T` (field names = parameter names; a file
    /// parameter is an `Option<PathBuf>`, a choice an enum or a `String`). The engine validated
    /// types and ranges already, so a mismatch is a bug in the stage's declaration.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, StageError> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(name, value)| {
                let json = match value {
                    ParamValue::Bool(b) => serde_json::Value::from(*b),
                    ParamValue::Int(i) => serde_json::Value::from(*i),
                    ParamValue::Float(x) => serde_json::Value::from(*x),
                    ParamValue::Text(t) => serde_json::Value::from(t.as_str()),
                    ParamValue::IntList(v) => serde_json::Value::from(v.clone()),
                    ParamValue::File { path, .. } => serde_json::Value::from(path.to_string_lossy().into_owned()),
                    ParamValue::Unset => serde_json::Value::Null,
                };
                (name.clone(), json)
            })
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            StageError::runtime(format!("internal: the parameters do not match the stage's declaration: {e}"))
        })
    }

    fn get(&self, name: &str) -> Result<&ParamValue, StageError> {
        self.0
            .get(name)
            .ok_or_else(|| StageError::runtime(format!("internal: parameter `{name}` missing after validation")))
    }
    pub fn int(&self, name: &str) -> Result<i64, StageError> {
        match self.get(name)? {
            ParamValue::Int(i) => Ok(*i),
            other => Err(StageError::runtime(format!("internal: parameter `{name}` is {other:?}, not an integer"))),
        }
    }
    pub fn float(&self, name: &str) -> Result<f64, StageError> {
        match self.get(name)? {
            ParamValue::Float(x) => Ok(*x),
            ParamValue::Int(i) => Ok(*i as f64),
            other => Err(StageError::runtime(format!("internal: parameter `{name}` is {other:?}, not a number"))),
        }
    }
    pub fn bool(&self, name: &str) -> Result<bool, StageError> {
        match self.get(name)? {
            ParamValue::Bool(b) => Ok(*b),
            other => Err(StageError::runtime(format!("internal: parameter `{name}` is {other:?}, not a boolean"))),
        }
    }
    pub fn text(&self, name: &str) -> Result<&str, StageError> {
        match self.get(name)? {
            ParamValue::Text(s) => Ok(s),
            other => Err(StageError::runtime(format!("internal: parameter `{name}` is {other:?}, not text"))),
        }
    }
    /// A file parameter: its absolute path, or `None` when not set.
    pub fn file(&self, name: &str) -> Result<Option<&Path>, StageError> {
        match self.get(name)? {
            ParamValue::File { path, .. } => Ok(Some(path)),
            ParamValue::Unset => Ok(None),
            other => Err(StageError::runtime(format!("internal: parameter `{name}` is {other:?}, not a file"))),
        }
    }
}

/// What a stage asks for: also what the Slurm renderer writes into `#SBATCH` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub threads: usize,
    pub memory_bytes: u64,
    pub time_seconds: u64,
}
