//! The prepared-reference cache: what `dagr prepare-reference` and the `prepare_reference` stage
//! make of a FASTA, once per reference content.
//!
//! [`prepare_reference`] turns a FASTA into a digest-keyed cache folder
//! `<cache root>/<first 16 hex of the reference digest>/` holding `<name>.fa` (a symlink to the
//! FASTA), `<name>.fa.fai`, `<name>.dict`, `<name>.md5.tsv`, the aligner's index
//! `<name>.<tag>.<ext>` (e.g. `ref.k21w11.mmi`) and `reference.json` (see [`record`]). The cache
//! root defaults to `<fasta>.dagr/` beside the FASTA. The index is built by an [`IndexBuilder`]
//! the caller passes in (the aligner's module implements it: `align::Minimap2Index`), so this
//! module stays below the aligner.
//!
//! Algorithm: (1) under a lock on the cache root, find the digest: trusted from the stat record
//! while the FASTA's size and mtime are unchanged, else by one validating scan
//! (`genome::fasta_scan`, about 3 s per GB); (2) take an exclusive lock on the digest folder, so
//! concurrent jobs never race (a second job waits, then finds everything up to date); (3) redo
//! only what is missing or stale: the `.fai`, `.dict` and symlink follow the FASTA file, the MD5
//! table its content, the `.mmi` its content, the parameters and the minimap2 version; (4) write
//! `reference.json` last. Every file is written under a temporary name and renamed into place.
//! Files are checked on every use by size, the small ones (`.fai`, `.dict`, MD5 table) also by
//! their recorded MD5, the index by its own layout when loaded. An up-to-date cache costs a few
//! `stat` calls and milliseconds of hashing; building the index dominates otherwise.

mod record;

pub use record::{CacheRecord, FastaStat, FileIdentity, RecordedFile, RecordedIndex};

use super::contig::Contig;
use super::dict::{file_uri, write_dict, write_md5_table};
use super::fai::write_fai;
use super::{FastaScan, ReferenceError, scan_fasta};
use crate::outcome::{Classify, Failure};
use crate::output_file::{OutputFile, Sidecar, WrittenFile, md5_of_file, remove_stale_temps, temp_name_for};
use record::{RECORD_FILE, cached_digest, file_intact, forget_digest, remember_digest};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An error that says its failure class (the builder's own error type).
pub trait ClassifiedError: std::error::Error + Classify + Send + Sync {}

impl<E: std::error::Error + Classify + Send + Sync> ClassifiedError for E {}

/// Building the index failed: the builder's error, with its class and causes.
#[derive(Debug)]
pub struct IndexBuildError(pub Box<dyn ClassifiedError>);

impl std::fmt::Display for IndexBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for IndexBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Classify for IndexBuildError {
    fn failure(&self) -> Failure {
        self.0.failure()
    }
}

/// The aligner's index of a prepared reference: how it is named, versioned and built. The cache
/// decides when to build it (missing, damaged, or made by another version) under its lock.
pub trait IndexBuilder: Sync {
    /// Names the index among others of the same reference, in file names and the record:
    /// `k21w11` for minimap2 with k=21, w=11.
    fn tag(&self) -> String;
    /// The index file's extension (`mmi`).
    fn extension(&self) -> &'static str;
    /// Parameters recorded with the index in `reference.json`.
    fn params(&self) -> serde_json::Value;
    /// The indexer's version: an index built by another version is rebuilt.
    fn version(&self) -> String;
    /// Builds the index of `fasta` at `path`, written atomically.
    fn build(&self, fasta: &Path, path: &Path, threads: usize) -> Result<WrittenFile, IndexBuildError>;
}

const HINT_BESIDE: &str = "the folder beside the FASTA is not writable: pass --cache-dir DIR (dagr prepare-reference) \
or --reference-cache DIR (dagr run) to keep the prepared reference elsewhere";
const HINT_GIVEN: &str = "choose a writable folder for --cache-dir / --reference-cache";

/// How to prepare.
#[derive(Clone, Copy)]
pub struct PrepareOptions<'a> {
    /// Builds the aligner's index.
    pub index: &'a dyn IndexBuilder,
    /// Threads for building the index.
    pub threads: usize,
}

/// Preparation failed.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Reference(ReferenceError),
    /// Building the aligner's index failed.
    #[error(transparent)]
    Index(#[from] IndexBuildError),
    #[error("cannot write the reference cache in {}: {source}; {hint}", dir.display())]
    NotWritable { dir: PathBuf, source: io::Error, hint: &'static str },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a prepared reference: {detail} (run `dagr prepare-reference`)", dir.display())]
    NotPrepared { dir: PathBuf, detail: String },
    #[error("{}: the FASTA changed while it was being prepared; run again", path.display())]
    Changed { path: PathBuf },
    #[error("interrupted")]
    Cancelled,
}

impl From<ReferenceError> for PrepareError {
    fn from(e: ReferenceError) -> Self {
        match e {
            ReferenceError::Cancelled => PrepareError::Cancelled,
            other => PrepareError::Reference(other),
        }
    }
}

/// Bad input (exit 2) when the user's FASTA or options are wrong or the cache folder is not
/// writable; interrupted on a signal; a runtime failure otherwise.
impl crate::outcome::Classify for PrepareError {
    fn failure(&self) -> crate::outcome::Failure {
        use crate::outcome::Failure;
        match self {
            PrepareError::Reference(e) => e.failure(),
            PrepareError::Index(e) => e.failure(),
            PrepareError::NotWritable { .. } => Failure::BadInput,
            PrepareError::Cancelled => Failure::Interrupted,
            _ => Failure::Runtime,
        }
    }
}

impl PrepareError {
    fn io(path: &Path, source: io::Error) -> Self {
        PrepareError::Io { path: path.to_path_buf(), source }
    }
}

/// One file of a prepared reference, as a later stage sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedFile {
    /// `fasta`, `fai`, `dict`, `md5`, `mmi` or `info`.
    pub role: &'static str,
    pub path: PathBuf,
    pub md5: String,
    pub size: u64,
}

/// A prepared reference: its cache folder, files, digest and contigs.
#[derive(Debug, Clone)]
pub struct PreparedReference {
    pub dir: PathBuf,
    /// `<dir>/<name>.fa`, a symlink to the FASTA; `fai` is `<dir>/<name>.fa.fai` beside it.
    pub fasta: PathBuf,
    pub fai: PathBuf,
    pub dict: PathBuf,
    pub md5_table: PathBuf,
    /// The aligner's index (role `mmi`).
    pub mmi: PathBuf,
    /// `reference.json`.
    pub info: PathBuf,
    pub digest: String,
    pub contigs: Vec<Contig>,
    pub total_length: u64,
    /// The index's tag (`k21w11`).
    pub index: String,
    /// The files above with their MD5s, in role order fasta, fai, dict, md5, mmi, info.
    pub files: Vec<PreparedFile>,
    /// Roles written by this preparation; empty when everything was up to date.
    pub rebuilt: Vec<&'static str>,
}

impl PreparedReference {
    pub fn up_to_date(&self) -> bool {
        self.rebuilt.is_empty()
    }

    /// Opens a prepared cache folder with the index tagged `tag` (`k21w11`).
    pub fn load(dir: &Path, tag: &str) -> Result<PreparedReference, PrepareError> {
        let record = CacheRecord::read(dir).ok_or_else(|| not_prepared(dir, format!("no readable {RECORD_FILE}")))?;
        Self::from_record(dir, &record, tag, Vec::new(), None)
    }

    fn from_record(
        dir: &Path,
        record: &CacheRecord,
        tag: &str,
        rebuilt: Vec<&'static str>,
        info: Option<WrittenFile>,
    ) -> Result<PreparedReference, PrepareError> {
        let mut files = Vec::new();
        let fasta = dir.join(format!("{}.fa", record.name));
        files.push(PreparedFile {
            role: "fasta",
            path: fasta.clone(),
            md5: record.fasta_md5.clone(),
            size: record.fasta.size,
        });
        for role in ["fai", "dict", "md5"] {
            let f = record.files.get(role).ok_or_else(|| not_prepared(dir, format!("no `{role}` file recorded")))?;
            if !file_intact(dir, f) {
                return Err(not_prepared(dir, format!("{} is missing or changed", f.file)));
            }
            files.push(PreparedFile { role, path: dir.join(&f.file), md5: f.md5.clone(), size: f.size });
        }
        let index = record.indexes.get(tag).filter(|i| file_intact(dir, &i.file));
        let index = index.ok_or_else(|| not_prepared(dir, format!("no intact {tag} index")))?;
        files.push(PreparedFile {
            role: "mmi",
            path: dir.join(&index.file.file),
            md5: index.file.md5.clone(),
            size: index.file.size,
        });
        let info_path = dir.join(RECORD_FILE);
        let (md5, size) = match info {
            Some(w) => (w.md5, w.size),
            None => md5_of_file(&info_path).map_err(|e| PrepareError::io(&info_path, e))?,
        };
        files.push(PreparedFile { role: "info", path: info_path.clone(), md5, size });
        let path_of = |i: usize| files[i].path.clone();
        Ok(PreparedReference {
            dir: dir.to_path_buf(),
            fasta,
            fai: path_of(1),
            dict: path_of(2),
            md5_table: path_of(3),
            mmi: path_of(4),
            info: info_path,
            digest: record.digest.clone(),
            contigs: record.contigs.clone(),
            total_length: record.total_length,
            index: tag.to_string(),
            files,
            rebuilt,
        })
    }
}

fn not_prepared(dir: &Path, detail: String) -> PrepareError {
    PrepareError::NotPrepared { dir: dir.to_path_buf(), detail }
}

/// Prepares `fasta` in its cache folder (see the module documentation) and returns it.
/// `cache_root` `None` means `<fasta dir>/<fasta file name>.dagr/`.
pub fn prepare_reference(
    fasta: &Path,
    cache_root: Option<&Path>,
    opts: &PrepareOptions,
    cancel: &AtomicBool,
) -> Result<PreparedReference, PrepareError> {
    let given = std::path::absolute(fasta).map_err(|e| ReferenceError::io(fasta, e))?;
    let source = std::fs::canonicalize(&given).map_err(|e| ReferenceError::io(fasta, e))?;
    let stat = FastaStat::of(&source).map_err(|e| ReferenceError::io(&source, e))?;
    let file_name = given.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (root, hint) = match cache_root {
        Some(root) => (std::path::absolute(root).map_err(|e| PrepareError::io(root, e))?, HINT_GIVEN),
        None => (given.with_file_name(format!("{file_name}.dagr")), HINT_BESIDE),
    };
    let (digest, scan) = {
        create_dir_writable(&root, hint)?;
        let _root_lock = lock_exclusive(&root, cancel, hint)?;
        find_digest(&root, &stat, cancel)?
    };
    let dir = root.join(&digest[..16]);
    create_dir_writable(&dir, hint)?;
    let _lock = lock_exclusive(&dir, cancel, hint)?;
    remove_stale_temps(&dir).map_err(|e| PrepareError::io(&dir, e))?;
    let name = cache_name(&file_name);
    let previous = CacheRecord::read(&dir).filter(|r| r.digest == digest);
    let todo = Todo::plan(&dir, &name, previous.as_ref(), &stat, opts.index);
    let tag = opts.index.tag();
    if let Some(prev) = previous.as_ref().filter(|_| todo.roles().is_empty()) {
        tracing::info!(dir = %dir.display(), "prepared reference is up to date");
        return PreparedReference::from_record(&dir, prev, &tag, Vec::new(), None);
    }
    let scan = match scan {
        Some(s) => Some(s),
        None if previous.is_none() || todo.fai => Some(scan_fasta(&source, cancel)?),
        None => None,
    };
    if let Some(s) = scan.as_ref().filter(|s| s.digest != digest) {
        forget_digest(&root, &s.path);
        return Err(PrepareError::Changed { path: source });
    }
    let target = Target { dir: &dir, name: &name, source: &source, stat: &stat };
    let record = target.write(scan.as_ref(), previous, &todo, opts, cancel)?;
    let info = record.write(&dir).map_err(|e| PrepareError::io(&dir.join(RECORD_FILE), e))?;
    PreparedReference::from_record(&dir, &record, &tag, todo.roles(), Some(info))
}

/// The digest of `stat`'s FASTA: from its stat record, or by scanning (then remembered).
fn find_digest(
    root: &Path,
    stat: &FastaStat,
    cancel: &AtomicBool,
) -> Result<(String, Option<FastaScan>), PrepareError> {
    let identity = FileIdentity::of(&stat.path).map_err(|e| ReferenceError::io(&stat.path, e))?;
    if let Some(digest) =
        cached_digest(root, stat, identity).filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Ok((digest, None));
    }
    tracing::info!(fasta = %stat.path.display(), "scanning the reference FASTA");
    let scan = scan_fasta(&stat.path, cancel)?;
    // A FASTA rewritten during the scan must not be remembered under its old stat.
    if FastaStat::of(&stat.path).ok().as_ref() != Some(stat) || FileIdentity::of(&stat.path).ok() != Some(identity) {
        return Err(PrepareError::Changed { path: stat.path.clone() });
    }
    remember_digest(root, stat, identity, &scan.digest).map_err(|e| PrepareError::io(root, e))?;
    Ok((scan.digest.clone(), Some(scan)))
}

/// The digest folder a prepared `fasta` would use under `cache_root` (default `<fasta>.dagr/`),
/// when its stat record says the FASTA is unchanged since it was prepared; read-only, no locks,
/// no scan: for estimates before a run (a stale or missing record gives `None`).
pub fn prepared_dir(fasta: &Path, cache_root: Option<&Path>) -> Option<PathBuf> {
    let given = std::path::absolute(fasta).ok()?;
    let source = std::fs::canonicalize(&given).ok()?;
    let stat = FastaStat::of(&source).ok()?;
    let identity = FileIdentity::of(&source).ok()?;
    let file_name = given.file_name()?.to_string_lossy().into_owned();
    let root = match cache_root {
        Some(root) => std::path::absolute(root).ok()?,
        None => given.with_file_name(format!("{file_name}.dagr")),
    };
    let digest = cached_digest(&root, &stat, identity).filter(|d| d.len() == 64)?;
    let dir = root.join(&digest[..16]);
    dir.is_dir().then_some(dir)
}

/// Stem of the cache's file names: the FASTA's file name without `.fa`/`.fasta`/`.fna`.
fn cache_name(file_name: &str) -> String {
    let stem =
        [".fasta", ".fa", ".fna", ".fas"].iter().find_map(|ext| file_name.strip_suffix(ext)).unwrap_or(file_name);
    if stem.is_empty() || stem.starts_with('.') { "reference".to_string() } else { stem.to_string() }
}

fn create_dir_writable(dir: &Path, hint: &'static str) -> Result<(), PrepareError> {
    std::fs::create_dir_all(dir).map_err(|e| writable_error(dir, e, hint))
}

fn writable_error(dir: &Path, e: io::Error, hint: &'static str) -> PrepareError {
    match e.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            PrepareError::NotWritable { dir: dir.to_path_buf(), source: e, hint }
        }
        _ => PrepareError::io(dir, e),
    }
}

/// Exclusive lock on `<dir>/.lock`, held until the file is dropped; waits while another job holds
/// it, looking at `cancel` five times a second.
fn lock_exclusive(dir: &Path, cancel: &AtomicBool, hint: &'static str) -> Result<File, PrepareError> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| writable_error(dir, e, hint))?;
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => {
                if !announced {
                    tracing::info!(dir = %dir.display(), "waiting for another job preparing this reference");
                    announced = true;
                }
                if cancel.load(Ordering::Relaxed) {
                    return Err(PrepareError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::Error(e)) => return Err(PrepareError::io(&path, e)),
        }
    }
}

/// Which files of a cache folder must be (re)written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Todo {
    link: bool,
    fai: bool,
    dict: bool,
    md5: bool,
    mmi: bool,
}

impl Todo {
    fn plan(dir: &Path, name: &str, prev: Option<&CacheRecord>, stat: &FastaStat, index: &dyn IndexBuilder) -> Todo {
        let Some(prev) = prev else {
            return Todo { link: true, fai: true, dict: true, md5: true, mmi: true };
        };
        let same_fasta = prev.fasta == *stat && prev.name == name;
        let intact =
            |role: &str, file: String| prev.files.get(role).is_some_and(|f| f.file == file && file_intact(dir, f));
        let link_ok = std::fs::read_link(dir.join(format!("{name}.fa"))).is_ok_and(|t| t == stat.path);
        let mmi_ok = prev.indexes.get(&index.tag()).is_some_and(|i| {
            i.file.file == index_name(name, index) && i.version == index.version() && file_intact(dir, &i.file)
        });
        Todo {
            link: !(same_fasta && link_ok),
            fai: !(same_fasta && intact("fai", format!("{name}.fa.fai"))),
            dict: !(same_fasta && intact("dict", format!("{name}.dict"))),
            md5: !intact("md5", format!("{name}.md5.tsv")),
            mmi: !mmi_ok,
        }
    }

    fn roles(&self) -> Vec<&'static str> {
        let flags =
            [(self.link, "fasta"), (self.fai, "fai"), (self.dict, "dict"), (self.md5, "md5"), (self.mmi, "mmi")];
        flags.into_iter().filter(|(todo, _)| *todo).map(|(_, role)| role).collect()
    }
}

fn index_name(name: &str, index: &dyn IndexBuilder) -> String {
    format!("{name}.{}.{}", index.tag(), index.extension())
}

/// The cache folder being written and the FASTA it is for.
struct Target<'a> {
    dir: &'a Path,
    name: &'a str,
    source: &'a Path,
    stat: &'a FastaStat,
}

impl Target<'_> {
    /// Writes what `todo` asks for and returns the new record. `scan` is present whenever there is
    /// no previous record or the `.fai` must be rewritten.
    fn write(
        &self,
        scan: Option<&FastaScan>,
        previous: Option<CacheRecord>,
        todo: &Todo,
        opts: &PrepareOptions,
        cancel: &AtomicBool,
    ) -> Result<CacheRecord, PrepareError> {
        let missing_scan = || PrepareError::Changed { path: self.source.to_path_buf() };
        let mut record = match (previous, scan) {
            (Some(prev), _) => prev,
            (None, Some(scan)) => self.empty_record(scan),
            (None, None) => return Err(missing_scan()),
        };
        if let Some(scan) = scan {
            record.contigs = scan.contig_list();
            record.total_length = scan.total_length();
            record.fasta_md5 = scan.file_md5.clone();
        }
        record.fasta = self.stat.clone();
        record.name = self.name.to_string();
        record.dagr_version = crate::VERSION.to_string();
        record.indexes.retain(|_, i| file_intact(self.dir, &i.file));
        let contigs = record.contigs.clone();
        if todo.link {
            self.link()?;
        }
        if todo.fai {
            let scan = scan.ok_or_else(missing_scan)?;
            let written =
                self.write_file(&format!("{}.fa.fai", self.name), |out| write_fai(&scan.fai_records(), out))?;
            record.files.insert("fai".into(), written);
        }
        if todo.dict {
            let uri = file_uri(self.source);
            let written = self.write_file(&format!("{}.dict", self.name), |out| write_dict(&contigs, &uri, out))?;
            record.files.insert("dict".into(), written);
        }
        if todo.md5 {
            let written = self.write_file(&format!("{}.md5.tsv", self.name), |out| write_md5_table(&contigs, out))?;
            record.files.insert("md5".into(), written);
        }
        if todo.mmi {
            if cancel.load(Ordering::Relaxed) {
                return Err(PrepareError::Cancelled);
            }
            let index = self.build_mmi(opts)?;
            record.indexes.insert(opts.index.tag(), index);
        }
        Ok(record)
    }

    fn empty_record(&self, scan: &FastaScan) -> CacheRecord {
        CacheRecord {
            format: record::CACHE_FORMAT,
            digest: scan.digest.clone(),
            name: self.name.to_string(),
            fasta: self.stat.clone(),
            fasta_md5: scan.file_md5.clone(),
            total_length: 0,
            contigs: Vec::new(),
            files: Default::default(),
            indexes: Default::default(),
            dagr_version: crate::VERSION.to_string(),
        }
    }

    /// `<name>.fa` → the FASTA, replaced atomically (a temporary link renamed over it).
    fn link(&self) -> Result<(), PrepareError> {
        let link = self.dir.join(format!("{}.fa", self.name));
        let tmp = temp_name_for(&link);
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(self.source, &tmp).map_err(|e| PrepareError::io(&tmp, e))?;
        std::fs::rename(&tmp, &link).map_err(|e| PrepareError::io(&link, e))
    }

    fn write_file(
        &self,
        file: &str,
        fill: impl FnOnce(&mut OutputFile) -> io::Result<()>,
    ) -> Result<RecordedFile, PrepareError> {
        let path = self.dir.join(file);
        let mut out = OutputFile::create(&path).map_err(|e| PrepareError::io(&path, e))?;
        fill(&mut out).and_then(|()| out.flush()).map_err(|e| PrepareError::io(&path, e))?;
        let written = out.commit(Sidecar::None).map_err(|e| PrepareError::io(&path, e))?;
        Ok(RecordedFile { file: file.to_string(), md5: written.md5, size: written.size })
    }

    fn build_mmi(&self, opts: &PrepareOptions) -> Result<RecordedIndex, PrepareError> {
        let file = index_name(self.name, opts.index);
        tracing::info!(index = %file, threads = opts.threads, "building the aligner's index");
        let written = opts.index.build(self.source, &self.dir.join(&file), opts.threads)?;
        Ok(RecordedIndex {
            file: RecordedFile { file, md5: written.md5, size: written.size },
            params: opts.index.params(),
            version: opts.index.version(),
        })
    }
}

#[cfg(test)]
mod tests;
