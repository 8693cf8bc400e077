//! The callable-regions BED (`<sample>.callable.bed.gz`): where the genotype is confident, so a
//! negative result (no variant) can be reported there.
//!
//! Format: BGZF-compressed BED3, `contig<TAB>start<TAB>end`, 0-based half-open, in the contig order
//! of the header the writer is given, then by start; intervals that overlap or abut are merged
//! into one line. Input must come in that order (a start before the previous interval's start is
//! refused). No index (the file is small: one line per confident stretch); committed atomically
//! with an `.md5` sidecar. Cost: O(1) per interval, one pending interval held.

use super::bgzf::BgzfFile;
use super::{VcfWriteError, remove_stale, with_suffix};
use crate::genome::{Contig, ContigTable};
use crate::output_file::{Sidecar, TempPath, WrittenFile};
use std::io::Write as _;
use std::path::Path;

/// A committed callable BED and how many (merged) intervals and bases it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBed {
    pub data: WrittenFile,
    pub intervals: u64,
    pub bases: u64,
}

/// Writes merged confident intervals; see the module docs.
pub struct CallableBedWriter {
    // First, so it closes before the temporary file is removed on drop.
    file: BgzfFile,
    data: TempPath,
    contigs: ContigTable,
    pending: Option<(u32, u64, u64)>,
    line: Vec<u8>,
    intervals: u64,
    bases: u64,
}

impl CallableBedWriter {
    /// Opens `final_path` (must end in `.bed.gz`) under a temporary name.
    pub fn create(final_path: &Path, contigs: &[Contig], threads: usize) -> Result<Self, VcfWriteError> {
        if !final_path.to_string_lossy().ends_with(".bed.gz") || final_path.file_name().is_none() {
            return Err(VcfWriteError::BadName { path: final_path.to_path_buf(), expected: "bed.gz" });
        }
        let data = TempPath::new(final_path);
        let file = BgzfFile::create(data.path(), threads, final_path)?;
        Ok(CallableBedWriter {
            file,
            data,
            contigs: ContigTable::new(contigs.to_vec()),
            pending: None,
            line: Vec::with_capacity(64),
            intervals: 0,
            bases: 0,
        })
    }

    /// Adds the confident interval `[start, end)` (0-based) on contig `tid`. Empty ones are skipped.
    pub fn push(&mut self, tid: u32, start: u64, end: u64) -> Result<(), VcfWriteError> {
        let record_err = |contig: String, message: String| VcfWriteError::Record {
            path: self.data.final_path().to_path_buf(),
            contig,
            pos: start + 1,
            message,
        };
        let Some(Contig { name, length, .. }) = self.contigs.get(tid as usize) else {
            let count = self.contigs.len();
            return Err(VcfWriteError::UnknownContig { path: self.data.final_path().to_path_buf(), tid, count });
        };
        if end > *length || start > end {
            return Err(record_err(name.clone(), format!("interval [{start},{end}) is not within 0..{length}")));
        }
        if start == end {
            return Ok(());
        }
        match &mut self.pending {
            Some((ptid, pstart, _)) if (tid, start) < (*ptid, *pstart) => Err(VcfWriteError::Order {
                path: self.data.final_path().to_path_buf(),
                contig: name.clone(),
                pos: start + 1,
                message: format!("after an interval starting at {} on contig #{ptid}", *pstart + 1),
            }),
            Some((ptid, _, pend)) if *ptid == tid && start <= *pend => {
                *pend = (*pend).max(end);
                Ok(())
            }
            _ => {
                let closed = self.pending.replace((tid, start, end));
                closed.map_or(Ok(()), |interval| self.emit(interval))
            }
        }
    }

    /// Adds every interval of `intervals` (see [`Self::push`]).
    pub fn extend(&mut self, intervals: impl IntoIterator<Item = (u32, u64, u64)>) -> Result<(), VcfWriteError> {
        intervals.into_iter().try_for_each(|(tid, start, end)| self.push(tid, start, end))
    }

    /// Writes the last interval, closes the file and commits it with its `.md5`.
    pub fn finish(mut self) -> Result<WrittenBed, VcfWriteError> {
        if let Some(interval) = self.pending.take() {
            self.emit(interval)?;
        }
        let CallableBedWriter { file, data, intervals, bases, .. } = self;
        let final_path = data.final_path().to_path_buf();
        file.close(&final_path)?;
        remove_stale(&[with_suffix(&final_path, "md5")])?;
        let data = data.commit(Sidecar::Md5).map_err(|source| VcfWriteError::Io { path: final_path, source })?;
        Ok(WrittenBed { data, intervals, bases })
    }

    fn emit(&mut self, (tid, start, end): (u32, u64, u64)) -> Result<(), VcfWriteError> {
        self.line.clear();
        let name = self.contigs.name(tid);
        let _ = writeln!(self.line, "{name}\t{start}\t{end}");
        self.file.write_all(&self.line, self.data.final_path())?;
        self.intervals += 1;
        self.bases += end - start;
        Ok(())
    }
}
