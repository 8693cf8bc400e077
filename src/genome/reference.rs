//! Random access to a reference sequence through its `.fai`, on a memory map.
//!
//! [`Reference::open`] maps the FASTA read-only (no bytes are read until asked for, so a 3 Gb
//! genome costs address space, not RAM) and checks the `.fai` against the file size.
//! [`Reference::fetch`] copies the bases of a 0-based half-open interval line by line, in
//! O(length + lines) time, and upper-cases them. Lookups by name are O(1).

use crate::genome::contig::Contig;
use crate::genome::dict::read_md5_table;
use crate::genome::error::ReferenceError;
use crate::genome::fai::{FaiRecord, read_fai};
use memmap2::Mmap;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A FASTA opened for random access.
#[derive(Debug)]
pub struct Reference {
    path: PathBuf,
    map: Mmap,
    records: Vec<FaiRecord>,
    contigs: Vec<Contig>,
    by_name: HashMap<String, usize>,
}

impl Reference {
    /// Maps `fasta_path` and reads its `.fai`; contigs have no MD5 until [`Reference::attach_md5_table`].
    pub fn open(fasta_path: &Path, fai_path: &Path) -> Result<Reference, ReferenceError> {
        let records = read_fai(fai_path)?;
        let file = File::open(fasta_path).map_err(|e| ReferenceError::io(fasta_path, e))?;
        // SAFETY: read-only map; a FASTA changed while mapped yields wrong bases, not memory
        // unsafety in this code, which only copies bytes out of it with bounds checks.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ReferenceError::io(fasta_path, e))?;
        let size = map.len() as u64;
        if let Some(bad) = records.iter().find(|r| r.end_byte() > size) {
            return Err(ReferenceError::IndexMismatch {
                index: fai_path.to_path_buf(),
                fasta: fasta_path.to_path_buf(),
                contig: bad.name.clone(),
            });
        }
        let contigs = records.iter().map(|r| Contig { name: r.name.clone(), length: r.length, md5: None }).collect();
        let by_name = records.iter().enumerate().map(|(i, r)| (r.name.clone(), i)).collect();
        Ok(Reference { path: fasta_path.to_path_buf(), map, records, contigs, by_name })
    }

    /// Fills in contig MD5s from an MD5 table; its names and lengths must match the `.fai`.
    pub fn attach_md5_table(&mut self, table: &Path) -> Result<(), ReferenceError> {
        let listed = read_md5_table(table)?;
        let same = listed.len() == self.contigs.len()
            && listed.iter().zip(&self.contigs).all(|(a, b)| a.name == b.name && a.length == b.length);
        if !same {
            return Err(ReferenceError::BadIndexFile {
                path: table.to_path_buf(),
                line: 1,
                detail: format!("its contigs differ from those of {}", self.path.display()),
            });
        }
        for (contig, listed) in self.contigs.iter_mut().zip(listed) {
            contig.md5 = listed.md5;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Contigs in file order.
    pub fn contigs(&self) -> &[Contig] {
        &self.contigs
    }

    pub fn contig(&self, name: &str) -> Option<&Contig> {
        self.by_name.get(name).map(|&i| &self.contigs[i])
    }

    /// Sum of contig lengths.
    pub fn total_length(&self) -> u64 {
        self.contigs.iter().map(|c| c.length).sum()
    }

    /// Upper-case bases of `contig` in the 0-based half-open interval `start0..end0`.
    pub fn fetch(&self, contig: &str, start0: u64, end0: u64) -> Result<Vec<u8>, ReferenceError> {
        let Some(&i) = self.by_name.get(contig) else {
            return Err(ReferenceError::UnknownContig { path: self.path.clone(), contig: contig.to_string() });
        };
        let rec = &self.records[i];
        if start0 > end0 || end0 > rec.length {
            return Err(ReferenceError::OutOfRange {
                path: self.path.clone(),
                contig: contig.to_string(),
                start0,
                end0,
                length: rec.length,
            });
        }
        let mut out = Vec::with_capacity((end0 - start0) as usize);
        let mut pos = start0;
        while pos < end0 {
            let n = (rec.line_bases - pos % rec.line_bases).min(end0 - pos);
            let start = rec.byte_of(pos) as usize;
            let bytes = self.map.get(start..start + n as usize).ok_or_else(|| ReferenceError::IndexMismatch {
                index: self.path.clone(),
                fasta: self.path.clone(),
                contig: contig.to_string(),
            })?;
            out.extend_from_slice(bytes);
            pos += n;
        }
        out.make_ascii_uppercase();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genome::fai::write_fai;
    use crate::genome::fasta_scan::scan_fasta;
    use std::sync::atomic::AtomicBool;

    fn open(text: &str) -> (tempfile::TempDir, Reference) {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("r.fa");
        std::fs::write(&fasta, text).unwrap();
        let scan = scan_fasta(&fasta, &AtomicBool::new(false)).unwrap();
        let mut fai = Vec::new();
        write_fai(&scan.fai_records(), &mut fai).unwrap();
        std::fs::write(dir.path().join("r.fa.fai"), fai).unwrap();
        let mut table = Vec::new();
        crate::genome::dict::write_md5_table(&scan.contig_list(), &mut table).unwrap();
        std::fs::write(dir.path().join("r.md5.tsv"), table).unwrap();
        let reference = Reference::open(&fasta, &dir.path().join("r.fa.fai")).unwrap();
        (dir, reference)
    }

    #[test]
    fn fetch_crosses_lines_and_upper_cases() {
        let (dir, mut r) = open(">a desc\nACGTa\ncgtAC\nGT\n>b\nNNNN\nacgt\n");
        assert_eq!(r.total_length(), 20);
        assert_eq!(r.contig("a").map(|c| c.length), Some(12));
        assert_eq!(r.fetch("a", 0, 12).unwrap(), b"ACGTACGTACGT");
        assert_eq!(r.fetch("a", 3, 7).unwrap(), b"TACG");
        assert_eq!(r.fetch("a", 5, 5).unwrap(), b"");
        assert_eq!(r.fetch("a", 9, 12).unwrap(), b"CGT");
        assert_eq!(r.fetch("b", 2, 6).unwrap(), b"NNAC");
        assert!(r.contigs()[0].md5.is_none());
        r.attach_md5_table(&dir.path().join("r.md5.tsv")).unwrap();
        assert_eq!(r.contigs()[1].md5.as_deref(), Some("c7b499535c76b9920fbb7f80ac7547b6"));
    }

    #[test]
    fn bad_requests_are_errors() {
        let (_dir, r) = open(">a\nACGT\n");
        assert!(matches!(r.fetch("z", 0, 1), Err(ReferenceError::UnknownContig { .. })));
        assert!(matches!(r.fetch("a", 0, 5), Err(ReferenceError::OutOfRange { .. })));
        assert!(matches!(r.fetch("a", 3, 2), Err(ReferenceError::OutOfRange { .. })));
    }

    #[test]
    fn stale_fai_is_detected() {
        let (dir, _r) = open(">a\nACGT\n");
        let fasta = dir.path().join("r.fa");
        std::fs::write(&fasta, ">a\nAC\n").unwrap();
        let e = Reference::open(&fasta, &dir.path().join("r.fa.fai")).unwrap_err();
        assert!(matches!(e, ReferenceError::IndexMismatch { .. }), "{e}");
    }
}
