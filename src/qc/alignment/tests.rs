use super::*;
use coverage::HANDOVER;
use rust_htslib::bam::record::{Cigar, CigarString};

const PAIRED: u16 = 0x1;
const PROPER: u16 = 0x2;
const REVERSE: u16 = 0x10;
const MATE_REVERSE: u16 = 0x20;
const READ1: u16 = 0x40;
const READ2: u16 = 0x80;
const SECONDARY: u16 = 0x100;
const DUP: u16 = 0x400;
const SUPPLEMENTARY: u16 = 0x800;

struct Rec<'a> {
    name: &'a [u8],
    tid: i32,
    pos: i64,
    len: u32,
    flags: u16,
    mpos: i64,
    tlen: i64,
}

fn record(r: Rec<'_>, low_quality_at: Option<usize>) -> Record {
    let mut rec = Record::new();
    let seq = vec![b'A'; r.len as usize];
    let mut qual = vec![30u8; r.len as usize];
    if let Some(i) = low_quality_at {
        qual[i] = 10;
    }
    rec.set(r.name, Some(&CigarString(vec![Cigar::Match(r.len)])), &seq, &qual);
    rec.set_tid(r.tid);
    rec.set_pos(r.pos);
    rec.set_mtid(r.tid);
    rec.set_mpos(r.mpos);
    rec.set_flags(r.flags);
    rec.set_mapq(60);
    rec.set_insert_size(r.tlen);
    rec
}

fn pair(name: &[u8], tid: i32, p1: i64, p2: i64, len: u32, extra: u16) -> [Record; 2] {
    let tlen = p2 + i64::from(len) - p1;
    let f = PAIRED | PROPER | extra;
    [
        record(Rec { name, tid, pos: p1, len, flags: f | READ1 | MATE_REVERSE, mpos: p2, tlen }, None),
        record(Rec { name, tid, pos: p2, len, flags: f | READ2 | REVERSE, mpos: p1, tlen: -tlen }, None),
    ]
}

fn contigs() -> Vec<ContigTerritory> {
    vec![
        ContigTerritory { name: "c0".into(), length: 100, n_runs: vec![(90, 100)] },
        ContigTerritory::without_n("c1", 50),
    ]
}

#[test]
fn overlapping_mates_count_once_and_n_bases_are_outside_the_territory() {
    let mut qc = AlignmentQc::new(contigs());
    let [a, b] = pair(b"p", 0, 10, 20, 20, 0);
    qc.observe(&a);
    qc.observe(&b);
    let r = qc.finish();
    assert_eq!(r.coverage.genome_territory, 140);
    // 30 loci at depth 1 (10..40), the overlap 20..30 counted once.
    assert!((r.coverage.mean_coverage - 30.0 / 140.0).abs() < 1e-12);
    assert!((r.coverage.pct_1x - 30.0 / 140.0).abs() < 1e-12);
    assert_eq!(r.coverage.median_coverage, 0.0);
    assert_eq!((r.total_reads, r.mapped_reads, r.properly_paired_reads), (2, 2, 2));
}

#[test]
fn a_low_quality_first_mate_base_leaves_the_locus_to_the_second_mate() {
    let mut qc = AlignmentQc::new(contigs());
    let [_, b] = pair(b"p", 0, 10, 20, 20, 0);
    // R1 covers 10..30; its base at 25 (index 15) is below Q20.
    let a = record(
        Rec { name: b"p", tid: 0, pos: 10, len: 20, flags: PAIRED | PROPER | READ1 | MATE_REVERSE, mpos: 20, tlen: 30 },
        Some(15),
    );
    qc.observe(&a);
    qc.observe(&b);
    let r = qc.finish();
    assert!((r.coverage.pct_1x - 30.0 / 140.0).abs() < 1e-12, "{:?}", r.coverage);
}

#[test]
fn duplicates_low_mapq_and_secondary_are_excluded_supplementary_is_not() {
    let mut qc = AlignmentQc::new(contigs());
    let [d1, d2] = pair(b"dup", 0, 0, 40, 10, DUP);
    let [mut m1, m2] = pair(b"lowq", 0, 0, 40, 10, 0);
    m1.set_mapq(19);
    let mut sec =
        record(Rec { name: b"s", tid: 0, pos: 0, len: 10, flags: PAIRED | READ1 | SECONDARY, mpos: 60, tlen: 0 }, None);
    sec.set_mapq(60);
    let sup = record(
        Rec { name: b"u", tid: 0, pos: 50, len: 10, flags: PAIRED | READ1 | SUPPLEMENTARY, mpos: 60, tlen: 0 },
        None,
    );
    for r in [&d1, &m1, &sec, &d2, &m2, &sup] {
        qc.observe(r);
    }
    let r = qc.finish();
    // Only m2 (40..50) and the supplementary record (50..60) count.
    assert!((r.coverage.pct_1x - 20.0 / 140.0).abs() < 1e-12, "{:?}", r.coverage);
    assert_eq!(r.duplicate_reads, 2);
    assert_eq!(r.total_reads, 4);
    assert_eq!((r.samtools.non_primary_alignments, r.samtools.supplementary_alignments), (1, 1));
    assert_eq!(r.unsorted_records, 0);
}

#[test]
fn depth_histogram_median_and_thresholds_over_several_contigs() {
    let mut qc = AlignmentQc::new(contigs());
    // 12 non-overlapping pairs stacked on c1 0..20 and 30..50: depth 12 on 40 of 50 loci.
    let pairs: Vec<[Record; 2]> = (0..12u8).map(|i| pair(&[b'r', i], 1, 0, 30, 20, 0)).collect();
    for mate in 0..2 {
        for p in &pairs {
            qc.observe(&p[mate]);
        }
    }
    let r = qc.finish();
    assert!((r.coverage.pct_10x - 40.0 / 140.0).abs() < 1e-12);
    assert_eq!(r.coverage.pct_15x, 0.0);
    assert!((r.coverage.mean_coverage - 12.0 * 40.0 / 140.0).abs() < 1e-12);
    assert_eq!(r.coverage.median_coverage, 0.0);
    assert_eq!(r.insert_size.pairs, 12);
    assert_eq!((r.insert_size.median, r.insert_size.median_absolute_deviation), (50.0, 0.0));
}

#[test]
fn out_of_order_records_are_counted_not_fatal() {
    let mut qc = AlignmentQc::new(contigs());
    let [a, _] = pair(b"x", 1, 10, 30, 5, 0);
    let [b, _] = pair(b"y", 0, 10, 30, 5, 0);
    qc.observe(&a);
    qc.observe(&b);
    let r = qc.finish();
    assert_eq!(r.unsorted_records, 1);
    assert!(!r.samtools.is_sorted);
}

#[test]
fn picard_median_matches_its_histogram_rule() {
    assert_eq!(picard_median([(1, 1), (2, 1), (3, 1), (4, 1)].into_iter()), 2.5);
    assert_eq!(picard_median([(1, 2), (7, 1)].into_iter()), 1.0);
    assert_eq!(picard_median([(5, 0)].into_iter()), 0.0);
}

#[test]
fn insert_size_mad_and_samtools_sn_text() {
    let mut qc = AlignmentQc::new(contigs());
    let pairs: Vec<[Record; 2]> =
        [(0u8, 10), (1, 20), (2, 30), (3, 60)].iter().map(|&(i, p2)| pair(&[b'q', i], 1, 0, p2, 10, 0)).collect();
    for mate in 0..2 {
        for p in &pairs {
            qc.observe(&p[mate]);
        }
    }
    assert!(!qc.counts.is_sorted || qc.unsorted == 0);
    let r = qc.finish();
    // Sizes 20, 30, 40, 70: median 35, |deviations| 15, 5, 5, 35 → MAD 10.
    assert_eq!((r.insert_size.median, r.insert_size.median_absolute_deviation), (35.0, 10.0));
    assert_eq!(r.samtools_insert_size.inward_pairs, 4);
    assert!((r.samtools_insert_size.average - 40.0).abs() < 1e-9);
    let mut text = Vec::new();
    r.write_samtools_stats(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("# This file was produced by samtools stats"));
    assert!(text.contains("SN\traw total sequences:\t8\t# excluding supplementary and secondary reads\n"));
    assert!(text.contains("SN\treads properly paired:\t8\t# proper-pair bit set\n"));
    assert!(text.contains("SN\terror rate:\t0.000000e+00\t"));
    assert!(text.contains("SN\tinsert size average:\t40.0\n"));
    let json = r.multiqc_custom_content("S");
    assert_eq!(json["data"]["S"]["total_reads"], 8);
}

/// Pairs of varied lengths and inserts (many overlapping, some with low-quality bases,
/// duplicates, low MAPQ and supplementary records) over two contigs, in coordinate order.
fn random_records(seed: u64) -> Vec<Record> {
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let lengths = [3_000i64, 2_000];
    let mut out = Vec::new();
    for i in 0..900u32 {
        let tid = if next(3) == 0 { 1 } else { 0 };
        let len = 40 + next(80) as u32;
        let p1 = next((lengths[tid as usize] - 400) as u64) as i64;
        let p2 = p1 + next(250) as i64;
        let name = format!("q{i}");
        let extra = match next(20) {
            0 => DUP,
            _ => 0,
        };
        let [mut a, mut b] = pair(name.as_bytes(), tid, p1, p2, len, extra);
        if next(4) == 0 {
            // A low-quality base somewhere in the first mate.
            let mut qual = a.qual().to_vec();
            qual[next(u64::from(len)) as usize] = 5;
            let seq = a.seq().as_bytes();
            let cigar = a.cigar().take();
            a.set(name.as_bytes(), Some(&cigar), &seq, &qual);
        }
        if next(25) == 0 {
            b.set_mapq(10);
        }
        out.push(a);
        out.push(b);
        if next(30) == 0 {
            let sup = record(
                Rec {
                    name: b"sup",
                    tid,
                    pos: p1 + 5,
                    len: 30,
                    flags: PAIRED | READ1 | SUPPLEMENTARY,
                    mpos: p2,
                    tlen: 0,
                },
                None,
            );
            out.push(sup);
        }
    }
    out.sort_by_key(|r| (r.tid(), r.pos()));
    out
}

fn territory_with_n() -> Vec<ContigTerritory> {
    vec![
        ContigTerritory { name: "c0".into(), length: 3_000, n_runs: vec![(0, 30), (1_200, 1_260), (2_990, 3_000)] },
        ContigTerritory { name: "c1".into(), length: 2_000, n_runs: vec![(700, 701)] },
    ]
}

/// QC of the records split at `cuts` (slice k holds the records starting in `[cuts[k], cuts[k+1])`,
/// the last up to the end), each slice measured alone and the slices merged.
fn sliced(records: &[Record], cuts: &[Locus], handover: u64) -> Result<AlignmentQcReport, NotExact> {
    let end: Locus = (territory_with_n().len(), 0);
    let mut parts = Vec::new();
    for (k, &from) in cuts.iter().enumerate() {
        let to = cuts.get(k + 1).copied().unwrap_or(end);
        let mut qc = AlignmentQc::slice_handing_over(territory_with_n(), from, to, handover);
        for r in records {
            let at = (r.tid() as usize, r.pos() as u64);
            if at >= from && at < to {
                qc.observe(r);
            }
        }
        // Through the wire format the ranks use.
        let bytes = postcard::to_stdvec(&qc.finish_slice()).unwrap();
        parts.push(postcard::from_bytes(&bytes).unwrap());
    }
    merge_slices(territory_with_n(), parts)
}

#[test]
fn slices_measured_apart_and_merged_give_the_whole_files_report() {
    for seed in [1, 2, 3] {
        let records = random_records(seed);
        let mut whole = AlignmentQc::new(territory_with_n());
        for r in &records {
            whole.observe(r);
        }
        let whole = whole.finish();
        assert!(whole.coverage.pct_1x > 0.5 && whole.coverage.pct_10x > 0.0, "{:?}", whole.coverage);
        let cut_sets: Vec<Vec<Locus>> = vec![
            vec![(0, 0)],
            vec![(0, 0), (0, 1_500)],
            vec![(0, 0), (0, 700), (0, 701), (0, 1_210), (1, 0), (1, 999)],
            // Empty slices, a slice of a few bases, a cut inside an N run and at a contig's start.
            vec![(0, 0), (0, 400), (0, 400), (0, 403), (0, 1_230), (1, 0), (1, 0), (2, 0)],
            (0..40).map(|k| (0, k * 75)).chain((0..20).map(|k| (1, k * 100))).collect(),
        ];
        for cuts in &cut_sets {
            let merged = sliced(&records, cuts, HANDOVER).unwrap();
            assert_eq!(merged, whole, "seed {seed}, cuts {cuts:?}");
            // A hand-over longer than any record's reach past its slice is also exact.
            if cuts.windows(2).all(|w| w[0].0 != w[1].0 || w[1].1 - w[0].1 >= 400) {
                assert_eq!(sliced(&records, cuts, 400).unwrap(), whole, "seed {seed}, cuts {cuts:?}");
            }
        }
        // A hand-over shorter than the reads' reach is refused, never wrong.
        let err = sliced(&records, &[(0, 0), (0, 1_500), (1, 300)], 10).unwrap_err();
        assert!(err.to_string().contains("past"), "{err}");
    }
}
