//! How `align` spends its share of `--max-memory`, and the least it can run in.
//!
//! The stage's resident memory is four parts, each bounded:
//! * **the process and its working set** ([`working_bytes`]): dagr's code and libraries, the two
//!   FASTQ readers' chunk queues, the batch being mapped (reads, minimap2's per-thread buffers,
//!   the new records), and in the write pass the BGZF blocks, the QC thread's queue and the MD5
//!   reader; measured on GRCh37 chr20 at 1–2 threads, plus a margin (see the constants);
//! * **the minimap2 index**, computed from the `.mmi`'s own counts
//!   ([`crate::align::index::index_resident_bytes`]: within 3 % of the measured growth of RSS on
//!   chr20) — 1.73× the file there;
//! * **the record sorter**, 9/10 of what is left: its in-memory run, then (past a spill) the
//!   merge's frames ([`crate::alignments::sort`]);
//! * **the duplicate candidates**, the last 1/10 (a candidate is ~90 bytes per pair against
//!   ~900 bytes of records), spilling to partition files past it
//!   ([`crate::alignments::markdup::CandidateStore`]); in the write pass the duplicate marks
//!   (9 bytes per flagged pair) take their place.
//!
//! The floor is the first two plus the smallest sort and candidate shares; a grant below it is
//! refused before any read is mapped, with the floor in the message. `dagr run` refuses such a
//! `--max-memory` before anything runs, from the reference's length ([`estimated_floor`]).

use crate::engine::stage::{MemoryFloor, ReferenceFacts, StageError};
use crate::units::size_rounded_up;

/// dagr's code, libraries, allocator arenas and thread stacks before any data (measured: ~30 MB).
const PROCESS_BYTES: u64 = 48 << 20;
/// Reading (two mates × up to 8 chunks of 8192 records, ~48 MB), spilling (32 compressed frames
/// in flight, the duplicate keys' 128 partition buffers) and writing (QC queue of 10 × 4096
/// records, BGZF blocks, the MD5 thread's buffer), whatever the thread count. Calibrated on
/// whole chr20 at the floor, the worst case (782 sort spills): RSS peaked at ~510 MiB either
/// way, 4 % over a floor built with 96 MiB here, 0.3 % over the floor this value gives.
const WORKING_BASE_BYTES: u64 = 120 << 20;
/// Per mapping thread: minimap2's thread buffer and its share of one batch's new records.
const WORKING_PER_THREAD_BYTES: u64 = 16 << 20;
/// Under MPI: the records and duplicate keys buffered for the other ranks between exchanges
/// (16 batches, ~100 MB for 150 bp reads), and one received round.
const MPI_EXCHANGE_BYTES: u64 = 160 << 20;
/// Smallest sort share: a few merge frames (fan-in 12), so the floor still sorts a genome.
const MIN_SORT_BYTES: u64 = 8 << 20;
/// Smallest duplicate-candidate share (~23,000 pairs between spills).
const MIN_CANDIDATE_BYTES: u64 = 2 << 20;
/// The smallest sort and candidate shares together.
pub const MIN_BUFFERS_BYTES: u64 = MIN_SORT_BYTES + MIN_CANDIDATE_BYTES;
/// In-memory index bytes per reference base, for the estimate before the index exists: GRCh37
/// chr20 (63.0 Mb, N included) needs 317 MB by [`crate::align::index::index_resident_bytes`],
/// 5.0 per base; 4.0 leaves room for references with more repeats (fewer distinct minimizers),
/// so the estimate refuses only what the real index would refuse too.
pub const INDEX_BYTES_PER_BASE: f64 = 4.0;

/// The process's own memory and the working set at `threads` (see the module docs).
pub fn working_bytes(threads: usize, mpi: bool) -> u64 {
    PROCESS_BYTES
        + WORKING_BASE_BYTES
        + WORKING_PER_THREAD_BYTES * threads.max(1) as u64
        + if mpi { MPI_EXCHANGE_BYTES } else { 0 }
}

/// The least `align` runs in with an index of `index_bytes` in memory.
pub fn floor(index_bytes: u64, threads: usize, mpi: bool) -> u64 {
    index_bytes + working_bytes(threads, mpi) + MIN_BUFFERS_BYTES
}

/// The floor before anything runs: exact from the prepared `.mmi` when the reference was
/// prepared already (the smallest, if several indexes were built), else estimated from its
/// length (the stage checks again with the real index).
pub fn floor_before_running(reference: &ReferenceFacts, threads: usize) -> MemoryFloor {
    let prepared = reference.prepared_dir.as_deref().and_then(smallest_prepared_index);
    let (index, how) = match prepared {
        Some(bytes) => (bytes, "takes".to_string()),
        None => (
            (reference.bases as f64 * INDEX_BYTES_PER_BASE) as u64,
            format!("of this {:.1} Mb reference takes about", reference.bases as f64 / 1e6),
        ),
    };
    MemoryFloor { bytes: floor(index, threads, false), detail: composition(&how, index, working_bytes(threads, false)) }
}

/// What a floor is made of, as both refusals say it; `how` joins the index to its size.
fn composition(how: &str, index: u64, working: u64) -> String {
    format!(
        "the minimap2 index {how} {} in memory, dagr and its reading, mapping and writing buffers {}, the smallest \
         sort and duplicate-key buffers {}",
        size_rounded_up(index),
        size_rounded_up(working),
        size_rounded_up(MIN_BUFFERS_BYTES)
    )
}

/// The in-memory size of the smallest whole `.mmi` in a prepared-reference folder.
fn smallest_prepared_index(dir: &std::path::Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mmi"))
        .filter_map(|p| crate::align::index::index_resident_bytes(&p).ok())
        .min()
}

/// How this run of the stage divides its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(super) struct MemoryPlan {
    pub budget: u64,
    pub index: u64,
    pub working: u64,
    pub sort: u64,
    pub candidates: u64,
}

impl MemoryPlan {
    /// Divides `budget`, or refuses it (bad input, exit 2) when it is below the floor.
    pub fn new(budget: u64, index: u64, threads: usize, mpi: bool) -> Result<MemoryPlan, StageError> {
        let working = working_bytes(threads, mpi);
        let least = floor(index, threads, mpi);
        if budget < least {
            return Err(StageError::bad_input(format!("--max-memory: {}", below_floor(budget, least, index, working))));
        }
        let rest = budget - index - working;
        let candidates = (rest / 10).max(MIN_CANDIDATE_BYTES);
        Ok(MemoryPlan { budget, index, working, sort: rest - candidates, candidates })
    }
}

/// The refusal, with the floor and what it is made of.
fn below_floor(budget: u64, least: u64, index: u64, working: u64) -> String {
    format!(
        "align needs at least {} and would get {}: {}. Rerun with --max-memory {} or more (fewer --threads \
         lower the buffers a little)",
        size_rounded_up(least),
        crate::units::size_for_humans(budget),
        composition("takes", index, working),
        size_rounded_up(least),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    #[test]
    fn the_grant_is_divided_without_overlap() {
        let p = MemoryPlan::new(6 << 30, 317 << 20, 2, false).unwrap();
        assert_eq!(p.index + p.working + p.sort + p.candidates, p.budget);
        assert!(p.sort > 8 * p.candidates && p.sort < 10 * p.candidates, "{p:?}");
    }

    #[test]
    fn a_prepared_index_makes_the_up_front_floor_exact() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = dir.path().join("r.fa");
        let mut x = 7u64;
        let bases: String = (0..50_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"ACGT"[(x >> 33) as usize % 4])
            })
            .collect();
        std::fs::write(&fasta, format!(">c\n{bases}\n")).unwrap();
        let estimated = floor_before_running(&ReferenceFacts { bases: 50_000, prepared_dir: None }, 2);
        assert!(estimated.detail.contains("of this 0.1 Mb reference takes about"), "{}", estimated.detail);
        let mmi = dir.path().join("r.k21w11.mmi");
        crate::align::index::build_index(&fasta, &mmi, crate::align::index::IndexParams::default(), 1).unwrap();
        let resident = crate::align::index::index_resident_bytes(&mmi).unwrap();
        let facts = ReferenceFacts { bases: 50_000, prepared_dir: Some(dir.path().to_path_buf()) };
        let exact = floor_before_running(&facts, 2);
        assert_eq!(exact.bytes, floor(resident, 2, false));
        assert!(exact.detail.starts_with("the minimap2 index takes"), "{}", exact.detail);
    }

    #[test]
    fn the_floor_itself_is_accepted_and_one_byte_less_refused() {
        let least = floor(317 << 20, 2, false);
        let p = MemoryPlan::new(least, 317 << 20, 2, false).unwrap();
        assert_eq!((p.sort, p.candidates), (MIN_SORT_BYTES, MIN_CANDIDATE_BYTES));
        let e = MemoryPlan::new(least - 1, 317 << 20, 2, false).unwrap_err();
        assert_eq!(e.failure(), Failure::BadInput);
        let text = e.to_string();
        assert!(text.contains(&format!("--max-memory {} or more", size_rounded_up(least))), "{text}");
        assert!(text.contains("the minimap2 index takes 317M"), "{text}");
    }
}
