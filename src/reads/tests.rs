//! Tests of the reads module through its public API, on small files written to a tempdir.

use super::*;
use flate2::write::{DeflateEncoder, GzEncoder};
use std::io::Write;
use std::path::PathBuf;
use tempfile::TempDir;

static NO_CANCEL: AtomicBool = AtomicBool::new(false);

/// FASTQ text of `(header, seq, qual)` records.
fn fastq(records: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, seq, qual) in records {
        out.extend_from_slice(format!("@{header}\n{seq}\n+\n{qual}\n").as_bytes());
    }
    out
}

/// `n` valid records named `read<i>/<mate>`.
fn numbered(n: usize, mate: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(format!("@read{i}/{mate} x\nACGTTGCA\n+\nIIII#5?I\n").as_bytes());
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A multi-member gzip file: one member per `piece` bytes.
fn multi_gzip(data: &[u8], piece: usize) -> Vec<u8> {
    data.chunks(piece).flat_map(gzip).collect()
}

/// A BGZF file: gzip members with the `BC` extra field, then the EOF block.
fn bgzf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in data.chunks(60_000) {
        let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(block).unwrap();
        let deflated = enc.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(block);
        let bsize = (deflated.len() + 25) as u16;
        out.extend_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0]);
        out.extend_from_slice(&bsize.to_le_bytes());
        out.extend_from_slice(&deflated);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&open::BGZF_EOF);
    out
}

struct Lane {
    _dir: TempDir,
    r1: PathBuf,
    r2: PathBuf,
}

fn lane(r1: &[u8], r2: &[u8]) -> Lane {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (dir.path().join("s_R1.fastq.gz"), dir.path().join("s_R2.fastq.gz"));
    std::fs::write(&p1, r1).unwrap();
    std::fs::write(&p2, r2).unwrap();
    Lane { _dir: dir, r1: p1, r2: p2 }
}

fn scan(l: &Lane) -> Result<FastqStats, FastqError> {
    scan_lane(&l.r1, &l.r2, &ScanOptions::default(), &NO_CANCEL)
}

fn scan_err(r1: &[u8], r2: &[u8]) -> String {
    scan(&lane(r1, r2)).unwrap_err().to_string()
}

#[test]
fn stats_match_a_hand_computed_example() {
    // R1: GGCC / AT (qualities 40 40 20 10 / 30 2); R2: ACGN / nt (30 30 30 2 / 20 20).
    let r1 = fastq(&[("p1/1", "GGCC", "II5+"), ("p2/1", "AT", "?#")]);
    let r2 = fastq(&[("p1/2", "ACGN", "???#"), ("p2/2", "nt", "55")]);
    let s = scan(&lane(&r1, &r2)).unwrap();
    assert_eq!((s.pairs, s.reads, s.bases), (2, 4, 12));
    assert_eq!((s.read_length_min, s.read_length_max), (2, 4));
    assert_eq!((s.gc_bases, s.acgt_bases, s.n_bases), (6, 10, 2));
    let sum = s.summary();
    assert_eq!(s.quality_sum(), 40 + 40 + 20 + 10 + 30 + 2 + 30 + 30 + 30 + 2 + 20 + 20);
    assert_eq!(sum.mean_base_quality, 22.833333);
    assert_eq!(sum.q30_fraction, 0.5);
    assert_eq!(sum.gc_fraction, 0.6);
    assert_eq!(sum.qc_passed_bases, 9);
    assert_eq!(sum.quality_values, vec![2, 10, 20, 30, 40]);
    assert!(sum.quality_binned);
}

#[test]
fn plain_gzip_multimember_and_bgzf_give_identical_stats() {
    let (r1, r2) = (numbered(20_000, 1), numbered(20_000, 2));
    let plain = scan(&lane(&r1, &r2)).unwrap();
    assert_eq!(plain.pairs, 20_000);
    assert_eq!(scan(&lane(&gzip(&r1), &gzip(&r2))).unwrap(), plain);
    assert_eq!(scan(&lane(&multi_gzip(&r1, 7_777), &multi_gzip(&r2, 10_001))).unwrap(), plain);
    assert_eq!(scan(&lane(&bgzf(&r1), &bgzf(&r2))).unwrap(), plain);
    // Mixed storage within one lane.
    assert_eq!(scan(&lane(&bgzf(&r1), &r2)).unwrap(), plain);
}

#[test]
fn batches_have_a_fixed_size_and_records_read_back() {
    let l = lane(&gzip(&numbered(20_000, 1)), &numbered(20_000, 2));
    let mut reader = PairedFastqReader::open(&l.r1, &l.r2, &NO_CANCEL).unwrap();
    let mut sizes = Vec::new();
    while let Some(batch) = reader.next_batch().unwrap() {
        sizes.push(batch.len());
        let (a, b) = batch.pair(batch.len() - 1);
        let n = batch.first_pair_number() + batch.len() as u64 - 2;
        assert_eq!(a.name(), format!("read{n}/1").as_bytes());
        assert_eq!(b.name(), format!("read{n}/2").as_bytes());
        assert_eq!((a.comment(), a.seq(), a.qual()), (&b"x"[..], &b"ACGTTGCA"[..], &b"IIII#5?I"[..]));
    }
    assert_eq!(sizes, vec![PAIRS_PER_BATCH, PAIRS_PER_BATCH, 20_000 - 2 * PAIRS_PER_BATCH]);
    assert_eq!(reader.stats().unwrap().pairs, 20_000);
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let full = gzip(&numbered(5_000, 1));
    for cut in [full.len() / 2, full.len() - 4, 5] {
        let err = scan_err(&full[..cut], &gzip(&numbered(5_000, 2)));
        assert!(err.contains("truncated gzip stream") && err.contains("s_R1.fastq.gz"), "cut {cut}: {err}");
    }
}

#[test]
fn bgzf_without_end_marker_is_truncated() {
    let mut r2 = bgzf(&numbered(100, 2));
    r2.truncate(r2.len() - 28);
    let err = scan_err(&numbered(100, 1), &r2);
    assert!(err.contains("s_R2.fastq.gz") && err.contains("end-of-file marker"), "{err}");
}

#[test]
fn unequal_read_counts_say_which_file_has_more() {
    let err = scan_err(&numbered(5, 1), &numbered(3, 2));
    assert!(err.starts_with("R1 has more reads than R2 (R2 ends after 3 reads)"), "{err}");
    let err = scan_err(&numbered(3, 1), &numbered(5, 2));
    assert!(err.starts_with("R2 has more reads than R1 (R1 ends after 3 reads)"), "{err}");
    // Across a batch boundary: one file ends exactly where a batch does.
    let n = PAIRS_PER_BATCH;
    let err = scan_err(&numbered(n + 1, 1), &numbered(n, 2));
    assert!(err.starts_with(&format!("R1 has more reads than R2 (R2 ends after {n} reads)")), "{err}");
    let err = scan_err(&numbered(n, 1), &numbered(n + 1, 2));
    assert!(err.starts_with(&format!("R2 has more reads than R1 (R1 ends after {n} reads)")), "{err}");
}

#[test]
fn mismatched_names_are_reported_with_the_record() {
    let r1 = fastq(&[("a/1", "AC", "II"), ("b/1", "AC", "II")]);
    let r2 = fastq(&[("a/2", "AC", "II"), ("c/2", "AC", "II")]);
    let err = scan_err(&r1, &r2);
    assert!(err.contains("record 2") && err.contains("b/1") && err.contains("c/2"), "{err}");
}

#[test]
fn mate_suffixes_and_comments_are_stripped_for_pairing() {
    let r1 = fastq(&[("frag1/1 1:N:0:ACGT", "AC", "II"), ("frag2\tBC:Z:x", "AC", "II")]);
    let r2 = fastq(&[("frag1/2 2:N:0:ACGT", "AC", "II"), ("frag2 other", "AC", "II")]);
    assert_eq!(scan(&lane(&r1, &r2)).unwrap().pairs, 2);
}

#[test]
fn quality_length_must_equal_sequence_length() {
    let ok = fastq(&[("a/2", "ACGT", "IIII"), ("b/2", "ACGT", "IIII")]);
    for (bad, qual_len) in [
        (fastq(&[("a/1", "ACGT", "III"), ("b/1", "ACGT", "IIII")]), 3),
        (fastq(&[("a/1", "ACGT", "IIIII"), ("b/1", "ACGT", "IIII")]), 5),
        (fastq(&[("a/1", "ACGT", "IIII"), ("b/1", "ACGT", "II")]), 2),
    ] {
        let err = scan_err(&bad, &ok);
        assert!(err.contains(&format!("quality length {qual_len} differs from sequence length 4")), "{err}");
    }
    let err = scan_err(&fastq(&[("a/1", "ACGT", "IIII"), ("b/1", "ACGT", "III")]), &ok);
    assert!(err.contains("line 8 (record 2, read b/1)"), "{err}");
}

#[test]
fn bad_bases_and_qualities_name_character_and_position() {
    let r2 = fastq(&[("a/2", "ACGT", "IIII")]);
    let err = scan_err(&fastq(&[("a/1", "ACXT", "IIII")]), &r2);
    assert!(err.contains("invalid base 'X' at position 3") && err.contains("line 2 (record 1, read a/1)"), "{err}");
    let err = scan_err(&fastq(&[("a/1", "ACGT", "II I")]), &r2);
    assert!(err.contains("invalid quality character a space at position 3") && err.contains("line 4"), "{err}");
    let err = scan_err(b"@a/1\r\nACGT\r\n+\r\nIIII\r\n", &r2);
    assert!(err.contains("carriage return"), "{err}");
}

#[test]
fn structural_errors_are_reported() {
    let r2 = fastq(&[("a/2", "ACGT", "IIII"), ("b/2", "ACGT", "IIII")]);
    let err = scan_err(b"@a/1\nACGT\n+\nIIII\nb/1\nACGT\n+\nIIII\n", &r2);
    assert!(err.contains("line 5 (record 2)") && err.contains("must start with '@', found 'b'"), "{err}");
    let err = scan_err(b"@a/1\nACGT\n-\nIIII\n", &r2);
    assert!(err.contains("line 3") && err.contains("must start with '+'"), "{err}");
    let err = scan_err(b"@ x\nACGT\n+\nIIII\n", &r2);
    assert!(err.contains("read name is empty"), "{err}");
}

#[test]
fn a_record_cut_off_at_the_end_is_an_error() {
    let r2 = fastq(&[("a/2", "ACGT", "IIII"), ("b/2", "ACGT", "IIII")]);
    for cut in [b"@a/1\nACGT\n+\nIIII\n@b/1\nACGT\n+\n".as_slice(), b"@a/1\nACGT\n+\nIIII\n@b/1\nAC"] {
        let err = scan_err(cut, &r2);
        assert!(err.contains("record 2 is cut off at the end of the file") && err.contains("s_R1"), "{err}");
    }
    // A missing final line break and trailing blank lines are fine.
    let s = scan(&lane(b"@a/1\nACGT\n+\nIIII\n@b/1\nACGT\n+\nIIII", &[r2.as_slice(), b"\n\n"].concat())).unwrap();
    assert_eq!(s.pairs, 2);
}

#[test]
fn empty_files_are_errors() {
    let r2 = numbered(1, 2);
    assert!(scan_err(b"", &r2).contains("s_R1.fastq.gz: the FASTQ file contains no reads"));
    let err = scan_err(&numbered(1, 1), &gzip(b""));
    assert!(err.contains("s_R2.fastq.gz: the FASTQ file contains no reads"), "{err}");
}

#[test]
fn invalid_utf8_does_not_panic() {
    let r1 = b"@r\xff\xfe/1\nACGT\n+\nIIII\n".to_vec();
    let err = scan_err(&r1, &numbered(1, 2));
    assert!(err.contains("differ at record 1"), "{err}");
    let err = scan_err(b"@a/1\nAC\xc3\xa9\n+\nIIII\n", &numbered(1, 2));
    assert!(err.contains("byte 0xc3 at position 3"), "{err}");
}

#[test]
fn missing_files_and_other_compressions_are_refused() {
    let l = lane(b"BZh91AY&SY", &numbered(1, 2));
    let err = scan(&l).unwrap_err();
    use crate::outcome::{Classify, Failure};
    assert!(err.to_string().contains("bzip2") && err.failure() == Failure::BadInput, "{err}");
    let missing = l.r1.with_file_name("absent.fq");
    let err = scan_lane(&missing, &l.r2, &ScanOptions::default(), &NO_CANCEL).unwrap_err();
    assert!(matches!(err, FastqError::Open { .. }) && err.to_string().contains("absent.fq"), "{err}");
}

#[test]
fn cancellation_stops_between_batches() {
    let l = lane(&numbered(3 * PAIRS_PER_BATCH, 1), &numbered(3 * PAIRS_PER_BATCH, 2));
    let cancel = AtomicBool::new(false);
    let mut reader = PairedFastqReader::open(&l.r1, &l.r2, &cancel).unwrap();
    assert!(reader.next_batch().unwrap().is_some());
    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(reader.next_batch(), Err(FastqError::Cancelled)));
    assert!(reader.next_batch().unwrap().is_none());
}

#[test]
fn min_base_quality_sets_qc_passed_bases() {
    let l = lane(&numbered(10, 1), &numbered(10, 2));
    // Per read: I I I I # 5 ? I = 40 40 40 40 2 20 30 40.
    let at = |q| scan_lane(&l.r1, &l.r2, &ScanOptions { min_base_quality: q }, &NO_CANCEL).unwrap().qc_passed_bases();
    assert_eq!((at(0), at(20), at(21), at(41)), (160, 140, 120, 0));
}
