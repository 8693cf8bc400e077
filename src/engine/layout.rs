//! Where one run keeps what: the only place the outdir's and the spill folder's layout is
//! spelled out, for every backend (local, MPI ranks, Slurm tasks).
//!
//! ```text
//! <outdir>/run_report.json                    the run's report
//! <outdir>/<entity>/                          final outputs of an entity (`reference`, a sample, `<tumour>_vs_<normal>`)
//! <outdir>/<entity>/run_report.json           the entity's report
//! <outdir>/<entity>/work/<stage>/             intermediate files of one stage instance
//! <outdir>/<entity>/work/<stage>/manifest.json   what the instance produced, written last (see `engine::cache`)
//! <tmp>/dagr-run-<host>-<pid>-<n>/<entity>/<stage>/   spill files of one instance (see `engine::spill`)
//! ```

use std::path::{Path, PathBuf};

/// File name of the run's and each entity's report.
pub const REPORT_FILE: &str = "run_report.json";

/// The folders of one run in one process.
#[derive(Debug, Clone)]
pub struct RunLayout {
    outdir: PathBuf,
    tmp_root: PathBuf,
}

impl RunLayout {
    /// `tmp_root` is this process's spill folder (`engine::spill::SpillRoot`).
    pub fn new(outdir: &Path, tmp_root: &Path) -> Self {
        Self { outdir: outdir.to_path_buf(), tmp_root: tmp_root.to_path_buf() }
    }

    pub fn outdir(&self) -> &Path {
        &self.outdir
    }
    pub fn tmp_root(&self) -> &Path {
        &self.tmp_root
    }
    /// `<outdir>/run_report.json`.
    pub fn report(&self) -> PathBuf {
        self.outdir.join(REPORT_FILE)
    }
    /// `<outdir>/<entity>/`: the entity's final outputs.
    pub fn entity_dir(&self, entity: &str) -> PathBuf {
        self.outdir.join(entity)
    }
    /// `<outdir>/<entity>/run_report.json`.
    pub fn entity_report(&self, entity: &str) -> PathBuf {
        self.entity_dir(entity).join(REPORT_FILE)
    }
    /// `<outdir>/<entity>/work/<stage>/`: one instance's intermediate files and manifest.
    pub fn work_dir(&self, entity: &str, stage: &str) -> PathBuf {
        self.entity_dir(entity).join("work").join(stage)
    }
    /// `<spill root>/<entity>/<stage>/`: one instance's spill files.
    pub fn tmp_dir(&self, entity: &str, stage: &str) -> PathBuf {
        self.tmp_root.join(entity).join(stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sample_may_be_named_like_the_report() {
        assert!(crate::samples::RESERVED_NAMES.contains(&REPORT_FILE));
        assert!(crate::samples::check_sample_name(REPORT_FILE).is_err());
    }

    #[test]
    fn paths_follow_the_documented_layout() {
        let l = RunLayout::new(Path::new("/out"), Path::new("/tmp/dagr-7"));
        assert_eq!(l.report(), Path::new("/out/run_report.json"));
        assert_eq!(l.entity_report("S1"), Path::new("/out/S1/run_report.json"));
        assert_eq!(l.work_dir("S1", "align"), Path::new("/out/S1/work/align"));
        assert_eq!(l.tmp_dir("S1", "align"), Path::new("/tmp/dagr-7/S1/align"));
    }
}
