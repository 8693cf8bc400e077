//! Sequence dictionaries: the Picard `.dict` (a SAM header of `@HD` and `@SQ` lines, as
//! `CreateSequenceDictionary` writes it) and dagr's per-contig MD5 table (TSV `name length md5`
//! with a header line). Writing and reading are linear in the number of contigs.

use crate::genome::contig::Contig;
use crate::genome::error::ReferenceError;
use std::io::{self, Write};
use std::path::Path;

/// Header line of the MD5 table.
pub const MD5_TABLE_HEADER: &str = "name\tlength\tmd5";

/// `file://` URI of an absolute path, percent-encoding bytes that URIs (or SAM fields) cannot hold.
pub fn file_uri(abs_path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &b in abs_path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// Writes `@HD VN:1.6` and one `@SQ SN LN [M5] UR` line per contig.
pub fn write_dict<W: Write>(contigs: &[Contig], uri: &str, mut out: W) -> io::Result<()> {
    writeln!(out, "@HD\tVN:1.6")?;
    for c in contigs {
        write!(out, "@SQ\tSN:{}\tLN:{}", c.name, c.length)?;
        if let Some(md5) = &c.md5 {
            write!(out, "\tM5:{md5}")?;
        }
        writeln!(out, "\tUR:{uri}")?;
    }
    Ok(())
}

/// Writes the MD5 table; contigs without an MD5 get `.`.
pub fn write_md5_table<W: Write>(contigs: &[Contig], mut out: W) -> io::Result<()> {
    writeln!(out, "{MD5_TABLE_HEADER}")?;
    for c in contigs {
        writeln!(out, "{}\t{}\t{}", c.name, c.length, c.md5.as_deref().unwrap_or("."))?;
    }
    Ok(())
}

/// Reads an MD5 table written by [`write_md5_table`].
pub fn read_md5_table(path: &Path) -> Result<Vec<Contig>, ReferenceError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReferenceError::io(path, e))?;
    let mut lines = text.lines().enumerate();
    let bad = |line: usize, detail: String| ReferenceError::BadIndexFile {
        path: path.to_path_buf(),
        line: line as u64 + 1,
        detail,
    };
    match lines.next() {
        Some((_, MD5_TABLE_HEADER)) => {}
        _ => return Err(bad(0, format!("expected the header `{MD5_TABLE_HEADER}`"))),
    }
    let mut contigs = Vec::new();
    for (i, line) in lines.filter(|(_, l)| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, length, md5] = fields[..] else {
            return Err(bad(i, format!("expected 3 tab-separated fields, found {}", fields.len())));
        };
        let length = length.parse().map_err(|_| bad(i, format!("length `{length}` is not a number")))?;
        let md5 = (md5 != ".").then(|| md5.to_string());
        contigs.push(Contig { name: name.to_string(), length, md5 });
    }
    Ok(contigs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contigs() -> Vec<Contig> {
        vec![
            Contig { name: "c1".into(), length: 8, md5: Some("abc".into()) },
            Contig { name: "c2".into(), length: 3, md5: None },
        ]
    }

    #[test]
    fn dict_has_picard_shape() {
        let mut out = Vec::new();
        write_dict(&contigs(), "file:///r/ref.fa", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "@HD\tVN:1.6\n@SQ\tSN:c1\tLN:8\tM5:abc\tUR:file:///r/ref.fa\n@SQ\tSN:c2\tLN:3\tUR:file:///r/ref.fa\n"
        );
    }

    #[test]
    fn uri_escapes_spaces_and_tabs() {
        assert_eq!(file_uri(Path::new("/a b/c\td%.fa")), "file:///a%20b/c%09d%25.fa");
        assert_eq!(file_uri(Path::new("/data/GRCh38_full+decoy.fa")), "file:///data/GRCh38_full+decoy.fa");
    }

    #[test]
    fn md5_table_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tsv");
        let mut out = Vec::new();
        write_md5_table(&contigs(), &mut out).unwrap();
        std::fs::write(&path, &out).unwrap();
        assert_eq!(read_md5_table(&path).unwrap(), contigs());
        std::fs::write(&path, "name\tlength\tmd5\nc1\tx\tabc\n").unwrap();
        let e = read_md5_table(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
    }
}
