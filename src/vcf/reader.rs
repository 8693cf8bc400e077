//! Opening a variant file whatever its encoding: the first bytes decide. Gzip/BGZF is undone with
//! flate2 (`MultiGzDecoder`, BGZF being a series of gzip members); decompressed text starting with
//! `#` is VCF, `BCF` is BCF (handed to htslib). Then one sample is chosen for GT.

use super::bcf::BcfReader;
use super::error::VcfError;
use super::record::VcfRecord;
use super::text::TextReader;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

enum Inner {
    Text(TextReader),
    Bcf(BcfReader),
}

/// A VCF, VCF.gz or BCF file being read, with the sample whose GT each record carries.
pub struct VariantReader {
    path: PathBuf,
    inner: Inner,
    sample: Option<String>,
}

impl VariantReader {
    /// Opens `path`. `sample` picks whose GT is read (by name); `None` means the first sample, or
    /// none when the file has no samples (a somatic truth set, a sites-only file).
    pub fn open(path: &Path, sample: Option<&str>) -> Result<Self, VcfError> {
        let io_err = |source| VcfError::Io { path: path.to_path_buf(), source };
        let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(io_err)?);
        let compressed = file.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
        let mut input: Box<dyn BufRead> = if compressed {
            Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file)))
        } else {
            Box::new(file)
        };
        let head = input.fill_buf().map_err(|e| VcfError::NotVariantFile {
            path: path.to_path_buf(),
            reason: format!("cannot decompress: {e}"),
        })?;
        let mut inner = if head.starts_with(b"BCF") {
            drop(input);
            Inner::Bcf(BcfReader::open(path)?)
        } else if head.starts_with(b"#") {
            Inner::Text(TextReader::open(path, input)?)
        } else {
            let reason = if head.is_empty() {
                "it is empty".to_string()
            } else {
                "no `##fileformat` or `#CHROM` line at its start".to_string()
            };
            return Err(VcfError::NotVariantFile { path: path.to_path_buf(), reason });
        };
        let samples = match &inner {
            Inner::Text(r) => r.samples().to_vec(),
            Inner::Bcf(r) => r.samples().to_vec(),
        };
        let index = match sample {
            Some(name) => Some(samples.iter().position(|s| s == name).ok_or_else(|| VcfError::UnknownSample {
                path: path.to_path_buf(),
                sample: name.to_string(),
                available: if samples.is_empty() { "none".to_string() } else { samples.join(", ") },
            })?),
            None => (!samples.is_empty()).then_some(0),
        };
        match &mut inner {
            Inner::Text(r) => r.set_sample_index(index),
            Inner::Bcf(r) => r.set_sample_index(index),
        }
        Ok(Self { path: path.to_path_buf(), sample: index.map(|i| samples[i].clone()), inner })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All sample names of the file.
    pub fn samples(&self) -> &[String] {
        match &self.inner {
            Inner::Text(r) => r.samples(),
            Inner::Bcf(r) => r.samples(),
        }
    }

    /// The sample whose GT the records carry.
    pub fn sample(&self) -> Option<&str> {
        self.sample.as_deref()
    }
}

impl Iterator for VariantReader {
    type Item = Result<VcfRecord, VcfError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Text(r) => r.next_record(),
            Inner::Bcf(r) => r.next_record(),
        }
    }
}
