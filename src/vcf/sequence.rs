//! Where normalization gets reference bases: the [`SequenceSource`] trait, and [`InMemoryFasta`],
//! a small loader that holds a whole FASTA in memory (one byte per base: fine for the 1 Mb test
//! and benchmark references, not meant for a 3 Gb genome; there, implement the trait over the
//! memory-mapped `genome::Reference`).

use super::error::{Location, VcfError};
use flate2::read::MultiGzDecoder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Random access to reference bases.
pub trait SequenceSource {
    /// Length of `contig`, or `None` when the reference has no such contig.
    fn contig_length(&self, contig: &str) -> Option<u64>;

    /// Bases `[start0, end0)` (0-based, half-open) of `contig`, any case. Callers stay within
    /// [`Self::contig_length`].
    fn fetch(&self, contig: &str, start0: u64, end0: u64) -> Result<Vec<u8>, String>;
}

/// A FASTA held in memory, bases upper-cased.
#[derive(Debug, Clone, Default)]
pub struct InMemoryFasta {
    path: PathBuf,
    contigs: HashMap<String, Vec<u8>>,
    order: Vec<String>,
}

impl InMemoryFasta {
    /// Reads a FASTA (plain or gzip/BGZF). Contig names are the first word of each `>` line.
    /// Cost: one pass; memory one byte per base.
    pub fn from_path(path: &Path) -> Result<Self, VcfError> {
        let io_err = |source| VcfError::Io { path: path.to_path_buf(), source };
        let mut file = BufReader::new(File::open(path).map_err(io_err)?);
        let gz = file.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn BufRead> =
            if gz { Box::new(BufReader::new(MultiGzDecoder::new(file))) } else { Box::new(file) };
        let mut fasta = Self { path: path.to_path_buf(), ..Self::default() };
        let mut current: Option<(String, Vec<u8>)> = None;
        for (index, line) in input.split(b'\n').enumerate() {
            let location = Location::Line(index as u64 + 1);
            let line = line.map_err(|e| VcfError::malformed(path, location, format!("cannot read this line: {e}")))?;
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if let Some(header) = line.strip_prefix(b">") {
                if let Some((name, seq)) = current.take() {
                    fasta.insert(name, seq, location)?;
                }
                let name = String::from_utf8_lossy(header).split_whitespace().next().unwrap_or("").to_string();
                if name.is_empty() {
                    return Err(VcfError::malformed(path, location, "FASTA header without a name"));
                }
                current = Some((name, Vec::new()));
            } else if !line.is_empty() {
                let Some((_, seq)) = current.as_mut() else {
                    return Err(VcfError::malformed(path, location, "FASTA sequence before the first `>` header"));
                };
                seq.extend(line.iter().map(u8::to_ascii_uppercase));
            }
        }
        match current {
            Some((name, seq)) => fasta.insert(name, seq, Location::Header)?,
            None => return Err(VcfError::malformed(path, Location::Header, "no FASTA record (`>` line)")),
        }
        Ok(fasta)
    }

    /// Builds one from `(name, bases)` pairs (tests, small fixtures).
    pub fn from_sequences<'a>(sequences: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut fasta = Self::default();
        for (name, seq) in sequences {
            fasta.order.push(name.to_string());
            fasta.contigs.insert(name.to_string(), seq.to_ascii_uppercase());
        }
        fasta
    }

    fn insert(&mut self, name: String, seq: Vec<u8>, location: Location) -> Result<(), VcfError> {
        if self.contigs.contains_key(&name) {
            return Err(VcfError::malformed(&self.path, location, format!("contig `{name}` appears twice")));
        }
        self.order.push(name.clone());
        self.contigs.insert(name, seq);
        Ok(())
    }

    /// Contig names in file order.
    pub fn contig_names(&self) -> &[String] {
        &self.order
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SequenceSource for InMemoryFasta {
    fn contig_length(&self, contig: &str) -> Option<u64> {
        self.contigs.get(contig).map(|s| s.len() as u64)
    }

    fn fetch(&self, contig: &str, start0: u64, end0: u64) -> Result<Vec<u8>, String> {
        let seq = self.contigs.get(contig).ok_or_else(|| format!("no contig `{contig}`"))?;
        let (start, end) = (start0 as usize, end0 as usize);
        seq.get(start..end)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("{contig}:{start0}-{end0} is outside the contig (length {})", seq.len()))
    }
}

/// The memory-mapped reference (through its `.fai`): what whole genomes use.
impl SequenceSource for crate::genome::reference::Reference {
    fn contig_length(&self, contig: &str) -> Option<u64> {
        self.contig(contig).map(|c| c.length)
    }
    fn fetch(&self, contig: &str, start0: u64, end0: u64) -> Result<Vec<u8>, String> {
        crate::genome::reference::Reference::fetch(self, contig, start0, end0).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_fasta_and_fetches_upper_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.fa");
        std::fs::write(&path, ">one desc\nacgt\nAC\r\n>two\nGG\n").unwrap();
        let fasta = InMemoryFasta::from_path(&path).unwrap();
        assert_eq!(fasta.contig_names(), ["one", "two"]);
        assert_eq!(fasta.contig_length("one"), Some(6));
        assert_eq!(fasta.fetch("one", 2, 5).unwrap(), b"GTA");
        assert!(fasta.fetch("one", 5, 7).is_err());
        assert!(fasta.fetch("three", 0, 1).is_err());
        assert_eq!(fasta.contig_length("three"), None);
    }

    #[test]
    fn rejects_malformed_fasta() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.fa");
        std::fs::write(&path, "ACGT\n").unwrap();
        let err = InMemoryFasta::from_path(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("before the first"), "{err}");
        std::fs::write(&path, ">a\nA\n>a\nC\n").unwrap();
        assert!(InMemoryFasta::from_path(&path).unwrap_err().to_string().contains("twice"));
    }
}
