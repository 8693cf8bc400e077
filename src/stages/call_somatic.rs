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
//! Optional resources, as Mutect2 users know them (none by default): `panel_of_normals`, a
//! bgzipped, indexed VCF of sites seen in normals (a call with the same position, REF and ALT is
//! filtered `panel_of_normals`), and `germline_resource`, a population VCF with INFO/AF (a call
//! whose ALT is above `max_population_af`, default 0.01, there is filtered `germline`). Both are
//! looked up per call through their index, so a genome-wide resource costs no memory.
//!
//! Identity check: the share of the normal's germline-looking SNV sites that the tumour also
//! shows ([`crate::call::somatic::IdentityCounts`]) goes in the run report (`identity_concordance`);
//! below 80 % over at least 20 sites the pair is refused as two individuals (exit 2) unless
//! `identity_check: warn`.

use super::calling::{PreparedReference, alignment_path, open_reader, prepared_reference};
use crate::call::shards::shards;
use crate::call::somatic::{IdentityCounts, ShardSomatic, SomaticConfig, call_shard_somatic, declared_filters};
use crate::engine::stage::{
    Artifact, ArtifactFile, ArtifactKind, ParamDefault, ParamKind, ParamSpec, Resources, Scope, SlotSpec, Stage,
    StageContext, StageError, StageInfo, StageOutputs,
};
use crate::outcome::Failure;
use crate::vcf::model::SomaticCall;
use crate::vcf::writer::{VcfHeaderSpec, VcfKind, VcfWriter};
use rayon::prelude::*;
use rust_htslib::bcf::{self, Read as _};
use std::path::{Path, PathBuf};

pub struct CallSomatic;

/// The identity check needs this many germline-looking sites of the normal to judge.
const MIN_IDENTITY_SITES: u64 = 20;
/// Below this share of the normal's germline sites seen in the tumour, the pair is refused.
const MIN_CONCORDANCE: f64 = 0.8;

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

/// A bgzipped, indexed VCF of sites (panel of normals, population resource) looked up per call.
struct SiteResource {
    path: PathBuf,
    reader: bcf::IndexedReader,
}

impl SiteResource {
    fn open(path: &Path) -> Result<Self, StageError> {
        let reader = bcf::IndexedReader::from_path(path).map_err(|e| {
            StageError::bad_input(format!(
                "{}: cannot open as a bgzipped VCF with its index (.tbi/.csi beside it; `tabix -p vcf` makes one): {e}",
                path.display()
            ))
        })?;
        Ok(SiteResource { path: path.to_path_buf(), reader })
    }

    /// `Some(AF)` when a record at the call's position has its REF and ALT (`AF` of that ALT,
    /// if the record has one); `None` when there is no such record.
    fn lookup(&mut self, contig: &str, c: &SomaticCall) -> Result<Option<Option<f32>>, StageError> {
        let Ok(rid) = self.reader.header().name2rid(contig.as_bytes()) else { return Ok(None) };
        self.reader
            .fetch(rid, c.pos, Some(c.pos))
            .map_err(|e| StageError::runtime(format!("{}: fetch {contig}:{}: {e}", self.path.display(), c.pos + 1)))?;
        for record in self.reader.records() {
            let record =
                record.map_err(|e| StageError::because(Failure::Runtime, self.path.display().to_string(), e))?;
            if u64::try_from(record.pos()).ok() != Some(c.pos) {
                continue;
            }
            let alleles = record.alleles();
            if !alleles.first().is_some_and(|r| r.eq_ignore_ascii_case(&c.ref_allele)) {
                continue;
            }
            if let Some(k) = alleles.iter().skip(1).position(|a| a.eq_ignore_ascii_case(&c.alt_allele)) {
                let af = record.info(b"AF").float().ok().flatten().and_then(|v| v.get(k).copied());
                return Ok(Some(af.filter(|x| x.is_finite())));
            }
        }
        Ok(None)
    }
}

fn run(ctx: &StageContext<'_>) -> Result<StageOutputs, StageError> {
    let (tumour, normal) = ctx.pair()?;
    let (tumour_bam, normal_bam) = (alignment_path(ctx, "tumour")?, alignment_path(ctx, "normal")?);
    let PreparedReference { fasta, reference, contigs, lengths } = prepared_reference(ctx)?;

    let mut cfg = SomaticConfig::default();
    cfg.reads.min_mapq = u8::try_from(ctx.params.int("min_mapq")?).unwrap_or(20);
    cfg.tumour_in_normal = ctx.params.float("tumour_in_normal")?;
    let shard_size = u64::try_from(ctx.params.int("shard_size")?).unwrap_or(250_000);
    let all = shards(&lengths, shard_size, cfg.shard_padding.max(cfg.active.min_shard_padding()));
    tracing::info!(shards = all.len(), tumour = %tumour.name, normal = %normal.name, "calling somatic variants");
    ctx.fault_point("before_calling")?;
    let results: Vec<Result<ShardSomatic, StageError>> = ctx.pool.install(|| {
        all.par_iter()
            .map_init(
                || Ok::<_, StageError>((open_reader(&tumour_bam, &fasta)?, open_reader(&normal_bam, &fasta)?)),
                |readers, shard| {
                    if ctx.cancel.is_cancelled() {
                        return Err(StageError::interrupted());
                    }
                    let (t, n) = readers.as_mut().map_err(|e| e.copy_text())?;
                    let name = &lengths[shard.tid as usize].0;
                    call_shard_somatic(shard, name, t, n, &reference, &cfg).map_err(StageError::from)
                },
            )
            .collect()
    });
    let mut calls: Vec<SomaticCall> = Vec::new();
    let mut identity = IdentityCounts::default();
    for r in results {
        let shard = r?;
        calls.extend(shard.calls);
        identity.add(shard.identity);
    }
    let concordance = identity.concordance();
    tracing::info!(sites = identity.sites, concordance = ?concordance, "tumour/normal identity");
    if identity.sites >= MIN_IDENTITY_SITES && concordance.is_some_and(|c| c < MIN_CONCORDANCE) {
        let message = format!(
            "{} and {} look like two individuals: the tumour shares {:.1} % of the normal's {} germline-looking sites \
             (the same individual shares over {:.0} %); check the samplesheet for a swapped sample, or set \
             `identity_check: warn` on call_somatic to call the pair anyway",
            tumour.name,
            normal.name,
            100.0 * concordance.unwrap_or(0.0),
            identity.sites,
            100.0 * MIN_CONCORDANCE
        );
        if ctx.params.text("identity_check")? == "warn" {
            tracing::warn!("{message}");
        } else {
            return Err(StageError::bad_input(message));
        }
    }
    // Shards are in reference order; a shard's last calls may lie past its core.
    calls.sort_by(|a, b| {
        (a.tid, a.pos, &a.ref_allele, &a.alt_allele).cmp(&(b.tid, b.pos, &b.ref_allele, &b.alt_allele))
    });

    let mut pon = ctx.params.file("panel_of_normals")?.map(SiteResource::open).transpose()?;
    let mut population = ctx.params.file("germline_resource")?.map(SiteResource::open).transpose()?;
    let max_population_af = ctx.params.float("max_population_af")?;
    for c in &mut calls {
        let contig = &lengths[c.tid as usize].0;
        if let Some(pon) = pon.as_mut()
            && pon.lookup(contig, c)?.is_some()
        {
            c.filters.push("panel_of_normals".into());
        }
        if let Some(population) = population.as_mut()
            && population.lookup(contig, c)?.flatten().is_some_and(|af| f64::from(af) > max_population_af)
        {
            c.filters.push("germline".into());
        }
        c.filters.sort();
        c.filters.dedup();
    }
    let mut filters = declared_filters(&cfg);
    if pon.is_some() {
        filters.push(("panel_of_normals".into(), "The site and ALT are in the panel of normals".into()));
        filters.sort();
    }

    let name = format!("{}_vs_{}", tumour.name, normal.name);
    let spec = VcfHeaderSpec {
        contigs: contigs.clone(),
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
    let files = vec![ArtifactFile::from_written("vcf", &vcf.data), ArtifactFile::from_written("vcf_index", &vcf.index)];
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
    Ok(outputs)
}
