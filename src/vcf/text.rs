//! Text VCF reading (plain, gzip or BGZF; the decompression is the caller's). One line at a
//! time, one reused buffer; each record costs one split of its line. Errors carry the 1-based line.

use super::error::{Location, VcfError};
use super::record::{Filter, Genotype, VcfRecord};
use crate::genome::region::Position;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Reads the header, then yields records.
pub(crate) struct TextReader {
    path: PathBuf,
    input: Box<dyn BufRead>,
    line_no: u64,
    buf: String,
    samples: Vec<String>,
    sample_index: Option<usize>,
}

impl TextReader {
    /// Consumes the header up to and including the `#CHROM` line.
    pub(crate) fn open(path: &Path, input: Box<dyn BufRead>) -> Result<Self, VcfError> {
        let mut reader = Self {
            path: path.to_path_buf(),
            input,
            line_no: 0,
            buf: String::new(),
            samples: Vec::new(),
            sample_index: None,
        };
        loop {
            if !reader.next_line()? {
                return Err(VcfError::malformed(path, Location::Header, "no `#CHROM` header line"));
            }
            let line = reader.buf.trim_end_matches(['\n', '\r']);
            if line.starts_with("##") {
                continue;
            }
            if let Some(columns) = line.strip_prefix("#CHROM") {
                let fields: Vec<&str> = columns.split('\t').skip(1).collect();
                // POS ID REF ALT QUAL FILTER INFO [FORMAT samples...]
                if fields.len() < 7 {
                    return Err(reader.error("the `#CHROM` line needs at least 8 tab-separated columns"));
                }
                reader.samples = fields.iter().skip(8).map(|s| s.to_string()).collect();
                return Ok(reader);
            }
            return Err(reader.error("expected a `##` meta line or the `#CHROM` line before the first record"));
        }
    }

    pub(crate) fn samples(&self) -> &[String] {
        &self.samples
    }

    /// Chooses whose GT is read (index into [`Self::samples`]).
    pub(crate) fn set_sample_index(&mut self, index: Option<usize>) {
        self.sample_index = index;
    }

    /// Reads one line into `buf`; false at end of input.
    fn next_line(&mut self) -> Result<bool, VcfError> {
        self.buf.clear();
        self.line_no += 1;
        match self.input.read_line(&mut self.buf) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(self.error(format!("cannot read this line: {e}"))),
        }
    }

    fn error(&self, message: impl Into<String>) -> VcfError {
        VcfError::malformed(&self.path, Location::Line(self.line_no), message)
    }

    /// The next record, or `None` at the end.
    pub(crate) fn next_record(&mut self) -> Option<Result<VcfRecord, VcfError>> {
        loop {
            match self.next_line() {
                Err(e) => return Some(Err(e)),
                Ok(false) => return None,
                Ok(true) => {}
            }
            let line = self.buf.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                continue;
            }
            let location = Location::Line(self.line_no);
            return Some(
                parse_record(line, location, self.samples.len(), self.sample_index).map_err(|m| self.error(m)),
            );
        }
    }
}

/// Parses one tab-separated record line.
fn parse_record(
    line: &str,
    location: Location,
    sample_count: usize,
    sample_index: Option<usize>,
) -> Result<VcfRecord, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 8 {
        return Err(format!("a record needs at least 8 tab-separated columns, found {}", fields.len()));
    }
    let contig = fields[0];
    if contig.is_empty() || contig.starts_with('#') {
        return Err(format!("CHROM `{contig}` is not a contig name"));
    }
    let pos = fields[1]
        .parse::<u64>()
        .ok()
        .and_then(Position::new)
        .ok_or_else(|| format!("POS `{}` is not a positive integer", fields[1]))?;
    let ref_allele = fields[3].as_bytes().to_ascii_uppercase();
    if ref_allele.is_empty() || ref_allele == b"." {
        return Err(format!("REF `{}` is missing", fields[3]));
    }
    let alts: Vec<Vec<u8>> = match fields[4] {
        "." => Vec::new(),
        text => text.split(',').map(|a| a.as_bytes().to_ascii_uppercase()).collect(),
    };
    if alts.iter().any(Vec::is_empty) {
        return Err(format!("ALT `{}` has an empty allele", fields[4]));
    }
    let genotype = match sample_index {
        Some(index) => {
            let expected = 9 + sample_count;
            if fields.len() < expected {
                return Err(format!(
                    "expected {expected} columns (8 + FORMAT + {sample_count} samples), found {}",
                    fields.len()
                ));
            }
            sample_genotype(fields[8], fields[9 + index], alts.len())?
        }
        None => None,
    };
    Ok(VcfRecord {
        location,
        contig: contig.to_string(),
        pos,
        ref_allele,
        alts,
        filter: Filter::parse(fields[6]),
        genotype,
    })
}

/// The GT of one sample column; `None` when FORMAT has no GT or the sample omits it.
fn sample_genotype(format: &str, sample: &str, alt_count: usize) -> Result<Option<Genotype>, String> {
    let Some(gt_index) = format.split(':').position(|key| key == "GT") else {
        return Ok(None);
    };
    match sample.split(':').nth(gt_index) {
        None => Ok(None),
        Some(value) => Genotype::parse(value, alt_count).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &str) -> Result<TextReader, VcfError> {
        TextReader::open(Path::new("t.vcf"), Box::new(std::io::Cursor::new(text.as_bytes().to_vec())))
    }

    const HEADER: &str = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n";

    #[test]
    fn reads_records_and_the_chosen_sample() {
        let text =
            format!("{HEADER}c\t5\t.\tac\tG,T\t.\tPASS\t.\tDP:GT\t3:0/1\t4:1|2\r\n\nc\t6\t.\tA\t.\t.\tq10\t.\tGT\t1\n");
        let mut r = reader(&text).unwrap();
        assert_eq!(r.samples(), ["A", "B"]);
        r.set_sample_index(Some(1));
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!((rec.contig.as_str(), rec.pos.get()), ("c", 5));
        assert_eq!(rec.ref_allele, b"AC");
        assert_eq!(rec.alts, vec![b"G".to_vec(), b"T".to_vec()]);
        assert_eq!(rec.filter, Filter::Pass);
        assert_eq!(rec.genotype.unwrap().to_string(), "1|2");
        let err = r.next_record().unwrap().unwrap_err().to_string();
        assert!(err.contains("t.vcf: line 5") && err.contains("expected 11 columns"), "{err}");
        assert!(r.next_record().is_none());
    }

    #[test]
    fn bad_lines_name_the_line() {
        let cases = [
            ("c\tx\t.\tA\tG\t.\t.\t.\n", "POS `x`"),
            ("c\t0\t.\tA\tG\t.\t.\t.\n", "POS `0`"),
            ("c\t1\t.\tA\tG\n", "at least 8"),
            ("c\t1\t.\t.\tG\t.\t.\t.\n", "REF"),
            ("c\t1\t.\tA\tG,\t.\t.\t.\n", "empty allele"),
        ];
        for (line, want) in cases {
            let text = format!("##x\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n{line}");
            let err = reader(&text).unwrap().next_record().unwrap().unwrap_err().to_string();
            assert!(err.contains("line 3") && err.contains(want), "{err}");
        }
        let text = format!("{HEADER}c\t1\t.\tA\tG\t.\t.\t.\tGT\t0/2\t0\n");
        let mut r = reader(&text).unwrap();
        r.set_sample_index(Some(0));
        assert!(r.next_record().unwrap().unwrap_err().to_string().contains("index 2"));
    }

    #[test]
    fn header_problems() {
        assert!(reader("##only meta\n").err().unwrap().to_string().contains("no `#CHROM`"));
        let err = reader("##x\nc\t1\t.\tA\tG\t.\t.\t.\n").err().unwrap().to_string();
        assert!(err.contains("line 2"), "{err}");
        let mut r = reader("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n").unwrap();
        assert!(r.samples().is_empty());
        assert!(r.next_record().is_none());
    }
}
