use super::*;
use crate::alignments::header::{build_header, tests::spec};
use md5::{Digest, Md5};
use rust_htslib::bam::record::{Aux, Cigar, CigarString};
use std::fmt::Write as _;
use std::process::Command;

/// A two-contig FASTA (60 bases a line) with its `.fai`; returns the path and `(name, len, md5)`.
fn reference(dir: &Path) -> (PathBuf, Vec<(String, u64, String)>) {
    let fasta = dir.join("ref.fa");
    let mut text = String::new();
    let mut fai = String::new();
    let mut contigs = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for (name, len) in [("chr1", 5_000u64), ("chr2", 3_001)] {
        text.push_str(&format!(">{name}\n"));
        let offset = text.len();
        let seq: String = (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                b"ACGT"[(state >> 62) as usize] as char
            })
            .collect();
        for chunk in seq.as_bytes().chunks(60) {
            text.push_str(std::str::from_utf8(chunk).unwrap());
            text.push('\n');
        }
        writeln!(fai, "{name}\t{len}\t{offset}\t60\t61").unwrap();
        contigs.push((name.to_string(), len, hex::encode(Md5::digest(seq.as_bytes())), seq));
    }
    std::fs::write(&fasta, text).unwrap();
    std::fs::write(dir.join("ref.fa.fai"), fai).unwrap();
    // Records below take their bases from the reference so CRAM encodes them as matches.
    SEQS.with(|s| *s.borrow_mut() = contigs.iter().map(|c| c.3.clone()).collect());
    (fasta, contigs.into_iter().map(|(n, l, m, _)| (n, l, m)).collect())
}

thread_local! {
    static SEQS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn header_for(fasta: &Path, contigs: &[(String, u64, String)]) -> Header {
    let contigs: Vec<(&str, u64, &str)> = contigs.iter().map(|(n, l, m)| (n.as_str(), *l, m.as_str())).collect();
    build_header(&spec(&contigs, &format!("file://{}", fasta.display()))).unwrap()
}

/// `n` coordinate-sorted records: mapped pairs with one mismatch, then an unmapped pair.
fn records(n: usize) -> Vec<Record> {
    let seqs = SEQS.with(|s| s.borrow().clone());
    let mut out = Vec::new();
    for i in 0..n {
        let tid = if i < n / 2 { 0 } else { 1 };
        let pos = (i * 7 % 2_000) as i64;
        let mut seq = seqs[tid].as_bytes()[pos as usize..pos as usize + 50].to_vec();
        seq[10] = if seq[10] == b'A' { b'C' } else { b'A' };
        let mut r = Record::new();
        let qual: Vec<u8> = (0..50).map(|q| 20 + (q % 20) as u8).collect();
        let cigar = CigarString(vec![Cigar::Match(50)]);
        r.set(format!("read{i}").as_bytes(), Some(&cigar), &seq, &qual);
        r.set_tid(tid as i32);
        r.set_pos(pos);
        // Both ends in one 16 kb bin at these positions: the SAM spec's level-5 bin.
        r.set_bin((4681 + (pos >> 14)) as u16);
        r.set_mapq(60);
        r.set_flags(0x1 | 0x2 | 0x40 | 0x20);
        r.set_mtid(tid as i32);
        r.set_mpos(pos + 200);
        r.set_insert_size(250);
        r.push_aux(b"NM", Aux::U8(1)).unwrap();
        r.push_aux(b"RG", Aux::String("S1.L001")).unwrap();
        out.push(r);
    }
    out.sort_by_key(|r| (r.tid(), r.pos()));
    let mut unmapped = Record::new();
    unmapped.set(b"lost", None, b"ACGTACGTAC", &[30; 10]);
    unmapped.set_flags(0x1 | 0x4 | 0x8 | 0x40);
    unmapped.set_bin(4680);
    out.push(unmapped);
    out
}

fn write(path: &Path, format: OutputFormat, header: &Header, recs: &[Record], threads: usize) -> WrittenAlignment {
    let mut w = AlignmentWriter::create(path, format, header, threads).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

/// `samtools <args>`'s output, or None (with a note) when samtools is not installed; under CI a
/// missing samtools fails the test (`crate::test_tools::require_tool`).
fn samtools(args: &[&str]) -> Option<String> {
    if !crate::test_tools::require_tool("samtools") {
        return None;
    }
    let out = Command::new("samtools").args(args).output().expect("samtools runs");
    assert!(out.status.success(), "samtools {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn bam_is_indexed_committed_and_identical_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(4_000);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let one = write(&out.join("a.bam"), OutputFormat::Bam, &header, &recs, 0);
    let four = write(&out.join("b.bam"), OutputFormat::Bam, &header, &recs, 4);
    assert_eq!(one.data.md5, four.data.md5, "BAM bytes depend on the thread count");
    assert_eq!(one.index.md5, four.index.md5);
    assert_eq!(one.records, recs.len() as u64);
    assert_eq!(
        names(&out),
        ["a.bam", "a.bam.bai", "a.bam.bai.md5", "a.bam.md5", "b.bam", "b.bam.bai", "b.bam.bai.md5", "b.bam.md5"]
    );
    let sidecar = std::fs::read_to_string(out.join("a.bam.md5")).unwrap();
    assert_eq!(sidecar, format!("{}  a.bam\n", one.data.md5));

    let back = read_all(&one.data.path, None).unwrap();
    assert_eq!(back.len(), recs.len());
    for (a, b) in back.iter().zip(&recs) {
        assert_eq!(
            format!("{:?}", a.inner().core),
            format!("{:?}", b.inner().core),
            "{}",
            String::from_utf8_lossy(b.qname())
        );
        assert_eq!(a, b);
    }

    let path = one.data.path.to_str().unwrap();
    if samtools(&["quickcheck", path]).is_some() {
        assert_eq!(samtools(&["view", "-c", path]).unwrap().trim(), recs.len().to_string());
        assert_eq!(samtools(&["view", "-c", path, "chr2"]).unwrap().trim(), (recs.len() / 2).to_string());
        let text = samtools(&["view", "-H", path]).unwrap();
        assert!(text.starts_with("@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:chr1\tLN:5000\tM5:"), "{text}");
        assert!(text.contains("\n@RG\tID:S1.L001\tSM:S1\tLB:LIB1\tPL:ILLUMINA\tPU:HFLT3DSXX.1\n"), "{text}");
        assert!(text.contains("\n@PG\tID:dagr\tPN:dagr\tVN:0.1.0\tCL:dagr run"), "{text}");
    }
}

#[test]
fn cram_round_trips_against_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(3_000);
    let format = OutputFormat::Cram { reference_fasta: fasta.clone() };
    let cram = write(&dir.path().join("s.cram"), format.clone(), &header, &recs, 2);
    let again = write(&dir.path().join("t.cram"), format, &header, &recs, 0);
    assert!(cram.index.path.ends_with("s.cram.crai"));
    assert!(dir.path().join("s.cram.crai.md5").is_file());
    let back = read_all(&cram.data.path, Some(&fasta)).unwrap();
    let again = read_all(&again.data.path, Some(&fasta)).unwrap();
    assert_eq!(back.len(), recs.len());
    for (a, b) in back.iter().zip(&recs) {
        assert_eq!(
            (a.qname(), a.pos(), a.tid(), a.flags(), a.cigar().to_string()),
            (b.qname(), b.pos(), b.tid(), b.flags(), b.cigar().to_string())
        );
        assert_eq!((a.seq().as_bytes(), a.qual()), (b.seq().as_bytes(), b.qual()));
        assert_eq!((a.mtid(), a.mpos(), a.insert_size()), (b.mtid(), b.mpos(), b.insert_size()));
    }
    assert!(back.iter().zip(&again).all(|(a, b)| a == b), "CRAM records depend on the thread count");
    // The reference is not embedded: far smaller than the bases it covers would be.
    assert!(cram.data.size < 60_000, "CRAM is {} bytes", cram.data.size);

    let path = cram.data.path.to_str().unwrap();
    if samtools(&["quickcheck", path]).is_some() {
        let fa = fasta.to_str().unwrap();
        assert_eq!(samtools(&["view", "-c", "-T", fa, path]).unwrap().trim(), recs.len().to_string());
        let text = samtools(&["view", "-H", "-T", fa, path]).unwrap();
        assert!(text.contains(&format!("UR:file://{fa}")), "{text}");
        assert!(samtools(&["view", "-T", fa, path, "chr1:100-200"]).unwrap().lines().count() > 0);
    }
}

#[test]
fn abandoned_writer_leaves_nothing_and_replaces_stale_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(100);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    {
        let mut w = AlignmentWriter::create(&out.join("x.bam"), OutputFormat::Bam, &header, 2).unwrap();
        w.write(&recs[0]).unwrap();
    }
    assert!(names(&out).is_empty(), "{:?}", names(&out));
    write(&out.join("x.bam"), OutputFormat::Bam, &header, &recs, 1);
    let second = write(&out.join("x.bam"), OutputFormat::Bam, &header, &recs[..50], 1);
    assert_eq!(names(&out), ["x.bam", "x.bam.bai", "x.bam.bai.md5", "x.bam.md5"]);
    assert_eq!(read_all(&second.data.path, None).unwrap().len(), 50);
}

#[test]
fn bad_names_and_missing_fai_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let err = AlignmentWriter::create(&dir.path().join("x.sam"), OutputFormat::Bam, &header, 0).err().unwrap();
    assert!(matches!(err, WriteError::BadName { expected: "bam", .. }), "{err}");
    let mut broken = Header::new();
    broken.push_record(rust_htslib::bam::header::HeaderRecord::new(b"SQ").push_tag(b"SN", "chr1"));
    let err = AlignmentWriter::create(&dir.path().join("y.bam"), OutputFormat::Bam, &broken, 0).err().unwrap();
    assert!(matches!(err, WriteError::Hts { action: "parse the header", .. }), "{err}");
    assert!(names(dir.path()).iter().all(|n| !n.contains("y.bam")), "{:?}", names(dir.path()));
    std::fs::remove_file(dir.path().join("ref.fa.fai")).unwrap();
    let format = OutputFormat::Cram { reference_fasta: fasta };
    let err = AlignmentWriter::create(&dir.path().join("x.cram"), format, &header, 0).err().unwrap();
    assert!(matches!(err, WriteError::MissingFai { .. }), "{err}");
    let err = AlignmentWriter::create(&dir.path().join("no/such/x.bam"), OutputFormat::Bam, &header, 0).err().unwrap();
    assert!(err.to_string().contains("x.bam"), "{err}");
}

#[test]
fn bam_slices_join_into_one_indexed_bam_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(3_000);
    // Three slices in coordinate order, one of them empty (a rank that owned nothing).
    let cut = [0, 1_200, 1_200, recs.len()];
    let mut slices = Vec::new();
    for i in 0..3 {
        let path = dir.path().join(format!("rank-{i}.bam"));
        let mut w = AlignmentWriter::create_slice(&path, &header, 2).unwrap();
        for r in &recs[cut[i]..cut[i + 1]] {
            w.write(r).unwrap();
        }
        let (written, n) = w.finish_shard().unwrap();
        assert_eq!(written, path);
        assert_eq!(n as usize, cut[i + 1] - cut[i]);
        assert!(!with_suffix(&path, "bai").exists() && !with_suffix(&path, "md5").exists(), "a slice has no index");
        // Records start on a block boundary after the header.
        let start = record_blocks_start(&path).unwrap();
        assert!(start > 0 && start < std::fs::metadata(&path).unwrap().len());
        slices.push(path);
    }
    let out = dir.path().join("joined.bam");
    let joined = concatenate_bam(&slices, &out, 2, recs.len() as u64).unwrap();
    assert!(joined.index.path.is_file() && with_suffix(&out, "md5").is_file());
    let back = read_all(&out, None).unwrap();
    assert_eq!(back.len(), recs.len());
    for (a, b) in back.iter().zip(&recs) {
        assert_eq!(a, b);
    }
    // The header appears once; region queries work through the index.
    if samtools(&["quickcheck", out.to_str().unwrap()]).is_some() {
        let text = samtools(&["view", "-H", out.to_str().unwrap()]).unwrap();
        assert_eq!(text.matches("@HD").count(), 1);
        assert_eq!(
            samtools(&["view", "-c", out.to_str().unwrap(), "chr2"]).unwrap().trim(),
            (recs.len() / 2).to_string()
        );
    }
    // A slice without its end-of-file block (a rank died while writing) is refused.
    let bytes = std::fs::read(&slices[2]).unwrap();
    std::fs::write(&slices[2], &bytes[..bytes.len() - 28]).unwrap();
    let err = concatenate_bam(&slices, &dir.path().join("bad.bam"), 1, 0).unwrap_err().to_string();
    assert!(err.contains("rank-2.bam") && err.contains("end-of-file"), "{err}");
    assert!(!dir.path().join("bad.bam").exists(), "nothing is committed");
}

/// The index built while writing (htslib's on-the-fly indexing) says what the index built from the
/// finished file says: the same bytes (a BAI is raw; a CRAI is gzip, compared inflated).
#[test]
fn the_index_built_while_writing_matches_one_built_from_the_finished_file() {
    use std::io::Read;
    let inflate = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            return bytes;
        }
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut text).unwrap();
        text
    };
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(3_000);
    let formats = [(OutputFormat::Bam, "bam"), (OutputFormat::Cram { reference_fasta: fasta.clone() }, "cram")];
    for (format, ext) in formats {
        for threads in [0, 2] {
            let written = write(&dir.path().join(format!("t{threads}.{ext}")), format.clone(), &header, &recs, threads);
            let rebuilt = dir.path().join(format!("rebuilt-t{threads}.{ext}.index"));
            build_index(&written.data.path, &rebuilt, 1, &written.data.path).unwrap();
            assert_eq!(inflate(&written.index.path), inflate(&rebuilt), "{ext}, {threads} threads");
        }
    }
}
