//! The SAM header of dagr's coordinate-sorted BAM/CRAM.
//!
//! [`build_header`] turns a [`HeaderSpec`] into `@HD VN:1.6 SO:coordinate`, one `@SQ` per contig
//! in reference order (`SN`, `LN`, `M5`, `UR`, and `AS` when the assembly is known), one `@RG`
//! per lane (`ID`, `SM`, `LB`, `PL`, `PU`) and `@PG ID:dagr PN VN CL`. `M5` and `UR` are always
//! written: a CRAM writer puts the header out before it is given the reference, and readers find
//! the reference by them. Every value is checked before it is written (no tab or line break,
//! contig names as the SAM specification allows, lengths BAM can hold, MD5s as 32 hex digits,
//! unique `SN` and `ID`), so a bad samplesheet or reference gives an error, never a header that
//! other tools reject. No dates: the same spec gives the same header bytes. Cost: linear in the
//! number of lines.

use crate::genome::Contig;
use rust_htslib::bam::Header;
use rust_htslib::bam::header::HeaderRecord;
use std::collections::BTreeSet;

/// Largest contig length a BAM record position can address (`2^31 - 1`).
pub const MAX_CONTIG_LENGTH: u64 = i32::MAX as u64;

/// One `@RG` line: a lane of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadGroupLine {
    pub id: String,
    pub sample: String,
    pub library: String,
    /// `PL`; dagr writes `ILLUMINA`.
    pub platform: String,
    /// `PU`: flowcell and lane.
    pub platform_unit: String,
}

/// The `@PG` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramLine {
    /// `ID`, `dagr`.
    pub id: String,
    /// `PN`.
    pub name: String,
    pub version: String,
    /// The canonical command line (execution-only flags dropped).
    pub command_line: String,
}

/// Everything the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// One `@SQ` each, in reference order (`tid` is the index here); every contig must carry its
    /// MD5 (`M5`).
    pub contigs: Vec<Contig>,
    /// `UR` of every `@SQ` (a `file://` URI of the reference FASTA).
    pub reference_uri: String,
    /// `AS` of every `@SQ` when known.
    pub assembly: Option<String>,
    pub read_groups: Vec<ReadGroupLine>,
    pub program: ProgramLine,
}

/// A header value dagr refuses to write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("@{line} {tag}: {value:?} {problem}")]
    BadValue { line: &'static str, tag: &'static str, value: String, problem: &'static str },
    #[error("@{line} {tag}:{value} appears twice")]
    Duplicate { line: &'static str, tag: &'static str, value: String },
}

/// Header values come from the samplesheet and the reference: bad input.
impl crate::outcome::Classify for HeaderError {
    fn failure(&self) -> crate::outcome::Failure {
        crate::outcome::Failure::BadInput
    }
}

/// Builds the header of a coordinate-sorted BAM/CRAM.
pub fn build_header(spec: &HeaderSpec) -> Result<Header, HeaderError> {
    let mut header = Header::new();
    let mut hd = HeaderRecord::new(b"HD");
    hd.push_tag(b"VN", "1.6").push_tag(b"SO", "coordinate");
    header.push_record(&hd);

    let uri = checked("SQ", "UR", &spec.reference_uri)?;
    let assembly = spec.assembly.as_deref().map(|a| checked("SQ", "AS", a)).transpose()?;
    let mut names = BTreeSet::new();
    for contig in &spec.contigs {
        let name = contig_name(&contig.name)?;
        if !names.insert(name) {
            return Err(HeaderError::Duplicate { line: "SQ", tag: "SN", value: name.to_string() });
        }
        if contig.length == 0 || contig.length > MAX_CONTIG_LENGTH {
            let problem = "is not a length BAM can hold (1 to 2^31-1)";
            return Err(bad("SQ", "LN", &contig.length.to_string(), problem));
        }
        let Some(md5) = contig.checked_md5() else {
            let md5 = contig.md5.as_deref().unwrap_or_default();
            return Err(bad("SQ", "M5", md5, "is not 32 lower-case hex digits"));
        };
        let mut sq = HeaderRecord::new(b"SQ");
        sq.push_tag(b"SN", name).push_tag(b"LN", contig.length).push_tag(b"M5", md5);
        sq.push_tag(b"UR", uri);
        if let Some(assembly) = assembly {
            sq.push_tag(b"AS", assembly);
        }
        header.push_record(&sq);
    }

    let mut ids = BTreeSet::new();
    for rg in &spec.read_groups {
        let id = checked("RG", "ID", &rg.id)?;
        if !ids.insert(id) {
            return Err(HeaderError::Duplicate { line: "RG", tag: "ID", value: id.to_string() });
        }
        let mut line = HeaderRecord::new(b"RG");
        line.push_tag(b"ID", id)
            .push_tag(b"SM", checked("RG", "SM", &rg.sample)?)
            .push_tag(b"LB", checked("RG", "LB", &rg.library)?)
            .push_tag(b"PL", checked("RG", "PL", &rg.platform)?)
            .push_tag(b"PU", checked("RG", "PU", &rg.platform_unit)?);
        header.push_record(&line);
    }

    let pg = &spec.program;
    let mut line = HeaderRecord::new(b"PG");
    line.push_tag(b"ID", checked("PG", "ID", &pg.id)?)
        .push_tag(b"PN", checked("PG", "PN", &pg.name)?)
        .push_tag(b"VN", checked("PG", "VN", &pg.version)?)
        .push_tag(b"CL", checked("PG", "CL", &pg.command_line)?);
    header.push_record(&line);
    Ok(header)
}

fn bad(line: &'static str, tag: &'static str, value: &str, problem: &'static str) -> HeaderError {
    HeaderError::BadValue { line, tag, value: value.to_string(), problem }
}

/// A non-empty value without tabs, line breaks or other control characters.
fn checked<'a>(line: &'static str, tag: &'static str, value: &'a str) -> Result<&'a str, HeaderError> {
    if value.is_empty() {
        return Err(bad(line, tag, value, "is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(line, tag, value, "contains a tab, line break or control character"));
    }
    Ok(value)
}

/// A reference name as SAM 1.6 allows: `[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*`.
fn contig_name(name: &str) -> Result<&str, HeaderError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&*+./:;=?@^_|~-".contains(&b);
    let bytes = name.as_bytes();
    let ok = match bytes.first() {
        None => false,
        Some(&first) => first != b'*' && first != b'=' && bytes.iter().all(|&b| allowed(b)),
    };
    if ok { Ok(name) } else { Err(bad("SQ", "SN", name, "is not a valid SAM reference name")) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec(contigs: &[(&str, u64, &str)], reference_uri: &str) -> HeaderSpec {
        HeaderSpec {
            contigs: contigs
                .iter()
                .map(|(n, l, m)| Contig { name: n.to_string(), length: *l, md5: Some(m.to_string()) })
                .collect(),
            reference_uri: reference_uri.to_string(),
            assembly: Some("GRCh38".to_string()),
            read_groups: vec![ReadGroupLine {
                id: "S1.L001".into(),
                sample: "S1".into(),
                library: "LIB1".into(),
                platform: "ILLUMINA".into(),
                platform_unit: "HFLT3DSXX.1".into(),
            }],
            program: ProgramLine {
                id: "dagr".into(),
                name: "dagr".into(),
                version: "0.1.0".into(),
                command_line: "dagr run align.yaml --samplesheet s.csv".into(),
            },
        }
    }

    const MD5: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn header_has_every_required_line() {
        let header = build_header(&spec(&[("chr1", 1000, MD5), ("chrM", 16569, MD5)], "file:///ref/x.fa")).unwrap();
        let text = String::from_utf8(header.to_bytes()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "@HD\tVN:1.6\tSO:coordinate");
        assert_eq!(lines[1], format!("@SQ\tSN:chr1\tLN:1000\tM5:{MD5}\tUR:file:///ref/x.fa\tAS:GRCh38"));
        assert!(lines[2].starts_with("@SQ\tSN:chrM\tLN:16569\t"));
        assert_eq!(lines[3], "@RG\tID:S1.L001\tSM:S1\tLB:LIB1\tPL:ILLUMINA\tPU:HFLT3DSXX.1");
        assert_eq!(lines[4], "@PG\tID:dagr\tPN:dagr\tVN:0.1.0\tCL:dagr run align.yaml --samplesheet s.csv");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn bad_values_are_refused() {
        let err = build_header(&spec(&[("chr 1", 10, MD5)], "file:///x.fa")).unwrap_err();
        assert!(matches!(err, HeaderError::BadValue { tag: "SN", .. }), "{err}");
        let err = build_header(&spec(&[("c", 10, "XYZ")], "file:///x.fa")).unwrap_err();
        assert!(matches!(err, HeaderError::BadValue { tag: "M5", .. }), "{err}");
        let err = build_header(&spec(&[("c", 1 << 31, MD5)], "file:///x.fa")).unwrap_err();
        assert!(matches!(err, HeaderError::BadValue { tag: "LN", .. }), "{err}");
        let err = build_header(&spec(&[("c", 5, MD5), ("c", 6, MD5)], "file:///x.fa")).unwrap_err();
        assert!(matches!(err, HeaderError::Duplicate { tag: "SN", .. }), "{err}");
        let mut s = spec(&[("c", 5, MD5)], "file:///x.fa");
        s.program.command_line = "dagr\trun".into();
        assert!(matches!(build_header(&s).unwrap_err(), HeaderError::BadValue { tag: "CL", .. }));
        s.program.command_line = "dagr run".into();
        s.read_groups.push(s.read_groups[0].clone());
        assert!(matches!(build_header(&s).unwrap_err(), HeaderError::Duplicate { tag: "ID", .. }));
    }
}
