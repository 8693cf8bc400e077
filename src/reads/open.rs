//! Opening a FASTQ file: compression is detected from the first bytes (magic numbers), never from
//! the file name. gzip and BGZF (a series of gzip members) go through one multi-member inflater
//! (flate2 with the zlib-rs backend); plain text is read as is. bzip2, xz and zstd are recognised
//! and refused with a clear message.
//!
//! Truncation: an inflater that runs out of input mid-member reports `UnexpectedEof`, mapped to
//! [`FastqError::TruncatedGzip`]. A BGZF file cut exactly at a block boundary would still inflate
//! cleanly, so for BGZF regular files the 28-byte end-of-file marker block is checked up front
//! (one seek, one small read). Cost: one `open`, a peek at the first 18 bytes, no extra pass.

use super::error::FastqError;
use flate2::bufread::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The empty BGZF block that ends every complete BGZF file (SAM/BAM specification, §4.1.2).
pub(crate) const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00, 0x1b, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// Bytes peeked to recognise the format (a BGZF header's `BC` subfield ends at byte 16).
const MAGIC_LEN: u64 = 18;
/// Buffer between the file and the inflater.
const COMPRESSED_BUFFER: usize = 256 * 1024;

/// How a FASTQ file is stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    /// Blocked gzip (bgzip): gzip members with a `BC` extra field, ending in an empty EOF block.
    Bgzf,
}

/// Recognises the storage format from a file's first bytes.
fn detect(path: &Path, magic: &[u8]) -> Result<Compression, FastqError> {
    let unsupported = |format| Err(FastqError::UnsupportedCompression { path: path.to_path_buf(), format });
    match magic {
        [0x1f, 0x8b, ..] => {
            let bgzf = magic.len() >= 16 && magic[3] & 0x04 != 0 && magic[12] == b'B' && magic[13] == b'C';
            Ok(if bgzf { Compression::Bgzf } else { Compression::Gzip })
        }
        [b'B', b'Z', b'h', ..] => unsupported("bzip2"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => unsupported("zstd"),
        [0xfd, b'7', b'z', b'X', b'Z', ..] => unsupported("xz"),
        _ => Ok(Compression::Plain),
    }
}

/// A FASTQ byte stream with decompression applied and errors already mapped to [`FastqError`].
pub(crate) struct FastqSource {
    path: PathBuf,
    compression: Compression,
    reader: Box<dyn Read + Send>,
    /// Bytes taken from the file so far (compressed where the file is), for progress estimates.
    consumed: Arc<AtomicU64>,
    /// The file's size; 0 where it has none (a pipe).
    size: u64,
}

/// Counts the bytes its reader hands out.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl FastqSource {
    /// Opens `path`, detects its compression and checks a BGZF file's end-of-file marker.
    pub(crate) fn open(path: &Path) -> Result<Self, FastqError> {
        let open_err = |source| FastqError::Open { path: path.to_path_buf(), source };
        let mut file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(open_err(io::Error::from(io::ErrorKind::IsADirectory)));
        }
        let mut magic = Vec::with_capacity(MAGIC_LEN as usize);
        (&mut file).take(MAGIC_LEN).read_to_end(&mut magic).map_err(open_err)?;
        let compression = detect(path, &magic)?;
        if compression == Compression::Bgzf && meta.is_file() {
            check_bgzf_eof(path)?;
        }
        let consumed = Arc::new(AtomicU64::new(magic.len() as u64));
        let size = if meta.is_file() { meta.len() } else { 0 };
        let raw = Cursor::new(magic).chain(Counted { inner: file, count: Arc::clone(&consumed) });
        let reader: Box<dyn Read + Send> = match compression {
            Compression::Plain => Box::new(raw),
            Compression::Gzip | Compression::Bgzf => {
                Box::new(MultiGzDecoder::new(BufReader::with_capacity(COMPRESSED_BUFFER, raw)))
            }
        };
        Ok(Self { path: path.to_path_buf(), compression, reader, consumed, size })
    }

    /// A live count of the bytes read from the file so far (for progress; the inflater reads
    /// ahead of the records parsed by up to its buffer).
    pub(crate) fn consumed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.consumed)
    }

    /// The file's size in bytes; 0 for a pipe or other stream.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }

    /// Reads decompressed bytes; `Ok(0)` only at the true end of the data.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, FastqError> {
        loop {
            match self.reader.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.map_error(e)),
            }
        }
    }

    fn map_error(&self, e: io::Error) -> FastqError {
        let path = self.path.clone();
        if self.compression == Compression::Plain {
            return FastqError::Read { path, source: e };
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => FastqError::TruncatedGzip { path },
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                FastqError::CorruptGzip { path, message: e.to_string() }
            }
            _ => FastqError::Read { path, source: e },
        }
    }
}

/// Fails unless the last 28 bytes of the file are the BGZF end-of-file block.
fn check_bgzf_eof(path: &Path) -> Result<(), FastqError> {
    let open_err = |source| FastqError::Open { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(open_err)?;
    let len = file.metadata().map_err(open_err)?.len();
    if len < BGZF_EOF.len() as u64 {
        return Err(FastqError::TruncatedGzip { path: path.to_path_buf() });
    }
    let mut tail = [0u8; BGZF_EOF.len()];
    file.seek(SeekFrom::End(-(BGZF_EOF.len() as i64))).map_err(open_err)?;
    file.read_exact(&mut tail).map_err(open_err)?;
    if tail == BGZF_EOF { Ok(()) } else { Err(FastqError::MissingBgzfEof { path: path.to_path_buf() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_magic_bytes() {
        let p = Path::new("x.fastq.gz");
        assert_eq!(detect(p, b"@r1\nACGT\n").unwrap(), Compression::Plain);
        assert_eq!(detect(p, &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]).unwrap(), Compression::Gzip);
        assert_eq!(detect(p, &BGZF_EOF[..18]).unwrap(), Compression::Bgzf);
        assert_eq!(detect(p, b"").unwrap(), Compression::Plain);
        let err = detect(p, b"BZh91AY").unwrap_err();
        assert!(err.to_string().contains("bzip2"), "{err}");
    }
}
