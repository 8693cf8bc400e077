//! What the calling stages (`call_germline`, `call_somatic`) share: the prepared reference with
//! its contig table, and indexed readers of the input alignments.

use crate::engine::stage::{StageContext, StageError};
use crate::genome::Reference;
use crate::outcome::Failure;
use crate::vcf::writer::VcfContig;
use rust_htslib::bam;
use std::path::{Path, PathBuf};

/// The prepared reference of the `reference` input: its FASTA, the open (memory-mapped)
/// sequence, the VCF contig lines (name, length, MD5) and the (name, length) table.
pub(super) struct PreparedReference {
    pub fasta: PathBuf,
    pub reference: Reference,
    pub contigs: Vec<VcfContig>,
    pub lengths: Vec<(String, u64)>,
}

pub(super) fn prepared_reference(ctx: &StageContext<'_>) -> Result<PreparedReference, StageError> {
    let r = ctx.input("reference")?;
    let (fasta, fai, md5) = (r.file("fasta")?.to_path_buf(), r.file("fai")?, r.file("md5")?);
    let table = crate::genome::dict::read_md5_table(md5).map_err(StageError::as_runtime)?;
    let contigs: Vec<VcfContig> = table
        .iter()
        .map(|c| VcfContig { name: c.name.clone(), length: c.length, md5: c.md5.clone().unwrap_or_default() })
        .collect();
    let lengths = contigs.iter().map(|c| (c.name.clone(), c.length)).collect();
    let reference = Reference::open(&fasta, fai).map_err(StageError::as_runtime)?;
    Ok(PreparedReference { fasta, reference, contigs, lengths })
}

/// The BAM or CRAM of the alignments input bound to `slot`.
pub(super) fn alignment_path(ctx: &StageContext<'_>, slot: &str) -> Result<PathBuf, StageError> {
    let a = ctx.input(slot)?;
    a.file("bam").or_else(|_| a.file("cram")).map(Path::to_path_buf)
}

/// An indexed reader of `path` (a CRAM decoded against `fasta`).
pub(super) fn open_reader(path: &Path, fasta: &Path) -> Result<bam::IndexedReader, StageError> {
    let mut reader = bam::IndexedReader::from_path(path)
        .map_err(|e| StageError::because(Failure::Runtime, path.display().to_string(), e))?;
    if path.extension().is_some_and(|e| e == "cram") {
        reader
            .set_reference(fasta)
            .map_err(|e| StageError::because(Failure::Runtime, fasta.display().to_string(), e))?;
    }
    Ok(reader)
}
