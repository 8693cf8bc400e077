//! Pair alignment and record building: `PairAligner::align_batch` (minimap2 `map_pair` per pair,
//! then dagr's flags, mate fields, tags, sort keys and duplicate keys) over one full batch of
//! `PAIRS_PER_BATCH` pairs, on a synthetic reference and reads generated in a temp dir
//! (deterministic, no external data).
//!
//! The reference is 2 Mb of random sequence with a few repeat families (so some reads are
//! multi-mapping with MAPQ 0); pairs are 150 bp mates of 250-450 bp fragments, FR orientation,
//! about 1 % substitutions, a small share with a short indel or a soft-clipped adapter tail, 1 %
//! chimeric R1s (supplementary records with `SA`) and a few unmappable pairs. Throughput is in pairs.
//!
//! `cargo bench --bench align_records` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used)] // set-up code unwraps: a panic aborts the benchmark

use criterion::{Criterion, Throughput};
use dagr::align::{AlignOptions, IndexParams, PairAligner, ReadGroup, build_index, load_index};
use dagr::reads::{PAIRS_PER_BATCH, PairedFastqReader, ScanOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const REFERENCE_LENGTH: usize = 2_000_000;
const READ_LENGTH: usize = 150;

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
    fn base(&mut self) -> u8 {
        b"ACGT"[(self.next() >> 62) as usize]
    }
}

/// Random contigs with 20 copies each of 5 repeat units (300-1,000 bp) pasted in.
fn reference(rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let repeats: Vec<Vec<u8>> = (0..5).map(|_| (0..300 + rng.below(700)).map(|_| rng.base()).collect()).collect();
    let contigs = [("chrA", REFERENCE_LENGTH * 3 / 5), ("chrB", REFERENCE_LENGTH * 2 / 5)];
    contigs
        .iter()
        .map(|&(name, len)| {
            let mut seq: Vec<u8> = (0..len).map(|_| rng.base()).collect();
            for unit in &repeats {
                for _ in 0..20 {
                    let at = rng.below((len - unit.len()) as u64) as usize;
                    seq[at..at + unit.len()].copy_from_slice(unit);
                }
            }
            (name.to_string(), seq)
        })
        .collect()
}

fn write_fasta(path: &Path, contigs: &[(String, Vec<u8>)]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create FASTA in the temp dir"));
    for (name, seq) in contigs {
        writeln!(out, ">{name}").unwrap();
        for line in seq.chunks(80) {
            out.write_all(line).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    out.flush().unwrap();
}

fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|b| match b {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            _ => b'N',
        })
        .collect()
}

/// One mate with sequencing errors, an occasional 1-3 bp deletion and an adapter tail.
fn mutate(rng: &mut Rng, mut read: Vec<u8>) -> Vec<u8> {
    for b in read.iter_mut() {
        if rng.below(100) == 0 {
            *b = rng.base();
        }
    }
    if rng.below(50) == 0 {
        let at = 20 + rng.below(100) as usize;
        let len = 1 + rng.below(3) as usize;
        read.drain(at..at + len);
        read.extend((0..len).map(|_| rng.base()));
    }
    if rng.below(30) == 0 {
        let tail = 10 + rng.below(30) as usize;
        let adapter = b"AGATCGGAAGAGCACACGTCTGAACTCCAGTCACAGATCGGAAG";
        read.truncate(READ_LENGTH - tail);
        read.extend_from_slice(&adapter[..tail]);
    }
    read
}

/// Writes `pairs` read pairs (plain FASTQ, Illumina-style names) sampled from `contigs`.
fn write_reads(r1: &Path, r2: &Path, contigs: &[(String, Vec<u8>)], pairs: usize, rng: &mut Rng) {
    let mut o1 = std::io::BufWriter::new(std::fs::File::create(r1).expect("create R1"));
    let mut o2 = std::io::BufWriter::new(std::fs::File::create(r2).expect("create R2"));
    for i in 0..pairs {
        let (m1, m2) = if rng.below(500) == 0 {
            // Unmappable: random bases.
            ((0..READ_LENGTH).map(|_| rng.base()).collect(), (0..READ_LENGTH).map(|_| rng.base()).collect())
        } else {
            let (_, seq) = &contigs[(rng.below(5) >= 3) as usize];
            let fragment = 250 + rng.below(200) as usize;
            let start = rng.below((seq.len() - fragment) as u64) as usize;
            let frag = &seq[start..start + fragment];
            let (fwd, rev) = (frag[..READ_LENGTH].to_vec(), reverse_complement(&frag[fragment - READ_LENGTH..]));
            // Half the fragments come from the reverse strand: R1 reverse, R2 forward.
            let (mut m1, m2) = if rng.below(2) == 0 { (fwd, rev) } else { (rev, fwd) };
            if rng.below(100) == 0 {
                // Chimeric R1: its 5' half from elsewhere (a supplementary record with SA).
                let (_, other) = &contigs[rng.below(2) as usize];
                let at = rng.below((other.len() - READ_LENGTH) as u64) as usize;
                m1[..READ_LENGTH / 2].copy_from_slice(&other[at..at + READ_LENGTH / 2]);
            }
            (m1, m2)
        };
        let name = format!("SYN:1:HSYNXX:1:{}:{}:{}", 1101 + i % 50, rng.below(30_000), rng.below(30_000));
        for (out, read, mate) in [(&mut o1, m1, 1), (&mut o2, m2, 2)] {
            let read = mutate(rng, read);
            let qual: Vec<u8> = (0..read.len()).map(|_| if rng.below(10) == 0 { b',' } else { b'F' }).collect();
            writeln!(out, "@{name} {mate}:N:0:ACGTACGT").unwrap();
            out.write_all(&read).unwrap();
            out.write_all(b"\n+\n").unwrap();
            out.write_all(&qual).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    o1.flush().unwrap();
    o2.flush().unwrap();
}

fn bench_align_batch(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(0x5eed_da9e);
    let contigs = reference(&mut rng);
    let (fasta, mmi) = (dir.path().join("syn.fa"), dir.path().join("syn.mmi"));
    write_fasta(&fasta, &contigs);
    build_index(&fasta, &mmi, IndexParams::default(), 2).expect("index the synthetic reference");
    let (r1, r2) = (dir.path().join("syn_R1.fastq"), dir.path().join("syn_R2.fastq"));
    write_reads(&r1, &r2, &contigs, PAIRS_PER_BATCH, &mut rng);

    let aligner = Arc::new(load_index(&mmi, 2).expect("load the synthetic index"));
    let pair_aligner = PairAligner::new(aligner, AlignOptions::default()).expect("a usable index");
    let cancel = AtomicBool::new(false);
    let mut reader =
        PairedFastqReader::open_with(&r1, &r2, &ScanOptions::default(), &cancel).expect("open synthetic FASTQ");
    let batch = reader.next_batch().expect("valid synthetic FASTQ").expect("one batch");
    assert_eq!(batch.len(), PAIRS_PER_BATCH);
    let rg = ReadGroup { id: "SYN.L1".into(), library_index: 0 };

    let mut group = c.benchmark_group("align_records");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.sample_size(10);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, 2.min(cores)].into_iter().collect::<std::collections::BTreeSet<_>>() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("rayon pool");
        let out = pair_aligner.align_batch(&batch, 0, &rg, &pool).expect("align the synthetic batch");
        eprintln!(
            "align_batch: {} pairs → {} records, {} mapped reads, {} proper, {} supplementary",
            out.stats.pairs,
            out.stats.records,
            out.stats.mapped_reads,
            out.stats.properly_paired_reads,
            out.stats.supplementary_records
        );
        group.bench_function(format!("align_batch_{}_pairs_{threads}_threads", batch.len()), |b| {
            b.iter(|| pair_aligner.align_batch(&batch, 0, &rg, &pool).expect("align the synthetic batch"))
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_align_batch(&mut c);
    c.final_summary();
}
