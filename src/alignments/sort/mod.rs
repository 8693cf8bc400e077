//! Coordinate sorting of aligned records within a memory budget.
//!
//! Algorithm: batches are appended to an in-memory run while its estimated size (per record: the
//! `(SortKey, Record)` slot including unused `Vec` capacity, the record's allocated data buffer
//! and the allocator's overhead) stays under `memory_bytes`. Past the budget the run is sorted in
//! parallel on the stage's rayon pool (`par_sort_unstable_by_key`: keys are unique, so unstable is
//! deterministic) and spilled to its own file under a private folder in `tmp_dir` (`spill`:
//! deflate-1 frames compressed in parallel). [`RecordSorter::finish`] sorts the last run in
//! memory when nothing spilled; otherwise it spills that run too and k-way merges the runs with a
//! binary heap, streaming one frame per run. The fan-in is the budget over
//! [`MERGE_BYTES_PER_RUN`] (at most [`MAX_FAN_IN`]); more runs are first merged in groups (another
//! pass over those records), so the merge holds no more than the in-memory run did.
//!
//! Cost: O(n log n) comparisons of 22-byte keys, in parallel within each run; the merge is
//! O(n log r) for r runs on the consuming thread. Without spills nothing touches disk; with them
//! every record is written and read once (compressed ~3–4×), once more per grouped merge pass
//! (none for 30x genomes at budgets of a few GB). Peak memory is the budget, plus the run
//! vector's growth step (its slots are ~15 % of a run's bytes).
//!
//! Cleanup: spill files are unlinked as soon as the merge opens them, and the folder is removed
//! when the sorter or the merged iterator is dropped, on success, error or unwinding.

mod spill;
#[cfg(test)]
mod tests;

/// The spill files' record encoding, for sending records between MPI ranks: a record comes back
/// byte-identical with its sort key.
pub(crate) mod wire {
    pub(crate) use super::spill::{decode_records, encode_record};
}

use crate::alignments::keys::SortKey;
use rust_htslib::bam::Record;
use spill::{RunReader, RunWriter};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Most runs merged at once; more are merged in groups first.
pub const MAX_FAN_IN: usize = 256;
/// Memory one run holds while it is merged: one decoded frame of records (~290 KiB for 150 bp
/// reads), its raw and compressed bytes (~270 KiB) and the file buffer. The merge's fan-in is
/// the budget over this, so the merge stays within the same budget as the in-memory run.
pub const MERGE_BYTES_PER_RUN: u64 = 640 << 10;
/// Bytes malloc spends per allocation beyond what was asked for (header and rounding).
const MALLOC_OVERHEAD: u64 = 16;

/// Where and within how much memory to sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortOptions {
    /// Budget for the in-memory run, in bytes (estimated as described in the module docs).
    pub memory_bytes: u64,
    /// Folder for spill files (`--tmp-dir`); a private subfolder is made there on the first spill.
    pub tmp_dir: PathBuf,
}

/// Sorting failed.
#[derive(Debug, thiserror::Error)]
pub enum SortError {
    #[error("{}: not a usable folder for temporary sort files: {source}", path.display())]
    TmpDir { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: corrupt sort spill file: {detail}", path.display())]
    CorruptSpill { path: PathBuf, detail: String },
}

/// Spilling and merging fail at run time (disk full, a spill file damaged under dagr's feet).
impl crate::outcome::Classify for SortError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Runtime
    }
}

/// What the sort did, for the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortStats {
    pub records: u64,
    /// Runs written to disk (0: the sort stayed in memory).
    pub spilled_runs: u64,
    pub spilled_records: u64,
}

/// A private folder of spill files, removed with everything in it on drop.
pub(crate) struct SpillDir {
    path: PathBuf,
    next: u64,
}

impl SpillDir {
    /// A new folder `dagr-<what>-<pid>-<seq>` in `tmp_dir`.
    pub(crate) fn create_for(tmp_dir: &Path, what: &str) -> Result<Self, SortError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let mut attempts = 0;
        loop {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = tmp_dir.join(format!("dagr-{what}-{}-{seq}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(SpillDir { path, next: 0 }),
                // Another process with the same pid (containers) or a killed run's leftover.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => attempts += 1,
                Err(source) => return Err(SortError::TmpDir { path, source }),
            }
        }
    }

    fn create(tmp_dir: &Path) -> Result<Self, SortError> {
        Self::create_for(tmp_dir, "sort")
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn next_run_path(&mut self) -> PathBuf {
        self.next += 1;
        self.path.join(format!("run-{:06}.spill", self.next))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Accumulates records and sorts them by [`SortKey`], spilling past the memory budget.
pub struct RecordSorter {
    options: SortOptions,
    run: Vec<(SortKey, Record)>,
    /// Estimated bytes of the records' heap data in `run` (the slots are counted from capacity).
    data_bytes: u64,
    dir: Option<SpillDir>,
    runs: Vec<PathBuf>,
    stats: SortStats,
    fan_in: usize,
}

impl RecordSorter {
    /// A sorter writing spills under `options.tmp_dir`, which must be an existing folder.
    pub fn new(options: SortOptions) -> Result<Self, SortError> {
        match std::fs::metadata(&options.tmp_dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let source = io::Error::new(io::ErrorKind::NotADirectory, "not a folder");
                return Err(SortError::TmpDir { path: options.tmp_dir.clone(), source });
            }
            Err(source) => return Err(SortError::TmpDir { path: options.tmp_dir.clone(), source }),
        }
        Ok(RecordSorter {
            options: options.clone(),
            run: Vec::new(),
            data_bytes: 0,
            dir: None,
            runs: Vec::new(),
            stats: SortStats::default(),
            fan_in: (options.memory_bytes / MERGE_BYTES_PER_RUN).clamp(2, MAX_FAN_IN as u64) as usize,
        })
    }

    /// Adds a batch; sorts and spills the in-memory run once it exceeds the budget.
    pub fn push(&mut self, batch: Vec<(SortKey, Record)>, pool: &rayon::ThreadPool) -> Result<(), SortError> {
        self.stats.records += batch.len() as u64;
        self.data_bytes += batch.iter().map(|(_, r)| record_heap_bytes(r)).sum::<u64>();
        if self.run.is_empty() && self.run.capacity() < batch.len() {
            self.run = batch;
        } else {
            self.run.extend(batch);
        }
        if self.estimated_bytes() > self.options.memory_bytes {
            self.spill(pool)?;
        }
        Ok(())
    }

    /// Estimated memory held by the in-memory run.
    pub fn estimated_bytes(&self) -> u64 {
        let slot = std::mem::size_of::<(SortKey, Record)>() as u64;
        self.run.capacity() as u64 * slot + self.data_bytes
    }

    pub fn stats(&self) -> SortStats {
        self.stats
    }

    fn spill(&mut self, pool: &rayon::ThreadPool) -> Result<(), SortError> {
        if self.run.is_empty() {
            return Ok(());
        }
        let mut run = std::mem::take(&mut self.run);
        pool.install(|| {
            use rayon::slice::ParallelSliceMut;
            run.par_sort_unstable_by_key(|(key, _)| *key)
        });
        let dir = match &mut self.dir {
            Some(dir) => dir,
            None => self.dir.insert(SpillDir::create(&self.options.tmp_dir)?),
        };
        let path = dir.next_run_path();
        self.runs.push(path.clone());
        let written = spill::write_run(&path, &run, pool)?;
        drop(run);
        self.data_bytes = 0;
        self.stats.spilled_runs += 1;
        self.stats.spilled_records += written;
        Ok(())
    }

    /// Sorts what is left in memory and returns every record in key order.
    /// Past a spill, the last in-memory run is spilled too, so that the merge holds one frame per
    /// run ([`MERGE_BYTES_PER_RUN`]) and nothing else: the write pass stays within the budget.
    pub fn finish(mut self, pool: &rayon::ThreadPool) -> Result<SortedRecords, SortError> {
        if self.dir.is_some() {
            self.spill(pool)?;
        }
        let mut run = std::mem::take(&mut self.run);
        pool.install(|| {
            use rayon::slice::ParallelSliceMut;
            run.par_sort_unstable_by_key(|(key, _)| *key)
        });
        let stats = self.stats;
        let Some(mut dir) = self.dir.take() else {
            return Ok(SortedRecords { merge: None, memory: run.into_iter(), failed: false, stats, _dir: None });
        };
        let mut runs = std::mem::take(&mut self.runs);
        while runs.len() > self.fan_in {
            let group: Vec<PathBuf> = runs.drain(..self.fan_in).collect();
            let path = dir.next_run_path();
            merge_to_file(&group, &path)?;
            runs.push(path);
        }
        let readers = open_runs(&runs)?;
        let merge = Merger::new(readers, None)?;
        Ok(SortedRecords { merge: Some(merge), memory: Vec::new().into_iter(), failed: false, stats, _dir: Some(dir) })
    }

    #[cfg(test)]
    fn set_fan_in(&mut self, fan_in: usize) {
        self.fan_in = fan_in.max(2);
    }
}

/// Heap bytes a record owns: its data buffer as allocated, plus malloc's overhead.
fn record_heap_bytes(record: &Record) -> u64 {
    u64::from(record.inner().m_data) + MALLOC_OVERHEAD
}

/// Opens runs for merging and unlinks them at once: the open handles keep the data, and nothing
/// is left behind whatever happens next.
fn open_runs(paths: &[PathBuf]) -> Result<Vec<RunReader>, SortError> {
    let mut readers = Vec::with_capacity(paths.len());
    for path in paths {
        readers.push(RunReader::open(path)?);
        std::fs::remove_file(path).map_err(|source| SortError::Io { path: path.clone(), source })?;
    }
    Ok(readers)
}

fn merge_to_file(group: &[PathBuf], path: &Path) -> Result<(), SortError> {
    let mut merge = Merger::new(open_runs(group)?, None)?;
    let mut out = RunWriter::create(path)?;
    while let Some((key, record)) = merge.next_record()? {
        out.push(&key, &record)?;
    }
    out.finish()?;
    Ok(())
}

/// K-way merge of sorted runs (and optionally the sorted in-memory run) by [`SortKey`].
struct Merger {
    runs: Vec<RunReader>,
    memory: Option<std::vec::IntoIter<(SortKey, Record)>>,
    /// The current record of each source (`runs` by index, then memory at `runs.len()`).
    heads: Vec<Option<Record>>,
    heap: BinaryHeap<Reverse<(SortKey, usize)>>,
}

impl Merger {
    fn new(runs: Vec<RunReader>, memory: Option<std::vec::IntoIter<(SortKey, Record)>>) -> Result<Self, SortError> {
        let sources = runs.len() + 1;
        let mut merger = Merger {
            runs,
            memory,
            heads: (0..sources).map(|_| None).collect(),
            heap: BinaryHeap::with_capacity(sources),
        };
        for source in 0..sources {
            merger.refill(source)?;
        }
        Ok(merger)
    }

    fn refill(&mut self, source: usize) -> Result<(), SortError> {
        let next = match self.runs.get_mut(source) {
            Some(reader) => reader.next_record()?,
            None => self.memory.as_mut().and_then(Iterator::next),
        };
        if let Some((key, record)) = next {
            self.heads[source] = Some(record);
            self.heap.push(Reverse((key, source)));
        }
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<(SortKey, Record)>, SortError> {
        let Some(Reverse((key, source))) = self.heap.pop() else {
            return Ok(None);
        };
        let record = self.heads[source].take();
        self.refill(source)?;
        Ok(record.map(|r| (key, r)))
    }
}

/// Every record pushed, exactly once, in [`SortKey`] order. Spill files are already unlinked;
/// their folder goes when this is dropped. After an error the iterator ends.
pub struct SortedRecords {
    merge: Option<Merger>,
    memory: std::vec::IntoIter<(SortKey, Record)>,
    failed: bool,
    stats: SortStats,
    _dir: Option<SpillDir>,
}

impl SortedRecords {
    pub fn stats(&self) -> SortStats {
        self.stats
    }
}

impl Iterator for SortedRecords {
    type Item = Result<(SortKey, Record), SortError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let Some(merge) = &mut self.merge else {
            return self.memory.next().map(Ok);
        };
        match merge.next_record() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
