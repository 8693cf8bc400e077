//! Chained cache keys and stage manifests: what makes `--resume` reuse or rerun a stage.
//!
//! A stage instance's key is the SHA-256 of the canonical JSON of its [`KeyMaterial`]. Inputs
//! contribute the digests of the files they are made of: for files a stage wrote, the MD5
//! computed while writing (recorded in the producer's manifest), so keys chain down the DAG and
//! a descendant reruns exactly when something it reads changed; for external inputs, path, size
//! and modification time (the reference FASTA also its inode and change time, see
//! `plan::reference_file`). Execution-only settings (`--threads`, `--max-memory`, `--tmp-dir`,
//! `--resume`, `--dry-run`, log format) are not part of the material. The material itself is
//! kept in the manifest so that a rerun can say *why* (which parameter, which input, ...).
//! Cost: hashing a few KB of JSON per stage instance.

use super::stage::{Artifact, Params};
use crate::output_file::{Sidecar, write_atomic};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the manifest layout and of the key recipe; bump to invalidate every cache.
pub const MANIFEST_FORMAT: u32 = 1;

/// Everything that decides a stage instance's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyMaterial {
    /// [`MANIFEST_FORMAT`]: a new recipe never matches an old key.
    pub manifest_format: u32,
    /// The stage kind and its version: a new algorithm reruns.
    pub stage_kind: String,
    pub stage_version: u32,
    /// dagr's version and the bundled tools' versions (minimap2, htslib).
    pub dagr_version: String,
    pub tools: BTreeMap<String, String>,
    /// Canonical parameters, defaults filled in.
    pub params: Params,
    /// The entity (reference, sample metadata such as sex, lanes and libraries, or pair).
    pub entity: serde_json::Value,
    /// Input slot → the digests of its files (role → digest), in order.
    pub inputs: BTreeMap<String, Vec<(String, String)>>,
}

impl KeyMaterial {
    /// The cache key: SHA-256 of the canonical JSON (fields in declaration order, maps sorted).
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("key material is plain data and always serializes");
        hex::encode(Sha256::digest(&json))
    }

    /// Input digests of an artifact, for [`KeyMaterial::inputs`].
    pub fn digests(artifact: &Artifact) -> Vec<(String, String)> {
        artifact.files.iter().map(|f| (f.role.clone(), f.digest.clone())).collect()
    }

    /// Human reasons why `self` (new) differs from `old`.
    pub fn differences(&self, old: &KeyMaterial) -> Vec<String> {
        let mut why = Vec::new();
        if self.manifest_format != old.manifest_format {
            why.push(format!("cache format changed ({} → {})", old.manifest_format, self.manifest_format));
        }
        if self.stage_kind != old.stage_kind || self.stage_version != old.stage_version {
            why.push(format!(
                "stage version changed ({} v{} → {} v{})",
                old.stage_kind, old.stage_version, self.stage_kind, self.stage_version
            ));
        }
        if self.dagr_version != old.dagr_version {
            why.push(format!("dagr version changed ({} → {})", old.dagr_version, self.dagr_version));
        }
        if self.tools != old.tools {
            why.push("bundled tool versions changed".to_string());
        }
        for (name, value) in &self.params.0 {
            match old.params.0.get(name) {
                Some(v) if v == value => {}
                Some(v) => why.push(format!("parameter {name} changed ({v} → {value})")),
                None => why.push(format!("parameter {name} is new")),
            }
        }
        if self.entity != old.entity {
            why.push("sample metadata changed (samplesheet)".to_string());
        }
        for (slot, digests) in &self.inputs {
            if old.inputs.get(slot) != Some(digests) {
                why.push(format!("input {slot} changed"));
            }
        }
        if why.is_empty() {
            why.push("cache key changed".to_string());
        }
        why
    }
}

/// What a finished stage instance leaves in its work folder (`manifest.json`), written last.
///
/// Output paths inside the outdir are stored relative to it ([`Manifest::outdir_relative`]) and
/// resolved against the outdir of the run that reads the manifest: a moved or copied outdir, or
/// a run started from another folder, finds its own files (and a missing one reruns) rather than
/// the original outdir's. Paths outside the outdir (the reference cache) stay absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub key: String,
    pub material: KeyMaterial,
    pub stage: String,
    pub entity: String,
    pub outputs: BTreeMap<String, Artifact>,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    pub qc_passed_bases: Option<u64>,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    /// Relative output paths are relative to the outdir (manifests written before this field
    /// existed hold paths as the run was given them).
    #[serde(default)]
    pub outdir_relative: bool,
}

pub fn manifest_path(work_dir: &Path) -> PathBuf {
    work_dir.join("manifest.json")
}

/// Reads a manifest, its output paths resolved against `outdir`; a missing or unreadable one is
/// `None` (the stage simply reruns).
pub fn read_manifest(work_dir: &Path, outdir: &Path) -> Option<Manifest> {
    let text = std::fs::read(manifest_path(work_dir)).ok()?;
    let mut manifest: Manifest = serde_json::from_slice(&text).ok()?;
    if manifest.outdir_relative {
        for file in manifest.outputs.values_mut().flat_map(|a| a.files.iter_mut()) {
            if file.path.is_relative() {
                file.path = outdir.join(&file.path);
            }
        }
    }
    Some(manifest)
}

/// Writes a manifest with the output paths under `outdir` made relative to it.
pub fn write_manifest(work_dir: &Path, outdir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let mut manifest = manifest.clone();
    for file in manifest.outputs.values_mut().flat_map(|a| a.files.iter_mut()) {
        if let Ok(inside) = file.path.strip_prefix(outdir) {
            file.path = inside.to_path_buf();
        }
    }
    manifest.outdir_relative = true;
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    write_atomic(&manifest_path(work_dir), &json, Sidecar::None)?;
    Ok(())
}

/// Removes the manifest before a stage reruns, so that a crash mid-run never leaves a stale one.
pub fn remove_manifest(work_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(manifest_path(work_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The resume decision for one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Outputs from a previous run match; reuse them.
    Reuse,
    /// Run, with the reasons.
    Run(Vec<String>),
}

/// Decides whether a previous run's manifest can be reused for `material`.
pub fn decide(material: &KeyMaterial, previous: Option<&Manifest>) -> Decision {
    let Some(old) = previous else {
        return Decision::Run(vec!["no finished previous run".into()]);
    };
    if old.key != material.key() {
        return Decision::Run(material.differences(&old.material));
    }
    for artifact in old.outputs.values() {
        for f in &artifact.files {
            match std::fs::metadata(&f.path) {
                Err(_) => return Decision::Run(vec![format!("output {} is missing", f.path.display())]),
                Ok(m) if m.len() != f.size => {
                    return Decision::Run(vec![format!(
                        "output {} changed size since it was written",
                        f.path.display()
                    )]);
                }
                Ok(_) => {}
            }
        }
    }
    Decision::Reuse
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stage::ParamValue;

    fn material() -> KeyMaterial {
        let mut params = BTreeMap::new();
        params.insert("k".to_string(), ParamValue::Int(21));
        let mut inputs = BTreeMap::new();
        inputs.insert("fasta".to_string(), vec![("fasta".to_string(), "stat:10:5".to_string())]);
        KeyMaterial {
            manifest_format: MANIFEST_FORMAT,
            stage_kind: "x".into(),
            stage_version: 1,
            dagr_version: "0.1.0".into(),
            tools: BTreeMap::new(),
            params: Params(params),
            entity: serde_json::json!("reference"),
            inputs,
        }
    }

    #[test]
    fn key_is_stable_and_sensitive_to_params() {
        let a = material();
        assert_eq!(a.key(), material().key());
        let mut b = material();
        b.params.0.insert("k".into(), ParamValue::Int(19));
        assert_ne!(a.key(), b.key());
        assert_eq!(b.differences(&a), vec!["parameter k changed (21 → 19)".to_string()]);
    }

    #[test]
    fn missing_manifest_or_output_reruns() {
        let m = material();
        assert!(matches!(decide(&m, None), Decision::Run(_)));
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "o".to_string(),
            Artifact {
                kind: crate::engine::stage::ArtifactKind::FastqMetrics,
                files: vec![crate::engine::stage::ArtifactFile {
                    role: "json".into(),
                    path: "/nonexistent/x.json".into(),
                    digest: "d".into(),
                    size: 1,
                }],
            },
        );
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            key: m.key(),
            material: m.clone(),
            stage: "x".into(),
            entity: "reference".into(),
            outputs,
            metrics: Default::default(),
            qc_passed_bases: None,
            wall_seconds: 0.0,
            cpu_seconds: 0.0,
            outdir_relative: false,
        };
        match decide(&m, Some(&manifest)) {
            Decision::Run(why) => assert!(why[0].contains("is missing"), "{why:?}"),
            Decision::Reuse => panic!("must rerun when an output is missing"),
        }
    }

    #[test]
    fn manifest_paths_follow_a_moved_or_copied_outdir() {
        let d = tempfile::tempdir().unwrap();
        let (first, moved) = (d.path().join("out"), d.path().join("copy"));
        let work = first.join("S").join("work").join("x");
        std::fs::create_dir_all(&work).unwrap();
        let file = crate::engine::stage::ArtifactFile {
            role: "json".into(),
            path: first.join("S/S.json"),
            digest: "d".into(),
            size: 1,
        };
        let outside = crate::engine::stage::ArtifactFile { path: "/refs/ref.fa".into(), ..file.clone() };
        let artifact = Artifact { kind: crate::engine::stage::ArtifactKind::FastqMetrics, files: vec![file, outside] };
        let m = material();
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            key: m.key(),
            material: m,
            stage: "x".into(),
            entity: "S".into(),
            outputs: BTreeMap::from([("o".to_string(), artifact)]),
            metrics: Default::default(),
            qc_passed_bases: None,
            wall_seconds: 0.0,
            cpu_seconds: 0.0,
            outdir_relative: true,
        };
        write_manifest(&work, &first, &manifest).unwrap();
        let text = std::fs::read_to_string(manifest_path(&work)).unwrap();
        assert!(text.contains("\"S/S.json\""), "stored relative to the outdir: {text}");
        // Read back from a copy of the outdir: paths point into the copy; outside paths stay.
        let read = read_manifest(&work, &moved).unwrap();
        let paths: Vec<_> = read.outputs["o"].files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, [moved.join("S/S.json"), PathBuf::from("/refs/ref.fa")]);
    }
}
