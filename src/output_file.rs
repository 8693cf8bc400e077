//! Durable, atomic output files.
//!
//! Every file dagr hands to a user or to a later stage is written under a temporary name in its
//! destination folder (`.<name>.dagr-tmp`), hashed (MD5) while it is written, flushed,
//! fsynced and only then renamed to its final name; the folder is fsynced after the rename. A
//! killed run therefore never leaves a file that looks finished: what carries a final name is
//! complete. Final outputs also get an `<name>.md5` sidecar in `md5sum -c` format, as national
//! reporting expects. Cost: one MD5 pass over the bytes as they are written (~600 MB/s), no re-read.
//!
//! Files written by a C library that only takes a path (htslib) use [`TempPath`] and
//! [`commit_external`], which does re-read the file once to hash it.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Suffix of temporary names; anything matching is garbage from an interrupted run.
///
/// The name holds no process id: a run holds an exclusive lock on its output folder (and the
/// reference cache on its own), so one writer per final path is guaranteed, and a name that does
/// not vary keeps outputs byte-identical (CRAM, for one, records the first 20 characters of the
/// file name it was written under).
const TMP_MARK: &str = ".dagr-tmp";

/// A committed file: where it is, its MD5 (lower-case hex) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub md5: String,
    pub size: u64,
}

/// Whether a committed file gets an `.md5` sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecar {
    Md5,
    None,
}

/// The temporary name used for `final_path`.
pub fn temp_name_for(final_path: &Path) -> PathBuf {
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".to_string());
    final_path.with_file_name(format!(".{name}{TMP_MARK}"))
}

/// True for names that [`temp_name_for`] produces (leftovers of a killed run).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TMP_MARK)
}

/// Removes temporary files left in `dir` by interrupted runs (not recursive). Returns how many.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if is_temp_name(&entry.file_name().to_string_lossy()) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A file being written; becomes visible under its final name only on [`OutputFile::commit`].
/// Dropped without commit, the temporary file is removed.
pub struct OutputFile {
    final_path: PathBuf,
    tmp_path: PathBuf,
    writer: Option<BufWriter<File>>,
    hasher: Md5,
    size: u64,
}

impl OutputFile {
    /// Starts writing `final_path` (its folder must exist).
    pub fn create(final_path: impl AsRef<Path>) -> io::Result<Self> {
        let final_path = final_path.as_ref().to_path_buf();
        let tmp_path = temp_name_for(&final_path);
        Self::create_at(final_path, tmp_path)
    }

    /// [`OutputFile::create`] for a file that several processes may write at once (a Slurm
    /// task's status file: the task and its job script's signal trap): the temporary name also
    /// carries the process id, so two writers never share one; the last rename wins whole.
    pub fn create_shared(final_path: impl AsRef<Path>) -> io::Result<Self> {
        let final_path = final_path.as_ref().to_path_buf();
        let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp_path = final_path.with_file_name(format!(".{name}.{}{TMP_MARK}", std::process::id()));
        Self::create_at(final_path, tmp_path)
    }

    fn create_at(final_path: PathBuf, tmp_path: PathBuf) -> io::Result<Self> {
        let file = File::create(&tmp_path)?;
        Ok(Self {
            final_path,
            tmp_path,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Md5::new(),
            size: 0,
        })
    }

    /// The name the file will have once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes, fsyncs, renames into place, fsyncs the folder and writes the sidecar if asked.
    /// When flushing, syncing or renaming fails (a full disk), the temporary file is removed.
    pub fn commit(mut self, sidecar: Sidecar) -> io::Result<WrittenFile> {
        let writer = self.writer.take().expect("writer present until commit");
        let placed = writer.into_inner().map_err(|e| e.into_error()).and_then(|file| {
            file.sync_all()?;
            drop(file);
            fs::rename(&self.tmp_path, &self.final_path)
        });
        if let Err(e) = placed {
            let _ = fs::remove_file(&self.tmp_path);
            return Err(e);
        }
        sync_parent(&self.final_path)?;
        let md5 = hex::encode(self.hasher.clone().finalize());
        if sidecar == Sidecar::Md5 {
            write_md5_sidecar(&self.final_path, &md5)?;
        }
        Ok(WrittenFile { path: self.final_path.clone(), md5, size: self.size })
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.writer.as_mut().expect("writer present until commit").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("writer present until commit").flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// A temporary path for a writer that only takes a path; removed on drop unless committed.
pub struct TempPath {
    final_path: PathBuf,
    tmp_path: PathBuf,
    committed: bool,
}

impl TempPath {
    pub fn new(final_path: impl AsRef<Path>) -> Self {
        let final_path = final_path.as_ref().to_path_buf();
        let tmp_path = temp_name_for(&final_path);
        Self { final_path, tmp_path, committed: false }
    }
    /// Where the external writer must write.
    pub fn path(&self) -> &Path {
        &self.tmp_path
    }
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }
    /// Hashes the finished temporary file (one re-read), fsyncs it and renames it into place.
    pub fn commit(mut self, sidecar: Sidecar) -> io::Result<WrittenFile> {
        let written = commit_external(&self.tmp_path, &self.final_path, sidecar)?;
        self.committed = true;
        Ok(written)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// Commits a file that something else wrote at `tmp_path`: hash, fsync, rename, sidecar.
pub fn commit_external(tmp_path: &Path, final_path: &Path, sidecar: Sidecar) -> io::Result<WrittenFile> {
    let (md5, size) = md5_of_file(tmp_path)?;
    File::open(tmp_path)?.sync_all()?;
    fs::rename(tmp_path, final_path)?;
    sync_parent(final_path)?;
    if sidecar == Sidecar::Md5 {
        write_md5_sidecar(final_path, &md5)?;
    }
    Ok(WrittenFile { path: final_path.to_path_buf(), md5, size })
}

/// `path` with `.suffix` appended to its whole name (`x.bam` → `x.bam.bai`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes each file that exists; the error names the file that could not be removed.
pub fn remove_if_present(paths: &[PathBuf]) -> Result<(), (PathBuf, io::Error)> {
    for path in paths {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err((path.clone(), e)),
            _ => {}
        }
    }
    Ok(())
}

/// Commits a finished data file and its index (built from the temporary data file) so that a
/// crash never leaves a finished-looking pair: the old index and both sidecars go first, then the
/// data, then the index — an index under its final name means the data beside it is complete.
pub fn commit_with_index(data: TempPath, index: TempPath) -> Result<(WrittenFile, WrittenFile), (PathBuf, io::Error)> {
    let final_data = data.final_path().to_path_buf();
    let final_index = index.final_path().to_path_buf();
    remove_if_present(&[final_index.clone(), with_suffix(&final_index, "md5"), with_suffix(&final_data, "md5")])?;
    let data = data.commit(Sidecar::Md5).map_err(|e| (final_data, e))?;
    let index = index.commit(Sidecar::Md5).map_err(|e| (final_index, e))?;
    Ok((data, index))
}

/// MD5 (hex) and size of a file, streaming.
pub fn md5_of_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Writes `<path>.md5` (`<md5>  <file name>`), itself atomically.
fn write_md5_sidecar(path: &Path, md5: &str) -> io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut out = OutputFile::create(with_suffix(path, "md5"))?;
    writeln!(out, "{md5}  {name}")?;
    out.commit(Sidecar::None)?;
    Ok(())
}

fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Clears `errno` before a C library call whose failure [`write_failure_cause`] explains.
pub fn clear_errno() {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = 0 };
}

/// Why a C library (htslib) failed to write `path`, for the error's cause: the `errno` its call
/// left on this thread (cleared before it with [`clear_errno`]), else, when a library thread did
/// the writing and this thread's `errno` stayed clean, "No space left on device" if the file
/// system holding `path` has no space left. `None` when neither says anything. Cost: a `statvfs`.
pub fn write_failure_cause(path: &Path) -> Option<io::Error> {
    // SAFETY: as in `clear_errno`.
    let errno = unsafe { *libc::__errno_location() };
    if errno != 0 {
        return Some(io::Error::from_raw_os_error(errno));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    use std::os::unix::ffi::OsStrExt;
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path and a zeroed struct for statvfs to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_dir.as_ptr(), &mut st) };
    (rc == 0 && st.f_bavail == 0).then(|| io::Error::from_raw_os_error(libc::ENOSPC))
}

/// Writes a small file atomically in one call. For manifests, reports and metrics.
pub fn write_atomic(path: &Path, bytes: &[u8], sidecar: Sidecar) -> io::Result<WrittenFile> {
    let mut out = OutputFile::create(path)?;
    out.write_all(bytes)?;
    out.commit(sidecar)
}

/// [`write_atomic`] for a file several processes may write at once (see
/// [`OutputFile::create_shared`]); no sidecar.
pub fn write_atomic_shared(path: &Path, bytes: &[u8]) -> io::Result<WrittenFile> {
    let mut out = OutputFile::create_shared(path)?;
    out.write_all(bytes)?;
    out.commit(Sidecar::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_hashes_and_writes_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        let mut out = OutputFile::create(&path).unwrap();
        out.write_all(b"hello\n").unwrap();
        assert!(!path.exists(), "final name must not exist before commit");
        let written = out.commit(Sidecar::Md5).unwrap();
        assert_eq!(written.md5, "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(written.size, 6);
        let sidecar = fs::read_to_string(dir.path().join("x.txt.md5")).unwrap();
        assert_eq!(sidecar, "b1946ac92492d2347c6235b4d2611184  x.txt\n");
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.bin");
        {
            let mut out = OutputFile::create(&path).unwrap();
            out.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn shared_writes_use_their_own_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let out = OutputFile::create_shared(&path).unwrap();
        let tmp = out.tmp_path.clone();
        assert_ne!(tmp, temp_name_for(&path));
        assert!(is_temp_name(&tmp.file_name().unwrap().to_string_lossy()));
        drop(out);
        write_atomic_shared(&path, b"{}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The final name is an existing folder, so the rename fails.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        let mut out = OutputFile::create(&path).unwrap();
        out.write_all(b"data").unwrap();
        assert!(out.commit(Sidecar::None).is_err());
        assert!(!temp_name_for(&path).exists(), "the temporary file is removed");
    }

    #[test]
    fn stale_temps_are_recognised_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_name_for(&dir.path().join("z.json"));
        fs::write(&tmp, b"half").unwrap();
        fs::write(dir.path().join("keep.json"), b"{}").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.json").exists());
    }
}
