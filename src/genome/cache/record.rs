//! What the reference cache remembers: `reference.json` in each digest folder (the FASTA it was
//! prepared from, contigs, every file with its MD5 and size, indexes, versions) and one small stat
//! record per FASTA path in the cache root (path, size, mtime → digest), which spares rehashing a
//! 3 GB FASTA while its size and mtime are unchanged. Both are written atomically; unreadable or
//! foreign records are treated as absent, so the worst case is redoing work.

use crate::genome::Contig;
use crate::output_file::{Sidecar, write_atomic};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Bumped when the cache layout or the meaning of a file changes: older folders are rebuilt.
pub const CACHE_FORMAT: u32 = 1;
/// The record's name in a digest folder.
pub const RECORD_FILE: &str = "reference.json";

/// Identity of a FASTA file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastaStat {
    /// Canonical absolute path.
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: u64,
}

impl FastaStat {
    pub fn of(path: &Path) -> io::Result<FastaStat> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Ok(FastaStat { path: path.to_path_buf(), size: meta.len(), mtime_ns })
    }
}

/// A file of the cache folder: its name there, MD5 and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    pub file: String,
    pub md5: String,
    pub size: u64,
}

/// An aligner index of the cache folder (a minimap2 `.mmi` today; the JSON keeps minimap2's name
/// for the version so that existing caches stay valid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedIndex {
    #[serde(flatten)]
    pub file: RecordedFile,
    /// The builder's parameters (`{"k": 21, "w": 11}`).
    pub params: serde_json::Value,
    /// The indexer's version when it was built.
    #[serde(rename = "minimap2")]
    pub version: String,
}

/// `reference.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheRecord {
    pub format: u32,
    /// SHA-256 reference digest (see `genome::contig::reference_digest`).
    pub digest: String,
    /// Stem of the cache's file names (`<name>.fa`, `<name>.dict`, ...).
    pub name: String,
    pub fasta: FastaStat,
    /// MD5 of the FASTA file's bytes.
    pub fasta_md5: String,
    pub total_length: u64,
    /// Name, length and SAM `M5` of every contig, in FASTA order.
    pub contigs: Vec<Contig>,
    /// Role (`fai`, `dict`, `md5`) → file.
    pub files: BTreeMap<String, RecordedFile>,
    /// Parameter tag (`k21w11`) → index.
    pub indexes: BTreeMap<String, RecordedIndex>,
    pub dagr_version: String,
}

impl CacheRecord {
    /// The record of `dir`, if there is a readable one of this cache format.
    pub fn read(dir: &Path) -> Option<CacheRecord> {
        let text = std::fs::read(dir.join(RECORD_FILE)).ok()?;
        serde_json::from_slice::<CacheRecord>(&text).ok().filter(|r| r.format == CACHE_FORMAT)
    }

    pub fn write(&self, dir: &Path) -> io::Result<crate::output_file::WrittenFile> {
        let mut json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        json.push(b'\n');
        write_atomic(&dir.join(RECORD_FILE), &json, Sidecar::None)
    }
}

/// Files up to this size are re-hashed on every use (the `.fai`, `.dict` and MD5 table of even
/// a 3,000-contig reference are a few MB: milliseconds); larger ones (the index, GBs) are
/// checked by size here and by their own layout when loaded (`align::index::check_layout`).
pub const VERIFY_CONTENT_UP_TO: u64 = 64 << 20;

/// True when `dir/<file>` exists with the recorded size and, for files up to
/// [`VERIFY_CONTENT_UP_TO`], the recorded MD5.
pub fn file_intact(dir: &Path, recorded: &RecordedFile) -> bool {
    let path = dir.join(&recorded.file);
    let sized = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == recorded.size);
    if !sized || recorded.size > VERIFY_CONTENT_UP_TO {
        return sized;
    }
    crate::output_file::md5_of_file(&path).is_ok_and(|(md5, _)| md5 == recorded.md5)
}

/// What identifies a file's content beyond path, size and mtime: its inode and its change time.
/// `ctime` cannot be set back by a user (writing the file, or restoring its mtime with `touch` or
/// `utime`, moves it), so an in-place edit that keeps size and mtime is still noticed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub inode: u64,
    pub ctime_ns: i64,
}

impl FileIdentity {
    pub fn of(path: &Path) -> io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity { inode: meta.ino(), ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec() })
    }
}

/// The stat record of one FASTA path: the digest its content had at this size, mtime, inode and
/// ctime. (Records written before the identity was kept have none: the FASTA is scanned again.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StatRecord {
    format: u32,
    fasta: FastaStat,
    #[serde(default)]
    identity: Option<FileIdentity>,
    digest: String,
}

fn stat_record_path(root: &Path, fasta: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let key = hex::encode(Sha256::digest(fasta.as_os_str().as_bytes()));
    root.join(format!("fasta-stat.{}.json", &key[..16]))
}

/// The digest recorded for `stat`, if its path, size, mtime, inode and ctime are unchanged.
pub fn cached_digest(root: &Path, stat: &FastaStat, identity: FileIdentity) -> Option<String> {
    let text = std::fs::read(stat_record_path(root, &stat.path)).ok()?;
    let record: StatRecord = serde_json::from_slice(&text).ok()?;
    (record.format == CACHE_FORMAT && record.fasta == *stat && record.identity == Some(identity))
        .then_some(record.digest)
}

pub fn remember_digest(root: &Path, stat: &FastaStat, identity: FileIdentity, digest: &str) -> io::Result<()> {
    let record =
        StatRecord { format: CACHE_FORMAT, fasta: stat.clone(), identity: Some(identity), digest: digest.to_string() };
    let json = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
    write_atomic(&stat_record_path(root, &stat.path), &json, Sidecar::None).map(|_| ())
}

/// Forgets the stat record of `fasta` (its content no longer matches).
pub fn forget_digest(root: &Path, fasta: &Path) {
    let _ = std::fs::remove_file(stat_record_path(root, fasta));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_record_is_trusted_only_while_size_mtime_inode_and_ctime_match() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("r.fa");
        std::fs::write(&fasta, ">a\nACGT\n").unwrap();
        let stat = FastaStat::of(&fasta).unwrap();
        let id = FileIdentity::of(&fasta).unwrap();
        assert_eq!(cached_digest(dir.path(), &stat, id), None);
        remember_digest(dir.path(), &stat, id, "abc").unwrap();
        assert_eq!(cached_digest(dir.path(), &stat, id).as_deref(), Some("abc"));
        let changed = FastaStat { size: stat.size + 1, ..stat.clone() };
        assert_eq!(cached_digest(dir.path(), &changed, id), None);
        // Same size, mtime set back: the change time still moved.
        let mtime = std::fs::metadata(&fasta).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&fasta, ">a\nACGA\n").unwrap();
        std::fs::File::options().write(true).open(&fasta).unwrap().set_modified(mtime).unwrap();
        assert_eq!(FastaStat::of(&fasta).unwrap(), stat, "size and mtime as before");
        assert_eq!(cached_digest(dir.path(), &stat, FileIdentity::of(&fasta).unwrap()), None);
        forget_digest(dir.path(), &fasta);
        assert_eq!(cached_digest(dir.path(), &stat, id), None);
    }
}
