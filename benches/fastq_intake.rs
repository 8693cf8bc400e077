//! FASTQ intake throughput: `reads::scan_lane` (inflate + parse + validate + stats, R1 and R2 in
//! parallel) over a synthetic gzip pair generated in a temp dir (deterministic, no external data).
//!
//! `cargo bench --bench fastq_intake` runs the criterion benchmark. For the acceptance timing
//! against `zcat` on real files, `... --bench fastq_intake -- --scan R1.fastq.gz R2.fastq.gz`
//! scans one lane once and prints wall seconds and the statistics (time it with `time`).

use criterion::{Criterion, Throughput};
use dagr::reads::{ScanOptions, scan_lane};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const PAIRS: usize = 50_000;
const READ_LENGTH: usize = 150;

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

/// Writes a gzip FASTQ mate file of `PAIRS` reads with binned qualities; returns its text size.
fn write_mate(path: &Path, mate: u8, rng: &mut Lcg) -> usize {
    const BASES: &[u8; 4] = b"ACGT";
    const QUALS: &[u8; 4] = b"#,:F";
    let mut text = Vec::with_capacity(PAIRS * (2 * READ_LENGTH + 40));
    for i in 0..PAIRS {
        text.extend_from_slice(format!("@SYN:1:FC:1:{}:{}:{}/{mate} 1:N:0:ACGT\n", i / 1000, i % 1000, i).as_bytes());
        text.extend((0..READ_LENGTH).map(|_| BASES[(rng.next() & 3) as usize]));
        text.extend_from_slice(b"\n+\n");
        text.extend((0..READ_LENGTH).map(|_| QUALS[usize::from(!rng.next().is_multiple_of(16)) * 3]));
        text.push(b'\n');
    }
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&text).expect("in-memory gzip");
    std::fs::write(path, gz.finish().expect("in-memory gzip")).expect("write synthetic FASTQ to the temp dir");
    text.len()
}

fn bench_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (r1, r2) = (dir.path().join("syn_R1.fastq.gz"), dir.path().join("syn_R2.fastq.gz"));
    let mut rng = Lcg(42);
    let bytes = write_mate(&r1, 1, &mut rng) + write_mate(&r2, 2, &mut rng);
    let cancel = AtomicBool::new(false);
    let mut group = c.benchmark_group("fastq_intake");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("scan_lane_gzip_50k_pairs_150bp", |b| {
        b.iter(|| scan_lane(&r1, &r2, &ScanOptions::default(), &cancel).expect("synthetic lane is valid"))
    });
    group.finish();
}

/// `--scan R1 R2`: one timed scan of real files.
fn scan_once(r1: &Path, r2: &Path) {
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    match scan_lane(r1, r2, &ScanOptions::default(), &cancel) {
        Ok(stats) => {
            eprintln!("scan_lane: {:.3} s", start.elapsed().as_secs_f64());
            println!("{:?}", stats.summary());
        }
        Err(e) => {
            eprintln!("scan_lane failed: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scan") {
        match (args.get(i + 1), args.get(i + 2)) {
            (Some(r1), Some(r2)) => scan_once(&PathBuf::from(r1), &PathBuf::from(r2)),
            _ => eprintln!("usage: fastq_intake --scan R1.fastq.gz R2.fastq.gz"),
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_scan(&mut c);
    c.final_summary();
}
