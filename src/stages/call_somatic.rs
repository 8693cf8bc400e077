//! Stage `call_somatic` (scope pair): the tumour's and the normal's duplicate-marked BAM/CRAM →
//! `<tumour>_vs_<normal>.somatic.vcf.gz` (+ `.tbi`) with `.md5` sidecars.
//!
//! The genome is cut into the same fixed, padded shards as for germline calling; shards are
//! called in parallel on the stage's rayon pool (one pair of indexed readers per thread) by
//! [`crate::call::somatic::call_shard_somatic`] and written in reference order. The VCF has
//! the tumour then the normal sample column, `##tumor_sample`, `##normal_sample`, `##SAMPLE` and
//! `##PEDIGREE=<Derived=tumour,Original=normal>` lines, INFO TLOD/NLOD and FORMAT
//! GT:AD:AF:DP:F1R2:F2R1; the model and filters are in [`crate::call::somatic`].
//!
//! Optional resources, as Mutect2 users know them (none by default): `panel_of_normals` and
//! `germline_resource` with `max_population_af` (default 0.01), applied by
//! [`crate::call::somatic::filters`].
//!
//! Identity check ([`crate::call::somatic::identity`]): the share of the normal's germline-looking
//! SNV sites that the tumour also shows goes in the run report (`identity_concordance`); below 80 %
//! over at least 20 sites the pair is refused as two individuals (exit 2) unless
//! `identity_check: warn`.

use super::calling::{
    OnMismatch, PreparedReference, alignment_path, call_shards, open_reader, prepared_reference, shard_layout,
};
use crate::call::somatic::filters::{ResourceFilters, sort_calls};
use crate::call::somatic::{IdentityCounts, SomaticConfig, call_shard_somatic, declared_filters, identity};
use crate::engine::stage::artifact::role;
use crate::engine::stage::{
    Artifact, ArtifactFile, ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage,
    StageContext, StageError, StageInfo, StageOutputs,
};
use crate::vcf::model::SomaticCall;
use crate::vcf::writer::{VcfHeaderSpec, VcfKind, VcfWriter};

pub struct CallSomatic;

/// The stage's parameters ([`PARAMS`] states their ranges and defaults).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SomaticParams {
    shard_size: u64,
    min_mapq: u8,
    identity_check: OnMismatch,
    panel_of_normals: Option<std::path::PathBuf>,
    germline_resource: Option<std::path::PathBuf>,
    max_population_af: f64,
    tumour_in_normal: f64,
}

static INPUTS: [SlotSpec; 3] = [
    SlotSpec { name: "tumour", kind: ArtifactKind::Alignments, doc: "the tumour's duplicate-marked BAM/CRAM" },
    SlotSpec { name: "normal", kind: ArtifactKind::Alignments, doc: "the matched normal's duplicate-marked BAM/CRAM" },
    SlotSpec { name: "reference", kind: ArtifactKind::ReferenceIndex, doc: "prepared reference" },
];
static OUTPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "variants",
    kind: ArtifactKind::SomaticVariants,
    doc: "<tumour>_vs_<normal>.somatic.vcf.gz (+ .tbi)",
}];
static PARAMS: [ParamSpec; 7] = [
    ParamSpec {
        name: "shard_size",
        kind: ParamKind::Int { min: 10_000, max: 1_000_000_000 },
        default: ParamDefault::Int(250_000),
        doc: "bases per genome shard (outputs do not depend on it)",
    },
    ParamSpec {
        name: "min_mapq",
        kind: ParamKind::Int { min: 0, max: 60 },
        default: ParamDefault::Int(20),
        doc: "reads below this mapping quality are not used",
    },
    ParamSpec {
        name: "identity_check",
        kind: ParamKind::Choice(&["error", "warn"]),
        default: ParamDefault::Choice("error"),
        doc: "when the tumour shares under 80 % of the normal's germline sites (two individuals, a sample swap)",
    },
    ParamSpec {
        name: "panel_of_normals",
        kind: ParamKind::File,
        default: ParamDefault::Unset,
        doc: "bgzipped, indexed VCF of artifact sites seen in normals: a call matching one is filtered panel_of_normals",
    },
    ParamSpec {
        name: "germline_resource",
        kind: ParamKind::File,
        default: ParamDefault::Unset,
        doc: "bgzipped, indexed population VCF with INFO/AF (e.g. gnomAD): an ALT above max_population_af is filtered germline",
    },
    ParamSpec {
        name: "max_population_af",
        kind: ParamKind::Float { min: 0.0, max: 1.0 },
        default: ParamDefault::Float(0.01),
        doc: "population allele frequency above which a call is taken for germline (with germline_resource)",
    },
    ParamSpec {
        name: "tumour_in_normal",
        kind: ParamKind::Float { min: 0.0, max: 0.5 },
        default: ParamDefault::Float(0.03),
        doc: "fraction of tumour cells expected in the normal (a truncal mutation seen at this fraction in the normal stays somatic)",
    },
];

static INFO: StageInfo = StageInfo {
    kind: "call_somatic",
    description: "tumour/normal somatic SNV/indel calling with local reassembly: somatic VCF",
    version: 1,
    scope: Scope::Pair,
    inputs: &INPUTS,
    outputs: &OUTPUTS,
    params: &PARAMS,
    resources: Resources { threads: 16, memory_bytes: 16 << 30, time_seconds: 12 * 3600 },
};

impl Stage for CallSomatic {
    fn info(&self) -> &'static StageInfo {
        &INFO
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        run(ctx)
    }
}

fn run(ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
    let (tumour, normal) = ctx.pair()?;
    let (tumour_bam, normal_bam) = (alignment_path(ctx, "tumour")?, alignment_path(ctx, "normal")?);
    let PreparedReference { fasta, reference, contigs } = prepared_reference(ctx)?;

    let params: SomaticParams = ctx.params.typed()?;
    let mut cfg = SomaticConfig::default();
    cfg.reads.min_mapq = params.min_mapq;
    cfg.tumour_in_normal = params.tumour_in_normal;
    let padding = cfg.shard_padding.max(cfg.active.min_shard_padding());
    let (all, expected) = shard_layout(&[&tumour_bam, &normal_bam], &contigs, params.shard_size, padding);
    tracing::info!(shards = all.len(), tumour = %tumour.name, normal = %normal.name, "calling somatic variants");
    let results = call_shards(
        ctx,
        &all,
        &expected,
        || Ok((open_reader(&tumour_bam, &fasta)?, open_reader(&normal_bam, &fasta)?)),
        |(t, n), shard| {
            let name = contigs.name(shard.tid);
            Ok(call_shard_somatic(shard, name, t, n, &reference, &cfg)?)
        },
    )?;
    let Some((results, work)) = results else { return Ok(StageOutputs::default()) };
    let mut calls: Vec<SomaticCall> = Vec::new();
    let mut identity = IdentityCounts::default();
    for shard in results {
        calls.extend(shard.calls);
        identity.add(shard.identity);
    }
    let concordance = identity.concordance();
    tracing::info!(sites = identity.sites, concordance = ?concordance, "tumour/normal identity");
    if let Err(mismatch) = identity::check(identity, &tumour.name, &normal.name) {
        if params.identity_check == OnMismatch::Warn {
            tracing::warn!("{mismatch}");
        } else {
            return Err(mismatch.into());
        }
    }
    sort_calls(&mut calls);
    let mut resources = ResourceFilters::open(
        params.panel_of_normals.as_deref(),
        params.germline_resource.as_deref(),
        params.max_population_af,
    )?;
    resources.apply(&mut calls, |tid| contigs.name(tid))?;
    let mut filters = declared_filters(&cfg);
    resources.declare(&mut filters);

    let name = ctx.entity.label();
    let spec = VcfHeaderSpec {
        contigs: contigs.to_vec(),
        assembly: None,
        reference_path: std::fs::canonicalize(&fasta).unwrap_or_else(|_| fasta.clone()),
        sample_names: vec![tumour.name.clone(), normal.name.clone()],
        source_version: crate::VERSION.to_string(),
        command_line: ctx.command.to_string(),
        filters,
        kind: VcfKind::Somatic { tumour: tumour.name.clone(), normal: normal.name.clone() },
        extra_info: Vec::new(),
        extra_format: Vec::new(),
        file_date_epoch: ctx.output_date_epoch,
    };
    let mut vcf = VcfWriter::create(&ctx.output_dir.join(format!("{name}.somatic.vcf.gz")), &spec, ctx.threads)?;
    let (mut pass, mut snv, mut indel) = (0u64, 0u64, 0u64);
    for c in &calls {
        vcf.write_somatic(c)?;
        if c.filters.is_empty() {
            pass += 1;
            if c.ref_allele.len() == c.alt_allele.len() {
                snv += 1;
            } else {
                indel += 1;
            }
        }
    }
    ctx.cancel.check()?;
    let vcf = vcf.finish()?;
    let files =
        vec![ArtifactFile::from_written(role::VCF, &vcf.data), ArtifactFile::from_written(role::VCF_INDEX, &vcf.index)];
    let mut outputs = StageOutputs::default();
    outputs.artifacts.insert("variants".into(), Artifact { kind: ArtifactKind::SomaticVariants, files });
    if let serde_json::Value::Object(m) = serde_json::json!({
        "records": calls.len(),
        "pass": pass,
        "pass_snv_or_mnp": snv,
        "pass_indel": indel,
        "identity_sites": identity.sites,
        "identity_concordance": concordance,
    }) {
        outputs.metrics = m;
    }
    outputs.metrics.extend(work.metrics());
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_deserialize() {
        let p: SomaticParams = crate::engine::stage::Params::defaults(&PARAMS).typed().unwrap();
        assert_eq!((p.shard_size, p.min_mapq, p.identity_check), (250_000, 20, OnMismatch::Error));
        assert_eq!((p.panel_of_normals, p.germline_resource), (None, None));
        assert_eq!((p.max_population_af, p.tumour_in_normal), (0.01, 0.03));
    }
}
