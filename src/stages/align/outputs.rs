//! The align stage's QC files and its artifact: `<sample>.alignment_qc.json` (everything),
//! `<sample>.stats` (samtools-stats `SN` section, read by MultiQC's samtools module),
//! `<sample>.markdup_metrics.txt` (Picard MarkDuplicates format, read by MultiQC's Picard module),
//! `<sample>.alignment_mqc.json` (MultiQC custom content), each with an `.md5` sidecar.

use crate::align::AlignStats;
use crate::alignments::markdup::{DuplicateMarks, MarkdupOptions};
use crate::alignments::writer::WrittenAlignment;
use crate::engine::stage::artifact::role;
use crate::engine::stage::{Artifact, ArtifactFile, ArtifactKind, StageContext, StageError, StageOutputs};
use crate::output_file::{OutputFile, Sidecar, WrittenFile, write_atomic};
use crate::qc::alignment::AlignmentQcReport;
use crate::reads::FastqStats;
use crate::samples::Sample;
use std::io::Write;

fn io_error(path: &std::path::Path, e: std::io::Error) -> StageError {
    StageError::runtime(format!("{}: cannot write: {e}", path.display()))
}

/// What the align pass measured, for the QC files.
pub(super) struct Measured<'a> {
    pub qc: AlignmentQcReport,
    pub marks: &'a DuplicateMarks,
    pub fastq: &'a FastqStats,
    pub align: &'a AlignStats,
}

/// Writes the QC files and returns the stage's outputs and run-report metrics.
pub(super) fn write(
    ctx: &StageContext<'_>,
    sample: &Sample,
    alignment: WrittenAlignment,
    measured: Measured<'_>,
    markdup: &MarkdupOptions,
) -> Result<StageOutputs, StageError> {
    let Measured { mut qc, marks, fastq, align } = measured;
    let library_metrics = marks.metrics();
    qc.optical_duplicate_pairs = Some(library_metrics.iter().map(|m| m.read_pair_optical_duplicates).sum());
    let name = &sample.name;
    let dir = ctx.output_dir;

    let report = serde_json::json!({
        "sample": name,
        "fastq": fastq.summary(),
        "alignment": align,
        "duplicates": library_metrics,
        "qc": qc,
    });
    let qc_path = dir.join(format!("{name}.alignment_qc.json"));
    let mut json = serde_json::to_vec_pretty(&report).map_err(StageError::as_runtime)?;
    json.push(b'\n');
    let qc_json = write_atomic(&qc_path, &json, Sidecar::Md5).map_err(|e| io_error(&qc_path, e))?;

    let stats_path = dir.join(format!("{name}.stats"));
    let stats = write_with(&stats_path, |out| qc.write_samtools_stats(out))?;

    let dup_path = dir.join(format!("{name}.markdup_metrics.txt"));
    let bam_name = alignment.data.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dup_metrics = write_with(&dup_path, |out| marks.write_picard_metrics(out, &bam_name, markdup))?;

    let mqc_path = dir.join(format!("{name}.alignment_mqc.json"));
    let mut mqc = serde_json::to_vec_pretty(&qc.multiqc_custom_content(name)).map_err(StageError::as_runtime)?;
    mqc.push(b'\n');
    let multiqc = write_atomic(&mqc_path, &mqc, Sidecar::Md5).map_err(|e| io_error(&mqc_path, e))?;

    let role = if alignment.data.path.extension().is_some_and(|e| e == "cram") { role::CRAM } else { role::BAM };
    let files = vec![
        ArtifactFile::from_written(role, &alignment.data),
        ArtifactFile::from_written(role::INDEX, &alignment.index),
        ArtifactFile::from_written(role::QC_JSON, &qc_json),
        ArtifactFile::from_written(role::SAMTOOLS_STATS, &stats),
        ArtifactFile::from_written(role::MARKDUP_METRICS, &dup_metrics),
        ArtifactFile::from_written(role::MULTIQC, &multiqc),
    ];
    let mut outputs = StageOutputs::default();
    outputs.artifacts.insert("alignments".into(), Artifact { kind: ArtifactKind::Alignments, files });
    let fraction = |n: u64| if qc.total_reads == 0 { 0.0 } else { n as f64 / qc.total_reads as f64 };
    let metrics = serde_json::json!({
        "read_pairs": align.pairs,
        "records": alignment.records,
        "mapped_fraction": fraction(qc.mapped_reads),
        "properly_paired_fraction": fraction(qc.properly_paired_reads),
        "duplicate_fraction": fraction(qc.duplicate_reads),
        "optical_duplicate_pairs": qc.optical_duplicate_pairs,
        "insert_size_median": qc.insert_size.median,
        "mean_coverage": qc.coverage.mean_coverage,
        "pct_20x": qc.coverage.pct_20x,
    });
    if let serde_json::Value::Object(m) = metrics {
        outputs.metrics = m;
    }
    outputs.qc_passed_bases = Some(fastq.qc_passed_bases());
    Ok(outputs)
}

fn write_with(
    path: &std::path::Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<WrittenFile, StageError> {
    let mut out = OutputFile::create(path).map_err(|e| io_error(path, e))?;
    f(&mut out).map_err(|e| io_error(path, e))?;
    out.commit(Sidecar::Md5).map_err(|e| io_error(path, e))
}
