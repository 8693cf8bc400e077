//! The gather: shard results in reference order → VCF, gVCF (reference blocks merged again across
//! shard edges, interleaved with variants by position), callable BED and variant QC.

use crate::call::germline::{GermlineConfig, ShardCalls, declared_filters};
use crate::engine::stage::{Artifact, ArtifactFile, ArtifactKind, StageContext, StageError, StageOutputs};
use crate::genome::Reference;
use crate::genome::ploidy::Sex;
use crate::outcome::Failure;
use crate::output_file::{Sidecar, write_atomic};
use crate::samples::Sample;
use crate::vcf::model::{CalledVariant, RefBlock};
use crate::vcf::writer::{CallableBedWriter, GqBands, GvcfBlockMerger, VcfContig, VcfHeaderSpec, VcfKind, VcfWriter};
use std::collections::BTreeMap;
use std::path::Path;

fn header(
    ctx: &StageContext<'_>,
    sample: &Sample,
    contigs: &[VcfContig],
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
    contigs: &[VcfContig],
    fasta: &Path,
    reference: &Reference,
    cfg: &GermlineConfig,
    shards: Vec<ShardCalls>,
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
    let bands = GqBands::default();
    let gvcf_kind = VcfKind::Gvcf { bands: bands.clone() };
    let mut gvcf = VcfWriter::create(
        &dir.join(format!("{name}.g.vcf.gz")),
        &header(ctx, sample, contigs, fasta, cfg, gvcf_kind),
        threads,
    )?;
    let mut bed = CallableBedWriter::create(&dir.join(format!("{name}.callable.bed.gz")), contigs, threads)?;
    let mut merger = GvcfBlockMerger::new(bands);
    let mut qc = VariantQc::default();
    let (mut depth_sum, mut positions) = (0u64, 0u64);

    let write_block = |gvcf: &mut VcfWriter, b: &RefBlock| -> Result<(), StageError> {
        let contig = &contigs[b.tid as usize].name;
        let base = reference.fetch(contig, b.start, b.start + 1).map_err(StageError::as_runtime)?;
        gvcf.write_block(b, base.first().copied().unwrap_or(b'N')).map_err(StageError::as_runtime)
    };
    // Shards are in reference order and each one's variants and blocks are sorted, but a shard's
    // last variants may lie past its core (its region ran on): interleave globally by position.
    let mut all_variants = Vec::new();
    let mut all_blocks = Vec::new();
    for shard in shards {
        depth_sum += shard.depth_sum;
        positions += shard.positions;
        for &(tid, s, e) in &shard.callable {
            bed.push(tid, s, e)?;
        }
        all_variants.extend(shard.variants);
        all_blocks.extend(shard.blocks);
    }
    let mut blocks = all_blocks.into_iter().peekable();
    for v in &all_variants {
        while let Some(b) = blocks.next_if(|b| (b.tid, b.start) < (v.tid, v.pos)) {
            if let Some(done) = merger.push(b) {
                write_block(&mut gvcf, &done)?;
            }
        }
        if let Some(done) = merger.flush() {
            write_block(&mut gvcf, &done)?;
        }
        vcf.write_variant(v)?;
        gvcf.write_variant(v)?;
        qc.add(v);
    }
    for b in blocks {
        if let Some(done) = merger.push(b) {
            write_block(&mut gvcf, &done)?;
        }
    }
    if let Some(done) = merger.finish() {
        write_block(&mut gvcf, &done)?;
    }
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
        ArtifactFile::from_written("vcf", &vcf.data),
        ArtifactFile::from_written("vcf_index", &vcf.index),
        ArtifactFile::from_written("gvcf", &gvcf.data),
        ArtifactFile::from_written("gvcf_index", &gvcf.index),
        ArtifactFile::from_written("callable_bed", &bed.data),
        ArtifactFile::from_written("qc_json", &qc_file),
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

/// Variant counts for the run report and the QC file.
#[derive(Debug, Default)]
struct VariantQc {
    snv: u64,
    mnp_or_complex: u64,
    insertions: u64,
    deletions: u64,
    multiallelic: u64,
    pass: u64,
    transitions: u64,
    transversions: u64,
    het: u64,
    hom: u64,
    /// Indel length (insertions positive, deletions negative) → count.
    indel_lengths: BTreeMap<i64, u64>,
}

impl VariantQc {
    fn add(&mut self, v: &CalledVariant) {
        if v.filters.is_empty() {
            self.pass += 1;
        }
        // `*` (a spanning deletion, counted at its own record) is no allele of this site.
        let alts: Vec<&Vec<u8>> = v.alt_alleles.iter().filter(|a| a.as_slice() != b"*").collect();
        if alts.len() > 1 {
            self.multiallelic += 1;
        }
        let distinct: std::collections::BTreeSet<u8> = v.genotype.iter().copied().collect();
        if distinct.len() > 1 {
            self.het += 1
        } else {
            self.hom += 1
        }
        for alt in alts {
            let (r, a) = (v.ref_allele.len(), alt.len());
            if r == 1 && a == 1 {
                self.snv += 1;
                let pair = (v.ref_allele[0].to_ascii_uppercase(), alt[0].to_ascii_uppercase());
                let transition = matches!(pair, (b'A', b'G') | (b'G', b'A') | (b'C', b'T') | (b'T', b'C'));
                if transition { self.transitions += 1 } else { self.transversions += 1 }
            } else if r == a {
                self.mnp_or_complex += 1;
            } else {
                let len = a as i64 - r as i64;
                if len > 0 {
                    self.insertions += 1
                } else {
                    self.deletions += 1
                }
                *self.indel_lengths.entry(len).or_insert(0) += 1;
            }
        }
    }

    fn summary(&self) -> serde_json::Value {
        let ratio = |a: u64, b: u64| if b == 0 { None } else { Some(a as f64 / b as f64) };
        serde_json::json!({
            "records": self.het + self.hom,
            "pass": self.pass,
            "snv": self.snv,
            "insertions": self.insertions,
            "deletions": self.deletions,
            "mnp_or_complex": self.mnp_or_complex,
            "multiallelic": self.multiallelic,
            "ti_tv": ratio(self.transitions, self.transversions),
            "het_hom": ratio(self.het, self.hom),
            // In numeric order (−13 … −1, 1 … 19): serde_json keeps insertion order here.
            "indel_length_histogram": self
                .indel_lengths
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        })
    }
}
