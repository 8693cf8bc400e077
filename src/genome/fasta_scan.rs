//! One validating scan of a plain FASTA file, producing everything the reference cache needs:
//! the `.fai` layout of each contig, its SAM `M5` (MD5 of the upper-case sequence), the MD5 of the
//! whole file and the reference digest.
//!
//! Algorithm: the file is memory-mapped (nothing is loaded into RAM beyond the page cache). Pass 1
//! walks the lines once, sequentially: headers (first word = contig name, SAM name rules, no
//! duplicates), IUPAC characters (either case), and the line layout that `.fai` can describe
//! (every line of a contig but the last has the same number of bases and the same line ending;
//! blank lines only between contigs), mirroring `samtools faidx` so the `.fai` is byte-identical
//! for well-formed files. Pass 2 runs on the caller's rayon pool: one task per contig computes the
//! upper-case MD5 from the layout found in pass 1, while another hashes the whole file. Cost: one
//! sequential read plus parallel MD5s, about 3 s per GB on two cores; memory O(contigs).
//! Never panics on bad input: every problem is a [`ReferenceError`] naming file, line and contig.

use crate::genome::contig::{Contig, contig_name_problem, reference_digest};
use crate::genome::error::ReferenceError;
use crate::genome::fai::FaiRecord;
use md5::{Digest, Md5};
use memmap2::Mmap;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes hashed between two looks at the cancel flag.
const CHUNK: usize = 8 << 20;

/// IUPAC nucleotide codes, either case.
static IUPAC: [bool; 256] = iupac_table();

const fn iupac_table() -> [bool; 256] {
    let mut table = [false; 256];
    let codes = b"ACGTUNRYKMSWBDHV";
    let mut i = 0;
    while i < codes.len() {
        table[codes[i] as usize] = true;
        table[codes[i].to_ascii_lowercase() as usize] = true;
        i += 1;
    }
    table
}

/// One contig as found by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedContig {
    pub fai: FaiRecord,
    /// SAM `M5` (lower-case hex).
    pub md5: String,
    /// 1-based line of the `>` header.
    pub header_line: u64,
}

/// The result of [`scan_fasta`].
#[derive(Debug, Clone)]
pub struct FastaScan {
    pub path: PathBuf,
    pub file_size: u64,
    /// MD5 (lower-case hex) of the file's bytes.
    pub file_md5: String,
    pub contigs: Vec<ScannedContig>,
    /// See [`reference_digest`].
    pub digest: String,
}

impl FastaScan {
    pub fn total_length(&self) -> u64 {
        self.contigs.iter().map(|c| c.fai.length).sum()
    }
    pub fn fai_records(&self) -> Vec<FaiRecord> {
        self.contigs.iter().map(|c| c.fai.clone()).collect()
    }
    pub fn contig_list(&self) -> Vec<Contig> {
        self.contigs
            .iter()
            .map(|c| Contig { name: c.fai.name.clone(), length: c.fai.length, md5: Some(c.md5.clone()) })
            .collect()
    }
}

/// Scans and validates `path` (see the module documentation). Runs pass 2 on the current rayon
/// pool; returns [`ReferenceError::Cancelled`] soon after `cancel` is set.
pub fn scan_fasta(path: &Path, cancel: &AtomicBool) -> Result<FastaScan, ReferenceError> {
    let file = File::open(path).map_err(|e| ReferenceError::io(path, e))?;
    let meta = file.metadata().map_err(|e| ReferenceError::io(path, e))?;
    let not_fasta =
        |detail: &str| ReferenceError::NotFasta { path: path.to_path_buf(), line: 1, detail: detail.into() };
    if !meta.is_file() {
        return Err(not_fasta("not a regular file"));
    }
    if meta.len() == 0 {
        return Err(not_fasta("the file is empty"));
    }
    // SAFETY: the map is read-only; a reference modified while dagr reads it is a user error that
    // at worst yields wrong bytes (the stat record then no longer matches on the next run).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| ReferenceError::io(path, e))?;
    let data: &[u8] = &map;
    if data.starts_with(&[0x1f, 0x8b]) {
        return Err(not_fasta("the file is compressed (gzip/BGZF); dagr needs a plain FASTA: decompress it"));
    }
    let layout = scan_layout(path, data, cancel)?;
    let (file_md5, md5s) = rayon::join(
        || md5_chunked(data, cancel),
        || layout.par_iter().map(|(rec, _)| contig_md5(path, data, rec, cancel)).collect::<Result<Vec<_>, _>>(),
    );
    let (file_md5, md5s) = (file_md5?, md5s?);
    let contigs: Vec<ScannedContig> =
        layout.into_iter().zip(md5s).map(|((fai, header_line), md5)| ScannedContig { fai, md5, header_line }).collect();
    let digest = reference_digest(contigs.iter().map(|c| (c.fai.name.as_str(), c.fai.length, c.md5.as_str())));
    Ok(FastaScan { path: path.to_path_buf(), file_size: meta.len(), file_md5, contigs, digest })
}

/// Pass 1: the `.fai` record and header line of every contig, validating as it goes.
fn scan_layout(path: &Path, data: &[u8], cancel: &AtomicBool) -> Result<Vec<(FaiRecord, u64)>, ReferenceError> {
    let mut state = Layout { path, contigs: Vec::new(), names: HashMap::new(), open: None };
    let mut pos = 0usize;
    let mut line_no = 0u64;
    while pos < data.len() {
        line_no += 1;
        if line_no.is_multiple_of(1 << 18) && cancel.load(Ordering::Relaxed) {
            return Err(ReferenceError::Cancelled);
        }
        let rest = &data[pos..];
        let (len, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (i, pos + i + 1),
            None => (rest.len(), data.len()),
        };
        let (content, eol) = match &rest[..len] {
            [body @ .., b'\r'] => (body, 2),
            body => (body, 1),
        };
        state.line(line_no, content, eol, next as u64)?;
        pos = next;
    }
    state.close()?;
    if state.contigs.is_empty() {
        return Err(ReferenceError::NoContigs { path: path.to_path_buf() });
    }
    Ok(state.contigs)
}

/// Pass 1 state: finished contigs, names seen (→ header line) and the contig being read.
struct Layout<'a> {
    path: &'a Path,
    contigs: Vec<(FaiRecord, u64)>,
    names: HashMap<String, u64>,
    open: Option<OpenContig>,
}

impl Layout<'_> {
    /// One line without its line break (`eol` bytes: 1 for `\n` or end of file, 2 for `\r\n`).
    fn line(&mut self, line_no: u64, content: &[u8], eol: u64, next_offset: u64) -> Result<(), ReferenceError> {
        match (content.first(), self.open.as_mut()) {
            (None, Some(open)) => {
                open.blank_line.get_or_insert(line_no);
                Ok(())
            }
            (None, None) => Ok(()),
            (Some(b'>'), _) => self.header(line_no, &content[1..], next_offset),
            (Some(_), Some(open)) => open.sequence_line(self.path, line_no, content, eol),
            (Some(&first), None) => {
                let detail = if first == b'@' {
                    "the first record starts with `@`: this looks like FASTQ, not FASTA".to_string()
                } else {
                    format!(
                        "expected a `>` header line, found {:?}",
                        String::from_utf8_lossy(&content[..content.len().min(20)])
                    )
                };
                Err(ReferenceError::NotFasta { path: self.path.to_path_buf(), line: line_no, detail })
            }
        }
    }

    fn header(&mut self, line_no: u64, text: &[u8], offset: u64) -> Result<(), ReferenceError> {
        self.close()?;
        let end = text.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(text.len());
        let name_bytes = &text[..end];
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        if let Some(reason) = contig_name_problem(name_bytes) {
            return Err(ReferenceError::BadName { path: self.path.to_path_buf(), line: line_no, name, reason });
        }
        if let Some(&first_line) = self.names.get(&name) {
            return Err(ReferenceError::DuplicateContig {
                path: self.path.to_path_buf(),
                line: line_no,
                contig: name,
                first_line,
            });
        }
        self.names.insert(name.clone(), line_no);
        self.open = Some(OpenContig {
            name,
            header_line: line_no,
            offset,
            line_bases: 0,
            eol: 1,
            length: 0,
            short_line: None,
            blank_line: None,
        });
        Ok(())
    }

    /// Ends the contig being read, if any.
    fn close(&mut self) -> Result<(), ReferenceError> {
        let Some(open) = self.open.take() else { return Ok(()) };
        if open.length == 0 {
            return Err(ReferenceError::EmptySequence {
                path: self.path.to_path_buf(),
                line: open.header_line,
                contig: open.name,
            });
        }
        let record = FaiRecord {
            name: open.name,
            length: open.length,
            offset: open.offset,
            line_bases: open.line_bases,
            line_width: open.line_bases + open.eol,
        };
        self.contigs.push((record, open.header_line));
        Ok(())
    }
}

/// A contig whose sequence lines are being read.
struct OpenContig {
    name: String,
    header_line: u64,
    offset: u64,
    /// Bases and line-break bytes of the first sequence line.
    line_bases: u64,
    eol: u64,
    length: u64,
    /// A line that differs from the first (line, bases, eol): legal only as the last line.
    short_line: Option<(u64, u64, u64)>,
    /// A blank line seen since the header: legal only if no sequence line follows.
    blank_line: Option<u64>,
}

impl OpenContig {
    fn sequence_line(&mut self, path: &Path, line_no: u64, content: &[u8], eol: u64) -> Result<(), ReferenceError> {
        let inconsistent = |line: u64, detail: String| ReferenceError::InconsistentLines {
            path: path.to_path_buf(),
            line,
            contig: self.name.clone(),
            detail,
        };
        if let Some(line) = self.blank_line {
            return Err(ReferenceError::BlankLineInContig {
                path: path.to_path_buf(),
                line,
                contig: self.name.clone(),
            });
        }
        if let Some((line, bases, line_eol)) = self.short_line {
            let detail = if line_eol != self.eol {
                format!(
                    "this line ends with {} but the contig's first line with {}",
                    eol_name(line_eol),
                    eol_name(self.eol)
                )
            } else {
                format!(
                    "this line has {bases} bases, fewer than the {} of the contig's first line, but is not its last",
                    self.line_bases
                )
            };
            return Err(inconsistent(line, detail));
        }
        if let Some(i) = content.iter().position(|&b| !IUPAC[b as usize]) {
            return Err(ReferenceError::InvalidBase {
                path: path.to_path_buf(),
                line: line_no,
                column: i as u64 + 1,
                contig: self.name.clone(),
                byte: content[i],
            });
        }
        let bases = content.len() as u64;
        if self.length == 0 {
            self.line_bases = bases;
            self.eol = eol;
        } else if bases > self.line_bases {
            let detail =
                format!("this line has {bases} bases, more than the {} of the contig's first line", self.line_bases);
            return Err(inconsistent(line_no, detail));
        } else if bases < self.line_bases || eol != self.eol {
            self.short_line = Some((line_no, bases, eol));
        }
        self.length += bases;
        Ok(())
    }
}

fn eol_name(eol: u64) -> &'static str {
    if eol == 2 { "CR LF" } else { "LF" }
}

/// Pass 2, one contig: MD5 of its upper-case bases, read line by line through the layout.
fn contig_md5(path: &Path, data: &[u8], rec: &FaiRecord, cancel: &AtomicBool) -> Result<String, ReferenceError> {
    let mut hasher = Md5::new();
    let mut buf = Vec::with_capacity(CHUNK + rec.line_bases as usize);
    let mut pos = 0u64;
    while pos < rec.length {
        let n = rec.line_bases.min(rec.length - pos);
        let start = rec.byte_of(pos);
        let bytes = usize::try_from(start).ok().and_then(|s| data.get(s..s + n as usize)).ok_or_else(|| {
            ReferenceError::IndexMismatch {
                index: path.to_path_buf(),
                fasta: path.to_path_buf(),
                contig: rec.name.clone(),
            }
        })?;
        buf.extend_from_slice(bytes);
        pos += n;
        if buf.len() >= CHUNK || pos == rec.length {
            if cancel.load(Ordering::Relaxed) {
                return Err(ReferenceError::Cancelled);
            }
            buf.make_ascii_uppercase();
            hasher.update(&buf);
            buf.clear();
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// MD5 of `data`, looking at the cancel flag between chunks.
fn md5_chunked(data: &[u8], cancel: &AtomicBool) -> Result<String, ReferenceError> {
    let mut hasher = Md5::new();
    for chunk in data.chunks(CHUNK) {
        if cancel.load(Ordering::Relaxed) {
            return Err(ReferenceError::Cancelled);
        }
        hasher.update(chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
#[path = "fasta_scan_tests.rs"]
mod tests;
