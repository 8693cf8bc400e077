//! One run per outdir: an exclusive lock on `<outdir>/.dagr.lock` (flock through std's
//! `File::try_lock`), released by the kernel when the process ends, however it ends.
//!
//! Slurm tasks of one submission run side by side in the same outdir, each in its own run folder
//! (`<outdir>/slurm/runs/<entity>/`, locked exclusively as its outdir): they also hold a *shared*
//! lock on the real outdir ([`lock_shared`]), so a local `dagr run` there (exclusive) is refused
//! while tasks run, and tasks are refused while a local run holds it: the two never write one
//! sample's files at once.

use crate::outcome::{Classify, Failure};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the outdir cannot be locked. Bad usage (exit 2): another run holds it, or `--outdir`
/// names a folder this process cannot create or lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{}: another dagr run ({holder}) is using this output folder; wait for it or choose another --outdir",
        outdir.display()
    )]
    Busy { outdir: PathBuf, holder: String },
    #[error(
        "{}: Slurm tasks of a submission are using this output folder (`dagr slurm status --outdir` lists them); wait for them or choose another --outdir",
        outdir.display()
    )]
    BusyWithTasks { outdir: PathBuf },
    #[error("{}: {action}: {source}", path.display())]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
}

impl Classify for LockError {
    fn failure(&self) -> Failure {
        Failure::BadInput
    }
}

/// Holds the lock for as long as it lives.
#[derive(Debug)]
pub struct OutdirLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock or says which process holds it.
pub fn lock_outdir(outdir: &Path) -> Result<OutdirLock, LockError> {
    let (mut file, path) = open_lock_file(outdir)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // Held shared (Slurm tasks) when a shared lock can still be taken; held
            // exclusively (another run) when it cannot.
            if file.try_lock_shared().is_ok() {
                let _ = file.unlock();
                return Err(LockError::BusyWithTasks { outdir: outdir.to_path_buf() });
            }
            let holder = match lock_file_text(&mut file).as_str() {
                "" => "process unknown".to_string(),
                h => h.to_string(),
            };
            return Err(LockError::Busy { outdir: outdir.to_path_buf(), holder });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(lock_io(&path, "cannot lock", e)),
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "pid {} on {}", std::process::id(), hostname());
    let _ = file.flush();
    Ok(OutdirLock { _file: file, path })
}

/// What the lock file says while Slurm tasks hold it shared.
const TASKS_MARK: &str = "slurm tasks";

/// Takes a shared lock on `outdir` (a Slurm task's view of the submission's outdir): refused while
/// a local run holds it, shared with the other tasks.
pub fn lock_shared(outdir: &Path) -> Result<OutdirLock, LockError> {
    let (mut file, path) = open_lock_file(outdir)?;
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(LockError::Busy { outdir: outdir.to_path_buf(), holder: lock_file_text(&mut file) });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(lock_io(&path, "cannot lock", e)),
    }
    // Tasks hold it together: say so, without truncating what another task wrote.
    if !lock_file_text(&mut file).starts_with(TASKS_MARK) {
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{TASKS_MARK}");
        let _ = file.flush();
    }
    Ok(OutdirLock { _file: file, path })
}

fn lock_io(path: &Path, action: &'static str, source: std::io::Error) -> LockError {
    LockError::Io { path: path.to_path_buf(), action, source }
}

/// `<outdir>/.dagr.lock`, opened for reading and writing (created with `outdir` if missing).
fn open_lock_file(outdir: &Path) -> Result<(File, PathBuf), LockError> {
    std::fs::create_dir_all(outdir).map_err(|e| lock_io(outdir, "cannot create the output folder", e))?;
    let path = outdir.join(".dagr.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| lock_io(&path, "cannot open the lock file", e))?;
    Ok((file, path))
}

/// What the lock file says (who holds it), trimmed; empty when unreadable.
fn lock_file_text(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text.trim().to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn second_lock_is_refused_with_the_holder() {
        let d = tempfile::tempdir().unwrap();
        let _held = super::lock_outdir(d.path()).unwrap();
        let e = super::lock_outdir(d.path()).unwrap_err();
        assert!(e.to_string().contains("another dagr run (pid"), "{e}");
    }

    #[test]
    fn tasks_share_the_outdir_and_exclude_a_local_run() {
        let d = tempfile::tempdir().unwrap();
        let task_a = super::lock_shared(d.path()).unwrap();
        let _task_b = super::lock_shared(d.path()).unwrap();
        let e = super::lock_outdir(d.path()).unwrap_err();
        assert!(e.to_string().contains("Slurm tasks of a submission"), "{e}");
        drop(task_a);
        drop(_task_b);
        let _local = super::lock_outdir(d.path()).unwrap();
        let e = super::lock_shared(d.path()).unwrap_err();
        assert!(e.to_string().contains("another dagr run (pid"), "{e}");
    }
}
