//! Writing VCF and gVCF files (BGZF + tabix, atomically, with `.md5` sidecars) and the
//! callable-regions BED.
//!
//! - [`header`] — [`VcfHeaderSpec`] → the VCF 4.2 header text.
//! - `record` — record lines from `vcf::model::{CalledVariant, RefBlock}`.
//! - [`gvcf`] — GQ bands, the reference-block merger (also used by the shard gather) and the
//!   `<NON_REF>` PL rule.
//! - [`callable`] — `<sample>.callable.bed.gz`.
//!
//! [`VcfWriter`] writes through htslib's BGZF (checked at every call, see `bgzf`) under a
//! temporary name in the destination folder; [`VcfWriter::finish`] closes it (EOF block), builds
//! the `.tbi` from the temporary file, removes any index and sidecars of an earlier run, and
//! commits the data first and the index last, as `alignments::writer` does for BAM + BAI: an
//! index under its final name means the data beside it is complete. Records must come in
//! reference order (contig order of the header, then start); the writer refuses a record that
//! goes backwards, overlaps a reference block, lies outside its contig, names an undeclared filter
//! or is internally inconsistent, naming the file and locus. Output bytes depend only on the
//! records and the spec (no thread-dependent blocking; `fileDate` from `SOURCE_DATE_EPOCH`).
//! Cost: formatting plus BGZF compression; one re-read for the index and one for the MD5.

mod bgzf;
pub mod callable;
pub mod gvcf;
pub mod header;
mod record;

pub use callable::{CallableBedWriter, WrittenBed};
pub use gvcf::{GqBands, GvcfBlockMerger, extend_pl_with_non_ref};
pub use header::{FieldDef, HeaderSpecError, VcfHeaderSpec, VcfKind};

use crate::genome::ContigTable;
use crate::genome::ploidy::Ploidy;
pub(crate) use crate::output_file::with_suffix;
use crate::output_file::{TempPath, WrittenFile, commit_with_index, remove_if_present};
use crate::vcf::model::{CalledVariant, RefBlock, SomaticCall};
use bgzf::{BgzfFile, TabixPreset};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// Writing a VCF, gVCF or callable BED failed; every variant names the output file.
#[derive(Debug, thiserror::Error)]
pub enum VcfWriteError {
    #[error("{}: the output must be named *.{expected}", path.display())]
    BadName { path: PathBuf, expected: &'static str },
    #[error("{}: {source}", path.display())]
    Header { path: PathBuf, source: HeaderSpecError },
    #[error("{}: record at {contig}:{pos} (1-based): {message}", path.display())]
    Record { path: PathBuf, contig: String, pos: u64, message: String },
    #[error("{}: record at {contig}:{pos} (1-based) is out of reference order ({message})", path.display())]
    Order { path: PathBuf, contig: String, pos: u64, message: String },
    #[error("{}: contig index {tid} is not in the header ({count} contigs)", path.display())]
    UnknownContig { path: PathBuf, tid: u32, count: usize },
    #[error("{}: htslib cannot {action}", path.display())]
    Hts {
        path: PathBuf,
        action: &'static str,
        #[source]
        cause: Option<io::Error>,
    },
    #[error("{}: building the tabix index failed (htslib code {code})", path.display())]
    Index {
        path: PathBuf,
        code: i32,
        #[source]
        cause: Option<io::Error>,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Writing a VCF fails at run time (disk, htslib) or by a bug (records out of order).
impl crate::outcome::Classify for VcfWriteError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Runtime
    }
}

/// A committed VCF and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenVcf {
    pub data: WrittenFile,
    pub index: WrittenFile,
    pub records: u64,
}

/// Reference-order bookkeeping: where the last record started and where reference blocks end.
#[derive(Debug, Clone, Copy, Default)]
struct OrderState {
    last: Option<(u32, u64)>,
    /// End (0-based, exclusive) of the last reference block on the contig of `last`.
    block_end: u64,
}

/// Writes one VCF or gVCF (`*.vcf.gz` / `*.g.vcf.gz`) and commits it with its `.tbi`.
pub struct VcfWriter {
    // First, so it closes before the temporary files are removed on drop.
    file: BgzfFile,
    data: TempPath,
    index: TempPath,
    contigs: ContigTable,
    filters: BTreeSet<String>,
    gvcf: bool,
    /// Written with tumour/normal sample columns ([`Self::write_somatic`]).
    somatic: bool,
    threads: usize,
    order: OrderState,
    line: Vec<u8>,
    records: u64,
}

impl VcfWriter {
    /// Opens `final_path` (must end in `.vcf.gz`) under a temporary name and writes the header.
    /// `threads`: htslib compression threads (0: inline).
    pub fn create(final_path: &Path, spec: &VcfHeaderSpec, threads: usize) -> Result<Self, VcfWriteError> {
        if !final_path.to_string_lossy().ends_with(".vcf.gz") || final_path.file_name().is_none() {
            return Err(VcfWriteError::BadName { path: final_path.to_path_buf(), expected: "vcf.gz" });
        }
        let text = spec.render().map_err(|source| VcfWriteError::Header { path: final_path.to_path_buf(), source })?;
        let data = TempPath::new(final_path);
        let index = TempPath::new(with_suffix(final_path, "tbi"));
        let mut file = BgzfFile::create(data.path(), threads, final_path)?;
        file.write_all(text.as_bytes(), final_path)?;
        Ok(VcfWriter {
            file,
            data,
            index,
            contigs: ContigTable::new(spec.contigs.clone()),
            filters: spec.declared_filters(),
            gvcf: matches!(spec.kind, VcfKind::Gvcf { .. }),
            somatic: matches!(spec.kind, VcfKind::Somatic { .. }),
            threads,
            order: OrderState::default(),
            line: Vec::with_capacity(256),
            records: 0,
        })
    }

    /// Appends a variant record (in gVCF form when this is a gVCF).
    pub fn write_variant(&mut self, v: &CalledVariant) -> Result<(), VcfWriteError> {
        let end = v.pos.saturating_add(v.ref_allele.len() as u64);
        let contig = self.locate(v.tid, v.pos, end)?;
        if let Some(undeclared) = v.filters.iter().find(|f| !self.filters.contains(*f)) {
            return Err(self.record_error(
                v.tid,
                v.pos,
                format!("filter {undeclared:?} is not declared in the header"),
            ));
        }
        self.line.clear();
        record::variant_line(&mut self.line, &contig, v, self.gvcf).map_err(|m| self.record_error(v.tid, v.pos, m))?;
        self.order.last = Some((v.tid, v.pos));
        self.emit()
    }

    /// Appends a somatic record (tumour then normal sample columns; somatic VCFs only).
    pub fn write_somatic(&mut self, c: &SomaticCall) -> Result<(), VcfWriteError> {
        if !self.somatic {
            return Err(self.record_error(c.tid, c.pos, "somatic records belong in a somatic VCF only".into()));
        }
        let end = c.pos.saturating_add(c.ref_allele.len() as u64);
        let contig = self.locate(c.tid, c.pos, end)?;
        if let Some(undeclared) = c.filters.iter().find(|f| !self.filters.contains(*f)) {
            return Err(self.record_error(
                c.tid,
                c.pos,
                format!("filter {undeclared:?} is not declared in the header"),
            ));
        }
        self.line.clear();
        record::somatic_line(&mut self.line, &contig, c).map_err(|m| self.record_error(c.tid, c.pos, m))?;
        self.order.last = Some((c.tid, c.pos));
        self.emit()
    }

    /// Appends a reference block (gVCF only); `ref_base` is the reference base at `block.start`.
    /// Blocks of absent ploidy have no genotype and are not written.
    pub fn write_block(&mut self, block: &RefBlock, ref_base: u8) -> Result<(), VcfWriteError> {
        if !self.gvcf {
            return Err(self.record_error(block.tid, block.start, "reference blocks belong in a gVCF only".into()));
        }
        let contig = self.locate(block.tid, block.start, block.end)?;
        if block.ploidy == Ploidy::Absent {
            return Ok(());
        }
        self.line.clear();
        record::block_line(&mut self.line, &contig, block, ref_base)
            .map_err(|m| self.record_error(block.tid, block.start, m))?;
        self.order.last = Some((block.tid, block.start));
        self.order.block_end = block.end;
        self.emit()
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Closes the file, builds its index and commits both (data first, index last) with `.md5`s.
    pub fn finish(self) -> Result<WrittenVcf, VcfWriteError> {
        let VcfWriter { file, data, index, threads, records, .. } = self;
        let final_path = data.final_path().to_path_buf();
        file.close(&final_path)?;
        bgzf::build_tabix(data.path(), index.path(), TabixPreset::Vcf, threads, &final_path)?;
        let (data, index) =
            commit_with_index(data, index).map_err(|(path, source)| VcfWriteError::Io { path, source })?;
        Ok(WrittenVcf { data, index, records })
    }

    /// Checks that `[start, end)` on `tid` exists and comes in order; returns the contig name.
    fn locate(&mut self, tid: u32, start: u64, end: u64) -> Result<String, VcfWriteError> {
        let path = self.data.final_path();
        let (name, length) =
            self.contigs.get(tid as usize).map(|c| (c.name.clone(), c.length)).ok_or_else(|| {
                VcfWriteError::UnknownContig { path: path.to_path_buf(), tid, count: self.contigs.len() }
            })?;
        if end > length {
            return Err(self.record_error(tid, start, format!("ends at {end}, past the contig's length {length}")));
        }
        let order_err = |message: String| VcfWriteError::Order {
            path: path.to_path_buf(),
            contig: name.clone(),
            pos: start + 1,
            message,
        };
        if let Some((last_tid, last_pos)) = self.order.last {
            if tid < last_tid {
                return Err(order_err(format!("after a record on contig {:?}", self.contigs.name(last_tid))));
            }
            if tid == last_tid && start < last_pos {
                return Err(order_err(format!("after a record at position {}", last_pos + 1)));
            }
            if tid == last_tid && start < self.order.block_end {
                return Err(order_err(format!("inside a reference block ending at {}", self.order.block_end)));
            }
            if tid > last_tid {
                self.order.block_end = 0;
            }
        }
        Ok(name)
    }

    fn record_error(&self, tid: u32, start: u64, message: String) -> VcfWriteError {
        let contig = self.contigs.get(tid as usize).map(|c| c.name.clone()).unwrap_or_else(|| format!("#{tid}"));
        VcfWriteError::Record { path: self.data.final_path().to_path_buf(), contig, pos: start + 1, message }
    }

    fn emit(&mut self) -> Result<(), VcfWriteError> {
        self.file.write_all(&self.line, self.data.final_path())?;
        self.records += 1;
        Ok(())
    }
}

/// Removes files of an earlier run at final names (absent ones are fine).
fn remove_stale(paths: &[PathBuf]) -> Result<(), VcfWriteError> {
    remove_if_present(paths).map_err(|(path, source)| VcfWriteError::Io { path, source })
}

#[cfg(test)]
mod tests;
