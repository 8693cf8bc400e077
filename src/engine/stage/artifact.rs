//! What flows between stages: typed [`Artifact`]s (a kind and its files, each with a role, a
//! path and a content digest), the slots a stage kind declares, and what a stage hands back.

use super::StageError;
use crate::output_file::WrittenFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The typed kinds of artifacts that flow between stages; a binding must connect equal kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// The reference FASTA given with `--reference` (external input `reference`).
    ReferenceFasta,
    /// The prepared reference: `.fai`, `.dict`, per-contig MD5 table, minimap2 `.mmi`.
    ReferenceIndex,
    /// A sample's paired FASTQ lanes from the samplesheet (external input `reads`).
    FastqReads,
    /// Read counts and quality metrics of a sample's FASTQ (JSON).
    FastqMetrics,
    /// A coordinate-sorted, duplicate-marked BAM or CRAM with its index and alignment QC files.
    Alignments,
    /// Germline calls: VCF + index, gVCF + index, callable-regions BED, variant QC.
    GermlineVariants,
    /// Somatic calls of a tumour/normal pair: VCF + index.
    SomaticVariants,
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string));
        f.write_str(s.as_deref().unwrap_or("?"))
    }
}

/// The file roles within artifacts: what [`Artifact::file`] looks up and what stages write. One
/// constant per role, so that a producer and its consumers cannot disagree on a spelling.
pub mod role {
    /// [`super::ArtifactKind::ReferenceFasta`], and the FASTA link of a
    /// [`super::ArtifactKind::ReferenceIndex`].
    pub const FASTA: &str = "fasta";
    /// [`super::ArtifactKind::ReferenceIndex`]: `.fai`, `.dict`, MD5 table, minimap2 index, `reference.json`.
    pub const FAI: &str = "fai";
    pub const DICT: &str = "dict";
    pub const MD5: &str = "md5";
    pub const MMI: &str = "mmi";
    pub const INFO: &str = "info";
    /// [`super::ArtifactKind::Alignments`]: the BAM or CRAM, its index, QC files.
    pub const BAM: &str = "bam";
    pub const CRAM: &str = "cram";
    pub const INDEX: &str = "index";
    pub const QC_JSON: &str = "qc_json";
    pub const SAMTOOLS_STATS: &str = "samtools_stats";
    pub const MARKDUP_METRICS: &str = "markdup_metrics";
    pub const MULTIQC: &str = "multiqc";
    /// [`super::ArtifactKind::GermlineVariants`] and [`super::ArtifactKind::SomaticVariants`].
    pub const VCF: &str = "vcf";
    pub const VCF_INDEX: &str = "vcf_index";
    pub const GVCF: &str = "gvcf";
    pub const GVCF_INDEX: &str = "gvcf_index";
    pub const CALLABLE_BED: &str = "callable_bed";
    /// [`super::ArtifactKind::FastqMetrics`].
    pub const JSON: &str = "json";
}

/// One input or output slot of a stage kind.
#[derive(Debug, Clone, Copy)]
pub struct SlotSpec {
    pub name: &'static str,
    pub kind: ArtifactKind,
    pub doc: &'static str,
}

/// One file of an artifact. `digest` is the content MD5 for files dagr wrote, or
/// `stat:<size>:<mtime_ns>` for external inputs that were not hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    pub role: String,
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
}

impl ArtifactFile {
    pub fn from_written(role: impl Into<String>, w: &WrittenFile) -> Self {
        Self { role: role.into(), path: w.path.clone(), digest: w.md5.clone(), size: w.size }
    }
}

/// A typed set of files produced by one stage output (or given as an external input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub files: Vec<ArtifactFile>,
}

impl Artifact {
    /// The file with this role, or an error naming what is missing.
    pub fn file(&self, role: &str) -> Result<&Path, StageError> {
        self.files
            .iter()
            .find(|f| f.role == role)
            .map(|f| f.path.as_path())
            .ok_or_else(|| StageError::runtime(format!("internal: {} artifact has no `{role}` file", self.kind)))
    }
}

/// What a finished stage hands back.
#[derive(Debug, Clone, Default)]
pub struct StageOutputs {
    /// Output slot name → artifact.
    pub artifacts: BTreeMap<String, Artifact>,
    /// Counts and metrics for the run report (stage-defined JSON object).
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Bases that passed QC, for measured genome equivalents (sample stages that read reads).
    pub qc_passed_bases: Option<u64>,
}
