//! Stage `call_germline` (scope sample): duplicate-marked BAM/CRAM → `<sample>.vcf.gz`,
//! `<sample>.g.vcf.gz` (+ `.tbi`), `<sample>.callable.bed.gz`, `<sample>.variant_qc.json`, with
//! `.md5` sidecars.
//!
//! The genome is cut into fixed, padded shards ([`crate::call::shards`]); shards are called in
//! parallel on the stage's rayon pool (one indexed reader per thread) by
//! [`crate::call::germline::call_shard`] and gathered in reference order: variants as they are,
//! reference blocks merged again across shard edges. Ploidy comes from the sample's sex; the sex
//! is also inferred from chrX/chrY read counts in the BAM index (when the reference has them) and
//! a mismatch with the samplesheet is an error unless `sex_check: warn`. The parameter
//! `ploidy_bed` (a file; relative to the pipeline YAML's folder, its content digest in the cache
//! key) overrides the built-in map ([`crate::genome::ploidy`]): e.g. `chrZ 0 1000000 1` calls that
//! stretch haploid (GT `1`, haploid gVCF blocks). A malformed BED line is refused when the
//! pipeline is validated, a contig that is not in the reference or an interval past a contig's
//! end when the stage starts: bad input (exit 2) naming the file and line either way.
//!
//! Depth guard: positions whose filtered depth exceeds `depth_guard` × the sample's median
//! coverage (from the alignment QC beside the BAM; at least [`MIN_DEPTH_GUARD`]) are not called
//! ([`crate::call::germline`]); the run report counts them (`depth_guard_positions`,
//! `depth_guard_skipped_regions`) and the log names the count.

mod gather;

use super::calling::{
    OnMismatch, PreparedReference, alignment_path, call_shards, open_reader, prepared_reference, shard_layout,
};
use crate::call::germline::{GermlineConfig, call_shard};
use crate::engine::stage::artifact::role;
use crate::engine::stage::{
    ArtifactKind, ParamDefault, ParamKind, ParamSpec, Params, Resources, Scope, SlotSpec, Stage, StageContext,
    StageError, StageInfo, StageOutputs,
};
use crate::genome::ContigTable;
use crate::genome::ploidy::{
    ContigRole, PloidyMap, Sex, check_sex, contig_role, infer_sex_from_read_density, read_bed,
};
use crate::outcome::Failure;
use crate::vcf::writer::GqBands;
use std::path::Path;

pub struct CallGermline;

static INPUTS: [SlotSpec; 2] = [
    SlotSpec { name: "alignments", kind: ArtifactKind::Alignments, doc: "the sample's duplicate-marked BAM/CRAM" },
    SlotSpec { name: "reference", kind: ArtifactKind::ReferenceIndex, doc: "prepared reference" },
];
static OUTPUTS: [SlotSpec; 1] = [SlotSpec {
    name: "variants",
    kind: ArtifactKind::GermlineVariants,
    doc: "<sample>.vcf.gz, <sample>.g.vcf.gz (+ .tbi), <sample>.callable.bed.gz, variant QC",
}];
static PARAMS: [ParamSpec; 6] = [
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
        name: "sex_check",
        kind: ParamKind::Choice(&["error", "warn"]),
        default: ParamDefault::Choice("error"),
        doc: "when the sex inferred from chrX/chrY coverage contradicts the samplesheet",
    },
    ParamSpec {
        name: "ploidy_bed",
        kind: ParamKind::File,
        default: ParamDefault::Unset,
        doc: "BED (contig, start, end, ploidy 0|1|2) over the built-in ploidy map; relative to the YAML",
    },
    ParamSpec {
        name: "gq_bands",
        kind: ParamKind::IntList { min: 0, max: 99 },
        default: ParamDefault::IntList(&[0, 10, 20, 30, 40]),
        doc: "lower GQ bounds of the gVCF's reference-block bands: from 0, strictly increasing, at most 99",
    },
    ParamSpec {
        name: "depth_guard",
        kind: ParamKind::Float { min: 0.0, max: 1000.0 },
        default: ParamDefault::Float(10.0),
        doc: "positions deeper than this multiple of the sample's median coverage are not called \
              (no-call gVCF blocks, not callable); 0 turns the guard off",
    },
];

/// The smallest depth guard, whatever the median (a sparse sample's median may be 0 or 1).
const MIN_DEPTH_GUARD: u32 = 100;

static INFO: StageInfo = StageInfo {
    kind: "call_germline",
    description: "haplotype-aware germline SNV/indel calling with local reassembly: VCF, gVCF, callable BED",
    // 2: `*` for spanning deletions, N positions never reference-confident, `ploidy_bed`.
    // 3: GT = argmin PL, GQ from PL, GATK's INFO annotations, read-backed phasing, gVCF joint
    //    fields, honest blocks in `gq_bands`.
    // 4: the depth guard (no-call blocks); one pileup per shard.
    version: 4,
    scope: Scope::Sample,
    inputs: &INPUTS,
    outputs: &OUTPUTS,
    params: &PARAMS,
    resources: Resources { threads: 16, memory_bytes: 16 << 30, time_seconds: 12 * 3600 },
};

impl Stage for CallGermline {
    fn info(&self) -> &'static StageInfo {
        &INFO
    }

    fn run(&self, ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
        run(ctx)
    }

    fn distributed(&self) -> bool {
        true
    }

    /// Malformed GQ bands or ploidy BED are refused before anything runs (the BED's contigs are
    /// checked at run).
    fn check_params(&self, params: &Params) -> Result<(), (&'static str, String)> {
        let Ok(typed) = params.typed::<GermlineParams>() else { return Ok(()) };
        GqBands::new(typed.gq_bands).map_err(|e| ("gq_bands", e))?;
        match typed.ploidy_bed {
            Some(bed) => read_bed(&bed).map(|_| ()).map_err(|e| ("ploidy_bed", e.to_string())),
            None => Ok(()),
        }
    }
}

/// The stage's parameters ([`PARAMS`] states their ranges and defaults).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GermlineParams {
    shard_size: u64,
    min_mapq: u8,
    sex_check: OnMismatch,
    ploidy_bed: Option<std::path::PathBuf>,
    gq_bands: Vec<u32>,
    depth_guard: f64,
}

/// Everything the calling needs, the same on every rank.
struct Setup {
    sample_sex: Sex,
    inferred: Option<Sex>,
    bam_path: std::path::PathBuf,
    prepared: PreparedReference,
    ploidy: PloidyMap,
    cfg: GermlineConfig,
    shards: Vec<crate::call::shards::Shard>,
    /// Each shard's expected work, for the assignment to ranks and workers.
    expected: Vec<u64>,
}

fn setup(ctx: &StageContext<'_>) -> Result<Setup, StageError> {
    let sample = ctx.sample()?;
    let bam_path = alignment_path(ctx, "alignments")?;
    let prepared = prepared_reference(ctx)?;
    let inferred = infer_sex_from_index(&bam_path, &prepared.fasta, &prepared.contigs)?;
    let params: GermlineParams = ctx.params.typed()?;
    let sex = choose_sex(sample.sex, inferred, params.sex_check == OnMismatch::Warn, &sample.name)?;
    let mut ploidy = PloidyMap::for_sex(&prepared.contigs, sex);
    if let Some(bed) = &params.ploidy_bed {
        ploidy.override_with_bed(bed, &prepared.contigs)?;
    }
    let mut cfg = GermlineConfig::default();
    cfg.reads.min_mapq = params.min_mapq;
    cfg.gq_bands = GqBands::new(params.gq_bands).map_err(StageError::runtime)?;
    cfg.depth_guard = depth_guard(ctx, params.depth_guard)?;
    let padding = cfg.shard_padding.max(cfg.active.min_shard_padding());
    let (shards, expected) = shard_layout(&[&bam_path], &prepared.contigs, params.shard_size, padding);
    Ok(Setup { sample_sex: sex, inferred, bam_path, prepared, ploidy, cfg, shards, expected })
}

/// Shards are called by [`call_shards`] (over the ranks too, under `--mpi`); rank 0 writes the
/// outputs exactly as one process does.
fn run(ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
    let sample = ctx.sample()?;
    let Setup { sample_sex: sex, inferred, bam_path, prepared, ploidy, cfg, shards: all, expected } =
        ctx.agree("preparing to call variants", setup(ctx))?;
    let PreparedReference { fasta, reference, contigs } = prepared;
    if ctx.rank_and_size().0 == 0 {
        tracing::info!(shards = all.len(), ranks = ctx.rank_and_size().1, sex = %sex, "calling");
    }
    let called = call_shards(
        ctx,
        &all,
        &expected,
        || open_reader(&bam_path, &fasta),
        |reader, shard| {
            let name = contigs.name(shard.tid);
            Ok(call_shard(shard, name, reader, &reference, &ploidy, &cfg)?)
        },
    )?;
    let Some((shard_calls, work)) = called else { return Ok(StageOutputs::default()) };
    let guarded_positions: u64 = shard_calls.iter().map(|s| s.guarded_positions).sum();
    let guarded_regions: u64 = shard_calls.iter().map(|s| s.guarded_regions).sum();
    if guarded_positions > 0 {
        tracing::warn!(
            guard = ?cfg.depth_guard,
            "{guarded_positions} positions above the depth guard left uncalled ({guarded_regions} active regions skipped): \
             no-call blocks in the gVCF, not in the callable regions"
        );
    }
    tracing::info!("shards called; writing the VCF, gVCF and callable regions");
    let guard = cfg.depth_guard;
    let mut outputs =
        gather::write_outputs(ctx, sample, &contigs, &fasta, &reference, &cfg, shard_calls, sex, inferred)?;
    outputs.metrics.extend(work.metrics());
    outputs.metrics.insert("depth_guard".into(), serde_json::json!(guard));
    outputs.metrics.insert("depth_guard_positions".into(), guarded_positions.into());
    outputs.metrics.insert("depth_guard_skipped_regions".into(), guarded_regions.into());
    Ok(outputs)
}

/// The depth guard for `multiple` × the sample's median coverage, read from the alignment QC
/// that `align` writes beside the BAM (`qc.coverage.MEDIAN_COVERAGE`); `None` when `multiple`
/// is 0, or (with a warning) when the alignments come without that QC.
fn depth_guard(ctx: &StageContext<'_>, multiple: f64) -> Result<Option<u32>, StageError> {
    if multiple <= 0.0 {
        return Ok(None);
    }
    let Ok(qc_path) = ctx.input("alignments")?.file(role::QC_JSON).map(Path::to_path_buf) else {
        tracing::warn!("no alignment QC beside the BAM: the depth guard is off");
        return Ok(None);
    };
    let bytes =
        std::fs::read(&qc_path).map_err(|e| StageError::because(Failure::Runtime, qc_path.display().to_string(), e))?;
    let qc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| StageError::because(Failure::Runtime, qc_path.display().to_string(), e))?;
    let Some(median) = qc["qc"]["coverage"]["MEDIAN_COVERAGE"].as_f64() else {
        tracing::warn!(file = %qc_path.display(), "no median coverage in the alignment QC: the depth guard is off");
        return Ok(None);
    };
    Ok(Some(((multiple * median).ceil() as u32).max(MIN_DEPTH_GUARD)))
}

/// The sex the BAM index's per-contig read counts suggest ([`infer_sex_from_read_density`]).
fn infer_sex_from_index(bam_path: &Path, fasta: &Path, contigs: &ContigTable) -> Result<Option<Sex>, StageError> {
    if !contigs.iter().any(|c| contig_role(&c.name) == ContigRole::X) {
        return Ok(None);
    }
    let mut reader = open_reader(bam_path, fasta)?;
    let stats = reader
        .index_stats()
        .map_err(|e| StageError::because(Failure::Runtime, format!("{}: index statistics", bam_path.display()), e))?;
    let per_contig = stats.into_iter().filter_map(|(tid, len, mapped, _)| {
        let contig = usize::try_from(tid).ok().and_then(|t| contigs.get(t))?;
        Some((contig.name.as_str(), len, mapped))
    });
    Ok(infer_sex_from_read_density(per_contig))
}

/// The sex to call with: the samplesheet's, or the inferred one when it says `NA`; a
/// disagreement stops the sample (a swap?) unless `sex_check: warn`.
fn choose_sex(declared: Sex, inferred: Option<Sex>, warn_only: bool, sample: &str) -> Result<Sex, StageError> {
    match check_sex(declared, inferred, sample) {
        Ok(sex) => Ok(sex),
        Err(mismatch) if warn_only => {
            tracing::warn!("{mismatch}");
            Ok(declared)
        }
        Err(mismatch) => Err(mismatch.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_deserialize() {
        let p: GermlineParams = Params::defaults(&PARAMS).typed().unwrap();
        assert_eq!((p.shard_size, p.min_mapq, p.sex_check, p.ploidy_bed), (250_000, 20, OnMismatch::Error, None));
        assert_eq!(p.depth_guard, 10.0);
    }
}
