//! Stage `prepare_reference`: the reference cache ([`crate::genome::cache`]) with minimap2's index
//! ([`Minimap2Index`]) behind the engine's stage contract. A
//! [`PrepareError`](crate::genome::cache::PrepareError) keeps its own class at the boundary (bad
//! FASTA → bad input, exit 2).

use crate::align::{IndexParams, Minimap2Index};
use crate::engine::stage::artifact::role;
use crate::engine::stage::{
    Artifact, ArtifactFile, ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage,
    StageContext, StageError, StageInfo, StageOutputs,
};
use crate::genome::cache::{PrepareOptions, prepare_reference};
use serde_json::json;

/// Stage kind `prepare_reference`.
pub struct PrepareReference;

/// The stage's parameters ([`PARAMS`] states their ranges and defaults).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepareReferenceParams {
    minimizer_k: u8,
    minimizer_w: u8,
}

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

    /// The index is minimap2's.
    fn tool_versions(&self) -> Vec<(&'static str, String)> {
        vec![("minimap2", crate::align::minimap2_version())]
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        let fasta = ctx.input("fasta")?.file(role::FASTA)?;
        let p: PrepareReferenceParams = ctx.params.typed()?;
        let index = Minimap2Index { params: IndexParams::new(p.minimizer_k.into(), p.minimizer_w.into())? };
        let opts = PrepareOptions { index: &index, threads: ctx.threads.max(1) };
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
            "index": prepared.index,
        });
        if let serde_json::Value::Object(map) = metrics {
            outputs.metrics = map;
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_deserialize() {
        let p: PrepareReferenceParams = Params::defaults(&PARAMS).typed().unwrap();
        assert_eq!((p.minimizer_k, p.minimizer_w), (21, 11));
    }
    use crate::engine::stage::{CancelFlag, Entity, FaultPlan, ParamValue, Params};
    use crate::outcome::Failure;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn run_stage(
        fasta: &Path,
        cache: &Path,
        params: &[(&str, i64)],
    ) -> Result<crate::engine::stage::StageOutputs, crate::engine::stage::StageError> {
        let input = Artifact {
            kind: ArtifactKind::ReferenceFasta,
            files: vec![ArtifactFile {
                role: "fasta".into(),
                path: fasta.to_path_buf(),
                digest: "stat:0:0".into(),
                size: 0,
            }],
        };
        let inputs = BTreeMap::from([("fasta".to_string(), input)]);
        let params = Params(params.iter().map(|(k, v)| (k.to_string(), ParamValue::Int(*v))).collect());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let (cancel, faults) = (CancelFlag::default(), FaultPlan::default());
        let ctx = StageContext {
            stage_name: "prepare_reference",
            entity: &Entity::Reference,
            inputs: &inputs,
            params: &params,
            output_dir: cache,
            work_dir: cache,
            tmp_dir: cache,
            reference_cache: Some(cache),
            threads: 2,
            memory_bytes: 1 << 30,
            pool: &pool,
            cancel: &cancel,
            faults: &faults,
            command: "dagr test",
            output_date_epoch: 0,
            cluster: None,
        };
        PrepareReference.run(&ctx)
    }

    #[test]
    fn stage_outputs_roles_and_metrics() {
        let tmp = tempfile::tempdir().unwrap();
        let (fasta, cache) = (tmp.path().join("ref.fa"), tmp.path().join("cache"));
        std::fs::write(&fasta, format!(">c1\n{}\n>c2\n{}\n", "ACGTTGCA".repeat(200), "GATTACAC".repeat(200))).unwrap();
        let out = run_stage(&fasta, &cache, &[("minimizer_k", 21), ("minimizer_w", 11)]).unwrap();
        let index = &out.artifacts["index"];
        assert_eq!(index.kind, ArtifactKind::ReferenceIndex);
        let roles: Vec<_> = index.files.iter().map(|f| f.role.as_str()).collect();
        assert_eq!(roles, ["fasta", "fai", "dict", "md5", "mmi", "info"]);
        assert!(index.files.iter().all(|f| f.digest.len() == 32));
        assert_eq!(out.metrics["contigs"], 2);
        assert_eq!(out.metrics["up_to_date"], false);
        let again = run_stage(&fasta, &cache, &[("minimizer_k", 21), ("minimizer_w", 11)]).unwrap();
        assert_eq!(again.metrics["up_to_date"], true);
        assert_eq!(again.artifacts["index"], *index);

        let bad = tmp.path().join("dup.fa");
        std::fs::write(&bad, ">c1\nACGT\n>c1\nACGT\n").unwrap();
        let e = run_stage(&bad, &cache, &[("minimizer_k", 21), ("minimizer_w", 11)]).unwrap_err();
        assert!(
            e.failure() == Failure::BadInput && e.to_string().contains("line 3: contig `c1` is a duplicate"),
            "{e}"
        );
    }
}
