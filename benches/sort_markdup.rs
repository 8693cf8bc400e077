//! The sort and duplicate-marking hot loops on synthetic data (deterministic, no external data):
//!
//! - `RecordSorter` push + finish + draining the sorted records, 200k realistic 150 bp records
//!   (name, CIGAR with a soft clip, sequence, qualities, NM/AS/MC/MQ/RG tags) in batches of one
//!   aligner batch (2 × 8,192 records): all in memory, and with a 16 MiB budget that spills
//!   several runs under a temp dir and k-way merges them. Building the records is set-up, not
//!   measured.
//! - `markdup::resolve` over 200k candidates (pairs ~95 %, mate-unmapped fragments ~5 %, about
//!   6 % duplicates of which a share sit close on one tile, i.e. optical), one library.
//!
//! `cargo bench --bench sort_markdup` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used)] // set-up code unwraps: a panic aborts the benchmark

use criterion::{BatchSize, Criterion, Throughput};
use dagr::alignments::keys::{DupCandidate, DupKey, FlowcellPosition, Mate, ReadEnd, SortKey};
use dagr::alignments::markdup::{self, MarkdupOptions};
use dagr::alignments::sort::{RecordSorter, SortOptions};
use dagr::reads::PAIRS_PER_BATCH;
use rust_htslib::bam::Record;
use rust_htslib::bam::record::{Aux, Cigar, CigarString};

const RECORDS: usize = 200_000;
const CANDIDATES: usize = 200_000;
const READ_LENGTH: usize = 150;
const SPILL_BUDGET: u64 = 16 << 20;

/// xorshift64*: deterministic, no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Records as the aligner emits them: pairs in input order, R1 then R2, random positions on three
/// contigs (a few pairs unplaced at the end), split into aligner-sized batches.
fn record_batches(seed: u64) -> Vec<Vec<(SortKey, Record)>> {
    let mut rng = Rng(seed);
    let seq: Vec<u8> = (0..READ_LENGTH).map(|i| b"ACGT"[(i * 7 + i / 3) % 4]).collect();
    let qual: Vec<u8> = (0..READ_LENGTH).map(|i| if i % 11 == 0 { 11 } else { 37 }).collect();
    let cigar = CigarString(vec![Cigar::SoftClip(5), Cigar::Match(READ_LENGTH as u32 - 5)]);
    let mut all = Vec::with_capacity(RECORDS);
    for pair_id in 0..(RECORDS / 2) as u64 {
        let unplaced = rng.below(200) == 0;
        let tid = rng.below(3) as u32;
        let pos = rng.below(50_000_000) as i64;
        let name = format!("A00217:76:HFLT3DSXX:1:{}:{}:{}", 1101 + pair_id % 60, rng.below(30_000), rng.below(30_000));
        for rank in 0..2u8 {
            let reverse = rank == 1;
            let key = SortKey {
                tid: if unplaced { SortKey::UNPLACED } else { tid },
                pos: if unplaced { -1 } else { pos + i64::from(rank) * 200 },
                reverse,
                pair_id,
                rank,
            };
            let mut r = Record::new();
            r.set(name.as_bytes(), Some(&cigar), &seq, &qual);
            r.set_tid(if unplaced { -1 } else { tid as i32 });
            r.set_pos(key.pos);
            r.set_mapq(60);
            r.set_flags(0x1 | 0x2 | if reverse { 0x10 | 0x80 } else { 0x20 | 0x40 });
            r.set_mtid(r.tid());
            r.set_mpos(if unplaced { -1 } else { pos + i64::from(1 - rank) * 200 });
            r.set_insert_size(if reverse { -350 } else { 350 });
            r.push_aux(b"NM", Aux::U8((pair_id % 4) as u8)).unwrap();
            r.push_aux(b"AS", Aux::U16(290)).unwrap();
            r.push_aux(b"MC", Aux::String("5S145M")).unwrap();
            r.push_aux(b"MQ", Aux::U8(60)).unwrap();
            r.push_aux(b"RG", Aux::String("S1.L1")).unwrap();
            all.push((key, r));
        }
    }
    let batch = 2 * PAIRS_PER_BATCH;
    let mut batches = Vec::with_capacity(all.len().div_ceil(batch));
    while !all.is_empty() {
        let rest = all.split_off(all.len().min(batch));
        batches.push(std::mem::replace(&mut all, rest));
    }
    batches
}

fn sort_all(
    batches: Vec<Vec<(SortKey, Record)>>,
    memory_bytes: u64,
    tmp: &std::path::Path,
    pool: &rayon::ThreadPool,
) -> (usize, u64) {
    let mut sorter = RecordSorter::new(SortOptions { memory_bytes, tmp_dir: tmp.to_path_buf() }).expect("sorter");
    for b in batches {
        sorter.push(b, pool).expect("push");
    }
    let sorted = sorter.finish(pool).expect("finish");
    let spilled = sorted.stats().spilled_runs;
    let mut n = 0;
    for record in sorted {
        std::hint::black_box(record.expect("sorted record"));
        n += 1;
    }
    (n, spilled)
}

fn bench_sort(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("rayon pool");
    let (n, spilled) = sort_all(record_batches(1), SPILL_BUDGET, tmp.path(), &pool);
    assert_eq!(n, RECORDS);
    eprintln!("sort: {RECORDS} records, {spilled} runs spilled with a {} MiB budget", SPILL_BUDGET >> 20);

    let mut group = c.benchmark_group("sort");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    for (name, budget) in [("in_memory", u64::MAX), ("spill_16MiB", SPILL_BUDGET)] {
        group.bench_function(format!("push_finish_drain_{RECORDS}_records_{name}_2_threads"), |b| {
            b.iter_batched(
                || record_batches(1),
                |batches| sort_all(batches, budget, tmp.path(), &pool),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Candidates as the aligner emits them: ~6 % duplicates of earlier fragments (a third of those
/// on the same tile within 2,500 pixels: optical), ~5 % mate-unmapped fragments.
fn candidates(seed: u64) -> Vec<DupCandidate> {
    let mut rng = Rng(seed);
    let mut out: Vec<DupCandidate> = Vec::with_capacity(CANDIDATES);
    for pair_id in 0..CANDIDATES as u64 {
        let position = FlowcellPosition {
            lane: 1,
            tile: 1101 + rng.below(60) as u32,
            x: rng.below(30_000) as u32,
            y: rng.below(30_000) as u32,
        };
        let score = 4_000 + rng.below(2_000) as u32;
        let name_hash = rng.next();
        if pair_id > 0 && rng.below(100) < 6 {
            let original = out[rng.below(out.len() as u64) as usize];
            let position = match original.position {
                Some(p) if rng.below(3) == 0 => FlowcellPosition { x: p.x + rng.below(2_000) as u32, ..p },
                _ => position,
            };
            out.push(DupCandidate { score, name_hash, pair_id, position: Some(position), ..original });
            continue;
        }
        let tid = rng.below(3) as u32;
        let start = rng.below(50_000_000) as i64;
        let first = ReadEnd { tid, unclipped_5prime: start, reverse: false };
        let key = if rng.below(100) < 5 {
            DupKey::Fragment { library: 0, end: first, mate: if rng.below(2) == 0 { Mate::R1 } else { Mate::R2 } }
        } else {
            let second = ReadEnd { tid, unclipped_5prime: start + 250 + rng.below(300) as i64, reverse: true };
            DupKey::Pair { library: 0, first, second }
        };
        out.push(DupCandidate { key, score, name_hash, pair_id, position: Some(position) });
    }
    out
}

fn bench_markdup(c: &mut Criterion) {
    let input = candidates(7);
    let libraries = vec!["LIB".to_string()];
    let options = MarkdupOptions::default();
    let marks = markdup::resolve(input.clone(), &libraries, &options);
    let m = &marks.metrics()[0];
    eprintln!(
        "markdup: {CANDIDATES} candidates → {} flagged pairs, {} optical, {} unpaired duplicates",
        m.read_pair_duplicates, m.read_pair_optical_duplicates, m.unpaired_read_duplicates
    );

    let mut group = c.benchmark_group("markdup");
    group.throughput(Throughput::Elements(CANDIDATES as u64));
    group.sample_size(20);
    group.bench_function(format!("resolve_{CANDIDATES}_candidates"), |b| {
        b.iter_batched(|| input.clone(), |c| markdup::resolve(c, &libraries, &options), BatchSize::LargeInput)
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_sort(&mut c);
    bench_markdup(&mut c);
    c.final_summary();
}
