//! Spill files: sorted runs of `(SortKey, Record)` on disk, in dagr's own compact format.
//!
//! Layout: the magic `DAGRSPL1`, then frames `[raw_len u32][compressed_len u32][raw deflate]`,
//! then an end frame `[0u32][0u32]` and the record count (`u64`), all little-endian. A frame holds
//! [`RECORDS_PER_FRAME`] whole records (never a partial one), each encoded as the key
//! (`tid u32, pos i64, reverse u8, pair_id u64, rank u8`), the `bam1_core_t` fields verbatim
//! (`pos i64, tid i32, bin u16, qual u8, l_extranul u8, flag u16, l_qname u16, n_cigar u32,
//! l_qseq i32, mtid i32, mpos i64, isize i64`), `l_data u32` and the record's data bytes (name,
//! CIGAR, sequence, qualities, aux), so a record comes back byte-identical.
//!
//! Why deflate level 1 in independent frames: spills only happen past the memory budget, where a
//! whole genome's records (hundreds of GB raw) would otherwise hit `--tmp-dir` uncompressed;
//! level 1 shrinks them about 3–4× at a few hundred MB/s per core, and because frames are
//! independent they are compressed in parallel on the stage's rayon pool (output identical at any
//! thread count) and read back with one frame of memory per run. The end frame and count make a
//! truncated spill an error rather than silently missing records.

use super::SortError;
use crate::alignments::keys::SortKey;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use rayon::prelude::*;
use rust_htslib::bam::Record;
use rust_htslib::htslib::bam1_core_t;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"DAGRSPL1";
/// Records per compressed frame: ~200 KiB raw for short reads, so a reader holds little per run.
pub(super) const RECORDS_PER_FRAME: usize = 512;
/// Frames compressed together in one parallel step (bounds the compressed bytes held at once).
const FRAMES_PER_STEP: usize = 32;
const KEY_BYTES: usize = 4 + 8 + 1 + 8 + 1;
const CORE_BYTES: usize = 8 + 4 + 2 + 1 + 1 + 2 + 2 + 4 + 4 + 4 + 8 + 8;

/// Writes one sorted run to `path` (created; must not exist). Returns the record count.
pub(super) fn write_run(
    path: &Path,
    records: &[(SortKey, Record)],
    pool: &rayon::ThreadPool,
) -> Result<u64, SortError> {
    let io_err = |source| SortError::Io { path: path.to_path_buf(), source };
    let file = File::create_new(path).map_err(io_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC).map_err(io_err)?;
    for step in records.chunks(RECORDS_PER_FRAME * FRAMES_PER_STEP) {
        let frames: Vec<io::Result<(u32, Vec<u8>)>> =
            pool.install(|| step.par_chunks(RECORDS_PER_FRAME).map(compress_frame).collect());
        for frame in frames {
            let (raw_len, bytes) = frame.map_err(io_err)?;
            write_frame(&mut out, raw_len, &bytes).map_err(io_err)?;
        }
    }
    let count = records.len() as u64;
    finish_file(out, count).map_err(io_err)?;
    Ok(count)
}

/// Streams frames into a new run file; used by intermediate merges.
pub(super) struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pending: Vec<u8>,
    pending_records: usize,
    count: u64,
}

impl RunWriter {
    pub(super) fn create(path: &Path) -> Result<Self, SortError> {
        let io_err = |source| SortError::Io { path: path.to_path_buf(), source };
        let file = File::create_new(path).map_err(io_err)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(io_err)?;
        Ok(RunWriter { path: path.to_path_buf(), out, pending: Vec::new(), pending_records: 0, count: 0 })
    }

    pub(super) fn push(&mut self, key: &SortKey, record: &Record) -> Result<(), SortError> {
        encode_record(&mut self.pending, key, record);
        self.pending_records += 1;
        self.count += 1;
        if self.pending_records == RECORDS_PER_FRAME {
            self.flush_frame()?;
        }
        Ok(())
    }

    fn flush_frame(&mut self) -> Result<(), SortError> {
        let io_err = |source| SortError::Io { path: self.path.clone(), source };
        let (raw_len, bytes) = compress(&self.pending).map_err(io_err)?;
        write_frame(&mut self.out, raw_len, &bytes).map_err(io_err)?;
        self.pending.clear();
        self.pending_records = 0;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<u64, SortError> {
        if self.pending_records > 0 {
            self.flush_frame()?;
        }
        let path = self.path.clone();
        finish_file(self.out, self.count).map_err(|source| SortError::Io { path, source })?;
        Ok(self.count)
    }
}

fn compress_frame(records: &[(SortKey, Record)]) -> io::Result<(u32, Vec<u8>)> {
    let mut raw = Vec::with_capacity(records.len() * 512);
    for (key, record) in records {
        encode_record(&mut raw, key, record);
    }
    compress(&raw)
}

fn compress(raw: &[u8]) -> io::Result<(u32, Vec<u8>)> {
    let raw_len = u32::try_from(raw.len()).map_err(|_| io::Error::other("spill frame over 4 GiB"))?;
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(raw.len() / 3 + 64), Compression::new(1));
    encoder.write_all(raw)?;
    Ok((raw_len, encoder.finish()?))
}

fn write_frame(out: &mut impl Write, raw_len: u32, bytes: &[u8]) -> io::Result<()> {
    let comp_len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("spill frame over 4 GiB"))?;
    out.write_all(&raw_len.to_le_bytes())?;
    out.write_all(&comp_len.to_le_bytes())?;
    out.write_all(bytes)
}

fn finish_file(mut out: BufWriter<File>, count: u64) -> io::Result<()> {
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&count.to_le_bytes())?;
    out.flush()
}

pub(crate) fn encode_record(buf: &mut Vec<u8>, key: &SortKey, record: &Record) {
    buf.extend_from_slice(&key.tid.to_le_bytes());
    buf.extend_from_slice(&key.pos.to_le_bytes());
    buf.push(u8::from(key.reverse));
    buf.extend_from_slice(&key.pair_id.to_le_bytes());
    buf.push(key.rank);
    let c = &record.inner().core;
    buf.extend_from_slice(&c.pos.to_le_bytes());
    buf.extend_from_slice(&c.tid.to_le_bytes());
    buf.extend_from_slice(&c.bin.to_le_bytes());
    buf.push(c.qual);
    buf.push(c.l_extranul);
    buf.extend_from_slice(&c.flag.to_le_bytes());
    buf.extend_from_slice(&c.l_qname.to_le_bytes());
    buf.extend_from_slice(&c.n_cigar.to_le_bytes());
    buf.extend_from_slice(&c.l_qseq.to_le_bytes());
    buf.extend_from_slice(&c.mtid.to_le_bytes());
    buf.extend_from_slice(&c.mpos.to_le_bytes());
    buf.extend_from_slice(&c.isize_.to_le_bytes());
    let data = record_data(record);
    buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
    buf.extend_from_slice(data);
}

/// The record's variable-length data (`l_data` bytes).
fn record_data(record: &Record) -> &[u8] {
    let inner = record.inner();
    let len = usize::try_from(inner.l_data).unwrap_or(0);
    if len == 0 || inner.data.is_null() {
        return &[];
    }
    // SAFETY: htslib keeps `data` valid for `l_data` bytes while the record lives.
    unsafe { std::slice::from_raw_parts(inner.data, len) }
}

/// Little-endian cursor over one decompressed frame.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }
    fn slice(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }
}

fn decode_record(cur: &mut Cursor<'_>) -> Option<(SortKey, Record)> {
    if cur.bytes.len() < KEY_BYTES + CORE_BYTES + 4 {
        return None;
    }
    let key = SortKey {
        tid: u32::from_le_bytes(cur.take()?),
        pos: i64::from_le_bytes(cur.take()?),
        reverse: cur.take::<1>()?[0] != 0,
        pair_id: u64::from_le_bytes(cur.take()?),
        rank: cur.take::<1>()?[0],
    };
    let core = bam1_core_t {
        pos: i64::from_le_bytes(cur.take()?),
        tid: i32::from_le_bytes(cur.take()?),
        bin: u16::from_le_bytes(cur.take()?),
        qual: cur.take::<1>()?[0],
        l_extranul: cur.take::<1>()?[0],
        flag: u16::from_le_bytes(cur.take()?),
        l_qname: u16::from_le_bytes(cur.take()?),
        n_cigar: u32::from_le_bytes(cur.take()?),
        l_qseq: i32::from_le_bytes(cur.take()?),
        mtid: i32::from_le_bytes(cur.take()?),
        mpos: i64::from_le_bytes(cur.take()?),
        isize_: i64::from_le_bytes(cur.take()?),
    };
    let l_data = u32::from_le_bytes(cur.take()?) as usize;
    let data = cur.slice(l_data)?;
    // htslib trusts these lengths when it reads the data: check they fit before handing it over.
    let l_qseq = usize::try_from(core.l_qseq).ok()?;
    let needed = usize::from(core.l_qname) + 4 * core.n_cigar as usize + l_qseq.div_ceil(2) + l_qseq;
    if needed > l_data || core.l_qname == 0 {
        return None;
    }
    let mut record = Record::new();
    record.set_data(data);
    record.inner_mut().core = core;
    Some((key, record))
}

/// Decodes a buffer of records written by [`encode_record`] (one after another); `None` when a
/// record is truncated or inconsistent.
pub(crate) fn decode_records(bytes: &[u8]) -> Option<Vec<(SortKey, Record)>> {
    let mut cur = Cursor { bytes };
    let mut records = Vec::new();
    while !cur.bytes.is_empty() {
        records.push(decode_record(&mut cur)?);
    }
    Some(records)
}

/// Reads one run back in order, one decompressed frame at a time.
pub(super) struct RunReader {
    path: PathBuf,
    input: BufReader<File>,
    frame: std::vec::IntoIter<(SortKey, Record)>,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    read: u64,
    done: bool,
}

impl RunReader {
    /// Opens `path`; the caller may unlink it right away (the open handle keeps the data).
    pub(super) fn open(path: &Path) -> Result<Self, SortError> {
        let file = File::open(path).map_err(|source| SortError::Io { path: path.to_path_buf(), source })?;
        let mut reader = RunReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(256 << 10, file),
            frame: Vec::new().into_iter(),
            raw: Vec::new(),
            compressed: Vec::new(),
            read: 0,
            done: false,
        };
        let mut magic = [0u8; 8];
        reader.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(reader.corrupt("not a dagr spill file"));
        }
        Ok(reader)
    }

    /// The next record of the run, or `None` at its verified end.
    pub(super) fn next_record(&mut self) -> Result<Option<(SortKey, Record)>, SortError> {
        loop {
            if let Some(item) = self.frame.next() {
                self.read += 1;
                return Ok(Some(item));
            }
            if self.done || !self.load_frame()? {
                return Ok(None);
            }
        }
    }

    /// Loads the next frame; false at the end frame (after checking the record count).
    fn load_frame(&mut self) -> Result<bool, SortError> {
        let mut lens = [0u8; 8];
        self.read_exact(&mut lens)?;
        let raw_len = u32::from_le_bytes([lens[0], lens[1], lens[2], lens[3]]) as usize;
        let comp_len = u32::from_le_bytes([lens[4], lens[5], lens[6], lens[7]]) as usize;
        if raw_len == 0 && comp_len == 0 {
            let mut count = [0u8; 8];
            self.read_exact(&mut count)?;
            let count = u64::from_le_bytes(count);
            if count != self.read {
                return Err(self.corrupt(&format!("{} records read, {count} written", self.read)));
            }
            self.done = true;
            return Ok(false);
        }
        self.compressed.resize(comp_len, 0);
        let mut compressed = std::mem::take(&mut self.compressed);
        self.read_exact(&mut compressed)?;
        self.raw.clear();
        self.raw.reserve(raw_len);
        let inflated = flate2::read::DeflateDecoder::new(&compressed[..]).read_to_end(&mut self.raw);
        self.compressed = compressed;
        if inflated.is_err() || self.raw.len() != raw_len {
            return Err(self.corrupt("a frame does not decompress to its recorded length"));
        }
        let mut cur = Cursor { bytes: &self.raw };
        let mut records = Vec::with_capacity(RECORDS_PER_FRAME);
        while !cur.bytes.is_empty() {
            let record =
                decode_record(&mut cur).ok_or_else(|| self.corrupt("a record is truncated or inconsistent"))?;
            records.push(record);
        }
        self.frame = records.into_iter();
        Ok(true)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), SortError> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.corrupt("the file is truncated"),
            _ => SortError::Io { path: self.path.clone(), source: e },
        })
    }

    fn corrupt(&self, detail: &str) -> SortError {
        SortError::CorruptSpill { path: self.path.clone(), detail: detail.to_string() }
    }
}
