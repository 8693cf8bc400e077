//! The samtools FASTA index (`.fai`): one line per contig, `name length offset line_bases
//! line_width`, tab-separated. `offset` is the byte of the first base; every line of a contig but
//! the last holds `line_bases` bases in `line_width` bytes (line break included), so the byte of
//! base `i` is `offset + i / line_bases * line_width + i % line_bases`. Writing and parsing are
//! linear in the number of contigs.

use crate::genome::error::ReferenceError;
use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

/// One `.fai` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaiRecord {
    pub name: String,
    pub length: u64,
    pub offset: u64,
    pub line_bases: u64,
    pub line_width: u64,
}

impl FaiRecord {
    /// Byte offset of 0-based base `pos` (which must be `< length`).
    pub fn byte_of(&self, pos: u64) -> u64 {
        self.offset + pos / self.line_bases * self.line_width + pos % self.line_bases
    }

    /// One past the byte of the last base (`offset` for an empty contig).
    pub fn end_byte(&self) -> u64 {
        if self.length == 0 { self.offset } else { self.byte_of(self.length - 1) + 1 }
    }
}

/// Writes records in samtools' format (byte-identical to `samtools faidx` output).
pub fn write_fai<W: Write>(records: &[FaiRecord], mut out: W) -> io::Result<()> {
    for r in records {
        writeln!(out, "{}\t{}\t{}\t{}\t{}", r.name, r.length, r.offset, r.line_bases, r.line_width)?;
    }
    Ok(())
}

/// Reads a `.fai` file, checking each line has five numeric fields and names are unique.
pub fn read_fai(path: &Path) -> Result<Vec<FaiRecord>, ReferenceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReferenceError::io(path, e))?;
    parse_fai(path, &text)
}

/// Parses `.fai` text; `path` only names the file in errors.
pub fn parse_fai(path: &Path, text: &str) -> Result<Vec<FaiRecord>, ReferenceError> {
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let bad = |detail: String| ReferenceError::BadIndexFile { path: path.to_path_buf(), line: line_no, detail };
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 5 {
            return Err(bad(format!("expected 5 tab-separated fields, found {}", fields.len())));
        }
        let num = |k: usize, what: &str| -> Result<u64, ReferenceError> {
            fields[k].parse::<u64>().map_err(|_| bad(format!("{what} `{}` is not a number", fields[k])))
        };
        let record = FaiRecord {
            name: fields[0].to_string(),
            length: num(1, "length")?,
            offset: num(2, "offset")?,
            line_bases: num(3, "line bases")?,
            line_width: num(4, "line width")?,
        };
        if record.line_bases == 0 || record.line_width <= record.line_bases {
            return Err(bad(format!(
                "contig `{}`: line width {} must exceed line bases {} > 0",
                record.name, record.line_width, record.line_bases
            )));
        }
        if !seen.insert(record.name.clone()) {
            return Err(bad(format!("contig `{}` listed twice", record.name)));
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err(ReferenceError::NoContigs { path: path.to_path_buf() });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(length: u64, offset: u64, lb: u64, lw: u64) -> FaiRecord {
        FaiRecord { name: "c".into(), length, offset, line_bases: lb, line_width: lw }
    }

    #[test]
    fn byte_positions_follow_the_wrapping() {
        let r = rec(10, 4, 4, 5);
        assert_eq!(r.byte_of(0), 4);
        assert_eq!(r.byte_of(3), 7);
        assert_eq!(r.byte_of(4), 9);
        assert_eq!(r.end_byte(), 4 + 5 + 5 + 2);
        assert_eq!(rec(0, 4, 4, 5).end_byte(), 4);
    }

    #[test]
    fn round_trip_and_errors() {
        let records = vec![rec(10, 4, 4, 5), FaiRecord { name: "d".into(), ..rec(3, 22, 3, 4) }];
        let mut text = Vec::new();
        write_fai(&records, &mut text).unwrap();
        assert_eq!(String::from_utf8(text.clone()).unwrap(), "c\t10\t4\t4\t5\nd\t3\t22\t3\t4\n");
        let p = Path::new("x.fai");
        assert_eq!(parse_fai(p, std::str::from_utf8(&text).unwrap()).unwrap(), records);
        let e = parse_fai(p, "c\t10\t4\t4\n").unwrap_err().to_string();
        assert!(e.contains("x.fai: line 1: expected 5"), "{e}");
        let e = parse_fai(p, "c\t10\t4\t4\t5\nc\t1\t40\t4\t5\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("twice"), "{e}");
        assert!(parse_fai(p, "c\tx\t4\t4\t5\n").unwrap_err().to_string().contains("length `x`"));
        assert!(parse_fai(p, "c\t1\t4\t4\t4\n").is_err());
        assert!(matches!(parse_fai(p, ""), Err(ReferenceError::NoContigs { .. })));
    }
}
