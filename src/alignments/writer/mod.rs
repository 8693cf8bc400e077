//! Writing coordinate-sorted records as an indexed BAM or CRAM, atomically.
//!
//! [`AlignmentWriter`] drives htslib directly (through `rust_htslib::htslib`) rather than through
//! `rust_htslib::bam::Writer`, because that writer ignores the results of the header write and
//! of the final close (the BGZF EOF block and the last blocks), and cannot set CRAM options before
//! the header goes out. Here every call is checked:
//!
//! 1. htslib writes `<stem>.bam|.cram` under a temporary name in the destination folder
//!    ([`TempPath`]); BAM is BGZF at the level asked for ([`DEFAULT_BAM_LEVEL`]), CRAM is version 3.0 with the reference
//!    external (`embed_ref=0`), the header written with our `M5`/`UR`, then the reference FASTA
//!    (with its `.fai` beside it) attached for encoding. `threads` compression threads come from
//!    an htslib pool owned by the file. BGZF blocks and CRAM containers are cut by content, not
//!    by thread, so the bytes do not depend on the thread count.
//! 2. The index (`.bai`, or `.crai` for CRAM) is built while writing (htslib's on-the-fly
//!    indexing, `sam_idx_init`), and the data's MD5 by a thread that follows the growing file
//!    ([`TempPath::hash_while_written`]): no pass over the finished file on the writer's thread.
//! 3. [`AlignmentWriter::finish`] saves the index (`sam_idx_save`) and closes the file (errors
//!    reported), then commits: first it removes any index and `.md5` sidecars of an earlier run
//!    at the final names, then renames the data (fsync, rename, `.md5` sidecar), and the index
//!    last. The index is the completion mark: an index under its final name implies the data
//!    beside it is complete and is the one it indexes. A crash before the data rename leaves only
//!    temporary names (removed by the next run); between the two renames it leaves data without
//!    an index, which no reader takes for a finished indexed pair (and the stage is not recorded
//!    as done, so `--resume` reruns it). Renaming the index first would instead pair a new index
//!    with old or missing data.
//!
//! MPI slices ([`AlignmentWriter::create_slice`]) get their `.bai` built while writing too (no
//! MD5); [`concatenate_bam`] joins them, merges their indexes into the joined file's (module
//! `bai`, no pass over any BAM) and hashes the joined data as it copies it: the joined file is
//! never re-read.

use super::bai;

use crate::output_file::{Sidecar, TempPath, WrittenFile, commit_with_index, remove_if_present, with_suffix};
use crate::output_file::{clear_errno, write_failure_cause};
use rust_htslib::bam::{self, Header, Read as _, Record};
use rust_htslib::htslib;
use std::ffi::CString;
use std::io;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The container to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// BGZF at this deflate level (1 fastest to 9 smallest; see [`DEFAULT_BAM_LEVEL`]).
    Bam { level: u8 },
    /// CRAM 3.0 against `reference_fasta`, which must have its `.fai` beside it.
    Cram { reference_fasta: PathBuf },
}

/// The align stage's default BAM deflate level: htsjdk's and Picard's default. samtools writes 6
/// (libdeflate's lazier matcher): on a 30x BAM level 5 takes ~40 % less compression CPU for a file
/// ~1.5 % larger.
pub const DEFAULT_BAM_LEVEL: u8 = 5;

impl OutputFormat {
    /// BAM at [`DEFAULT_BAM_LEVEL`].
    pub fn bam() -> OutputFormat {
        OutputFormat::Bam { level: DEFAULT_BAM_LEVEL }
    }

    fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Bam { .. } => "bam",
            OutputFormat::Cram { .. } => "cram",
        }
    }
    fn index_extension(&self) -> &'static str {
        match self {
            OutputFormat::Bam { .. } => "bai",
            OutputFormat::Cram { .. } => "crai",
        }
    }
}

/// A committed alignment file and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenAlignment {
    pub data: WrittenFile,
    pub index: WrittenFile,
    pub records: u64,
}

/// Writing or reading alignments failed; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: an alignment output must be named *.{expected}", path.display())]
    BadName { path: PathBuf, expected: &'static str },
    #[error("{}: the CRAM reference has no index beside it ({} is missing); prepare the reference first", fasta.display(), fai.display())]
    MissingFai { fasta: PathBuf, fai: PathBuf },
    #[error("{}: htslib cannot {action}", path.display())]
    Hts {
        path: PathBuf,
        action: &'static str,
        #[source]
        cause: Option<io::Error>,
    },
    #[error("{}: htslib cannot write record {qname:?}", path.display())]
    Record {
        path: PathBuf,
        qname: String,
        #[source]
        cause: Option<io::Error>,
    },
    #[error("{}: building the index failed (htslib code {code})", path.display())]
    Index {
        path: PathBuf,
        code: i32,
        #[source]
        cause: Option<io::Error>,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: rust_htslib::errors::Error },
}

/// Writing alignments fails at run time (disk, htslib).
impl crate::outcome::Classify for WriteError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::Runtime
    }
}

/// An open htslib output, closed (unchecked) on drop unless [`HtsFile::close`] ran.
struct HtsFile(*mut htslib::htsFile);

// SAFETY: the handle is used by one thread at a time (all access goes through `&mut self`), and
// htslib's own compression threads synchronise internally.
unsafe impl Send for HtsFile {}

impl HtsFile {
    fn close(mut self) -> c_int {
        let fp = std::mem::replace(&mut self.0, std::ptr::null_mut());
        // SAFETY: `fp` came from hts_open and is closed exactly once.
        unsafe { htslib::hts_close(fp) }
    }
}

impl Drop for HtsFile {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: as in `close`; the result is irrelevant for an abandoned temporary file.
            unsafe { htslib::hts_close(self.0) };
        }
    }
}

/// A parsed header owned by the writer (htslib's `sam_hdr_t`), destroyed on drop.
struct HtsHeader(*mut htslib::sam_hdr_t);

// SAFETY: only read after parsing, from one thread at a time.
unsafe impl Send for HtsHeader {}

impl HtsHeader {
    /// Parses `header`; `None` when htslib rejects a line (unlike `HeaderView::from_header`,
    /// which would dereference the null result).
    fn parse(header: &Header) -> Option<Self> {
        let mut text = header.to_bytes();
        if text.last() != Some(&b'\n') {
            text.push(b'\n');
        }
        let len = text.len();
        let text = CString::new(text).ok()?;
        // SAFETY: `text` is valid for `len` bytes (plus its NUL); a null result is checked.
        let parsed = unsafe { htslib::sam_hdr_parse(len, text.as_ptr()) };
        (!parsed.is_null()).then_some(HtsHeader(parsed))
    }
}

impl Drop for HtsHeader {
    fn drop(&mut self) {
        // SAFETY: created by sam_hdr_parse, destroyed once.
        unsafe { htslib::sam_hdr_destroy(self.0) };
    }
}

/// Writes records (already in coordinate order) to a BAM or CRAM and commits it with its index.
pub struct AlignmentWriter {
    // Declared first so it closes before the temporary files are removed on drop.
    file: HtsFile,
    header: HtsHeader,
    data: TempPath,
    index: TempPath,
    /// The index's temporary name as htslib holds it (it keeps the pointer until `sam_idx_save`).
    index_name: CString,
    /// One slice of a larger BAM ([`AlignmentWriter::create_slice`]): no MD5, and only
    /// [`AlignmentWriter::finish_shard`] finishes it.
    slice: bool,
    records: u64,
    /// htslib's compression threads, charged to the stage when the file is finished.
    compression_threads: crate::accounting::ForeignThreads,
}

impl AlignmentWriter {
    /// Opens `final_path` (`<stem>.bam` or `<stem>.cram`, matching `format`) for writing under a
    /// temporary name and writes `header`; the index and the MD5 are built while writing.
    /// `threads`: htslib compression threads (0: inline).
    pub fn create(
        final_path: &Path,
        format: OutputFormat,
        header: &Header,
        threads: usize,
    ) -> Result<Self, WriteError> {
        Self::open(final_path, format, header, threads, false)
    }

    /// A BAM that is one coordinate slice of a larger file (an MPI rank's share): indexed while
    /// written like a whole file (its `.bai` is what [`concatenate_bam`] merges), no MD5; finish
    /// it with [`AlignmentWriter::finish_shard`] and join the slices with [`concatenate_bam`].
    pub fn create_slice(final_path: &Path, header: &Header, level: u8, threads: usize) -> Result<Self, WriteError> {
        Self::open(final_path, OutputFormat::Bam { level }, header, threads, true)
    }

    fn open(
        final_path: &Path,
        format: OutputFormat,
        header: &Header,
        threads: usize,
        slice: bool,
    ) -> Result<Self, WriteError> {
        let expected = format.extension();
        if final_path.extension().and_then(|e| e.to_str()) != Some(expected) || final_path.file_stem().is_none() {
            return Err(WriteError::BadName { path: final_path.to_path_buf(), expected });
        }
        let mut data = TempPath::new(final_path);
        let index = TempPath::new(with_suffix(final_path, format.index_extension()));
        let path = final_path.to_path_buf();
        let hts = |action| WriteError::Hts { path: path.clone(), action, cause: write_failure_cause(&path) };
        clear_errno();
        // A digit in the mode is htslib's compression level.
        let mode: Vec<u8> = match format {
            OutputFormat::Bam { level } => format!("wb{}\0", level.clamp(1, 9)).into_bytes(),
            OutputFormat::Cram { .. } => b"wc\0".to_vec(),
        };
        if let OutputFormat::Cram { reference_fasta } = &format {
            let fai = with_suffix(reference_fasta, "fai");
            if !fai.is_file() {
                return Err(WriteError::MissingFai { fasta: reference_fasta.clone(), fai });
            }
        }
        let c_data = c_path(data.path(), &path)?;
        // SAFETY: both strings are NUL-terminated; a null result is checked.
        let fp = unsafe { htslib::hts_open(c_data.as_ptr(), mode.as_ptr().cast::<c_char>()) };
        if fp.is_null() {
            return Err(hts("create the file"));
        }
        let file = HtsFile(fp);
        let header = HtsHeader::parse(header).ok_or_else(|| hts("parse the header"))?;
        let mut compression_threads = crate::accounting::ForeignThreads::default();
        // SAFETY: `file.0` is open; options take the documented argument types.
        unsafe {
            if let OutputFormat::Cram { .. } = format {
                let version = b"3.0\0";
                if htslib::hts_set_opt(
                    file.0,
                    htslib::hts_fmt_option_CRAM_OPT_VERSION,
                    version.as_ptr().cast::<c_char>(),
                ) != 0
                {
                    return Err(hts("select CRAM version 3.0"));
                }
                if htslib::hts_set_opt(file.0, htslib::hts_fmt_option_CRAM_OPT_EMBED_REF, 0 as c_int) != 0 {
                    return Err(hts("keep the reference external"));
                }
            }
            if threads > 0 {
                // htslib's pool threads are charged to this stage's CPU (see `accounting`).
                let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
                let (rc, threads) = crate::accounting::start_foreign(|| htslib::hts_set_threads(file.0, n));
                compression_threads = threads;
                if rc != 0 {
                    return Err(hts("start compression threads"));
                }
            }
            if htslib::sam_hdr_write(file.0, header.0) != 0 {
                return Err(hts("write the header"));
            }
        }
        if let OutputFormat::Cram { reference_fasta } = &format {
            let c_ref = c_path(reference_fasta, &path)?;
            // SAFETY: open file, NUL-terminated path.
            if unsafe { htslib::hts_set_fai_filename(file.0, c_ref.as_ptr()) } != 0 {
                return Err(hts("load the CRAM reference"));
            }
        }
        let index_name = c_path(index.path(), &path)?;
        clear_errno();
        // SAFETY: open file, parsed header; `index_name` lives in the writer until `sam_idx_save`
        // (htslib keeps the pointer). min_shift 0 asks for BAI (CRAM always gets CRAI).
        if unsafe { htslib::sam_idx_init(file.0, header.0, 0, index_name.as_ptr()) } != 0 {
            return Err(hts("start the index"));
        }
        if !slice {
            data.hash_while_written().map_err(|source| WriteError::Io { path: path.clone(), source })?;
        }
        Ok(AlignmentWriter { file, header, data, index, index_name, slice, records: 0, compression_threads })
    }

    /// Appends one record (records must come in coordinate order for the index).
    pub fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        clear_errno();
        // SAFETY: open file, header and record valid for the call.
        let rc = unsafe { htslib::sam_write1(self.file.0, self.header.0, std::ptr::from_ref(record.inner())) };
        if rc < 0 {
            let qname = String::from_utf8_lossy(record.qname()).into_owned();
            let path = self.data.final_path().to_path_buf();
            let cause = write_failure_cause(&path);
            return Err(WriteError::Record { path, qname, cause });
        }
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Saves the index, closes the file and commits both (data first, index last) with `.md5`s.
    pub fn finish(self) -> Result<WrittenAlignment, WriteError> {
        if self.slice {
            let path = self.data.final_path().to_path_buf();
            return Err(WriteError::Hts { path, action: "finish a slice as a whole file", cause: None });
        }
        let AlignmentWriter { file, header, data, index, index_name, records, mut compression_threads, .. } = self;
        save_index_and_close(file, data.final_path(), index.path(), &mut compression_threads)?;
        drop(header);
        drop(index_name);
        let (data, index) = commit_with_index(data, index).map_err(|(path, source)| WriteError::Io { path, source })?;
        Ok(WrittenAlignment { data, index, records })
    }
}

impl AlignmentWriter {
    /// Closes a BAM written as one coordinate slice of a larger file (an MPI rank's shard) and
    /// renames it into place with its index `<slice>.bai` beside it, neither with an `.md5`; the
    /// order is [`commit_with_index`]'s (an index of an earlier run first removed, the data, the
    /// index last). [`concatenate_bam`] joins the slices and merges their indexes.
    pub fn finish_shard(self) -> Result<(PathBuf, u64), WriteError> {
        let AlignmentWriter { file, header, data, index, index_name, records, mut compression_threads, .. } = self;
        let final_path = data.final_path().to_path_buf();
        save_index_and_close(file, &final_path, index.path(), &mut compression_threads)?;
        drop(header);
        drop(index_name);
        remove_if_present(&[index.final_path().to_path_buf()])
            .map_err(|(path, source)| WriteError::Io { path, source })?;
        data.commit(Sidecar::None).map_err(|source| WriteError::Io { path: final_path.clone(), source })?;
        let index_path = index.final_path().to_path_buf();
        index.commit(Sidecar::None).map_err(|source| WriteError::Io { path: index_path, source })?;
        Ok((final_path, records))
    }
}

/// Saves the index started by `sam_idx_init` (`sam_idx_save`, once, before closing; it flushes
/// every block), charges the compression threads' CPU while they still exist, and closes the
/// file, both checked.
fn save_index_and_close(
    file: HtsFile,
    final_path: &Path,
    index_tmp: &Path,
    compression_threads: &mut crate::accounting::ForeignThreads,
) -> Result<(), WriteError> {
    clear_errno();
    // SAFETY: open file with an index started by `sam_idx_init`; saved once, before closing.
    let saved = unsafe { htslib::sam_idx_save(file.0) };
    compression_threads.charge();
    if saved != 0 {
        let cause = write_failure_cause(index_tmp);
        return Err(WriteError::Index { path: final_path.to_path_buf(), code: -1, cause });
    }
    clear_errno();
    if file.close() != 0 {
        let cause = write_failure_cause(final_path);
        return Err(WriteError::Hts { path: final_path.to_path_buf(), action: "finish the file (close)", cause });
    }
    Ok(())
}

/// The 28-byte empty BGZF block that ends every BGZF file (SAM/BAM spec, 4.1.2).
const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00, 0x1b, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Joins BAM slices written by [`AlignmentWriter::finish_shard`] with the same header, slice i's
/// records all sorting before slice i+1's, into one indexed BAM at `final_path`, committed like
/// [`AlignmentWriter::finish`] (data, then index, with `.md5`s). The BGZF blocks are copied as
/// they are (no recompression): the header blocks of the first slice, the record blocks of
/// every slice, one end-of-file block. htslib flushes after the header, so records always start
/// on a block boundary; [`record_blocks_start`] checks it. The index is the slices' `<slice>.bai`
/// merged with their offsets moved to where their blocks land (module `bai`), and the MD5 comes
/// from a thread that follows the growing file ([`TempPath::hash_while_written`], page-cache
/// reads overlapping the copy): the finished file is not read back. Cost: one copy of the
/// slices' record blocks, plus O(size of their indexes).
pub fn concatenate_bam(shards: &[PathBuf], final_path: &Path, records: u64) -> Result<WrittenAlignment, WriteError> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path: path.clone(), source }
    };
    if shards.is_empty() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "no BAM slices to join");
        return Err(WriteError::Io { path: final_path.to_path_buf(), source });
    }
    let mut data = TempPath::new(final_path);
    let index = TempPath::new(with_suffix(final_path, "bai"));
    let file = std::fs::File::create(data.path()).map_err(io_err(final_path))?;
    data.hash_while_written().map_err(io_err(final_path))?;
    let mut out = io::BufWriter::with_capacity(4 << 20, file);
    let mut merged = bai::Merger::default();
    // Where the next slice's record blocks land in the joined file.
    let mut base = 0u64;
    for (i, shard) in shards.iter().enumerate() {
        let mut input = std::fs::File::open(shard).map_err(io_err(shard))?;
        let len = input.metadata().map_err(io_err(shard))?.len();
        let start = if i == 0 { 0 } else { record_blocks_start(shard).map_err(io_err(shard))? };
        let mut tail = [0u8; 28];
        if len < start + 28 || {
            input.seek(SeekFrom::Start(len - 28)).map_err(io_err(shard))?;
            input.read_exact(&mut tail).map_err(io_err(shard))?;
            tail != BGZF_EOF
        } {
            return Err(WriteError::Io {
                path: shard.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "BAM slice does not end with the BGZF end-of-file block",
                ),
            });
        }
        let slice_index = with_suffix(shard, "bai");
        let bytes = std::fs::read(&slice_index).map_err(io_err(&slice_index))?;
        merged.add(&bytes, bai::Shift { start, end: len - 28, base }).map_err(io_err(&slice_index))?;
        input.seek(SeekFrom::Start(start)).map_err(io_err(shard))?;
        let want = len - 28 - start;
        let copied = io::copy(&mut input.take(want), &mut out).map_err(io_err(final_path))?;
        if copied != want {
            let source = io::Error::new(io::ErrorKind::UnexpectedEof, "BAM slice shrank while being joined");
            return Err(WriteError::Io { path: shard.clone(), source });
        }
        base += want;
    }
    out.write_all(&BGZF_EOF).map_err(io_err(final_path))?;
    let file =
        out.into_inner().map_err(|e| WriteError::Io { path: final_path.to_path_buf(), source: e.into_error() })?;
    drop(file);
    let bytes = merged.finish().map_err(io_err(index.final_path()))?;
    std::fs::write(index.path(), bytes).map_err(io_err(index.final_path()))?;
    let (data, index) = commit_with_index(data, index).map_err(|(path, source)| WriteError::Io { path, source })?;
    Ok(WrittenAlignment { data, index, records })
}

/// The byte offset of the first BGZF block after a BAM's header: walks the blocks, inflating
/// them until the header (magic, text, reference list) is complete, and requires it to end on a
/// block boundary.
pub fn record_blocks_start(path: &Path) -> io::Result<u64> {
    use std::io::Read;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("not a BAM as dagr writes it: {what}"));
    let mut input = io::BufReader::new(std::fs::File::open(path)?);
    let mut offset = 0u64;
    let mut header = Vec::new();
    loop {
        let mut fixed = [0u8; 18];
        input.read_exact(&mut fixed)?;
        if fixed[0..4] != [0x1f, 0x8b, 0x08, 0x04] || fixed[12..14] != *b"BC" {
            return Err(bad("a block is not BGZF"));
        }
        let block_size = usize::from(u16::from_le_bytes([fixed[16], fixed[17]])) + 1;
        let mut rest = vec![0u8; block_size.checked_sub(18).ok_or_else(|| bad("short block"))?];
        input.read_exact(&mut rest)?;
        let cdata = &rest[..rest.len().checked_sub(8).ok_or_else(|| bad("short block"))?];
        flate2::read::DeflateDecoder::new(cdata).read_to_end(&mut header)?;
        offset += block_size as u64;
        if let Some(len) = bam_header_len(&header) {
            return match len.cmp(&header.len()) {
                std::cmp::Ordering::Equal => Ok(offset),
                std::cmp::Ordering::Less => Err(bad("records share a block with the header")),
                std::cmp::Ordering::Greater => unreachable!("bam_header_len only answers once complete"),
            };
        }
    }
}

/// The length of the BAM header at the start of `bytes`, once `bytes` holds all of it.
fn bam_header_len(bytes: &[u8]) -> Option<usize> {
    let int = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        usize::try_from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
    };
    let l_text = int(4)?;
    let mut at = 8 + l_text;
    let n_ref = int(at)?;
    at += 4;
    for _ in 0..n_ref {
        let l_name = int(at)?;
        at += 4 + l_name + 4;
    }
    (bytes.len() >= at).then_some(at)
}

/// Indexes a finished file with htslib (`sam_index_build3`, one pass over it): what the indexes
/// built while writing and merged by [`concatenate_bam`] are checked against.
#[cfg(test)]
fn build_index(data: &Path, index: &Path, threads: usize, final_path: &Path) -> Result<(), WriteError> {
    let c_data = c_path(data, final_path)?;
    let c_index = c_path(index, final_path)?;
    let threads = c_int::try_from(threads).unwrap_or(c_int::MAX);
    clear_errno();
    // SAFETY: NUL-terminated paths; min_shift 0 asks for BAI (CRAM always gets CRAI).
    let code = unsafe { htslib::sam_index_build3(c_data.as_ptr(), c_index.as_ptr(), 0, threads) };
    if code != 0 {
        return Err(WriteError::Index { path: final_path.to_path_buf(), code, cause: write_failure_cause(index) });
    }
    Ok(())
}

fn c_path(path: &Path, named: &Path) -> Result<CString, WriteError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| WriteError::Io {
        path: named.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

/// Reads every record of a BAM or CRAM (CRAM decoded against `reference`): for tests and checks.
pub fn read_all(path: &Path, reference: Option<&Path>) -> Result<Vec<Record>, WriteError> {
    let read_err = |source| WriteError::Read { path: path.to_path_buf(), source };
    let mut reader = bam::Reader::from_path(path).map_err(read_err)?;
    if let Some(reference) = reference {
        reader.set_reference(reference).map_err(read_err)?;
    }
    reader.records().map(|r| r.map_err(read_err)).collect()
}

#[cfg(test)]
mod tests;
