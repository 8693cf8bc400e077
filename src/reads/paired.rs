//! Paired reading: R1 and R2 are inflated, parsed and validated in parallel, one dedicated thread
//! per mate file, each sending chunks of [`PAIRS_PER_BATCH`] records over a bounded channel. The
//! consumer zips the two chunk streams into [`PairBatch`]es, checks that mate names agree and that
//! both files end together. Batch buffers go back to their producer when a batch is dropped, so a
//! steady-state read allocates nothing. Batch boundaries depend only on the input, never on thread
//! counts, so anything computed per batch is reproducible.
//!
//! Cost: wall time ≈ the slower mate's inflate + parse; memory ≈ (channel capacity + 2) chunks of
//! a few MiB per mate.

use super::error::{FastqError, Mate};
use super::open::{Compression, FastqSource};
use super::parse::{MateChunk, MateParser};
use super::stats::FastqStats;
use super::{PAIRS_PER_BATCH, ScanOptions};
use crossbeam_channel::{Receiver, Sender, bounded, never};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Chunks queued between a mate's thread and the consumer.
const CHANNEL_CHUNKS: usize = 2;
/// Spare chunks kept for reuse per mate.
const RECYCLED_CHUNKS: usize = 4;

/// One FASTQ record, borrowed from its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastqRecord<'a> {
    name: &'a [u8],
    comment: &'a [u8],
    seq: &'a [u8],
    qual: &'a [u8],
}

impl<'a> FastqRecord<'a> {
    /// The read name: the header after `@`, up to the first space or tab.
    pub fn name(&self) -> &'a [u8] {
        self.name
    }
    /// The rest of the header after the name and one separator (empty when absent).
    pub fn comment(&self) -> &'a [u8] {
        self.comment
    }
    /// Bases, as in the file (validated `ACGTNacgtn`).
    pub fn seq(&self) -> &'a [u8] {
        self.seq
    }
    /// Phred+33 qualities, as in the file (validated, same length as the sequence).
    pub fn qual(&self) -> &'a [u8] {
        self.qual
    }
    pub fn len(&self) -> usize {
        self.seq.len()
    }
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }
}

fn record(chunk: &MateChunk, i: usize) -> FastqRecord<'_> {
    FastqRecord { name: chunk.name(i), comment: chunk.comment(i), seq: chunk.seq(i), qual: chunk.qual(i) }
}

/// Up to [`PAIRS_PER_BATCH`] consecutive read pairs (fewer only in the last batch). Dropping it
/// returns its buffers to the reader.
pub struct PairBatch {
    r1: MateChunk,
    r2: MateChunk,
    recycle: [Sender<MateChunk>; 2],
}

impl PairBatch {
    pub fn len(&self) -> usize {
        self.r1.len()
    }
    pub fn is_empty(&self) -> bool {
        self.r1.len() == 0
    }
    /// 1-based number of this batch's first pair within the lane.
    pub fn first_pair_number(&self) -> u64 {
        self.r1.first_record()
    }
    /// Pair `i` (0-based) as (R1 record, R2 record). Panics when `i >= len()`, like slice indexing.
    pub fn pair(&self, i: usize) -> (FastqRecord<'_>, FastqRecord<'_>) {
        (record(&self.r1, i), record(&self.r2, i))
    }
    /// All pairs in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (FastqRecord<'_>, FastqRecord<'_>)> + '_ {
        (0..self.len()).map(move |i| self.pair(i))
    }
}

impl Drop for PairBatch {
    fn drop(&mut self) {
        let _ = self.recycle[0].try_send(std::mem::take(&mut self.r1));
        let _ = self.recycle[1].try_send(std::mem::take(&mut self.r2));
    }
}

impl std::fmt::Debug for PairBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairBatch").field("first_pair", &self.first_pair_number()).field("len", &self.len()).finish()
    }
}

/// What a mate thread sends.
enum MateMsg {
    Chunk(MateChunk),
    /// The file ended cleanly; its statistics (`pairs` 0).
    End(Box<FastqStats>),
    Failed(FastqError),
}

/// One mate's thread and its channels; dropping it stops and joins the thread.
struct MateStream {
    rx: Receiver<MateMsg>,
    recycle: Sender<MateChunk>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl MateStream {
    fn spawn(
        mate: Mate,
        source: FastqSource,
        options: ScanOptions,
        stop: &Arc<AtomicBool>,
    ) -> Result<Self, FastqError> {
        let (tx, rx) = bounded(CHANNEL_CHUNKS);
        let (recycle, spare) = bounded(RECYCLED_CHUNKS);
        let thread_stop = Arc::clone(stop);
        // Started through `accounting` so that its CPU is charged to the calling stage.
        let handle = crate::accounting::spawn(format!("fastq-{mate}"), move || {
            if let Err(e) = produce(source, options, &thread_stop, &tx, &spare) {
                let _ = tx.send(MateMsg::Failed(e));
            }
        })
        .map_err(FastqError::Thread)?;
        Ok(Self { rx, recycle, stop: Arc::clone(stop), handle: Some(handle) })
    }

    fn recv(&self, mate: Mate) -> MateMsg {
        self.rx.recv().unwrap_or_else(|_| {
            MateMsg::Failed(FastqError::Internal(format!("the {mate} reader thread stopped unexpectedly")))
        })
    }
}

impl Drop for MateStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a thread waiting to send.
        self.rx = never();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The body of a mate thread: parse chunks until the file ends, an error, or a stop request.
fn produce(
    source: FastqSource,
    options: ScanOptions,
    stop: &AtomicBool,
    tx: &Sender<MateMsg>,
    spare: &Receiver<MateChunk>,
) -> Result<(), FastqError> {
    let mut parser = MateParser::new(source);
    let mut chunk = MateChunk::first();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        parser.fill(&mut chunk, PAIRS_PER_BATCH)?;
        let finished = parser.finished(&chunk);
        if chunk.len() > 0 {
            let mut next = spare.try_recv().unwrap_or_default();
            next.continue_from(&chunk);
            if tx.send(MateMsg::Chunk(chunk)).is_err() {
                return Ok(());
            }
            chunk = next;
        }
        if finished {
            if parser.tally().reads() == 0 {
                return Err(FastqError::Empty { path: parser.path().to_path_buf() });
            }
            let _ = tx.send(MateMsg::End(Box::new(parser.tally().to_stats(options.min_base_quality))));
            return Ok(());
        }
    }
}

/// True when R1 and R2 names agree after dropping a trailing `/1` (R1) and `/2` (R2).
fn same_pair_name(r1: &[u8], r2: &[u8]) -> bool {
    r1.strip_suffix(b"/1").unwrap_or(r1) == r2.strip_suffix(b"/2").unwrap_or(r2)
}

/// Reads a lane's R1/R2 pair as [`PairBatch`]es, validating as it goes; after the last batch,
/// [`PairedFastqReader::stats`] holds the lane's statistics.
pub struct PairedFastqReader<'c> {
    paths: [PathBuf; 2],
    compression: [Compression; 2],
    cancel: &'c AtomicBool,
    streams: [MateStream; 2],
    stop: Arc<AtomicBool>,
    pairs: u64,
    stats: Option<FastqStats>,
    failed: bool,
    /// Bytes read from R1 and R2 so far, and their sizes (for progress estimates).
    consumed: [Arc<AtomicU64>; 2],
    sizes: [u64; 2],
}

impl<'c> PairedFastqReader<'c> {
    /// Opens both files with default [`ScanOptions`] and starts their reader threads.
    pub fn open(r1: &Path, r2: &Path, cancel: &'c AtomicBool) -> Result<Self, FastqError> {
        Self::open_with(r1, r2, &ScanOptions::default(), cancel)
    }

    /// Opens both files (detecting compression, checking a BGZF end marker) and starts their
    /// reader threads; format errors inside the files come from [`PairedFastqReader::next_batch`].
    pub fn open_with(r1: &Path, r2: &Path, options: &ScanOptions, cancel: &'c AtomicBool) -> Result<Self, FastqError> {
        let (source1, source2) = (FastqSource::open(r1)?, FastqSource::open(r2)?);
        let compression = [source1.compression(), source2.compression()];
        let consumed = [source1.consumed(), source2.consumed()];
        let sizes = [source1.size(), source2.size()];
        let stop = Arc::new(AtomicBool::new(false));
        let s1 = MateStream::spawn(Mate::R1, source1, *options, &stop)?;
        let s2 = MateStream::spawn(Mate::R2, source2, *options, &stop)?;
        Ok(Self {
            paths: [r1.to_path_buf(), r2.to_path_buf()],
            compression,
            cancel,
            streams: [s1, s2],
            stop,
            pairs: 0,
            stats: None,
            failed: false,
            consumed,
            sizes,
        })
    }

    /// Bytes read so far from both files, as stored (compressed where they are), and the files'
    /// total size (0 when either is a pipe): `pairs_read() * total / read` estimates the lane's
    /// pairs. The reader threads run ahead of the batches handed out by a few chunks, so early
    /// estimates are a little low.
    pub fn input_progress(&self) -> (u64, u64) {
        let read: u64 = self.consumed.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        let total: u64 = if self.sizes.contains(&0) { 0 } else { self.sizes.iter().sum() };
        (read, total)
    }

    /// How R1 and R2 are stored.
    pub fn compression(&self) -> [Compression; 2] {
        self.compression
    }

    /// Pairs handed out so far.
    pub fn pairs_read(&self) -> u64 {
        self.pairs
    }

    /// The lane's statistics, once [`PairedFastqReader::next_batch`] has returned `Ok(None)`.
    pub fn stats(&self) -> Option<&FastqStats> {
        self.stats.as_ref()
    }

    /// Reads the remaining batches and returns the lane's statistics.
    pub fn into_stats(mut self) -> Result<FastqStats, FastqError> {
        while self.next_batch()?.is_some() {}
        self.stats.take().ok_or_else(|| FastqError::Internal("statistics missing after the last batch".into()))
    }

    /// The next batch of pairs, `Ok(None)` after the last one. After an error (or cancellation,
    /// checked before every batch) the reader is finished.
    pub fn next_batch(&mut self) -> Result<Option<PairBatch>, FastqError> {
        if self.failed || self.stats.is_some() {
            return Ok(None);
        }
        if self.cancel.load(Ordering::Relaxed) {
            self.failed = true;
            self.stop.store(true, Ordering::Relaxed);
            return Err(FastqError::Cancelled);
        }
        let m1 = self.streams[0].recv(Mate::R1);
        let m2 = self.streams[1].recv(Mate::R2);
        let result = self.combine(m1, m2);
        if result.is_err() {
            self.failed = true;
            self.stop.store(true, Ordering::Relaxed);
        }
        result
    }

    fn combine(&mut self, m1: MateMsg, m2: MateMsg) -> Result<Option<PairBatch>, FastqError> {
        match (m1, m2) {
            (MateMsg::Failed(e), _) | (_, MateMsg::Failed(e)) => Err(e),
            (MateMsg::Chunk(a), MateMsg::Chunk(b)) => self.zip(a, b).map(Some),
            (MateMsg::End(mut s1), MateMsg::End(s2)) => {
                s1.merge(&s2);
                s1.pairs = self.pairs;
                self.stats = Some(*s1);
                Ok(None)
            }
            (MateMsg::End(_), MateMsg::Chunk(_)) => Err(self.count_mismatch(Mate::R2, self.pairs)),
            (MateMsg::Chunk(_), MateMsg::End(_)) => Err(self.count_mismatch(Mate::R1, self.pairs)),
        }
    }

    /// Pairs two chunks, which hold the same records numbers unless one file ended.
    fn zip(&mut self, r1: MateChunk, r2: MateChunk) -> Result<PairBatch, FastqError> {
        if r1.len() != r2.len() {
            // Only a file's last chunk is short.
            let (longer, shorter) = if r1.len() > r2.len() { (Mate::R1, &r2) } else { (Mate::R2, &r1) };
            return Err(self.count_mismatch(longer, shorter.first_record() - 1 + shorter.len() as u64));
        }
        for i in 0..r1.len() {
            if !same_pair_name(r1.name(i), r2.name(i)) {
                return Err(FastqError::NameMismatch {
                    r1_path: self.paths[0].clone(),
                    r2_path: self.paths[1].clone(),
                    record: r1.first_record() + i as u64,
                    r1_name: String::from_utf8_lossy(r1.name(i)).into_owned(),
                    r2_name: String::from_utf8_lossy(r2.name(i)).into_owned(),
                });
            }
        }
        self.pairs += r1.len() as u64;
        Ok(PairBatch { r1, r2, recycle: [self.streams[0].recycle.clone(), self.streams[1].recycle.clone()] })
    }

    fn count_mismatch(&self, longer: Mate, shorter_reads: u64) -> FastqError {
        let index = |m: Mate| if m == Mate::R1 { 0 } else { 1 };
        FastqError::CountMismatch {
            longer,
            shorter: longer.other(),
            shorter_reads,
            longer_path: self.paths[index(longer)].clone(),
            shorter_path: self.paths[index(longer.other())].clone(),
        }
    }
}

impl Iterator for PairedFastqReader<'_> {
    type Item = Result<PairBatch, FastqError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mate_suffixes_are_ignored_only_on_their_own_mate() {
        assert!(same_pair_name(b"read7/1", b"read7/2"));
        assert!(same_pair_name(b"read7", b"read7"));
        assert!(same_pair_name(b"read7/1", b"read7"));
        assert!(!same_pair_name(b"read7/2", b"read7/1"));
        assert!(!same_pair_name(b"read7", b"read8"));
    }
}
