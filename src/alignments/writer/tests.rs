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

/// A folder with the test reference, a header for it and `n` records.
fn fixture(n: usize) -> (tempfile::TempDir, Header, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    (dir, header, records(n))
}

#[test]
fn bam_is_written_at_the_level_asked_for() {
    let (dir, header, recs) = fixture(4_000);
    let fast = write(&dir.path().join("fast.bam"), OutputFormat::Bam { level: 1 }, &header, &recs, 0);
    let small = write(&dir.path().join("small.bam"), OutputFormat::Bam { level: 9 }, &header, &recs, 0);
    let default = write(&dir.path().join("default.bam"), OutputFormat::bam(), &header, &recs, 0);
    let size = |w: &WrittenAlignment| std::fs::metadata(&w.data.path).unwrap().len();
    assert!(size(&small) < size(&fast), "level 9 {} bytes, level 1 {}", size(&small), size(&fast));
    assert!(size(&default) < size(&fast) && size(&default) >= size(&small));
    let back = |w: &WrittenAlignment| read_all(&w.data.path, None).unwrap();
    assert!(back(&fast) == back(&small) && back(&fast) == back(&default), "the level changes no record");
}

#[test]
fn bam_is_indexed_committed_and_identical_at_any_thread_count() {
    let (dir, header, recs) = fixture(4_000);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let one = write(&out.join("a.bam"), OutputFormat::bam(), &header, &recs, 0);
    let four = write(&out.join("b.bam"), OutputFormat::bam(), &header, &recs, 4);
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
        let mut w = AlignmentWriter::create(&out.join("x.bam"), OutputFormat::bam(), &header, 2).unwrap();
        w.write(&recs[0]).unwrap();
    }
    assert!(names(&out).is_empty(), "{:?}", names(&out));
    write(&out.join("x.bam"), OutputFormat::bam(), &header, &recs, 1);
    let second = write(&out.join("x.bam"), OutputFormat::bam(), &header, &recs[..50], 1);
    assert_eq!(names(&out), ["x.bam", "x.bam.bai", "x.bam.bai.md5", "x.bam.md5"]);
    assert_eq!(read_all(&second.data.path, None).unwrap().len(), 50);
}

#[test]
fn bad_names_and_missing_fai_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let err = AlignmentWriter::create(&dir.path().join("x.sam"), OutputFormat::bam(), &header, 0).err().unwrap();
    assert!(matches!(err, WriteError::BadName { expected: "bam", .. }), "{err}");
    let mut broken = Header::new();
    broken.push_record(rust_htslib::bam::header::HeaderRecord::new(b"SQ").push_tag(b"SN", "chr1"));
    let err = AlignmentWriter::create(&dir.path().join("y.bam"), OutputFormat::bam(), &broken, 0).err().unwrap();
    assert!(matches!(err, WriteError::Hts { action: "parse the header", .. }), "{err}");
    assert!(names(dir.path()).iter().all(|n| !n.contains("y.bam")), "{:?}", names(dir.path()));
    std::fs::remove_file(dir.path().join("ref.fa.fai")).unwrap();
    let format = OutputFormat::Cram { reference_fasta: fasta };
    let err = AlignmentWriter::create(&dir.path().join("x.cram"), format, &header, 0).err().unwrap();
    assert!(matches!(err, WriteError::MissingFai { .. }), "{err}");
    let err =
        AlignmentWriter::create(&dir.path().join("no/such/x.bam"), OutputFormat::bam(), &header, 0).err().unwrap();
    assert!(err.to_string().contains("x.bam"), "{err}");
}

/// Writes `recs[cut[i]..cut[i + 1]]` as slice `i` (`<dir>/rank-<i>.bam`) and returns the paths.
fn write_slices(dir: &Path, header: &Header, recs: &[Record], cut: &[usize]) -> Vec<PathBuf> {
    let mut slices = Vec::new();
    for (i, range) in cut.windows(2).enumerate() {
        let path = dir.join(format!("rank-{i}.bam"));
        let mut w = AlignmentWriter::create_slice(&path, header, DEFAULT_BAM_LEVEL, 2).unwrap();
        for r in &recs[range[0]..range[1]] {
            w.write(r).unwrap();
        }
        let (written, n) = w.finish_shard().unwrap();
        assert_eq!(written, path);
        assert_eq!(n as usize, range[1] - range[0]);
        slices.push(path);
    }
    slices
}

#[test]
fn bam_slices_join_into_one_indexed_bam_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, contigs) = reference(dir.path());
    let header = header_for(&fasta, &contigs);
    let recs = records(3_000);
    let chr2 = recs.iter().position(|r| r.tid() == 1).unwrap();
    // Four slices in coordinate order: one cut inside chr1, one empty (a rank that owned
    // nothing), one holding the end of chr1 and the start of chr2, the last the rest and the
    // unmapped pair.
    let cut = [0, 700, 700, chr2 + 600, recs.len()];
    let slices = write_slices(dir.path(), &header, &recs, &cut);
    for path in &slices {
        // A slice has its index (built while writing), neither has an `.md5`.
        let bai = with_suffix(path, "bai");
        assert!(bai.is_file(), "{} has no index", path.display());
        assert!(!with_suffix(path, "md5").exists() && !with_suffix(&bai, "md5").exists());
        // Records start on a block boundary after the header.
        let start = record_blocks_start(path).unwrap();
        assert!(start > 0 && start < std::fs::metadata(path).unwrap().len());
    }
    // A slice cannot be finished as a whole file.
    let w = AlignmentWriter::create_slice(&dir.path().join("whole.bam"), &header, DEFAULT_BAM_LEVEL, 0).unwrap();
    assert!(matches!(w.finish(), Err(WriteError::Hts { action: "finish a slice as a whole file", .. })));
    assert!(names(dir.path()).iter().all(|n| !n.contains("whole.bam")), "{:?}", names(dir.path()));

    let out = dir.path().join("joined.bam");
    let joined = concatenate_bam(&slices, &out, recs.len() as u64).unwrap();
    assert!(joined.index.path.is_file() && with_suffix(&out, "md5").is_file());
    assert_eq!(joined.index.path, with_suffix(&out, "bai"));
    // The MD5 hashed while copying is the file's.
    let (md5, size) = crate::output_file::md5_of_file(&out).unwrap();
    assert_eq!((joined.data.md5.as_str(), joined.data.size), (md5.as_str(), size));
    assert_eq!(std::fs::read_to_string(with_suffix(&out, "md5")).unwrap(), format!("{md5}  joined.bam\n"));
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
    // A slice whose index is missing or damaged is refused, naming the index.
    let index_1 = with_suffix(&slices[1], "bai");
    let saved = std::fs::read(&index_1).unwrap();
    std::fs::remove_file(&index_1).unwrap();
    let err = concatenate_bam(&slices, &dir.path().join("bad.bam"), 0).unwrap_err().to_string();
    assert!(err.contains("rank-1.bam.bai"), "{err}");
    std::fs::write(&index_1, &saved[..saved.len() - 3]).unwrap();
    let err = concatenate_bam(&slices, &dir.path().join("bad.bam"), 0).unwrap_err();
    assert!(matches!(&err, WriteError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidData), "{err}");
    assert!(err.to_string().contains("rank-1.bam.bai") && err.to_string().contains("BAI"), "{err}");
    // An index that is not this slice's (offsets beyond its blocks) is refused.
    std::fs::copy(with_suffix(&slices[3], "bai"), &index_1).unwrap();
    let err = concatenate_bam(&slices, &dir.path().join("bad.bam"), 0).unwrap_err().to_string();
    assert!(err.contains("rank-1.bam.bai") && err.contains("outside the slice"), "{err}");
    std::fs::write(&index_1, &saved).unwrap();
    // A slice without its end-of-file block (a rank died while writing) is refused.
    let bytes = std::fs::read(&slices[2]).unwrap();
    std::fs::write(&slices[2], &bytes[..bytes.len() - 28]).unwrap();
    let err = concatenate_bam(&slices, &dir.path().join("bad.bam"), 0).unwrap_err().to_string();
    assert!(err.contains("rank-2.bam") && err.contains("end-of-file"), "{err}");
    assert!(names(dir.path()).iter().all(|n| !n.contains("bad.bam")), "nothing is committed: {:?}", names(dir.path()));
    let err = concatenate_bam(&[], &dir.path().join("bad.bam"), 0).unwrap_err().to_string();
    assert!(err.contains("no BAM slices"), "{err}");
}

/// The SAM spec's `reg2bin` for the 0-based half-open `[beg, end)`.
fn reg2bin(beg: i64, end: i64) -> u16 {
    let end = end - 1;
    for (shift, first) in [(14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)] {
        if beg >> shift == end >> shift {
            return (first + (beg >> shift)) as u16;
        }
    }
    0
}

/// Contigs of several 16 kb windows, and records over them in coordinate order: reads of varied
/// lengths, spliced reads spanning windows, gaps of empty windows, runs at one position, unmapped
/// mates placed at their mate's position, and unmapped pairs without coordinates at the end. The
/// last contig has no records.
fn long_contigs_and_records() -> (Header, Vec<(String, i64)>, Vec<Record>) {
    let contigs: Vec<(String, i64)> = [("chr1", 300_000), ("chr2", 120_000), ("chr3", 40_000), ("chr4", 10_000)]
        .map(|(n, l)| (n.to_string(), l))
        .into();
    let md5 = "0123456789abcdef0123456789abcdef";
    let spec_contigs: Vec<(&str, u64, &str)> = contigs.iter().map(|(n, l)| (n.as_str(), *l as u64, md5)).collect();
    let header = build_header(&spec(&spec_contigs, "file:///ref.fa")).unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut out = Vec::new();
    for (tid, (_, len)) in contigs.iter().enumerate().take(3) {
        let mut pos = next(500) as i64;
        while pos < len - 21_000 {
            let name = format!("r{}", out.len());
            let spliced = next(100) == 0;
            let cigar = if spliced {
                CigarString(vec![Cigar::Match(40), Cigar::RefSkip(next(20_000) as u32 + 1_000), Cigar::Match(40)])
            } else {
                CigarString(vec![Cigar::Match(next(100) as u32 + 50)])
            };
            let read_len = cigar.iter().filter(|c| matches!(c, Cigar::Match(_))).map(|c| c.len() as usize).sum();
            let seq: Vec<u8> = (0..read_len).map(|_| b"ACGT"[next(4) as usize]).collect();
            let qual: Vec<u8> = (0..read_len).map(|_| 20 + next(20) as u8).collect();
            let mut r = Record::new();
            r.set(name.as_bytes(), Some(&cigar), &seq, &qual);
            r.set_tid(tid as i32);
            r.set_pos(pos);
            let end = pos
                + cigar
                    .iter()
                    .map(|c| if matches!(c, Cigar::Match(_) | Cigar::RefSkip(_)) { c.len() as i64 } else { 0 })
                    .sum::<i64>();
            r.set_bin(reg2bin(pos, end));
            r.set_mapq(60);
            let placed_mate = next(10) == 0;
            r.set_flags(if placed_mate { 0x1 | 0x8 | 0x40 } else { 0x1 | 0x2 | 0x40 | 0x20 });
            r.set_mtid(tid as i32);
            r.set_mpos(if placed_mate { pos } else { pos + 200 });
            r.set_insert_size(if placed_mate { 0 } else { 250 });
            out.push(r);
            if placed_mate {
                let mut mate = Record::new();
                let seq: Vec<u8> = (0..60).map(|_| b"ACGT"[next(4) as usize]).collect();
                mate.set(name.as_bytes(), None, &seq, &[30; 60]);
                mate.set_flags(0x1 | 0x4 | 0x80);
                mate.set_tid(tid as i32);
                mate.set_pos(pos);
                mate.set_mtid(tid as i32);
                mate.set_mpos(pos);
                mate.set_bin(reg2bin(pos, pos + 1));
                out.push(mate);
            }
            pos += match next(400) {
                0 => 20_000 + next(40_000) as i64, // empty windows
                1..=40 => 0,                       // several records at one position
                _ => next(6) as i64,
            };
        }
    }
    for i in 0..30 {
        let mut r = Record::new();
        r.set(format!("lost{i}").as_bytes(), None, b"ACGTACGTAC", &[30; 10]);
        r.set_flags(0x1 | 0x4 | 0x8 | if i % 2 == 0 { 0x40 } else { 0x80 });
        r.set_bin(4680);
        out.push(r);
    }
    (header, contigs, out)
}

/// Per reference: the pseudo-bin (begin, end, mapped, unmapped) and the linear index; then the
/// count of records without coordinates. Bins proper are left out (htslib folds them per file).
type IndexSummary = (Vec<(Option<[u64; 4]>, Vec<u64>)>, Option<u64>);

fn index_summary(path: &Path) -> IndexSummary {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"BAI\x01");
    let at = std::cell::Cell::new(4);
    let int = |n: usize| {
        let v = bytes[at.get()..at.get() + n].iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        at.set(at.get() + n);
        v
    };
    let n_ref = int(4);
    let mut refs = Vec::new();
    for _ in 0..n_ref {
        let mut pseudo = None;
        for _ in 0..int(4) {
            let bin = int(4);
            let chunks: Vec<u64> = (0..int(4) * 2).map(|_| int(8)).collect();
            if bin == 37450 {
                pseudo = Some(<[u64; 4]>::try_from(chunks).unwrap());
            }
        }
        let linear = (0..int(4)).map(|_| int(8)).collect();
        refs.push((pseudo, linear));
    }
    let n_no_coor = (at.get() < bytes.len()).then(|| int(8));
    assert_eq!(at.get(), bytes.len());
    (refs, n_no_coor)
}

/// The index merged from the slices' indexes answers every region query with the records an index
/// htslib builds over the joined file gives, whatever the cuts: inside contigs, between records at
/// one position, at contig boundaries, before the unmapped records, empty slices, 2 to 4 slices.
/// Its counts and linear index are the same too.
#[test]
fn merged_slice_indexes_answer_region_queries_as_an_index_of_the_joined_file() {
    use rust_htslib::bam::{FetchDefinition, IndexedReader};
    let dir = tempfile::tempdir().unwrap();
    let (header, contigs, recs) = long_contigs_and_records();
    let first = |tid: i32| recs.iter().position(|r| r.tid() == tid).unwrap();
    let (chr2, chr3, no_coor) = (first(1), first(2), first(-1));
    let same_pos = (1..chr2).find(|&i| recs[i].pos() == recs[i - 1].pos() && i > chr2 / 2).unwrap();
    let after_gap = (1..chr2).find(|&i| recs[i].pos() - recs[i - 1].pos() > 20_000).unwrap();
    let cut_sets: Vec<Vec<usize>> = vec![
        vec![0, chr2 / 3, chr2 + (chr3 - chr2) / 2, recs.len()],
        vec![0, chr2, chr3, recs.len()],
        vec![0, same_pos, same_pos, no_coor, recs.len()],
        vec![0, after_gap, chr2 / 2, same_pos, recs.len()],
        vec![0, chr2 - 1, recs.len()],
        vec![0, 0, chr3 + 5, recs.len()],
        vec![0, recs.len()],
    ];
    let (mut mapped, mut unmapped) = (vec![0u64; contigs.len()], vec![0u64; contigs.len()]);
    for r in recs.iter().filter(|r| r.tid() >= 0) {
        let counts = if r.is_unmapped() { &mut unmapped } else { &mut mapped };
        counts[r.tid() as usize] += 1;
    }
    let fetch_all = |reader: &mut IndexedReader, what: FetchDefinition| -> Vec<Record> {
        reader.fetch(what).unwrap();
        reader.records().map(|r| r.unwrap()).collect()
    };
    for (case, cut) in cut_sets.iter().enumerate() {
        let case_dir = dir.path().join(format!("case{case}"));
        std::fs::create_dir(&case_dir).unwrap();
        let slices = write_slices(&case_dir, &header, &recs, cut);
        let joined = case_dir.join("joined.bam");
        let merged_index = concatenate_bam(&slices, &joined, recs.len() as u64).unwrap().index.path;
        let built_index = case_dir.join("built.bai");
        build_index(&joined, &built_index, 1, &joined).unwrap();

        let merged_summary = index_summary(&merged_index);
        assert_eq!(merged_summary, index_summary(&built_index), "cuts {cut:?}");
        let mut merged = IndexedReader::from_path_and_index(&joined, &merged_index).unwrap();
        let mut built = IndexedReader::from_path_and_index(&joined, &built_index).unwrap();
        let stats = merged.index_stats().unwrap();
        assert_eq!(stats, built.index_stats().unwrap(), "cuts {cut:?}");
        for (tid, &(_, _, m, u)) in stats.iter().take(contigs.len()).enumerate() {
            assert_eq!((m, u), (mapped[tid], unmapped[tid]), "cuts {cut:?}, tid {tid}");
        }
        assert_eq!(stats.last().unwrap().3, (recs.len() - no_coor) as u64);

        // Regions: whole contigs, windows of several sizes across each contig, 1-base regions
        // and windows at and around the records on each side of every cut.
        let mut regions: Vec<(i32, i64, i64)> = Vec::new();
        for (tid, (_, len)) in contigs.iter().enumerate() {
            let tid = tid as i32;
            regions.push((tid, 0, *len));
            for size in [1, 100, 5_000, 16_384, 40_000] {
                regions.extend((0..*len).step_by(7_919).map(|beg| (tid, beg, (beg + size).min(*len))));
            }
            regions.push((tid, len - 1, *len));
        }
        for &i in &cut[1..cut.len() - 1] {
            for r in [i.checked_sub(1).map(|i| &recs[i]), recs.get(i)].into_iter().flatten() {
                if r.tid() < 0 {
                    continue;
                }
                for (beg, size) in [(-1, 1), (0, 1), (1, 1), (0, 1_000), (0, 20_000), (-16_384, 16_385)] {
                    let beg = (r.pos() + beg).max(0);
                    regions.push((r.tid(), beg, beg + size));
                }
            }
        }
        let mut seen = 0;
        for &(tid, beg, end) in &regions {
            let want = fetch_all(&mut built, FetchDefinition::Region(tid, beg, end));
            let got = fetch_all(&mut merged, FetchDefinition::Region(tid, beg, end));
            assert!(
                got == want,
                "cuts {cut:?}: region {tid}:{beg}-{end}: {} records, {} expected",
                got.len(),
                want.len()
            );
            seen += got.len();
        }
        assert!(seen > recs.len(), "the regions read {seen} records");
        for tid in 0..contigs.len() as i32 {
            let got = fetch_all(&mut merged, FetchDefinition::CompleteTid(tid));
            assert_eq!(got.len(), recs.iter().filter(|r| r.tid() == tid).count(), "cuts {cut:?}, tid {tid}");
        }
        let got = fetch_all(&mut merged, FetchDefinition::Unmapped);
        assert!(got == fetch_all(&mut built, FetchDefinition::Unmapped), "cuts {cut:?}: unmapped");
        assert_eq!(got.len(), recs.len() - no_coor, "cuts {cut:?}");
        assert!(fetch_all(&mut merged, FetchDefinition::All) == recs, "cuts {cut:?}");
    }
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
    let formats = [(OutputFormat::bam(), "bam"), (OutputFormat::Cram { reference_fasta: fasta.clone() }, "cram")];
    for (format, ext) in formats {
        for threads in [0, 2] {
            let written = write(&dir.path().join(format!("t{threads}.{ext}")), format.clone(), &header, &recs, threads);
            let rebuilt = dir.path().join(format!("rebuilt-t{threads}.{ext}.index"));
            build_index(&written.data.path, &rebuilt, 1, &written.data.path).unwrap();
            assert_eq!(inflate(&written.index.path), inflate(&rebuilt), "{ext}, {threads} threads");
        }
    }
}

/// The bytes per window read from an index: windows no record overlaps get none, and a
/// reference's windows add up to its records' compressed span (from the pseudo-bin).
#[test]
fn window_bytes_follow_the_records_and_add_up_to_each_references_span() {
    let dir = tempfile::tempdir().unwrap();
    let (header, contigs, recs) = long_contigs_and_records();
    let written = write(&dir.path().join("w.bam"), OutputFormat::bam(), &header, &recs, 2);
    let windows = crate::alignments::bai::window_bytes(&std::fs::read(&written.index.path).unwrap()).unwrap();
    let (per_ref, _) = index_summary(&written.index.path);
    for (tid, (name, len)) in contigs.iter().enumerate() {
        let bytes = windows.get(tid).cloned().unwrap_or_default();
        let mut overlapped = vec![false; (*len as usize).div_ceil(1 << 14)];
        for r in recs.iter().filter(|r| r.tid() == tid as i32) {
            let end = if r.is_unmapped() { r.pos() + 1 } else { r.cigar().end_pos() };
            for w in (r.pos() >> 14)..=((end - 1) >> 14) {
                overlapped[w as usize] = true;
            }
        }
        for (w, &b) in bytes.iter().enumerate() {
            assert!(b == 0 || overlapped[w], "{name}: window {w} has no record but {b} bytes");
        }
        match per_ref[tid].0 {
            Some([beg, end, _, _]) => {
                assert_eq!(bytes.iter().sum::<u64>(), (end >> 16) - (beg >> 16), "{name}");
                assert!(*len < 100_000 || bytes.iter().filter(|&&b| b > 0).count() > 3, "{name}: {bytes:?}");
            }
            None => assert!(bytes.iter().all(|&b| b == 0), "{name}"),
        }
    }
}
