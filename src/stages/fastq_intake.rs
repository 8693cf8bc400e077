//! Stage `fastq_intake`: validates a sample's FASTQ lanes and measures them.
//!
//! Lanes are scanned one after another with [`reads::scan_lane`] (each lane's R1 and R2 inflated,
//! parsed and validated in parallel, statistics gathered in the same pass), then merged into
//! sample totals. The reference length (sum of the `.fai` contig lengths of the prepared
//! reference) turns bases into an estimated depth. Output: `<sample>.fastq_metrics.json` with
//! per-lane and total statistics, written atomically with an `.md5` sidecar. Cost: one pass over
//! the decompressed reads, bound by gzip inflation (faster than `zcat` of the same files).

use crate::engine::stage::artifact::role;
use crate::engine::stage::{
    Artifact, ArtifactFile, ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage,
    StageContext, StageError, StageInfo, StageOutputs,
};
use crate::genome::fai::read_fai;
use crate::output_file::{OutputFile, Sidecar};
use crate::reads::{self, FastqStats, FastqSummary, ScanOptions};
use crate::stages::pair_progress::PairProgress;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Stage kind `fastq_intake`.
pub struct FastqIntake;

static INPUTS: [SlotSpec; 2] = [
    SlotSpec { name: "reads", kind: ArtifactKind::FastqReads, doc: "the sample's paired FASTQ lanes (samplesheet)" },
    SlotSpec {
        name: "reference",
        kind: ArtifactKind::ReferenceIndex,
        doc: "the prepared reference; its `fai` gives the genome length for the estimated depth",
    },
];

static OUTPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "metrics",
    kind: ArtifactKind::FastqMetrics,
    doc: "<sample>.fastq_metrics.json: per-lane and total read statistics (role `json`)",
}];

static PARAMS: [ParamSpec; 1] = [ParamSpec {
    name: "min_base_quality",
    kind: ParamKind::Int { min: 0, max: 93 },
    default: ParamDefault::Int(reads::DEFAULT_MIN_BASE_QUALITY as i64),
    doc: "bases with at least this Phred quality count as QC-passed (measured genome equivalents)",
}];

/// One lane in the metrics file.
#[derive(Serialize)]
struct LaneMetrics {
    lane: String,
    library: String,
    fastq_1: String,
    fastq_2: String,
    #[serde(flatten)]
    stats: FastqSummary,
    estimated_depth: f64,
}

/// The sample totals in the metrics file.
#[derive(Serialize)]
struct TotalMetrics {
    lanes: usize,
    #[serde(flatten)]
    stats: FastqSummary,
    estimated_depth: f64,
}

/// `<sample>.fastq_metrics.json`.
#[derive(Serialize)]
struct MetricsFile {
    sample: String,
    min_base_quality: u8,
    reference_length: u64,
    lanes: Vec<LaneMetrics>,
    total: TotalMetrics,
}

static INFO: StageInfo = StageInfo {
    kind: "fastq_intake",
    description: "Validate a sample's paired FASTQ lanes (gzip/BGZF/plain) and report read counts, qualities, GC and depth",
    version: 1,
    scope: Scope::Sample,
    inputs: &INPUTS,
    outputs: &OUTPUTS,
    params: &PARAMS,
    resources: Resources { threads: 2, memory_bytes: 512 << 20, time_seconds: 4 * 3600 },
};

/// The stage's parameters ([`PARAMS`] states their ranges and defaults).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IntakeParams {
    min_base_quality: u8,
}

impl Stage for FastqIntake {
    fn info(&self) -> &'static StageInfo {
        &INFO
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        let sample = ctx.sample()?;
        tracing::info!("validating {} lane(s)", sample.lanes.len());
        ctx.input("reads")?;
        let IntakeParams { min_base_quality } = ctx.params.typed()?;
        let reference_length = reference_length(ctx.input("reference")?.file(role::FAI)?)?;
        let options = ScanOptions { min_base_quality };

        let mut lanes = Vec::with_capacity(sample.lanes.len());
        let mut total = FastqStats::new(min_base_quality);
        let mut progress = PairProgress::start(ctx, sample, true);
        for lane in &sample.lanes {
            let stats = scan_with_progress(&lane.fastq_1, &lane.fastq_2, &options, ctx, &mut progress)?;
            total.merge(&stats);
            lanes.push(LaneMetrics {
                lane: lane.lane.clone(),
                library: lane.library.clone(),
                fastq_1: file_name(&lane.fastq_1),
                fastq_2: file_name(&lane.fastq_2),
                estimated_depth: depth(stats.bases, reference_length),
                stats: stats.summary(),
            });
            ctx.fault_point("after_lane")?;
        }
        progress.finish();

        let summary = total.summary();
        let estimated_depth = depth(total.bases, reference_length);
        let metrics = serde_json::json!({
            "lanes": lanes.len(),
            "pairs": summary.pairs,
            "bases": summary.bases,
            "qc_passed_bases": summary.qc_passed_bases,
            "mean_base_quality": summary.mean_base_quality,
            "q30_fraction": summary.q30_fraction,
            "gc_fraction": summary.gc_fraction,
            "estimated_depth": estimated_depth,
        });
        let file = MetricsFile {
            sample: sample.name.clone(),
            min_base_quality,
            reference_length,
            total: TotalMetrics { lanes: lanes.len(), stats: summary, estimated_depth },
            lanes,
        };
        let path = ctx.output_dir.join(format!("{}.fastq_metrics.json", sample.name));
        let written = write_metrics(ctx, &path, &file)?;

        let mut outputs = StageOutputs { qc_passed_bases: Some(total.qc_passed_bases()), ..Default::default() };
        let artifact = Artifact {
            kind: ArtifactKind::FastqMetrics,
            files: vec![ArtifactFile::from_written(role::JSON, &written)],
        };
        outputs.artifacts.insert("metrics".into(), artifact);
        if let serde_json::Value::Object(map) = metrics {
            outputs.metrics = map;
        }
        Ok(outputs)
    }
}

/// Writes the JSON atomically: half, a fault point (tests kill the run there), the rest, commit.
fn write_metrics(
    ctx: &StageContext<'_>,
    path: &Path,
    file: &MetricsFile,
) -> Result<crate::output_file::WrittenFile, StageError> {
    let mut bytes = serde_json::to_vec_pretty(file)
        .map_err(|e| StageError::runtime(format!("cannot serialise FASTQ metrics: {e}")))?;
    bytes.push(b'\n');
    let io_err =
        |e: std::io::Error| StageError::runtime(format!("{}: cannot write FASTQ metrics: {e}", path.display()));
    std::fs::create_dir_all(ctx.output_dir).map_err(io_err)?;
    let mut out = OutputFile::create(path).map_err(io_err)?;
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    out.write_all(head).map_err(io_err)?;
    ctx.fault_point("mid_output")?;
    out.write_all(tail).map_err(io_err)?;
    out.commit(Sidecar::Md5).map_err(io_err)
}

/// Scans one lane, counting its pairs into `progress`.
fn scan_with_progress(
    r1: &std::path::Path,
    r2: &std::path::Path,
    options: &ScanOptions,
    ctx: &StageContext<'_>,
    progress: &mut PairProgress,
) -> Result<FastqStats, StageError> {
    let mut reader = reads::PairedFastqReader::open_with(r1, r2, options, ctx.cancel.as_atomic())?;
    while let Some(batch) = reader.next_batch()? {
        drop(batch);
        progress.update(&reader);
    }
    progress.lane_done(&reader);
    Ok(reader.into_stats()?)
}

/// Sum of the contig lengths in a `.fai`.
fn reference_length(fai: &Path) -> Result<u64, StageError> {
    let records = read_fai(fai)?;
    Ok(records.iter().map(|r| r.length).sum())
}

/// Bases per reference base, rounded to 1e-6; 0 for an empty reference.
fn depth(bases: u64, reference_length: u64) -> f64 {
    if reference_length == 0 { 0.0 } else { (bases as f64 / reference_length as f64 * 1e6).round() / 1e6 }
}

/// The file name alone, so that metrics do not depend on where the inputs live.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_deserialize() {
        let p: IntakeParams = Params::defaults(&PARAMS).typed().unwrap();
        assert_eq!(p.min_base_quality, 20);
    }
    use crate::engine::stage::{CancelFlag, Entity, FaultPlan, ParamValue, Params};
    use crate::genome::ploidy::Sex;
    use crate::outcome::Failure;
    use crate::samples::{Lane, Sample, TissueStatus};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// A sample with one plain-text lane of two pairs (R2 `r2` text) and a 100 bp reference.
    fn setup(r2: &str) -> (tempfile::TempDir, Entity) {
        let dir = tempfile::tempdir().unwrap();
        let r1 = "@p1/1\nACGT\n+\nIII#\n@p2/1\nGGCC\n+\nIIII\n";
        std::fs::write(dir.path().join("S_R1.fq"), r1).unwrap();
        std::fs::write(dir.path().join("S_R2.fq"), r2).unwrap();
        std::fs::write(dir.path().join("ref.fa.fai"), "chr1\t60\t6\t60\t61\nchr2\t40\t74\t40\t41\n").unwrap();
        let lane = Lane {
            lane: "L1".into(),
            fastq_1: dir.path().join("S_R1.fq"),
            fastq_2: dir.path().join("S_R2.fq"),
            library: "lib".into(),
            line: 2,
        };
        let sample = Sample {
            name: "S".into(),
            patient: "P".into(),
            sex: Sex::XX,
            status: TissueStatus::Normal,
            lanes: vec![lane],
        };
        (dir, Entity::Sample(Arc::new(sample)))
    }

    fn run(dir: &Path, entity: &Entity, faults: &str) -> Result<StageOutputs, StageError> {
        let fai = ArtifactFile { role: "fai".into(), path: dir.join("ref.fa.fai"), digest: String::new(), size: 0 };
        let mut inputs = BTreeMap::new();
        inputs.insert("reads".to_string(), Artifact { kind: ArtifactKind::FastqReads, files: vec![] });
        inputs.insert("reference".to_string(), Artifact { kind: ArtifactKind::ReferenceIndex, files: vec![fai] });
        let params = Params(BTreeMap::from([("min_base_quality".to_string(), ParamValue::Int(20))]));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let out_dir = dir.join("out");
        let ctx = StageContext {
            stage_name: "intake",
            entity,
            inputs: &inputs,
            params: &params,
            output_dir: &out_dir,
            work_dir: &out_dir,
            tmp_dir: dir,
            reference_cache: None,
            threads: 2,
            memory_bytes: 1 << 30,
            pool: &pool,
            cancel: &CancelFlag::default(),
            faults: &FaultPlan::parse(faults).unwrap(),
            command: "dagr test",
            output_date_epoch: 0,
            cluster: None,
        };
        FastqIntake.run(&ctx)
    }

    const GOOD_R2: &str = "@p1/2\nNACG\n+\n#III\n@p2/2\nTTAA\n+\n5555\n";

    #[test]
    fn writes_metrics_json_with_sidecar_and_reports_totals() {
        let (dir, entity) = setup(GOOD_R2);
        let out = run(dir.path(), &entity, "").unwrap();
        assert_eq!(out.qc_passed_bases, Some(14));
        assert_eq!(out.metrics["pairs"], 2);
        assert_eq!(out.metrics["estimated_depth"], 0.16);
        let path = dir.path().join("out/S.fastq_metrics.json");
        assert_eq!(out.artifacts["metrics"].files[0].path, path);
        assert!(dir.path().join("out/S.fastq_metrics.json.md5").exists());
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["reference_length"], 100);
        assert_eq!(json["lanes"][0]["fastq_2"], "S_R2.fq");
        assert_eq!(json["total"]["reads"], 4);
        assert_eq!(json["total"]["gc_fraction"], 0.533333);
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["sample", "min_base_quality", "reference_length", "lanes", "total"]);
    }

    #[test]
    fn bad_fastq_is_bad_input_naming_the_file() {
        let (dir, entity) = setup("@p1/2\nNACG\n+\n#III\n");
        match run(dir.path(), &entity, "") {
            Err(e) if e.failure() == Failure::BadInput => {
                assert!(e.to_string().starts_with("R1 has more reads than R2"), "{e}")
            }
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn a_fault_mid_output_leaves_no_final_file() {
        let (dir, entity) = setup(GOOD_R2);
        assert!(
            matches!(run(dir.path(), &entity, "intake:mid_output:fail"), Err(e) if e.failure() == Failure::Runtime)
        );
        assert_eq!(std::fs::read_dir(dir.path().join("out")).unwrap().count(), 0);
        assert!(run(dir.path(), &entity, "intake:after_lane:fail").is_err());
    }
}
