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

mod gather;

use super::calling::{PreparedReference, alignment_path, open_reader, prepared_reference};
use crate::call::germline::{GermlineConfig, call_shard};
use crate::call::shards::shards;
use crate::engine::stage::{
    ArtifactKind, ParamDefault, ParamKind, ParamSpec, Params, Resources, Scope, SlotSpec, Stage, StageContext,
    StageError, StageInfo, StageOutputs,
};
use crate::genome::ploidy::{ContigRole, PloidyMap, Sex, contig_role, infer_sex, read_bed};
use rayon::prelude::*;
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
static PARAMS: [ParamSpec; 4] = [
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
];

static INFO: StageInfo = StageInfo {
    kind: "call_germline",
    description: "haplotype-aware germline SNV/indel calling with local reassembly: VCF, gVCF, callable BED",
    // 2: `*` for spanning deletions, N positions never reference-confident, `ploidy_bed`.
    version: 2,
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

    /// A malformed ploidy BED is refused before anything runs (its contigs are checked at run).
    fn check_params(&self, params: &Params) -> Result<(), (&'static str, String)> {
        match params.file("ploidy_bed") {
            Ok(Some(bed)) => read_bed(bed).map(|_| ()).map_err(|e| ("ploidy_bed", e.to_string())),
            _ => Ok(()),
        }
    }
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
}

fn setup(ctx: &StageContext<'_>) -> Result<Setup, StageError> {
    let sample = ctx.sample()?;
    let bam_path = alignment_path(ctx, "alignments")?;
    let prepared = prepared_reference(ctx)?;
    let inferred = infer_sex_from_index(&bam_path, &prepared.fasta, &prepared.lengths)?;
    let sex = decide_sex(sample.sex, inferred, ctx.params.text("sex_check")? == "warn", &sample.name)?;
    let mut ploidy = PloidyMap::for_sex(&prepared.lengths, sex);
    if let Some(bed) = ctx.params.file("ploidy_bed")? {
        ploidy.override_with_bed(bed, &prepared.lengths).map_err(|e| StageError::bad_input(e.to_string()))?;
    }
    let mut cfg = GermlineConfig::default();
    cfg.reads.min_mapq = u8::try_from(ctx.params.int("min_mapq")?).unwrap_or(20);
    let shard_size = u64::try_from(ctx.params.int("shard_size")?).unwrap_or(250_000);
    let shards = shards(&prepared.lengths, shard_size, cfg.shard_padding.max(cfg.active.min_shard_padding()));
    Ok(Setup { sample_sex: sex, inferred, bam_path, prepared, ploidy, cfg, shards })
}

/// Under `--mpi`, rank r calls shards r, r + n, r + 2n, … (interleaved, so that dense and empty
/// stretches of the genome spread over the ranks), sends them to rank 0 in one chunked gather,
/// and rank 0 writes the outputs exactly as one process does: shard results are the same
/// wherever they are computed, so the files are byte-identical.
fn run(ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
    let sample = ctx.sample()?;
    let Setup { sample_sex: sex, inferred, bam_path, prepared, ploidy, cfg, shards: all } =
        ctx.agree("preparing to call variants", setup(ctx))?;
    let PreparedReference { fasta, reference, contigs, lengths } = prepared;
    let (rank, ranks) = ctx.rank_and_size();
    let mine: Vec<usize> = (rank..all.len()).step_by(ranks).collect();
    if rank == 0 {
        tracing::info!(shards = all.len(), ranks, sex = %sex, "calling");
    }
    ctx.agree("starting to call", ctx.fault_point("before_calling"))?;
    let results: Vec<Result<crate::call::germline::ShardCalls, StageError>> = ctx.pool.install(|| {
        mine.par_iter()
            .map_init(
                || open_reader(&bam_path, &fasta),
                |reader, &i| {
                    if ctx.cancel.is_cancelled() {
                        return Err(StageError::interrupted());
                    }
                    let shard = &all[i];
                    let reader = reader.as_mut().map_err(|e| e.copy_text())?;
                    let name = &lengths[shard.tid as usize].0;
                    call_shard(shard, name, reader, &reference, &ploidy, &cfg).map_err(StageError::from)
                },
            )
            .collect()
    });
    let called: Result<Vec<_>, StageError> = results.into_iter().collect();
    let called = ctx.agree("calling shards", called.and_then(|c| ctx.fault_point("after_calling").map(|()| c)))?;
    let shard_calls = match ctx.cluster {
        None => called,
        Some(cluster) => {
            let gathered =
                cluster.gather("sending called shards to rank 0", crate::engine::stage::cluster::encode(&called)?)?;
            if rank != 0 {
                return Ok(StageOutputs::default());
            }
            drop(called);
            let mut by_rank: Vec<std::vec::IntoIter<crate::call::germline::ShardCalls>> = Vec::new();
            for bytes in &gathered {
                let part: Vec<crate::call::germline::ShardCalls> =
                    crate::engine::stage::cluster::decode(bytes, "called shards")?;
                by_rank.push(part.into_iter());
            }
            // Shard i was called by rank i % ranks, as its (i / ranks)-th.
            let mut ordered = Vec::with_capacity(all.len());
            for i in 0..all.len() {
                let shard = by_rank[i % ranks]
                    .next()
                    .ok_or_else(|| StageError::runtime(format!("internal: rank {} sent too few shards", i % ranks)))?;
                ordered.push(shard);
            }
            ordered
        }
    };
    tracing::info!("shards called; writing the VCF, gVCF and callable regions");
    gather::write_outputs(ctx, sample, &contigs, &fasta, &reference, &cfg, shard_calls, sex, inferred)
}

/// Mean-depth proxies from the BAM index (mapped reads per base) → inferred sex.
fn infer_sex_from_index(bam_path: &Path, fasta: &Path, lengths: &[(String, u64)]) -> Result<Option<Sex>, StageError> {
    if !lengths.iter().any(|(n, _)| contig_role(n) == ContigRole::X) {
        return Ok(None);
    }
    let mut reader = open_reader(bam_path, fasta)?;
    let stats = reader
        .index_stats()
        .map_err(|e| StageError::runtime(format!("{}: index statistics: {e}", bam_path.display())))?;
    let (mut auto_reads, mut auto_len) = (0u64, 0u64);
    let (mut x, mut y) = (None, None);
    for (tid, len, mapped, _) in stats {
        let Some((name, _)) = usize::try_from(tid).ok().and_then(|t| lengths.get(t)) else { continue };
        let density = if len > 0 { mapped as f64 / len as f64 } else { 0.0 };
        match contig_role(name) {
            ContigRole::X => x = Some(density),
            ContigRole::Y => y = Some(density),
            ContigRole::Other => {
                auto_reads += mapped;
                auto_len += len;
            }
        }
    }
    if auto_len == 0 {
        return Ok(None);
    }
    let autosomal = auto_reads as f64 / auto_len as f64;
    // Densities are reads per base; scale so that infer_sex's "depth below 1" guard means little data.
    let scale = 150.0;
    Ok(infer_sex(autosomal * scale, x.map(|d| d * scale), y.map(|d| d * scale)))
}

fn decide_sex(declared: Sex, inferred: Option<Sex>, warn_only: bool, sample: &str) -> Result<Sex, StageError> {
    match (declared, inferred) {
        (Sex::Unknown, Some(s)) => Ok(s),
        (Sex::Unknown, None) => Ok(Sex::Unknown),
        (d, Some(i)) if d != i => {
            let message = format!(
                "sample `{sample}`: the samplesheet says sex {d} but chrX/chrY coverage says {i} (a sample swap?); \
                 fix the samplesheet, or set `sex_check: warn` on call_germline to go on with {d}"
            );
            if warn_only {
                tracing::warn!("{message}");
                Ok(d)
            } else {
                Err(StageError::bad_input(message))
            }
        }
        (d, _) => Ok(d),
    }
}
