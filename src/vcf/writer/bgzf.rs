//! A checked BGZF output through htslib (`bgzf_open`/`bgzf_write`/`bgzf_close`), and tabix
//! index building (`tbx_index_build3`).
//!
//! `rust_htslib::bgzf::Writer` closes the file in `Drop` and ignores the result, which would hide
//! a failed final block or a missing EOF marker; here every call is checked and close is explicit.
//! Blocks are cut by htslib at fixed uncompressed sizes (64 KiB), not by thread, so the bytes do
//! not depend on the number of compression threads.

use super::VcfWriteError;
use crate::output_file::{clear_errno, write_failure_cause};
use rust_htslib::htslib;
use std::ffi::CString;
use std::io;
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An open BGZF file for writing; closed (unchecked) on drop unless [`BgzfFile::close`] ran.
pub(super) struct BgzfFile {
    fp: *mut htslib::BGZF,
    /// htslib's compression threads, charged to the stage at close.
    threads: crate::accounting::ForeignThreads,
}

// SAFETY: the handle is only used through `&mut self` (one thread at a time); htslib's
// compression threads synchronise internally.
unsafe impl Send for BgzfFile {}

impl BgzfFile {
    /// Opens `path` for BGZF writing at htslib's default level; `threads` > 0 adds compression
    /// threads. `named` is the final path errors report.
    pub(super) fn create(path: &Path, threads: usize, named: &Path) -> Result<Self, VcfWriteError> {
        let c_path = c_path(path, named)?;
        clear_errno();
        // SAFETY: NUL-terminated path and mode; a null result is checked.
        let fp = unsafe { htslib::bgzf_open(c_path.as_ptr(), c"w".as_ptr()) };
        if fp.is_null() {
            return Err(hts(named, path, "create the BGZF file"));
        }
        let mut file = BgzfFile { fp, threads: crate::accounting::ForeignThreads::default() };
        if threads > 0 {
            let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
            // SAFETY: open handle; 256 sub-blocks per job is htslib's own default.
            let (rc, started) = crate::accounting::start_foreign(|| unsafe { htslib::bgzf_mt(file.fp, n, 256) });
            file.threads = started;
            if rc != 0 {
                return Err(hts(named, path, "start compression threads"));
            }
        }
        Ok(file)
    }

    /// Appends `bytes`; a short or failed write is an error.
    pub(super) fn write_all(&mut self, bytes: &[u8], named: &Path) -> Result<(), VcfWriteError> {
        if bytes.is_empty() {
            return Ok(());
        }
        clear_errno();
        // SAFETY: open handle; `bytes` is valid for its length.
        let n = unsafe { htslib::bgzf_write(self.fp, bytes.as_ptr().cast(), bytes.len()) };
        if usize::try_from(n).ok() != Some(bytes.len()) {
            return Err(hts(named, named, "write compressed data"));
        }
        Ok(())
    }

    /// Flushes the last block, writes the EOF marker and closes; any failure is an error.
    pub(super) fn close(mut self, named: &Path) -> Result<(), VcfWriteError> {
        let fp = std::mem::replace(&mut self.fp, std::ptr::null_mut());
        clear_errno();
        // SAFETY: open handle; flushing every queued block before the threads' CPU is read.
        let flushed = unsafe { htslib::bgzf_flush(fp) };
        self.threads.charge();
        // SAFETY: `fp` came from bgzf_open and is closed exactly once.
        if unsafe { htslib::bgzf_close(fp) } != 0 || flushed != 0 {
            return Err(hts(named, named, "finish the BGZF file (close)"));
        }
        Ok(())
    }
}

impl Drop for BgzfFile {
    fn drop(&mut self) {
        if !self.fp.is_null() {
            // SAFETY: as in `close`; the result is irrelevant for an abandoned temporary file.
            unsafe { htslib::bgzf_close(self.fp) };
        }
    }
}

/// Which tabix preset to index with.
#[derive(Debug, Clone, Copy)]
pub(super) enum TabixPreset {
    Vcf,
}

/// Builds a `.tbi` for the BGZF file `data` at `index` (both temporary names).
pub(super) fn build_tabix(
    data: &Path,
    index: &Path,
    preset: TabixPreset,
    threads: usize,
    named: &Path,
) -> Result<(), VcfWriteError> {
    let c_data = c_path(data, named)?;
    let c_index = c_path(index, named)?;
    let threads = c_int::try_from(threads).unwrap_or(c_int::MAX);
    let conf: *const htslib::tbx_conf_t = match preset {
        // Only the address of htslib's immutable preset is taken; it is never written.
        TabixPreset::Vcf => std::ptr::addr_of!(htslib::tbx_conf_vcf),
    };
    clear_errno();
    // SAFETY: NUL-terminated paths, a valid preset; min_shift 0 asks for a TBI (not CSI).
    let code = unsafe { htslib::tbx_index_build3(c_data.as_ptr(), c_index.as_ptr(), 0, threads, conf) };
    if code != 0 {
        return Err(VcfWriteError::Index { path: named.to_path_buf(), code, cause: write_failure_cause(index) });
    }
    Ok(())
}

/// An htslib failure on `named` (written at `written`), with the OS's reason when it gives one.
fn hts(named: &Path, written: &Path, action: &'static str) -> VcfWriteError {
    VcfWriteError::Hts { path: named.to_path_buf(), action, cause: write_failure_cause(written) }
}

fn c_path(path: &Path, named: &Path) -> Result<CString, VcfWriteError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| VcfWriteError::Io {
        path: named.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}
