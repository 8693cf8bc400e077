//! This process's spill folder under `--tmp-dir`: unique per run, locked while the run lives,
//! removed when it ends, and removed by the next run when it was left behind.
//!
//! Name: `dagr-run-<host>-<pid>-<random>`, created with `create_dir` (never an existing folder):
//! two containers whose dagr is PID 1, or two hosts sharing a scratch folder, never share one.
//! Inside, `.lock` is held (flock) for the run's lifetime. At start, every `dagr-run-*` folder
//! whose `.lock` nobody holds belongs to a run that is gone (SIGKILL, OOM kill, a node lost) and
//! is removed: its spill files would otherwise stay forever. The `--tmp-dir` itself must exist:
//! a typo must not put spills on the root file system. Cost: a directory listing and one lock
//! attempt per leftover folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of every run's spill folder.
const PREFIX: &str = "dagr-run-";
/// The lock file inside a spill folder.
const LOCK: &str = ".lock";

/// Why the spill folder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("{}: the temporary folder (--tmp-dir) does not exist or is not a folder; create it or name another", .0.display())]
    Missing(PathBuf),
    #[error("{}: cannot create the temporary folder (--tmp-dir): {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
}

impl crate::outcome::Classify for SpillError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::BadInput
    }
}

/// The run's spill folder, removed when dropped (end, failure or signal).
#[derive(Debug)]
pub struct SpillRoot {
    path: PathBuf,
    _lock: File,
}

impl SpillRoot {
    /// Creates a fresh spill folder in `tmp_dir`, after removing the folders of dead runs.
    pub fn create(tmp_dir: &Path) -> Result<SpillRoot, SpillError> {
        if !tmp_dir.is_dir() {
            return Err(SpillError::Missing(tmp_dir.to_path_buf()));
        }
        let removed = remove_abandoned(tmp_dir);
        if removed > 0 {
            tracing::info!(tmp_dir = %tmp_dir.display(), removed, "removed spill folders of runs that ended without cleaning up");
        }
        let host = hostname();
        let mut attempt = 0u32;
        loop {
            let path = tmp_dir.join(format!("{PREFIX}{host}-{}-{:08x}", std::process::id(), random(attempt)));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let lock = lock_file(&path).map_err(|source| SpillError::Create { path: path.clone(), source })?;
                    return Ok(SpillRoot { path, _lock: lock });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(source) => return Err(SpillError::Create { path, source }),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpillRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Creates and locks `<dir>/.lock`.
fn lock_file(dir: &Path) -> io::Result<File> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
    file.lock()?;
    Ok(file)
}

/// Removes the spill folders in `tmp_dir` whose lock no run holds; returns how many.
fn remove_abandoned(tmp_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp_dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        // A folder without a lock file is one being created right now: leave it.
        let Ok(file) = OpenOptions::new().write(true).open(dir.join(LOCK)) else { continue };
        match file.try_lock() {
            Ok(()) => {
                if std::fs::remove_dir_all(&dir).is_ok() {
                    removed += 1;
                }
            }
            Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => {}
        }
    }
    removed
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let safe: String =
        name.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if safe.is_empty() { "host".into() } else { safe }
}

/// A value that differs between runs started at the same moment (time, address of a local).
fn random(attempt: u32) -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let local = 0u8;
    let address = &local as *const u8 as usize as u32;
    nanos ^ address.rotate_left(13) ^ attempt.wrapping_mul(0x9e37_79b9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tmp_dir_is_refused_and_never_created() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope/x");
        assert!(matches!(SpillRoot::create(&missing), Err(SpillError::Missing(_))));
        assert!(!d.path().join("nope").exists());
    }

    #[test]
    fn two_runs_get_two_folders_and_a_dead_runs_folder_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let a = SpillRoot::create(d.path()).unwrap();
        let b = SpillRoot::create(d.path()).unwrap();
        assert_ne!(a.path(), b.path());
        // A folder left by a run that died: its lock file exists, nobody holds it.
        let dead = d.path().join(format!("{PREFIX}gone-1-0"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("run-000001.spill"), b"spilled").unwrap();
        let c = SpillRoot::create(d.path()).unwrap();
        assert!(!dead.exists(), "the dead run's folder is removed");
        assert!(a.path().exists() && b.path().exists(), "live runs' folders stay");
        let a_path = a.path().to_path_buf();
        drop(a);
        assert!(!a_path.exists());
        drop((b, c));
    }
}
