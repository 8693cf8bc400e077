//! Durable, atomic output files.
//!
//! Every file dagr hands to a user or to a later stage is written under a temporary name in its
//! destination folder (`.<name>.dagr-tmp`), hashed (MD5) while it is written, flushed,
//! fsynced and only then renamed to its final name; the folder is fsynced after the rename. A
//! killed run therefore never leaves a file that looks finished: what carries a final name is
//! complete. Final outputs also get an `<name>.md5` sidecar in `md5sum -c` format, as national
//! reporting expects. Cost: one MD5 pass over the bytes as they are written (~600 MB/s), no re-read.
//!
//! Files written by a C library that only takes a path (htslib) use [`TempPath`]: either hashed
//! while they grow, by a thread that follows the appending writer ([`TempPath::hash_while_written`],
//! no re-read and no time on the writer's thread), or re-read once at commit ([`commit_external`]).

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

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
    hasher: Option<GrowingFileHasher>,
}

impl TempPath {
    pub fn new(final_path: impl AsRef<Path>) -> Self {
        let final_path = final_path.as_ref().to_path_buf();
        let tmp_path = temp_name_for(&final_path);
        Self { final_path, tmp_path, committed: false, hasher: None }
    }
    /// Hashes the temporary file on a thread of its own while the external writer appends to it,
    /// so that [`TempPath::commit`] needs no re-read. The file must exist, and the writer must
    /// only append (BGZF and CRAM writers do) and have closed the file before the commit.
    pub fn hash_while_written(&mut self) -> io::Result<()> {
        self.hasher = Some(GrowingFileHasher::start(&self.tmp_path)?);
        Ok(())
    }
    /// Where the external writer must write.
    pub fn path(&self) -> &Path {
        &self.tmp_path
    }
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }
    /// Hashes the finished temporary file (one re-read, unless it was hashed while written),
    /// fsyncs it and renames it into place.
    pub fn commit(mut self, sidecar: Sidecar) -> io::Result<WrittenFile> {
        let hashed = match self.hasher.take() {
            Some(hasher) => Some(hasher.finish()?),
            None => None,
        };
        let written = commit_hashed(&self.tmp_path, &self.final_path, sidecar, hashed)?;
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
    commit_hashed(tmp_path, final_path, sidecar, None)
}

/// [`commit_external`] with the MD5 and size already known (`None`: hash the file now). A known
/// size that is not the file's means the writer did not only append: an error, not a wrong MD5.
fn commit_hashed(
    tmp_path: &Path,
    final_path: &Path,
    sidecar: Sidecar,
    hashed: Option<(String, u64)>,
) -> io::Result<WrittenFile> {
    let (md5, size) = match hashed {
        Some((md5, size)) => {
            let on_disk = fs::metadata(tmp_path)?.len();
            if on_disk != size {
                return Err(io::Error::other(format!(
                    "internal: {} has {on_disk} bytes but {size} were hashed while it was written",
                    tmp_path.display()
                )));
            }
            (md5, size)
        }
        None => md5_of_file(tmp_path)?,
    };
    File::open(tmp_path)?.sync_all()?;
    fs::rename(tmp_path, final_path)?;
    sync_parent(final_path)?;
    if sidecar == Sidecar::Md5 {
        write_md5_sidecar(final_path, &md5)?;
    }
    Ok(WrittenFile { path: final_path.to_path_buf(), md5, size })
}

/// The MD5 of a file that another writer appends to, computed on its own thread as the file
/// grows: it reads what is there, sleeps [`GROWING_POLL`] at the end of the data, and once told
/// the writer has closed the file ([`GrowingFileHasher::finish`]) reads to the end. Cost: the
/// hashing (~600 MB/s) overlaps the writing; the reads come from the page cache.
struct GrowingFileHasher {
    closed: Arc<AtomicBool>,
    handle: Option<JoinHandle<io::Result<(String, u64)>>>,
}

/// How long the hasher waits at the end of the data before reading again.
const GROWING_POLL: Duration = Duration::from_millis(20);

impl GrowingFileHasher {
    fn start(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let closed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&closed);
        // Through `accounting`, so that its CPU is charged to the stage that writes the file.
        let handle = crate::accounting::spawn("md5", move || hash_while_growing(file, &flag))?;
        Ok(Self { closed, handle: Some(handle) })
    }

    /// After the writer closed the file: the MD5 (hex) and size of all of it.
    fn finish(mut self) -> io::Result<(String, u64)> {
        self.closed.store(true, Ordering::Release);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the MD5 thread panicked")),
            None => Err(io::Error::other("internal: the MD5 thread was already joined")),
        }
    }
}

impl Drop for GrowingFileHasher {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn hash_while_growing(mut file: File, closed: &AtomicBool) -> io::Result<(String, u64)> {
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        // Read the flag first: once it is set every byte is in the file, so reading to the end
        // after seeing it misses nothing.
        let writer_closed = closed.load(Ordering::Acquire);
        size += hash_to_end(&mut file, &mut hasher, &mut buf)?;
        if writer_closed {
            return Ok((hex::encode(hasher.finalize()), size));
        }
        std::thread::sleep(GROWING_POLL);
    }
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
    let size = hash_to_end(&mut file, &mut hasher, &mut vec![0u8; 1 << 20])?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Feeds `hasher` from `file`'s position to its current end, through `buf`; the bytes read.
fn hash_to_end(file: &mut File, hasher: &mut Md5, buf: &mut [u8]) -> io::Result<u64> {
    let mut size = 0u64;
    loop {
        let n = file.read(buf)?;
        if n == 0 {
            return Ok(size);
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
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
    fn a_file_hashed_while_it_grows_has_the_md5_of_a_re_read() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("grown.bin");
        let mut tmp = TempPath::new(&final_path);
        let mut file = File::create(tmp.path()).unwrap();
        tmp.hash_while_written().unwrap();
        let mut expected = Md5::new();
        for i in 0..40u32 {
            // Pieces of uneven sizes, some written while the hasher sleeps at the end of the data.
            let piece: Vec<u8> = (0..(i * 7919 % 300_000)).map(|b| (b ^ i) as u8).collect();
            file.write_all(&piece).unwrap();
            expected.update(&piece);
            if i % 8 == 0 {
                std::thread::sleep(GROWING_POLL * 2);
            }
        }
        drop(file);
        let written = tmp.commit(Sidecar::Md5).unwrap();
        assert_eq!(written.md5, hex::encode(expected.finalize()));
        assert_eq!(written.size, fs::metadata(&final_path).unwrap().len());
        assert_eq!(md5_of_file(&final_path).unwrap().0, written.md5);
        let sidecar = fs::read_to_string(with_suffix(&final_path, "md5")).unwrap();
        assert_eq!(sidecar, format!("{}  grown.bin\n", written.md5));
    }

    #[test]
    fn a_file_rewritten_behind_the_hasher_is_an_error_not_a_wrong_md5() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("shrunk.bin");
        let mut tmp = TempPath::new(&final_path);
        fs::write(tmp.path(), vec![7u8; 100_000]).unwrap();
        tmp.hash_while_written().unwrap();
        std::thread::sleep(GROWING_POLL * 3);
        fs::write(tmp.path(), vec![7u8; 10]).unwrap(); // truncated and rewritten, not appended
        let err = tmp.commit(Sidecar::None).unwrap_err();
        assert!(err.to_string().contains("hashed while it was written"), "{err}");
        assert!(!final_path.exists());
    }

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
