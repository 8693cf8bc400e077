//! Duplicate candidates held within a memory share, spilling to disk past it.
//!
//! Algorithm: candidates arrive batch by batch while reads are mapped. Pairs (both mates mapped,
//! ~99 % of candidates) are kept in a vector whose capacity never exceeds the share; when the next
//! batch would not fit, the vector is written out to [`PARTITIONS`] files under a private folder
//! in `--tmp-dir`, each pair to the file [`shard_of`] its key names, so that every duplicate group
//! lies whole in one file. Fragments (one mate mapped) stay in memory: they are rare, and every
//! fragment must be checked against the pair ends of all partitions. [`CandidateStore::resolve`]
//! then reduces one partition at a time (read back, sort, keep the best of each group), collects
//! which fragment ends the pairs cover, reduces the fragments last, and merges the parts. This is
//! the partitioned reduction [`super`] documents for MPI ranks, run one shard after another, so
//! the marks are those of the in-memory reduction whatever the share.
//!
//! Cost: in memory, nothing beyond [`resolve`](super::resolve). Past the share, every pair is
//! written once and read once (68 bytes each, uncompressed: a 30x genome's ~400 M pairs are
//! ~27 GB under `--tmp-dir`), and resolving holds one partition (about 1/[`PARTITIONS`] of the
//! pairs) at a time, plus 32 KiB of write buffer per partition while spilling.

use super::reduce::{covered_ends, fragment_ends, reduce_fragment_part, reduce_pair_part, shard_of};
use super::{DuplicateMarks, MarkdupOptions, MarksPart};
use crate::alignments::keys::{DupCandidate, DupKey, FlowcellPosition, Mate, ReadEnd};
use crate::alignments::sort::{SortError, SpillDir};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Files the pairs are spread over once they spill.
pub const PARTITIONS: usize = 128;
/// Bytes of one spilled candidate (see [`encode`]).
const RECORD_BYTES: usize = 68;
/// Write buffer per partition file.
const WRITE_BUFFER: usize = 32 << 10;

/// What the store did, for the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateStats {
    pub candidates: u64,
    /// Times the in-memory pairs were written out (0: everything stayed in memory).
    pub spills: u64,
    pub spilled_pairs: u64,
}

/// The partition files, open for appending while mapping goes on.
struct Partitions {
    dir: SpillDir,
    writers: Vec<BufWriter<File>>,
    /// Pairs written to each partition.
    counts: Vec<u64>,
}

impl Partitions {
    fn create(tmp_dir: &Path) -> Result<Partitions, SortError> {
        let dir = SpillDir::create_for(tmp_dir, "dups")?;
        let mut writers = Vec::with_capacity(PARTITIONS);
        for p in 0..PARTITIONS {
            let path = partition_path(dir.path(), p);
            let file = File::create(&path).map_err(|source| SortError::Io { path, source })?;
            writers.push(BufWriter::with_capacity(WRITE_BUFFER, file));
        }
        Ok(Partitions { dir, writers, counts: vec![0; PARTITIONS] })
    }

    fn write(&mut self, pairs: &[DupCandidate]) -> Result<(), SortError> {
        let mut buf = [0u8; RECORD_BYTES];
        for c in pairs {
            let p = shard_of(&c.key, PARTITIONS);
            encode(c, &mut buf);
            self.writers[p].write_all(&buf).map_err(|source| self.io(p, source))?;
            self.counts[p] += 1;
        }
        Ok(())
    }

    fn io(&self, p: usize, source: io::Error) -> SortError {
        SortError::Io { path: partition_path(self.dir.path(), p), source }
    }

    /// Flushes and closes every file; the folder stays until `self.dir` is dropped.
    fn close(&mut self) -> Result<(), SortError> {
        for (p, w) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            w.into_inner().map_err(|e| self.io(p, e.into_error()))?;
        }
        Ok(())
    }

    /// The pairs of partition `p`, in the order written.
    fn read(&self, p: usize) -> Result<Vec<DupCandidate>, SortError> {
        let path = partition_path(self.dir.path(), p);
        let n = self.counts[p] as usize;
        let file = File::open(&path).map_err(|source| SortError::Io { path: path.clone(), source })?;
        let mut reader = BufReader::with_capacity(WRITE_BUFFER, file);
        let mut out = Vec::with_capacity(n);
        let mut buf = [0u8; RECORD_BYTES];
        for _ in 0..n {
            reader.read_exact(&mut buf).map_err(|source| SortError::Io { path: path.clone(), source })?;
            out.push(decode(&buf));
        }
        // Read-back only; dropping the file early frees its disk space before the next partition.
        let _ = std::fs::remove_file(&path);
        Ok(out)
    }
}

fn partition_path(dir: &Path, p: usize) -> PathBuf {
    dir.join(format!("pairs-{p:03}.bin"))
}

/// Collects a sample's duplicate candidates within `memory_bytes` (see the module docs).
pub struct CandidateStore {
    memory_bytes: u64,
    tmp_dir: PathBuf,
    pairs: Vec<DupCandidate>,
    fragments: Vec<DupCandidate>,
    spilled: Option<Partitions>,
    stats: CandidateStats,
}

const SLOT: u64 = std::mem::size_of::<DupCandidate>() as u64;

impl CandidateStore {
    /// An empty store; spill files go to a private folder in `tmp_dir`, made on the first spill.
    pub fn new(memory_bytes: u64, tmp_dir: &Path) -> CandidateStore {
        CandidateStore {
            memory_bytes,
            tmp_dir: tmp_dir.to_path_buf(),
            pairs: Vec::new(),
            fragments: Vec::new(),
            spilled: None,
            stats: CandidateStats::default(),
        }
    }

    /// Memory held by the candidates (vector capacity).
    pub fn estimated_bytes(&self) -> u64 {
        (self.pairs.capacity() + self.fragments.capacity()) as u64 * SLOT
    }

    /// Adds one batch's candidates, writing the in-memory pairs out first when they would not fit.
    pub fn extend(&mut self, batch: Vec<DupCandidate>) -> Result<(), SortError> {
        self.stats.candidates += batch.len() as u64;
        let (pairs, fragments): (Vec<DupCandidate>, Vec<DupCandidate>) =
            batch.into_iter().partition(|c| matches!(c.key, DupKey::Pair { .. }));
        self.fragments.extend(fragments);
        // Pair slots the share leaves beside the fragments (at least one batch's worth).
        let room = ((self.memory_bytes / SLOT) as usize).saturating_sub(self.fragments.capacity()).max(pairs.len());
        if self.pairs.len() + pairs.len() > room {
            self.spill()?;
        }
        let needed = self.pairs.len() + pairs.len();
        if self.pairs.capacity() > room.max(needed) {
            // More fragments left less room for pairs.
            self.pairs.shrink_to(room.max(needed));
        }
        if needed > self.pairs.capacity() {
            // Grow by doubling, but never past the room: capacity is what the share counts.
            let target = (self.pairs.capacity() * 2).max(needed).min(room.max(needed));
            self.pairs.reserve_exact(target - self.pairs.len());
        }
        self.pairs.extend(pairs);
        Ok(())
    }

    fn spill(&mut self) -> Result<(), SortError> {
        if self.pairs.is_empty() {
            return Ok(());
        }
        let parts = match &mut self.spilled {
            Some(p) => p,
            None => self.spilled.insert(Partitions::create(&self.tmp_dir)?),
        };
        parts.write(&self.pairs)?;
        self.stats.spills += 1;
        self.stats.spilled_pairs += self.pairs.len() as u64;
        self.pairs.clear();
        Ok(())
    }

    pub fn stats(&self) -> CandidateStats {
        self.stats
    }

    /// Reduces every candidate to the sample's duplicate marks (`library_names[i]` names library
    /// `i`); the same marks as [`super::resolve`] on all candidates at once.
    pub fn resolve(
        mut self,
        library_names: &[String],
        options: &MarkdupOptions,
    ) -> Result<(DuplicateMarks, CandidateStats), SortError> {
        let wanted = fragment_ends(&self.fragments);
        let mut covered = Vec::new();
        let mut parts: Vec<MarksPart> = Vec::new();
        if self.spilled.is_some() {
            // Everything goes through the partitions, so each duplicate group is read back whole.
            self.spill()?;
            self.pairs = Vec::new();
        }
        if let Some(mut partitions) = self.spilled.take() {
            partitions.close()?;
            for p in 0..PARTITIONS {
                let mut pairs = partitions.read(p)?;
                covered.extend(covered_ends(&pairs, &wanted));
                parts.push(reduce_pair_part(&mut pairs, options.optical_pixel_distance));
            }
        } else {
            covered.extend(covered_ends(&self.pairs, &wanted));
            parts.push(reduce_pair_part(&mut self.pairs, options.optical_pixel_distance));
            self.pairs = Vec::new();
        }
        covered.sort_unstable();
        covered.dedup();
        parts.push(reduce_fragment_part(&mut self.fragments, &covered));
        Ok((DuplicateMarks::merge(parts, library_names), self.stats))
    }
}

fn put_end(out: &mut [u8], e: &ReadEnd) {
    out[0..4].copy_from_slice(&e.tid.to_le_bytes());
    out[4..12].copy_from_slice(&e.unclipped_5prime.to_le_bytes());
    out[12] = u8::from(e.reverse);
}

fn get_end(b: &[u8]) -> ReadEnd {
    ReadEnd { tid: u32_at(b, 0), unclipped_5prime: i64::from_le_bytes(array(&b[4..12])), reverse: b[12] != 0 }
}

fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(&b[at..at + 4]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(&b[at..at + 8]))
}

/// A candidate as 68 little-endian bytes: library u32, kind u8 (0 pair, 1 fragment), the pair's
/// two ends or the fragment's end and mate (per end: tid u32, unclipped 5' i64, reverse u8; the
/// mate as a byte, then zeros), score u32, name hash u64, pair id u64, then a presence byte and
/// lane, tile, x, y (u32 each; zeros when absent).
fn encode(c: &DupCandidate, out: &mut [u8; RECORD_BYTES]) {
    out.fill(0);
    match &c.key {
        DupKey::Pair { library, first, second } => {
            out[0..4].copy_from_slice(&library.to_le_bytes());
            put_end(&mut out[5..18], first);
            put_end(&mut out[18..31], second);
        }
        DupKey::Fragment { library, end, mate } => {
            out[0..4].copy_from_slice(&library.to_le_bytes());
            out[4] = 1;
            put_end(&mut out[5..18], end);
            out[18] = u8::from(*mate == Mate::R2);
        }
    }
    out[31..35].copy_from_slice(&c.score.to_le_bytes());
    out[35..43].copy_from_slice(&c.name_hash.to_le_bytes());
    out[43..51].copy_from_slice(&c.pair_id.to_le_bytes());
    if let Some(p) = c.position {
        out[51] = 1;
        for (i, v) in [p.lane, p.tile, p.x, p.y].into_iter().enumerate() {
            out[52 + 4 * i..56 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
    }
}

fn decode(b: &[u8; RECORD_BYTES]) -> DupCandidate {
    let library = u32_at(b, 0);
    let key = if b[4] == 0 {
        DupKey::Pair { library, first: get_end(&b[5..18]), second: get_end(&b[18..31]) }
    } else {
        DupKey::Fragment { library, end: get_end(&b[5..18]), mate: if b[18] == 1 { Mate::R2 } else { Mate::R1 } }
    };
    let position = (b[51] != 0).then(|| FlowcellPosition {
        lane: u32_at(b, 52),
        tile: u32_at(b, 56),
        x: u32_at(b, 60),
        y: u32_at(b, 64),
    });
    DupCandidate { key, score: u32_at(b, 31), name_hash: u64_at(b, 35), pair_id: u64_at(b, 43), position }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(tid: u32, pos: i64, reverse: bool) -> ReadEnd {
        ReadEnd { tid, unclipped_5prime: pos, reverse }
    }

    /// A mix with duplicate pairs, optical neighbours, fragments on pair ends and on their own.
    fn candidates() -> Vec<DupCandidate> {
        let mut out = Vec::new();
        for i in 0..3000u64 {
            let start = (i % 700) as i64 * 10;
            let position = (i % 3 != 0).then_some(FlowcellPosition {
                lane: 1,
                tile: 1101 + (i % 2) as u32,
                x: (i * 37 % 5000) as u32,
                y: (i * 91 % 5000) as u32,
            });
            out.push(DupCandidate {
                key: DupKey::Pair {
                    library: (i % 2) as u32,
                    first: end(0, start, false),
                    second: end(0, start + 300 + (i % 5) as i64, true),
                },
                score: (i * 7919 % 97) as u32,
                name_hash: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                pair_id: i,
                position,
            });
        }
        for i in 0..200u64 {
            let pos = if i % 2 == 0 { (i % 700) as i64 * 10 } else { 100_000 + (i % 13) as i64 };
            out.push(DupCandidate {
                key: DupKey::Fragment { library: 0, end: end(0, pos, false), mate: Mate::R2 },
                score: (i % 11) as u32,
                name_hash: i,
                pair_id: 10_000 + i,
                position: None,
            });
        }
        out
    }

    fn stored(memory_bytes: u64, batch: usize) -> (DuplicateMarks, CandidateStats) {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = CandidateStore::new(memory_bytes, tmp.path());
        for chunk in candidates().chunks(batch) {
            store.extend(chunk.to_vec()).unwrap();
        }
        let out = store.resolve(&["a".into(), "b".into()], &MarkdupOptions::default()).unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "spill folder left behind");
        out
    }

    #[test]
    fn spilled_marks_equal_in_memory_marks() {
        let expected = super::super::resolve(candidates(), &["a".into(), "b".into()], &MarkdupOptions::default());
        assert!(expected.flagged_pairs() > 100, "the fixture must have duplicates");
        let (in_memory, stats) = stored(1 << 30, 128);
        assert_eq!(stats.spills, 0);
        assert_eq!(in_memory, expected);
        let (spilled, stats) = stored(100 * SLOT, 64);
        assert!(stats.spills >= 10, "{stats:?}");
        assert_eq!(spilled, expected);
    }

    #[test]
    fn the_share_bounds_the_vectors() {
        let tmp = tempfile::tempdir().unwrap();
        let share = 500 * SLOT;
        let mut store = CandidateStore::new(share, tmp.path());
        for chunk in candidates().chunks(64) {
            store.extend(chunk.to_vec()).unwrap();
            assert!(store.estimated_bytes() <= share + 64 * SLOT, "{} > {share}", store.estimated_bytes());
        }
    }

    #[test]
    fn candidates_survive_the_encoding() {
        let mut buf = [0u8; RECORD_BYTES];
        for c in candidates().into_iter().step_by(37) {
            encode(&c, &mut buf);
            assert_eq!(decode(&buf), c);
        }
    }
}
