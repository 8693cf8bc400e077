//! The engine's view of reference preparation: slots, parameters, resources; a
//! [`PrepareError`](super::PrepareError) keeps its own class at the boundary (bad FASTA → bad input, exit 2).

use super::{PrepareOptions, prepare_reference};
use crate::align::IndexParams;
use crate::engine::stage::{
    Artifact, ArtifactFile, ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage,
    StageContext, StageError, StageInfo, StageOutputs,
};
use serde_json::json;

/// Stage kind `prepare_reference`.
pub struct PrepareReference;

static INPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "fasta",
    kind: ArtifactKind::ReferenceFasta,
    doc: "the reference FASTA (plain text, one file; role `fasta`)",
}];

static OUTPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "index",
    kind: ArtifactKind::ReferenceIndex,
    doc: "the prepared reference: roles fasta (symlink), fai, dict, md5, mmi, info (reference.json)",
}];

static PARAMS: [ParamSpec; 2] = [
    ParamSpec {
        name: "minimizer_k",
        kind: ParamKind::Int { min: 10, max: 28 },
        default: ParamDefault::Int(21),
        doc: "minimap2 index k-mer size (sr preset: 21)",
    },
    ParamSpec {
        name: "minimizer_w",
        kind: ParamKind::Int { min: 1, max: 50 },
        default: ParamDefault::Int(11),
        doc: "minimap2 index minimizer window (sr preset: 11)",
    },
];

static INFO: StageInfo = StageInfo {
    kind: "prepare_reference",
    description: "Validate the reference FASTA; write .fai, .dict, per-contig MD5s and the minimap2 index into a digest-keyed cache",
    version: 1,
    scope: Scope::Reference,
    inputs: &INPUTS,
    outputs: &OUTPUTS,
    params: &PARAMS,
    resources: Resources { threads: 2, memory_bytes: 8 << 30, time_seconds: 2 * 3600 },
};

impl Stage for PrepareReference {
    fn info(&self) -> &'static StageInfo {
        &INFO
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        let fasta = ctx.input("fasta")?.file("fasta")?;
        let index = IndexParams::new(ctx.params.int("minimizer_k")?, ctx.params.int("minimizer_w")?)
            .map_err(|e| StageError::bad_input(e.to_string()))?;
        let opts = PrepareOptions { index, threads: ctx.threads.max(1) };
        ctx.fault_point("start")?;
        let prepared =
            ctx.pool.install(|| prepare_reference(fasta, ctx.reference_cache, &opts, ctx.cancel.as_atomic()))?;
        ctx.fault_point("prepared")?;
        let files = prepared
            .files
            .iter()
            .map(|f| ArtifactFile {
                role: f.role.to_string(),
                path: f.path.clone(),
                digest: f.md5.clone(),
                size: f.size,
            })
            .collect();
        let mut outputs = StageOutputs::default();
        outputs.artifacts.insert("index".into(), Artifact { kind: ArtifactKind::ReferenceIndex, files });
        let metrics = json!({
            "contigs": prepared.contigs.len(),
            "total_length": prepared.total_length,
            "digest": prepared.digest,
            "cache_dir": prepared.dir,
            "up_to_date": prepared.up_to_date(),
            "rebuilt": prepared.rebuilt,
            "index": prepared.index.tag(),
        });
        if let serde_json::Value::Object(map) = metrics {
            outputs.metrics = map;
        }
        Ok(outputs)
    }
}
