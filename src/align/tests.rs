//! Pair alignment on a small random genome: flags, positions, CIGARs, TLEN, tags, SEQ/QUAL
//! orientation, duplicate entries and thread-count independence.

use super::*;
use crate::alignments::keys::{DupKey, Mate, ReadEnd, SortKey};
use crate::reads::PairedFastqReader;
use rust_htslib::bam::Record;
use rust_htslib::bam::record::Aux;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Deterministic pseudo-random bases (xorshift64).
fn random_bases(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x >> 33) as usize % 4]
        })
        .collect()
}

fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        b'T' => b'A',
        _ => b'N',
    }
}

fn revcomp(s: &[u8]) -> Vec<u8> {
    s.iter().rev().map(|&b| complement(b)).collect()
}

/// Qualities `!`.. cycling over Q0..Q40, so that reversal is visible.
fn quals(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'!' + (i % 41) as u8).collect()
}

struct Genome {
    contigs: [Vec<u8>; 2],
    dir: tempfile::TempDir,
    index: Arc<minimap2::Aligner<minimap2::Built>>,
    aligner: PairAligner,
}

fn genome() -> Genome {
    let dir = tempfile::tempdir().unwrap();
    let mut contigs = [random_bases(11, 40_000), random_bases(12, 30_000)];
    // One exact repeat: c1 35,000..35,400 = c2 25,000..25,400.
    let repeat = contigs[0][35_000..35_400].to_vec();
    contigs[1][25_000..25_400].copy_from_slice(&repeat);
    let mut fasta = Vec::new();
    for (name, seq) in ["c1", "c2"].iter().zip(&contigs) {
        fasta.extend_from_slice(format!(">{name}\n").as_bytes());
        for line in seq.chunks(70) {
            fasta.extend_from_slice(line);
            fasta.push(b'\n');
        }
    }
    let fa = dir.path().join("ref.fa");
    std::fs::write(&fa, fasta).unwrap();
    let mmi = dir.path().join("ref.mmi");
    build_index(&fa, &mmi, IndexParams::default(), 1).unwrap();
    let index = Arc::new(load_index(&mmi, 1).unwrap());
    let aligner = PairAligner::new(Arc::clone(&index), AlignOptions::default()).unwrap();
    Genome { contigs, dir, index, aligner }
}

/// A read pair as written to FASTQ (R1, R2 bases; qualities from [`quals`]).
struct SimPair(Vec<u8>, Vec<u8>);

fn write_fastq(path: &Path, reads: impl Iterator<Item = (String, Vec<u8>)>) {
    let mut text = Vec::new();
    for (name, seq) in reads {
        text.extend_from_slice(format!("@{name}\n").as_bytes());
        text.extend_from_slice(&seq);
        text.extend_from_slice(b"\n+\n");
        text.extend_from_slice(&quals(seq.len()));
        text.push(b'\n');
    }
    std::fs::write(path, text).unwrap();
}

fn pair_name(i: usize) -> String {
    format!("SIM:1:FC:1:1101:{}:{}", 100 + i, 200 + i)
}

/// Aligns `pairs` (one batch) on a pool of `threads`.
fn align(g: &Genome, pairs: &[SimPair], threads: usize) -> AlignedBatch {
    align_with(g, &g.aligner, pairs, threads)
}

fn align_with(g: &Genome, aligner: &PairAligner, pairs: &[SimPair], threads: usize) -> AlignedBatch {
    let (p1, p2) = (g.dir.path().join("r1.fq"), g.dir.path().join("r2.fq"));
    write_fastq(&p1, pairs.iter().enumerate().map(|(i, p)| (format!("{}/1", pair_name(i)), p.0.clone())));
    write_fastq(&p2, pairs.iter().enumerate().map(|(i, p)| (format!("{}/2", pair_name(i)), p.1.clone())));
    let cancel = AtomicBool::new(false);
    let mut reader = PairedFastqReader::open(&p1, &p2, &cancel).unwrap();
    let batch = reader.next_batch().unwrap().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let rg = ReadGroup { id: "L1".into(), library_index: 3 };
    aligner.align_batch(&batch, 1000, &rg, &pool).unwrap()
}

/// The records of pair `i`, in emission order.
fn records_of(batch: &AlignedBatch, i: usize) -> Vec<&Record> {
    batch.records.iter().filter(|(k, _)| k.pair_id == 1000 + i as u64).map(|(_, r)| r).collect()
}

fn int_tag(r: &Record, tag: &[u8]) -> Option<i64> {
    match r.aux(tag).ok()? {
        Aux::U8(v) => Some(v.into()),
        Aux::U16(v) => Some(v.into()),
        Aux::U32(v) => Some(v.into()),
        Aux::I8(v) => Some(v.into()),
        Aux::I16(v) => Some(v.into()),
        Aux::I32(v) => Some(v.into()),
        _ => None,
    }
}

fn str_tag(r: &Record, tag: &[u8]) -> Option<String> {
    match r.aux(tag).ok()? {
        Aux::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// (flags, tid, pos, CIGAR, mtid, mpos, TLEN)
fn fields(r: &Record) -> (u16, i32, i64, String, i32, i64, i64) {
    (r.flags(), r.tid(), r.pos(), r.cigar().to_string(), r.mtid(), r.mpos(), r.insert_size())
}

#[test]
fn forward_and_reverse_pairs_get_sam_fields_tags_and_orientation() {
    let g = genome();
    let c1 = &g.contigs[0];
    let pairs = [
        SimPair(c1[1000..1150].to_vec(), revcomp(&c1[1250..1400])),
        SimPair(revcomp(&c1[5000..5150]), c1[4700..4850].to_vec()),
    ];
    let batch = align(&g, &pairs, 2);
    assert_eq!(batch.records.len(), 4);

    let r = records_of(&batch, 0);
    assert_eq!(r[0].qname(), pair_name(0).as_bytes(), "no /1 suffix");
    assert_eq!(fields(r[0]), (99, 0, 1000, "150M".into(), 0, 1250, 400));
    assert_eq!(fields(r[1]), (147, 0, 1250, "150M".into(), 0, 1000, -400));
    assert_eq!(r[1].seq().as_bytes(), c1[1250..1400].to_vec(), "reverse read stored on the forward strand");
    let reversed: Vec<u8> = quals(150).iter().rev().map(|q| q - 33).collect();
    assert_eq!(r[1].qual(), &reversed[..]);
    assert_eq!(r[0].qual()[..3], [0, 1, 2]);
    for rec in &r {
        assert_eq!(int_tag(rec, b"NM"), Some(0));
        assert!(int_tag(rec, b"AS").unwrap() > 250);
        assert_eq!(str_tag(rec, b"MC").as_deref(), Some("150M"));
        assert_eq!(int_tag(rec, b"MQ"), Some(60));
        assert_eq!(str_tag(rec, b"RG").as_deref(), Some("L1"));
        assert!(rec.aux(b"SA").is_err());
        assert_eq!(rec.mapq(), 60);
    }

    let r = records_of(&batch, 1);
    assert_eq!(fields(r[0]), (83, 0, 5000, "150M".into(), 0, 4700, -450));
    assert_eq!(fields(r[1]), (163, 0, 4700, "150M".into(), 0, 5000, 450));
    assert_eq!(r[0].seq().as_bytes(), c1[5000..5150].to_vec());

    let keys: Vec<SortKey> = batch.records.iter().map(|(k, _)| *k).collect();
    assert_eq!((keys[0].tid, keys[0].pos, keys[0].reverse, keys[0].rank), (0, 1000, false, 0));
    assert_eq!((keys[3].pos, keys[3].reverse, keys[3].rank, keys[3].pair_id), (4700, false, 1, 1001));
    assert_eq!(batch.candidates.len(), 2);
    let end = |tid, unclipped_5prime, reverse| ReadEnd { tid, unclipped_5prime, reverse };
    assert_eq!(
        batch.candidates[0].key,
        DupKey::Pair { library: 3, first: end(0, 1000, false), second: end(0, 1399, true) }
    );
    assert_eq!(
        batch.candidates[1].key,
        DupKey::Pair { library: 3, first: end(0, 4700, false), second: end(0, 5149, true) }
    );
    // Q15..Q40 of each 150-base read count: 3 full cycles of 26 values plus 27 leftover bases.
    let one: u32 = quals(150).iter().map(|q| u32::from(q - 33)).filter(|&q| q >= 15).sum();
    assert_eq!(batch.candidates[0].score, 2 * one);
    assert_eq!(batch.candidates[0].pair_id, 1000);
    assert_eq!(batch.candidates[0].position.map(|p| (p.tile, p.x, p.y)), Some((1101, 100, 200)));
    assert_eq!(batch.stats.properly_paired_reads, 4);
    assert_eq!(batch.stats.mapped_reads, 4);
}

#[test]
fn unmapped_mates_are_placed_with_their_mapped_mate() {
    let g = genome();
    let c2 = &g.contigs[1];
    let pairs = [
        SimPair(revcomp(&c2[2000..2150]), random_bases(99, 150)),
        SimPair(random_bases(98, 150), random_bases(97, 150)),
    ];
    let batch = align(&g, &pairs, 1);
    let r = records_of(&batch, 0);
    // R1: paired, reverse, mate unmapped, first; placed mate at its own position.
    assert_eq!(fields(r[0]), (0x1 | 0x8 | 0x10 | 0x40, 1, 2000, "150M".into(), 1, 2000, 0));
    assert_eq!(fields(r[1]), (0x1 | 0x4 | 0x20 | 0x80, 1, 2000, "".into(), 1, 2000, 0));
    assert_eq!(r[1].mapq(), 0);
    assert_eq!(r[1].seq().as_bytes(), random_bases(99, 150), "unmapped SEQ as read");
    assert_eq!(str_tag(r[1], b"MC").as_deref(), Some("150M"));
    assert!(r[0].aux(b"MC").is_err() && r[0].aux(b"MQ").is_err());
    assert!(r[1].aux(b"NM").is_err());
    assert_eq!(batch.records[1].0.tid, 1, "placed unmapped mate sorts with its mate");
    assert_eq!(
        batch.candidates[0].key,
        DupKey::Fragment { library: 3, end: ReadEnd { tid: 1, unclipped_5prime: 2149, reverse: true }, mate: Mate::R1 }
    );

    let r = records_of(&batch, 1);
    assert_eq!(fields(r[0]), (77, -1, -1, "".into(), -1, -1, 0));
    assert_eq!(fields(r[1]), (141, -1, -1, "".into(), -1, -1, 0));
    assert_eq!(r[0].bin(), 4680);
    assert_eq!(batch.records[2].0.tid, SortKey::UNPLACED);
    assert_eq!(batch.candidates.len(), 1, "no entry for an unmapped pair");
    assert_eq!((batch.stats.singleton_reads, batch.stats.unmapped_pairs), (1, 1));
}

#[test]
fn chimeric_reads_get_supplementary_records_with_sa() {
    let g = genome();
    let (c1, c2) = (&g.contigs[0], &g.contigs[1]);
    // R1's second half pairs with R2 on c2; its first half comes from c1. The junction is chosen
    // so that neither part extends by a chance match.
    let s = (12_000..).find(|&s| c2[s - 1] != c1[8074] && c2[s] != c1[8075]).unwrap();
    let r1 = [&c1[8000..8075], &c2[s..s + 75]].concat();
    let batch = align(&g, &[SimPair(r1.clone(), revcomp(&c2[s + 200..s + 350]))], 2);
    let r = records_of(&batch, 0);
    assert_eq!(r.len(), 3, "R1, R2 and R1's supplementary");
    let p = s as i64;
    assert_eq!(fields(r[0]), (99, 1, p, "75S75M".into(), 1, p + 200, 350));
    assert_eq!(fields(r[2]), (0x1 | 0x2 | 0x20 | 0x40 | 0x800, 0, 8000, "75M75S".into(), 1, p + 200, 350));
    assert_eq!(r[2].seq().as_bytes(), r1, "supplementary keeps the whole SEQ (soft clips)");
    let sa_primary = str_tag(r[0], b"SA").unwrap();
    assert_eq!(sa_primary, format!("c1,8001,+,75M75S,{},0;", r[2].mapq()));
    let sa_supp = str_tag(r[2], b"SA").unwrap();
    assert_eq!(sa_supp, format!("c2,{},+,75S75M,{},0;", p + 1, r[0].mapq()));
    assert!(r[1].aux(b"SA").is_err());
    assert_eq!(str_tag(r[1], b"MC").as_deref(), Some("75S75M"), "MC is the mate's primary CIGAR");
    assert_eq!(str_tag(r[2], b"MC").as_deref(), Some("150M"));
    assert_eq!(batch.records[2].0.rank, 2);
    assert_eq!((batch.stats.supplementary_records, batch.stats.chimeric_reads, batch.stats.records), (1, 1, 3));
    // The duplicate key uses the primaries only.
    let end = |tid, unclipped_5prime, reverse| ReadEnd { tid, unclipped_5prime, reverse };
    assert_eq!(
        batch.candidates[0].key,
        DupKey::Pair { library: 3, first: end(1, p - 75, false), second: end(1, p + 349, true) }
    );
}

#[test]
fn soft_clips_follow_the_strand_and_n_bases_count_in_nm() {
    let g = genome();
    let (c1, c2) = (&g.contigs[0], &g.contigs[1]);
    // 20 bases that mismatch the reference before R1's start and after R2's end.
    let head: Vec<u8> = c1[14_980..15_000].iter().map(|&b| complement(b)).collect();
    let tail: Vec<u8> = c1[15_430..15_450].iter().map(|&b| complement(b)).collect();
    let clipped =
        SimPair([&head[..], &c1[15_000..15_130]].concat(), revcomp(&[&c1[15_300..15_430], &tail[..]].concat()));
    let mut with_n = c2[20_000..20_150].to_vec();
    with_n[40] = b'N';
    with_n[100] = b'N';
    let ns = SimPair(with_n.clone(), revcomp(&c2[20_200..20_350]));
    let batch = align(&g, &[clipped, ns], 2);

    let r = records_of(&batch, 0);
    assert_eq!(fields(r[0]), (99, 0, 15_000, "20S130M".into(), 0, 15_300, 430));
    assert_eq!(fields(r[1]), (147, 0, 15_300, "130M20S".into(), 0, 15_000, -430));
    assert_eq!(str_tag(r[0], b"MC").as_deref(), Some("130M20S"));
    let end = |tid, unclipped_5prime, reverse| ReadEnd { tid, unclipped_5prime, reverse };
    assert_eq!(
        batch.candidates[0].key,
        DupKey::Pair { library: 3, first: end(0, 14_980, false), second: end(0, 15_449, true) }
    );

    let r = records_of(&batch, 1);
    assert_eq!(fields(r[0]), (99, 1, 20_000, "150M".into(), 1, 20_200, 350));
    assert_eq!(int_tag(r[0], b"NM"), Some(2), "ambiguous bases count in NM");
    assert_eq!(r[0].seq().as_bytes(), with_n);
}

#[test]
fn mates_on_different_contigs_and_empty_mates_are_not_proper() {
    let g = genome();
    let (c1, c2) = (&g.contigs[0], &g.contigs[1]);
    let pairs = [
        SimPair(c1[20_000..20_150].to_vec(), revcomp(&c2[5000..5150])),
        SimPair(c1[30_000..30_150].to_vec(), Vec::new()),
    ];
    let batch = align(&g, &pairs, 2);
    let r = records_of(&batch, 0);
    assert_eq!(fields(r[0]), (0x1 | 0x20 | 0x40, 0, 20_000, "150M".into(), 1, 5000, 0));
    assert_eq!(fields(r[1]), (0x1 | 0x10 | 0x80, 1, 5000, "150M".into(), 0, 20_000, 0));
    assert_eq!(batch.stats.mate_other_contig_reads, 2);
    let r = records_of(&batch, 1);
    assert_eq!(fields(r[0]), (0x1 | 0x8 | 0x40, 0, 30_000, "150M".into(), 0, 30_000, 0));
    assert_eq!(fields(r[1]), (0x1 | 0x4 | 0x80, 0, 30_000, "".into(), 0, 30_000, 0));
    assert_eq!(r[1].seq().len(), 0);
}

#[test]
fn output_does_not_depend_on_the_pool_size() {
    let g = genome();
    let (c1, c2) = (&g.contigs[0], &g.contigs[1]);
    let pairs: Vec<SimPair> = (0..300)
        .map(|i| {
            let (c, s) = if i % 3 == 0 { (c2, 200 + i * 90) } else { (c1, 300 + i * 120) };
            let frag = &c[s..s + 300 + i % 200];
            let (a, b) = (frag[..150].to_vec(), revcomp(&frag[frag.len() - 150..]));
            if i % 2 == 0 { SimPair(a, b) } else { SimPair(b, a) }
        })
        .collect();
    let one = align(&g, &pairs, 1);
    let three = align(&g, &pairs, 3);
    assert_eq!(one.records.len(), three.records.len());
    for ((k1, r1), (k3, r3)) in one.records.iter().zip(&three.records) {
        assert_eq!(k1, k3);
        assert_eq!(r1, r3);
    }
    assert_eq!(one.candidates, three.candidates);
    assert_eq!(one.stats, three.stats);
    assert_eq!(one.stats.pairs, 300);
    assert_eq!(one.stats.properly_paired_reads, 600);
    // Every read exactly once as a primary record.
    let primaries = one.records.iter().filter(|(_, r)| r.flags() & 0x900 == 0).count();
    assert_eq!(primaries, 600);
}

#[test]
fn repeats_get_mapq_zero_and_secondary_records_only_on_request() {
    let g = genome();
    let c1 = &g.contigs[0];
    let pairs = [SimPair(c1[35_050..35_200].to_vec(), revcomp(&c1[35_200..35_350]))];
    let plain = align(&g, &pairs, 1);
    assert_eq!(plain.records.len(), 2, "no secondary records by default");
    let options = AlignOptions { secondary: true, ..AlignOptions::default() };
    let with_secondary = align_with(&g, &PairAligner::new(Arc::clone(&g.index), options).unwrap(), &pairs, 1);
    let r = records_of(&with_secondary, 0);
    assert_eq!(r.len(), 4, "each mate's other copy as a secondary record");
    assert_eq!(r[0].mapq(), 0);
    let (tid, pos) = (r[0].tid(), r[0].pos());
    let mate = (r[1].tid(), r[1].pos());
    assert!(tid == 0 && pos == 35_050 || tid == 1 && pos == 25_050, "{tid}:{pos}");
    for s in &r[2..] {
        assert_eq!(s.flags() & 0x900, 0x100);
        assert_ne!(s.tid(), if s.flags() & 0x40 != 0 { tid } else { mate.0 }, "the other copy");
        assert_eq!(s.seq().len(), 150);
        assert!(s.aux(b"SA").is_err());
        assert_eq!((s.mtid(), s.mpos()), if s.flags() & 0x40 != 0 { mate } else { (tid, pos) });
    }
    assert_eq!(with_secondary.stats.secondary_records, 2);
    assert_eq!(with_secondary.candidates, plain.candidates);
}
