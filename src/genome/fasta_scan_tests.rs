//! Tests of the FASTA scan: layouts `samtools faidx` accepts, and every rejected input.

use super::*;
use crate::genome::fai::write_fai;

fn write(text: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ref.fa");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn scan(text: &[u8]) -> Result<FastaScan, ReferenceError> {
    let (_dir, path) = write(text);
    scan_fasta(&path, &AtomicBool::new(false))
}

fn fai_text(scan: &FastaScan) -> String {
    let mut out = Vec::new();
    write_fai(&scan.fai_records(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn err(text: &[u8]) -> String {
    match scan(text) {
        Ok(_) => panic!("expected an error for {:?}", String::from_utf8_lossy(text)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrapped_multi_contig_lowercase() {
    let s = scan(b">chr1 first contig\nACGTa\ncgtAC\nGT\n\n>chr2\nacgtacgt\nacgt\n>chrM\nNNNN").unwrap();
    // Byte-identical to `samtools faidx` 1.16 on the same file.
    assert_eq!(fai_text(&s), "chr1\t12\t19\t5\t6\nchr2\t12\t41\t8\t9\nchrM\t4\t61\t4\t5\n");
    assert_eq!(s.contigs[0].md5, "31e91beccf6059ff57c696827c0c6a4b");
    assert_eq!(s.contigs[1].md5, "31e91beccf6059ff57c696827c0c6a4b");
    assert_eq!(s.contigs[2].header_line, 9);
    assert_eq!(s.total_length(), 28);
    assert_eq!(s.file_size, 65);
    assert_eq!(s.file_md5.len(), 32);
}

#[test]
fn crlf_lines_count_both_bytes() {
    let s = scan(b">a\r\nACGT\r\nAC\r\n>b\r\nGG\r\n").unwrap();
    assert_eq!(fai_text(&s), "a\t6\t4\t4\t6\nb\t2\t18\t2\t4\n");
}

#[test]
fn digest_ignores_wrapping_and_case_but_not_names() {
    let a = scan(b">x\nACGTACGTAC\n>y\nGGGG\n").unwrap();
    let b = scan(b">x desc\nacgt\nacgt\nac\n>y\nGG\nGG").unwrap();
    let c = scan(b">x\nACGTACGTAC\n>z\nGGGG\n").unwrap();
    assert_eq!(a.digest, b.digest);
    assert_ne!(a.file_md5, b.file_md5);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn iupac_codes_are_accepted() {
    let s = scan(b">a\nACGTUNRYKMSWBDHV\nacgtunrykmswbdhv\n").unwrap();
    assert_eq!(s.contigs[0].fai.length, 32);
}

#[test]
fn duplicate_contig() {
    let e = err(b">a\nACGT\n>b\nAC\n>a\nGG\n");
    assert!(e.contains("ref.fa: line 5: contig `a` is a duplicate of the contig at line 1"), "{e}");
}

#[test]
fn empty_sequence_in_middle_and_at_end() {
    let e = err(b">a\nACGT\n>b\n>c\nAC\n");
    assert!(e.contains("line 3: contig `b` has an empty sequence"), "{e}");
    let e = err(b">a\nACGT\n>b\n\n");
    assert!(e.contains("line 3: contig `b` has an empty sequence"), "{e}");
    let e = err(b">a");
    assert!(e.contains("line 1: contig `a` has an empty sequence"), "{e}");
}

#[test]
fn invalid_character_names_line_column_and_contig() {
    let e = err(b">a\nACGT\n>b\nACGT\nAC-T\n");
    assert!(e.contains("ref.fa: line 5, column 3: contig `b`: character '-'"), "{e}");
    let e = err(b">a\nAC GT\n");
    assert!(e.contains("line 2, column 3") && e.contains("0x20"), "{e}");
    let e = err(b">a\nAC\rGT\n");
    assert!(e.contains("'\\r'"), "{e}");
}

#[test]
fn inconsistent_line_lengths() {
    let e = err(b">a\nACGT\nAC\nACGT\n");
    assert!(e.contains("line 3: contig `a`: this line has 2 bases, fewer than the 4"), "{e}");
    let e = err(b">a\nACGT\nACGTA\n");
    assert!(e.contains("line 3: contig `a`: this line has 5 bases, more than the 4"), "{e}");
    let e = err(b">a\nACGT\r\nACGT\nACGT\n");
    assert!(e.contains("line 3") && e.contains("ends with LF"), "{e}");
    // The last line may be shorter, or end differently.
    assert!(scan(b">a\nACGT\nAC\n>b\nACGT\r\nACGT\n").is_ok());
}

#[test]
fn blank_lines() {
    let e = err(b">a\nACGT\n\nACGT\n");
    assert!(e.contains("line 3: blank line inside contig `a`"), "{e}");
    let e = err(b">a\n\nACGT\n");
    assert!(e.contains("line 2: blank line inside contig `a`"), "{e}");
    let s = scan(b"\n\n>a\nACGT\n\n\n>b\nAC\n\n").unwrap();
    assert_eq!(fai_text(&s), "a\t4\t5\t4\t5\nb\t2\t15\t2\t3\n");
}

#[test]
fn not_fasta_and_no_contigs() {
    assert!(err(b"").contains("the file is empty"));
    assert!(err(b"\n\n").contains("no contigs"));
    let e = err(b"@r1\nACGT\n+\nIIII\n");
    assert!(e.contains("line 1") && e.contains("FASTQ"), "{e}");
    let e = err(b"\nhello world\n");
    assert!(e.contains("not a FASTA file (line 2)"), "{e}");
    let e = err(&[0x1f, 0x8b, 8, 0, 0, 0]);
    assert!(e.contains("compressed"), "{e}");
}

#[test]
fn bad_contig_names() {
    let e = err(b"> a\nACGT\n");
    assert!(e.contains("line 1: contig name \"\" is not usable: it is empty"), "{e}");
    let e = err(b">ok\nAC\n>*x\nACGT\n");
    assert!(e.contains("line 3") && e.contains("`*`"), "{e}");
}

#[test]
fn name_is_first_word() {
    let s = scan(b">chr1\tsome description\nACGT\n").unwrap();
    assert_eq!(s.contigs[0].fai.name, "chr1");
}

#[test]
fn cancel_is_honoured() {
    let (_dir, path) = write(b">a\nACGT\n");
    let e = scan_fasta(&path, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(e, ReferenceError::Cancelled));
    assert_ne!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::BadInput);
}

#[test]
fn missing_file_is_bad_input() {
    let e = scan_fasta(Path::new("/nonexistent/ref.fa"), &AtomicBool::new(false)).unwrap_err();
    assert_eq!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::BadInput);
    assert!(e.to_string().contains("/nonexistent/ref.fa"));
}
