//! The pair-HMM kernel: `PairHmm::log10_likelihood` of 2,000 random 150 bp reads (all Q30)
//! against one 600 bp haplotype, the full read × haplotype matrix with no windowing.
//! Throughput is in DP cells (150 × 601 per read); deterministic, no external data.
//!
//! `cargo bench --bench pairhmm` (add `-- --quick` for a short run).

use criterion::{Criterion, Throughput};
use dagr::call::pairhmm::{PairHmm, PairHmmConfig, PreparedHaplotype};

const READS: usize = 2_000;
const READ_LENGTH: usize = 150;
const HAPLOTYPE_LENGTH: usize = 600;

/// A deterministic random sequence (a linear congruential generator), no extra crate.
fn random_seq(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(s >> 60) as usize & 3]
        })
        .collect()
}

fn bench_pairhmm(c: &mut Criterion) {
    let hap = PreparedHaplotype::new(&random_seq(HAPLOTYPE_LENGTH, 11));
    let reads: Vec<Vec<u8>> = (0..READS as u64).map(|k| random_seq(READ_LENGTH, 100 + k)).collect();
    let quals = vec![30u8; READ_LENGTH];
    let mut hmm = PairHmm::new(&PairHmmConfig::default());

    let mut group = c.benchmark_group("pairhmm");
    group.throughput(Throughput::Elements((READS * READ_LENGTH * (HAPLOTYPE_LENGTH + 1)) as u64));
    group.sample_size(20);
    group.bench_function(format!("log10_likelihood_{READS}_reads_{READ_LENGTH}bp_vs_{HAPLOTYPE_LENGTH}bp"), |b| {
        b.iter(|| reads.iter().map(|r| hmm.log10_likelihood(r, &quals, &hap)).sum::<f64>())
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_pairhmm(&mut c);
    c.final_summary();
}
