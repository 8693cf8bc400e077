//! Parsing and validating one mate file into chunks of records, without per-read allocation.
//!
//! A [`MateChunk`] is one large byte buffer holding decompressed FASTQ text plus a vector of
//! [`RecordSpan`]s (offsets of name, sequence and quality inside that buffer). [`MateParser`]
//! reads decompressed bytes straight into the chunk in 256 KiB steps and parses complete records
//! in place: `memchr` finds the header, sequence and `+` line ends; the quality line's end is
//! predicted from the sequence length and confirmed with one byte compare. Each record is validated
//! and counted ([`super::stats`]) as it is parsed, so the text is touched once after inflation.
//! When a chunk holds its quota of records, the unparsed tail (part of the next record) is copied
//! to the next chunk. Chunks are recycled, so the steady state allocates nothing; cost is
//! O(bytes) with a small constant, and memory is a few MiB per chunk in flight.

use super::error::{FastqError, describe_byte};
use super::open::FastqSource;
use super::stats::{Tally, count_bases, first_bad_quality};
use memchr::{memchr, memchr2};
use std::path::Path;

/// Bytes requested from the decompressor per read call (bounds the tail copied between chunks).
const READ_STEP: usize = 256 * 1024;
/// Initial buffer of a chunk; grows by doubling when a chunk's records need more.
const INITIAL_CHUNK_BYTES: usize = 4 << 20;
/// A record longer than this is refused (a file without line breaks would otherwise fill memory).
const MAX_RECORD_BYTES: usize = 256 << 20;

/// Where one record lies in its chunk's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordSpan {
    /// Index of the `@`.
    start: usize,
    /// End of the name (first whitespace or end of the header line).
    name_end: usize,
    /// Index of the header line's `\n`.
    header_end: usize,
    seq: usize,
    qual: usize,
    len: usize,
}

/// A run of consecutive records of one mate file, in one reusable buffer.
#[derive(Debug, Default)]
pub(crate) struct MateChunk {
    data: Vec<u8>,
    /// Bytes of `data` holding file content.
    filled: usize,
    /// End of the last complete record; `data[parsed..filled]` belongs to the next chunk.
    parsed: usize,
    records: Vec<RecordSpan>,
    /// 1-based number of `records[0]` in its file.
    first_record: u64,
}

impl MateChunk {
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
    /// 1-based number in the file of the first record.
    pub(crate) fn first_record(&self) -> u64 {
        self.first_record
    }
    pub(crate) fn name(&self, i: usize) -> &[u8] {
        let r = &self.records[i];
        &self.data[r.start + 1..r.name_end]
    }
    /// The header after the name and its separating whitespace (empty if none).
    pub(crate) fn comment(&self, i: usize) -> &[u8] {
        let r = &self.records[i];
        &self.data[(r.name_end + 1).min(r.header_end)..r.header_end]
    }
    pub(crate) fn seq(&self, i: usize) -> &[u8] {
        let r = &self.records[i];
        &self.data[r.seq..r.seq + r.len]
    }
    pub(crate) fn qual(&self, i: usize) -> &[u8] {
        let r = &self.records[i];
        &self.data[r.qual..r.qual + r.len]
    }

    /// The chunk for a file's first records.
    pub(crate) fn first() -> Self {
        Self { data: vec![0; INITIAL_CHUNK_BYTES], first_record: 1, ..Self::default() }
    }

    /// Empties this chunk and moves in the unparsed tail of `prev`.
    pub(crate) fn continue_from(&mut self, prev: &MateChunk) {
        let tail = &prev.data[prev.parsed..prev.filled];
        if self.data.len() < tail.len().max(INITIAL_CHUNK_BYTES) {
            self.data.resize(tail.len().max(INITIAL_CHUNK_BYTES), 0);
        }
        self.data[..tail.len()].copy_from_slice(tail);
        self.filled = tail.len();
        self.parsed = 0;
        self.records.clear();
        self.first_record = prev.first_record + prev.records.len() as u64;
    }
}

/// Why a record is malformed, before the file name and record number are attached.
enum Problem {
    Header,
    EmptyName,
    Separator,
    LengthMismatch { qual_len: usize },
}

enum Parsed {
    Record(RecordSpan, usize),
    Incomplete,
    End,
    Bad(Problem),
}

/// Parses the record starting at `pos` of `buf`. `at_eof`: no more bytes will come.
fn parse_record(buf: &[u8], pos: usize, at_eof: bool) -> Parsed {
    let Some(&first) = buf.get(pos) else {
        return if at_eof { Parsed::End } else { Parsed::Incomplete };
    };
    if first != b'@' {
        // Blank lines after the last record are tolerated.
        return match (first, buf[pos..].iter().all(|&b| b == b'\n'), at_eof) {
            (b'\n', true, true) => Parsed::End,
            (b'\n', true, false) => Parsed::Incomplete,
            _ => Parsed::Bad(Problem::Header),
        };
    }
    let Some(header_end) = memchr(b'\n', &buf[pos..]).map(|i| pos + i) else { return Parsed::Incomplete };
    let header = &buf[pos + 1..header_end];
    let name_len = memchr2(b' ', b'\t', header).unwrap_or(header.len());
    if name_len == 0 {
        return Parsed::Bad(Problem::EmptyName);
    }
    let seq = header_end + 1;
    let Some(seq_end) = memchr(b'\n', &buf[seq..]).map(|i| seq + i) else { return Parsed::Incomplete };
    let plus = seq_end + 1;
    match buf.get(plus) {
        None => return Parsed::Incomplete,
        Some(b'+') => {}
        Some(_) => return Parsed::Bad(Problem::Separator),
    }
    let Some(qual) = memchr(b'\n', &buf[plus..]).map(|i| plus + i + 1) else { return Parsed::Incomplete };
    let len = seq_end - seq;
    let span = RecordSpan { start: pos, name_end: pos + 1 + name_len, header_end, seq, qual, len };
    match buf.get(qual + len) {
        Some(b'\n') => Parsed::Record(span, qual + len + 1),
        Some(_) => match memchr(b'\n', &buf[qual..]) {
            Some(qual_len) => Parsed::Bad(Problem::LengthMismatch { qual_len }),
            None => Parsed::Incomplete,
        },
        None => match memchr(b'\n', &buf[qual..]) {
            Some(qual_len) if at_eof => Parsed::Bad(Problem::LengthMismatch { qual_len }),
            _ => Parsed::Incomplete,
        },
    }
}

/// Reads, parses, validates and counts one mate file, chunk by chunk.
pub(crate) struct MateParser {
    source: FastqSource,
    tally: Tally,
    eof: bool,
}

impl MateParser {
    pub(crate) fn new(source: FastqSource) -> Self {
        Self { source, tally: Tally::new(), eof: false }
    }

    pub(crate) fn path(&self) -> &Path {
        self.source.path()
    }

    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
    }

    /// True once the file is exhausted (the chunk last filled holds the final records).
    pub(crate) fn finished(&self, last: &MateChunk) -> bool {
        self.eof && last.parsed == last.filled
    }

    /// Parses records into `chunk` (already holding the previous chunk's tail) until it holds
    /// `max` records or the file ends.
    pub(crate) fn fill(&mut self, chunk: &mut MateChunk, max: usize) -> Result<(), FastqError> {
        let mut pos = 0;
        while chunk.records.len() < max {
            match parse_record(&chunk.data[..chunk.filled], pos, self.eof) {
                Parsed::Record(span, next) => {
                    self.check_and_count(chunk, &span)?;
                    chunk.records.push(span);
                    pos = next;
                }
                Parsed::Incomplete if !self.eof => {
                    if chunk.filled - pos > MAX_RECORD_BYTES {
                        let record = self.tally.reads() + 1;
                        let path = self.path().into();
                        return Err(FastqError::RecordTooLong {
                            path,
                            record,
                            line: 4 * record - 3,
                            max: MAX_RECORD_BYTES,
                        });
                    }
                    self.read_more(chunk)?
                }
                Parsed::Incomplete => {
                    let record = self.tally.reads() + 1;
                    return Err(FastqError::TruncatedRecord { path: self.path().into(), record, line: 4 * record - 3 });
                }
                Parsed::End => {
                    pos = chunk.filled;
                    break;
                }
                Parsed::Bad(problem) => return Err(self.problem(chunk, pos, problem)),
            }
        }
        chunk.parsed = pos;
        Ok(())
    }

    /// Appends decompressed bytes to `chunk`, growing its buffer when full; at the end of the
    /// data, supplies a missing final line break.
    fn read_more(&mut self, chunk: &mut MateChunk) -> Result<(), FastqError> {
        if chunk.filled == chunk.data.len() {
            let grown = (chunk.data.len() * 2).max(INITIAL_CHUNK_BYTES);
            chunk.data.resize(grown, 0);
        }
        let end = (chunk.filled + READ_STEP).min(chunk.data.len());
        let n = self.source.read(&mut chunk.data[chunk.filled..end])?;
        chunk.filled += n;
        if n == 0 {
            self.eof = true;
            if chunk.filled > 0 && chunk.data[chunk.filled - 1] != b'\n' {
                if chunk.filled == chunk.data.len() {
                    chunk.data.push(b'\n');
                } else {
                    chunk.data[chunk.filled] = b'\n';
                }
                chunk.filled += 1;
            }
        }
        Ok(())
    }

    /// Validates bases and qualities of a structurally complete record and adds it to the tally.
    fn check_and_count(&mut self, chunk: &MateChunk, span: &RecordSpan) -> Result<(), FastqError> {
        let seq = &chunk.data[span.seq..span.seq + span.len];
        let qual = &chunk.data[span.qual..span.qual + span.len];
        let bases = count_bases(seq).map_err(|i| {
            let record = self.tally.reads() + 1;
            FastqError::BadBase {
                path: self.path().into(),
                record,
                line: 4 * record - 2,
                name: lossy(&chunk.data[span.start + 1..span.name_end]),
                found: describe_byte(seq[i]),
                position: i + 1,
            }
        })?;
        if let Some(i) = first_bad_quality(qual) {
            if qual[i] == b'\n' {
                // A line break inside the predicted quality range: the quality line is shorter.
                return Err(self.problem(chunk, span.start, Problem::LengthMismatch { qual_len: i }));
            }
            let record = self.tally.reads() + 1;
            return Err(FastqError::BadQuality {
                path: self.path().into(),
                record,
                line: 4 * record,
                name: lossy(&chunk.data[span.start + 1..span.name_end]),
                found: describe_byte(qual[i]),
                position: i + 1,
            });
        }
        self.tally.add(bases, qual);
        Ok(())
    }

    /// The error for a structural problem of the record starting at `pos`.
    fn problem(&self, chunk: &MateChunk, pos: usize, problem: Problem) -> FastqError {
        let buf = &chunk.data[..chunk.filled];
        let record = self.tally.reads() + 1;
        let path = self.path().to_path_buf();
        let header_line = 4 * record - 3;
        let line_end = |from: usize| memchr(b'\n', &buf[from..]).map_or(buf.len(), |i| from + i);
        let header_end = line_end(pos);
        let name_start = (pos + 1).min(header_end);
        let name_end = memchr2(b' ', b'\t', &buf[name_start..header_end]).map_or(header_end, |i| name_start + i);
        let name = lossy(&buf[name_start..name_end]);
        match problem {
            Problem::Header => {
                FastqError::BadHeader { path, record, line: header_line, found: describe_byte(buf[pos]) }
            }
            Problem::EmptyName => FastqError::EmptyName { path, record, line: header_line },
            Problem::Separator => {
                let plus = line_end(header_end + 1) + 1;
                FastqError::BadSeparator { path, record, line: header_line + 2, name, found: describe_byte(buf[plus]) }
            }
            Problem::LengthMismatch { qual_len } => {
                let seq = header_end + 1;
                let seq_len = line_end(seq) - seq;
                FastqError::LengthMismatch { path, record, line: header_line + 3, name, seq_len, qual_len }
            }
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
