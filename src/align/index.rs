//! minimap2 short-read (`sr` preset) indexes: building a `.mmi` from a FASTA and loading it.
//!
//! Building runs minimap2's own indexer (`mm_idx_reader_read`: minimizer sampling with k-mer size
//! `k` and window `w`, then sorting into hash buckets) on `threads` threads; it costs about one
//! minute and 12 GB of memory per 3 Gb of reference with the `sr` defaults k=21, w=11 and writes a
//! file of similar size. minimap2 writes by path, so the index goes to a temporary name beside its
//! destination and is committed (hashed, fsynced, renamed) only once complete. Loading reads the
//! whole `.mmi` into memory; share the loaded aligner (`Arc`) rather than loading twice.
//!
//! The index is always built from a file path (`with_index`), never from in-memory sequences:
//! the crate's `with_seqs` crashes with more than one sequence.

use crate::output_file::{Sidecar, TempPath, WrittenFile};
use minimap2::{Aligner, Built, PresetSet};
use std::fs::File;
use std::io::{self, Read};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// minimap2 k-mer sizes dagr accepts.
pub const K_RANGE: RangeInclusive<u8> = 10..=28;
/// minimap2 minimizer window sizes dagr accepts.
pub const W_RANGE: RangeInclusive<u8> = 1..=50;
/// The first bytes of every `.mmi`.
const MMI_MAGIC: &[u8; 4] = b"MMI\x02";

/// Minimizer parameters of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct IndexParams {
    pub k: u8,
    pub w: u8,
}

impl Default for IndexParams {
    /// minimap2's `sr` preset: k=21, w=11.
    fn default() -> Self {
        IndexParams { k: 21, w: 11 }
    }
}

impl IndexParams {
    /// Checks `k` against [`K_RANGE`] and `w` against [`W_RANGE`].
    pub fn new(k: i64, w: i64) -> Result<Self, IndexError> {
        let k = u8::try_from(k).ok().filter(|k| K_RANGE.contains(k));
        let w = u8::try_from(w).ok().filter(|w| W_RANGE.contains(w));
        match (k, w) {
            (Some(k), Some(w)) => Ok(IndexParams { k, w }),
            _ => Err(IndexError::Params(format!(
                "minimizer k must be in {}..={} and w in {}..={}",
                K_RANGE.start(),
                K_RANGE.end(),
                W_RANGE.start(),
                W_RANGE.end()
            ))),
        }
    }

    /// `k21w11`: part of index file names, so indexes of different parameters coexist.
    pub fn tag(&self) -> String {
        format!("k{}w{}", self.k, self.w)
    }
}

/// Index building or loading failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Params(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("minimap2 could not index {}: {detail}", fasta.display())]
    Build { fasta: PathBuf, detail: String },
    #[error("{}: not a usable minimap2 index: {detail}", path.display())]
    Load { path: PathBuf, detail: String },
}

/// Index parameters out of range are bad usage; everything else is a runtime failure.
impl crate::outcome::Classify for IndexError {
    fn failure(&self) -> crate::outcome::Failure {
        match self {
            IndexError::Params(_) => crate::outcome::Failure::BadInput,
            _ => crate::outcome::Failure::Runtime,
        }
    }
}

/// The bundled minimap2's version, e.g. `2.29-r1283`.
pub fn minimap2_version() -> String {
    minimap2::ffi::MM_VERSION.to_string_lossy().into_owned()
}

/// Builds the `sr` index of `fasta` with `params` on `threads` threads and commits it to `mmi`.
pub fn build_index(fasta: &Path, mmi: &Path, params: IndexParams, threads: usize) -> Result<WrittenFile, IndexError> {
    File::open(fasta).map_err(|source| IndexError::Io { path: fasta.to_path_buf(), source })?;
    let tmp = TempPath::new(mmi);
    let tmp_str = tmp.path().to_str().ok_or_else(|| IndexError::Io {
        path: mmi.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "minimap2 needs a UTF-8 path"),
    })?;
    let mut builder = Aligner::builder().sr().with_index_threads(threads.max(1));
    builder.idxopt.k = i16::from(params.k);
    builder.idxopt.w = i16::from(params.w);
    let aligner = builder
        .with_index(fasta, Some(tmp_str))
        .map_err(|e| IndexError::Build { fasta: fasta.to_path_buf(), detail: e.to_string() })?;
    drop(aligner);
    // minimap2 does not report failed writes (a full disk): walk the file's own layout to its end
    // before it may carry its final name.
    check_layout(tmp.path()).map_err(|detail| IndexError::Build {
        fasta: fasta.to_path_buf(),
        detail: format!("the index file was not written completely ({detail}); is the disk full?"),
    })?;
    tmp.commit(Sidecar::None).map_err(|source| IndexError::Io { path: mmi.to_path_buf(), source })
}

/// The minimap2 index of a prepared reference, for the reference cache
/// (`genome::cache::IndexBuilder`): tag `k<k>w<w>`, extension `mmi`, the bundled minimap2's
/// version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minimap2Index {
    pub params: IndexParams,
}

impl crate::genome::cache::IndexBuilder for Minimap2Index {
    fn tag(&self) -> String {
        self.params.tag()
    }
    fn extension(&self) -> &'static str {
        "mmi"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "k": self.params.k, "w": self.params.w })
    }
    fn version(&self) -> String {
        minimap2_version()
    }
    fn build(
        &self,
        fasta: &Path,
        path: &Path,
        threads: usize,
    ) -> Result<WrittenFile, crate::genome::cache::IndexBuildError> {
        build_index(fasta, path, self.params, threads).map_err(|e| crate::genome::cache::IndexBuildError(Box::new(e)))
    }
}

/// Loads a `.mmi` written by [`build_index`] with the `sr` mapping preset and base-level
/// alignment (CIGAR) on, as read mapping needs.
pub fn load_index(mmi: &Path, threads: usize) -> Result<Aligner<Built>, IndexError> {
    load_index_with(mmi, threads, |preset| preset.with_cigar())
}

/// Loads a `.mmi` with the `sr` preset adjusted by `configure` (mapping options only: the
/// index's own k and w always apply). The file's layout is checked first ([`check_layout`]):
/// minimap2 aborts the process on a truncated index.
pub fn load_index_with(
    mmi: &Path,
    threads: usize,
    configure: impl FnOnce(Aligner<PresetSet>) -> Aligner<PresetSet>,
) -> Result<Aligner<Built>, IndexError> {
    check_layout(mmi).map_err(|detail| IndexError::Load { path: mmi.to_path_buf(), detail })?;
    configure(Aligner::builder().sr().with_index_threads(threads.max(1)))
        .with_index(mmi, None)
        .map_err(|e| IndexError::Load { path: mmi.to_path_buf(), detail: e.to_string() })
}

/// The k and w recorded in a `.mmi` header (magic, then w, k, bucket bits, n_seq, flags as u32).
pub fn read_index_params(mmi: &Path) -> Result<IndexParams, IndexError> {
    let header = read_header(mmi).map_err(|detail| IndexError::Load { path: mmi.to_path_buf(), detail })?;
    let field = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    IndexParams::new(i64::from(field(8)), i64::from(field(4)))
        .map_err(|e| IndexError::Load { path: mmi.to_path_buf(), detail: e.to_string() })
}

/// `MM_I_NO_SEQ` in a `.mmi` header's flags: the packed sequence is not stored.
const MM_I_NO_SEQ: u32 = 0x2;

/// Checks that `path` holds a whole `.mmi` as minimap2's `mm_idx_dump` writes it: the magic, the
/// header (w, k, b, n_seq, flags), each sequence's name and length, `2^b` buckets of positions
/// and hash entries, then the packed sequence: every count read leads exactly to the end of the
/// file. A truncated file (a write that failed on a full disk, which minimap2 does not report)
/// ends before its counts do. Cost: reads the counts and seeks past the data, about 16 KiB of
/// reads for the `sr` defaults whatever the genome size.
pub fn check_layout(path: &Path) -> Result<(), String> {
    walk_layout(path).map(|_| ())
}

/// The bytes a `.mmi` takes in memory once minimap2 has loaded it (`mm_idx_load`), computed from
/// the file's counts as [`check_layout`] walks them: per bucket, its position array (8 bytes per
/// entry) and its hash table, which `kh_resize` sizes to the entry count rounded up to a power of
/// two and doubled when that would be fuller than khash's 0.77 load factor (16 bytes per slot
/// plus 2 flag bits); then the packed sequence (4 bits per base) and the names. On GRCh37 chr20
/// (a 184 MB `.mmi`) this is 317.0 MB, 1.73× the file (the hash tables are 53 % full), against
/// 317.6 MB of RSS growth measured across `mm_idx_load`.
pub fn index_resident_bytes(path: &Path) -> Result<u64, String> {
    walk_layout(path)
}

/// Walks a `.mmi`'s layout (see [`check_layout`]) and returns its resident size (see
/// [`index_resident_bytes`]).
fn walk_layout(path: &Path) -> Result<u64, String> {
    use std::io::{BufReader, Seek};
    /// Bytes malloc adds to each allocation (header and rounding), as the sort estimates it.
    const MALLOC_OVERHEAD: u64 = 16;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut r = BufReader::new(file);
    let short = |what: &str| format!("the file ends inside {what}");
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).map_err(|_| short("the magic"))?;
    if &magic != MMI_MAGIC {
        return Err("it does not start with the minimap2 index magic".into());
    }
    let u32_at = |r: &mut BufReader<File>, what: &str| -> Result<u32, String> {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(|_| short(what))?;
        Ok(u32::from_le_bytes(b))
    };
    let mut header = [0u32; 5];
    for h in &mut header {
        *h = u32_at(&mut r, "the header")?;
    }
    let [_w, _k, b, n_seq, flag] = header;
    if b > 32 {
        return Err(format!("bucket bits {b} is not a minimap2 value"));
    }
    let mut sum_len = 0u64;
    // mm_idx_t, its bucket array and one mm_idx_seq_t (name pointer, offset, length) per contig.
    let mut resident = 256 + (1u64 << b) * 32 + u64::from(n_seq) * 24;
    for _ in 0..n_seq {
        let mut l = [0u8; 1];
        r.read_exact(&mut l).map_err(|_| short("the sequence names"))?;
        r.seek_relative(i64::from(l[0])).map_err(|e| e.to_string())?;
        resident += u64::from(l[0]) + 1;
        sum_len += u64::from(u32_at(&mut r, "the sequence lengths")?);
    }
    for _ in 0..(1u64 << b) {
        let n = u32_at(&mut r, "the buckets")?;
        r.seek_relative(8 * i64::from(n)).map_err(|e| e.to_string())?;
        if n > 0 {
            resident += 8 * u64::from(n) + MALLOC_OVERHEAD;
        }
        let size = u32_at(&mut r, "the buckets")?;
        r.seek_relative(16 * i64::from(size)).map_err(|e| e.to_string())?;
        if size > 0 {
            let slots = khash_slots(u64::from(size));
            resident += 16 * slots + slots / 4 + 3 * MALLOC_OVERHEAD + 48;
        }
    }
    let mut end = r.stream_position().map_err(|e| e.to_string())?;
    if flag & MM_I_NO_SEQ == 0 {
        end += 4 * sum_len.div_ceil(8);
        resident += 4 * sum_len.div_ceil(8);
    }
    if end > file_len {
        return Err(format!("{file_len} bytes where its layout needs {end}"));
    }
    if end < file_len {
        return Err(format!("{file_len} bytes where its layout ends at {end}"));
    }
    Ok(resident)
}

/// Slots of a khash table after `kh_resize(h, n)` and `n` insertions: `n` rounded up to a power
/// of two (at least 4), doubled while `n` reaches the 0.77 load factor's upper bound.
fn khash_slots(n: u64) -> u64 {
    let mut slots = n.next_power_of_two().max(4);
    while n > (slots as f64 * 0.77 + 0.5) as u64 {
        slots *= 2;
    }
    slots
}

/// The first 12 bytes of a `.mmi`, checked to start with the magic.
fn read_header(path: &Path) -> Result<[u8; 12], String> {
    let mut header = [0u8; 12];
    File::open(path).and_then(|mut f| f.read_exact(&mut header)).map_err(|e| e.to_string())?;
    if header.starts_with(MMI_MAGIC) {
        Ok(header)
    } else {
        Err("it does not start with the minimap2 index magic".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn a_truncated_index_fails_its_layout_check() {
        let d = tempfile::tempdir().unwrap();
        let fasta = d.path().join("r.fa");
        std::fs::write(&fasta, format!(">c\n{}\n", random_bases(3, 20_000))).unwrap();
        let mmi = d.path().join("r.mmi");
        build_index(&fasta, &mmi, IndexParams::default(), 1).unwrap();
        check_layout(&mmi).unwrap();
        let bytes = std::fs::read(&mmi).unwrap();
        for cut in [bytes.len() - 1, bytes.len() / 3, 30] {
            std::fs::write(&mmi, &bytes[..cut]).unwrap();
            let e = check_layout(&mmi).unwrap_err();
            assert!(e.contains("ends") || e.contains("needs"), "cut at {cut}: {e}");
            assert!(load_index(&mmi, 1).is_err(), "a truncated index is refused before minimap2 sees it");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        std::fs::write(&mmi, &longer).unwrap();
        assert!(check_layout(&mmi).is_err());
    }

    /// Deterministic pseudo-random bases (xorshift64).
    fn random_bases(seed: u64, n: usize) -> String {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"ACGT"[(x >> 33) as usize % 4])
            })
            .collect()
    }

    fn wrapped(seq: &str, width: usize) -> String {
        let mut out = String::new();
        for chunk in seq.as_bytes().chunks(width) {
            let _ = writeln!(out, "{}", String::from_utf8_lossy(chunk));
        }
        out
    }

    #[test]
    fn two_contig_index_builds_loads_and_maps() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("ref.fa");
        let (c1, c2) = (random_bases(1, 20_000), random_bases(2, 20_000));
        std::fs::write(&fasta, format!(">c1\n{}>c2 second\n{}", wrapped(&c1, 60), wrapped(&c2, 60))).unwrap();
        let mmi = dir.path().join("ref.k19w10.mmi");
        let params = IndexParams::new(19, 10).unwrap();
        let written = build_index(&fasta, &mmi, params, 2).unwrap();
        assert_eq!(written.path, mmi);
        assert!(written.size > 1000);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");

        let aligner = load_index(&mmi, 1).unwrap();
        assert_eq!(aligner.n_seq(), 2);
        assert_eq!(read_index_params(&mmi).unwrap(), params);
        for (contig, seq, start) in [("c1", &c1, 500usize), ("c2", &c2, 12_345)] {
            let read = &seq.as_bytes()[start..start + 150];
            let hits = aligner.map(read, false, false, None, None, Some(b"r")).unwrap();
            let best = hits.iter().find(|m| m.is_primary).expect("a primary hit");
            assert_eq!(best.target_name.as_deref().map(String::as_str), Some(contig));
            assert_eq!(best.target_start as usize, start);
        }
    }

    #[test]
    fn params_are_checked() {
        assert_eq!(IndexParams::default().tag(), "k21w11");
        assert!(IndexParams::new(9, 11).is_err());
        assert!(IndexParams::new(29, 11).is_err());
        assert!(IndexParams::new(21, 0).is_err());
        assert!(IndexParams::new(21, 51).is_err());
        assert!(IndexParams::new(28, 50).is_ok());
    }

    #[test]
    fn loading_a_fasta_or_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("ref.fa");
        std::fs::write(&fasta, ">c1\nACGT\n").unwrap();
        assert!(matches!(load_index(&fasta, 1), Err(IndexError::Load { .. })));
        assert!(matches!(load_index(&dir.path().join("none.mmi"), 1), Err(IndexError::Load { .. })));
        let e = build_index(&dir.path().join("none.fa"), &dir.path().join("x.mmi"), IndexParams::default(), 1);
        assert!(matches!(e, Err(IndexError::Io { .. })));
    }
}
