//! The gather's files: shard results in reference order ([`interleave`]: reference blocks merged
//! again across shard edges, interleaved with variants by position) → VCF, gVCF, callable BED
//! and variant QC ([`VariantQc`]), each written atomically with its index and `.md5`.

use crate::call::germline::gather::{GvcfRecord, interleave};
use crate::call::germline::{GermlineConfig, ShardCalls, declared_filters, phase_shards};
use crate::engine::stage::artifact::role;
use crate::engine::stage::{Artifact, ArtifactFile, ArtifactKind, StageContext, StageError, StageOutputs};
use crate::genome::Contig;
use crate::genome::Reference;
use crate::genome::ploidy::Sex;
use crate::outcome::Failure;
use crate::output_file::{Sidecar, write_atomic};
use crate::qc::VariantQc;
use crate::samples::Sample;
use crate::vcf::writer::{CallableBedWriter, VcfHeaderSpec, VcfKind, VcfWriter};
use std::path::Path;

fn header(
    ctx: &StageContext<'_>,
    sample: &Sample,
    contigs: &[Contig],
    fasta: &Path,
    cfg: &GermlineConfig,
    kind: VcfKind,
) -> VcfHeaderSpec {
    VcfHeaderSpec {
        contigs: contigs.to_vec(),
        assembly: None,
        reference_path: std::fs::canonicalize(fasta).unwrap_or_else(|_| fasta.to_path_buf()),
        sample_names: vec![sample.name.clone()],
        source_version: crate::VERSION.to_string(),
        command_line: ctx.command.to_string(),
        filters: declared_filters(&cfg.filters),
        kind,
        extra_info: Vec::new(),
        extra_format: Vec::new(),
        file_date_epoch: ctx.output_date_epoch,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn write_outputs(
    ctx: &StageContext<'_>,
    sample: &Sample,
    contigs: &[Contig],
    fasta: &Path,
    reference: &Reference,
    cfg: &GermlineConfig,
    mut shards: Vec<ShardCalls>,
    sex: Sex,
    inferred: Option<Sex>,
) -> Result<StageOutputs, StageError> {
    let name = &sample.name;
    let dir = ctx.output_dir;
    let threads = ctx.threads;
    let mut vcf = VcfWriter::create(
        &dir.join(format!("{name}.vcf.gz")),
        &header(ctx, sample, contigs, fasta, cfg, VcfKind::Germline),
        threads,
    )?;
    let bands = cfg.gq_bands.clone();
    let gvcf_kind = VcfKind::Gvcf { bands: bands.clone() };
    let mut gvcf = VcfWriter::create(
        &dir.join(format!("{name}.g.vcf.gz")),
        &header(ctx, sample, contigs, fasta, cfg, gvcf_kind),
        threads,
    )?;
    let mut bed = CallableBedWriter::create(&dir.join(format!("{name}.callable.bed.gz")), contigs, threads)?;
    let mut qc = VariantQc::default();
    let (mut depth_sum, mut positions) = (0u64, 0u64);
    let mut variants = Vec::new();
    let mut blocks = Vec::new();
    phase_shards(&mut shards);
    for shard in shards {
        depth_sum += shard.depth_sum;
        positions += shard.positions;
        for &(tid, s, e) in &shard.callable {
            bed.push(tid, s, e)?;
        }
        variants.extend(shard.variants);
        blocks.extend(shard.blocks);
    }
    interleave(&variants, blocks, bands, |record| -> Result<(), StageError> {
        match record {
            GvcfRecord::Block(b) => {
                let contig = &contigs[b.tid as usize].name;
                // The prepared reference, read before by the callers: a failure is runtime.
                let base = reference.fetch(contig, b.start, b.start + 1).map_err(StageError::as_runtime)?;
                gvcf.write_block(&b, base.first().copied().unwrap_or(b'N'))?;
            }
            GvcfRecord::Variant(v) => {
                vcf.write_variant(v)?;
                gvcf.write_variant(v)?;
                qc.add(v);
            }
        }
        Ok(())
    })?;
    ctx.cancel.check()?;
    let vcf = vcf.finish()?;
    let gvcf = gvcf.finish()?;
    let bed = bed.finish()?;

    let mean_depth = if positions == 0 { 0.0 } else { depth_sum as f64 / positions as f64 };
    let report = serde_json::json!({
        "sample": name,
        "sex": { "used": sex.to_string(), "samplesheet": sample.sex.to_string(), "inferred": inferred.map(|s| s.to_string()) },
        "variants": qc.summary(),
        "callable_bases": bed.bases,
        "mean_filtered_depth": mean_depth,
    });
    let qc_path = dir.join(format!("{name}.variant_qc.json"));
    let mut bytes = serde_json::to_vec_pretty(&report).map_err(StageError::as_runtime)?;
    bytes.push(b'\n');
    let qc_file = write_atomic(&qc_path, &bytes, Sidecar::Md5)
        .map_err(|e| StageError::because(Failure::Runtime, qc_path.display().to_string(), e))?;

    let files = vec![
        ArtifactFile::from_written(role::VCF, &vcf.data),
        ArtifactFile::from_written(role::VCF_INDEX, &vcf.index),
        ArtifactFile::from_written(role::GVCF, &gvcf.data),
        ArtifactFile::from_written(role::GVCF_INDEX, &gvcf.index),
        ArtifactFile::from_written(role::CALLABLE_BED, &bed.data),
        ArtifactFile::from_written(role::QC_JSON, &qc_file),
    ];
    let mut outputs = StageOutputs::default();
    outputs.artifacts.insert("variants".into(), Artifact { kind: ArtifactKind::GermlineVariants, files });
    if let serde_json::Value::Object(mut m) = qc.summary() {
        m.insert("sex".into(), serde_json::json!(sex.to_string()));
        m.insert("callable_bases".into(), serde_json::json!(bed.bases));
        outputs.metrics = m;
    }
    Ok(outputs)
}
