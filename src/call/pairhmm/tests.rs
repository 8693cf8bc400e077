use super::context::{gap_open_phred, position_gap_open_phred, tract_gap_open_phred};
use super::*;

fn random_seq(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(s >> 60) as usize & 3]
        })
        .collect()
}

fn score(read: &[u8], q: u8, hap: &[u8]) -> f64 {
    let mut hmm = PairHmm::new(&PairHmmConfig::default());
    hmm.log10_likelihood(read, &vec![q; read.len()], &PreparedHaplotype::new(hap))
}

#[test]
fn identical_read_scores_near_zero() {
    let hap = random_seq(300, 1);
    let read = &hap[75..225];
    let l = score(read, 30, &hap);
    // 150 × log10(0.999) ≈ −0.065, plus match→match terms.
    assert!(l < 0.0 && l > -0.2, "{l}");
}

#[test]
fn one_q30_mismatch_costs_about_three() {
    let hap = random_seq(300, 2);
    let mut read = hap[75..225].to_vec();
    let clean = score(&read, 30, &hap);
    read[70] = if read[70] == b'A' { b'C' } else { b'A' };
    let diff = clean - score(&read, 30, &hap);
    // log10(0.999 / (0.001 / 3)) ≈ 3.48.
    assert!((diff - 3.48).abs() < 0.1, "{diff}");
}

#[test]
fn binned_quality_two_is_floored() {
    let hap = random_seq(300, 3);
    let mut read = hap[75..225].to_vec();
    read[70] = if read[70] == b'A' { b'C' } else { b'A' };
    let q2 = score(&read, 2, &hap);
    let q6 = score(&read, 6, &hap);
    assert_eq!(q2, q6);
}

#[test]
fn homopolymer_indel_is_cheaper_than_random_indel() {
    let mut hap = random_seq(120, 4);
    hap.extend_from_slice(b"CAAAAAAAAAAG");
    hap.extend(random_seq(120, 5));
    let read_ref = hap[60..200].to_vec();
    // One A deleted from the 10-bp run.
    let mut read_hp = read_ref.clone();
    read_hp.remove(65);
    // One base deleted from random sequence.
    let mut read_rand = read_ref.clone();
    read_rand.remove(20);
    let base = score(&read_ref, 30, &hap);
    let cost_hp = base - score(&read_hp, 30, &hap);
    let cost_rand = base - score(&read_rand, 30, &hap);
    assert!(cost_hp < cost_rand - 1.5, "hp {cost_hp} rand {cost_rand}");
    assert!(cost_rand > 4.0 && cost_rand < 5.0, "{cost_rand}");
}

#[test]
fn repeat_context_table() {
    let p = position_gap_open_phred(b"GCAAAAAAAAAAAATCACACACACTG");
    assert_eq!(p[0], 45.0);
    // A×12: the run rate (Q20) spread over its 12 positions.
    assert_eq!(p[3], tract_gap_open_phred(1, 12, 12));
    assert!((p[3] - (20.0 + 10.0 * 12f64.log10())).abs() < 1e-12);
    assert_eq!(gap_open_phred(1, 12), 20.0);
    // (CA)×4 + C: dinucleotide STR with 4 copies over 9 bases.
    assert_eq!(p[17], tract_gap_open_phred(2, 4, 9));
    assert!((p[17] - (gap_open_phred(2, 4) + 10.0 * 9f64.log10())).abs() < 1e-12);
    assert_eq!(p[25], 45.0);
}

#[test]
fn read_overhanging_haplotype_end_scores_sensibly() {
    let hap = random_seq(200, 6);
    let mut other = hap.clone();
    other[190] = if other[190] == b'A' { b'C' } else { b'A' };
    // Read covers the last 120 haplotype bases and 30 bases beyond.
    let mut read = hap[80..].to_vec();
    read.extend(random_seq(30, 7));
    let l_hap = score(&read, 30, &hap);
    let l_other = score(&read, 30, &other);
    let expected = 30.0 * 0.25f64.log10();
    assert!((l_hap - expected).abs() < 0.3, "{l_hap}");
    assert!(l_hap - l_other > 3.0, "{l_hap} {l_other}");
}

#[test]
fn empty_inputs_are_finite() {
    assert_eq!(score(b"", 30, b"ACGT"), 0.0);
    assert!(score(b"ACGT", 30, b"").is_finite());
}

#[test]
fn long_mismatching_read_does_not_underflow() {
    let hap = random_seq(400, 8);
    let read = random_seq(300, 9);
    let l = score(&read, 40, &hap);
    assert!(l.is_finite() && l < -100.0, "{l}");
}

#[test]
fn matrix_is_thread_independent() {
    let hap = random_seq(300, 10);
    let haps: Vec<Haplotype> = (0..3)
        .map(|k| {
            let mut b = hap.clone();
            b[150 + k] = b'T';
            Haplotype { bases: b, is_reference: k == 0, variants: vec![] }
        })
        .collect();
    let reads: Vec<ReadView> = (0..40)
        .map(|k| ReadView {
            name_hash: k as u64,
            bases: hap[k * 3..k * 3 + 150].to_vec(),
            quals: vec![30; 150],
            mapq: 60,
            reverse: false,
            first_of_pair: true,
            ref_start: (k * 3) as u64,
            cigar: vec![(0, 150)],
        })
        .collect();
    let cfg = PairHmmConfig::default();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map(|p| p.install(|| likelihood_matrix(&reads, &haps, &cfg)));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .map(|p| p.install(|| likelihood_matrix(&reads, &haps, &cfg)));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one, two);
    assert_eq!(one.row(5).len(), 3);
}

/// `cargo test --release --lib call::pairhmm::tests::speed -- --ignored --nocapture`
#[test]
#[ignore]
fn speed() {
    let hap = PreparedHaplotype::new(&random_seq(600, 11));
    let reads: Vec<Vec<u8>> = (0..2000).map(|k| random_seq(150, 100 + k)).collect();
    let quals = vec![30u8; 150];
    let mut hmm = PairHmm::new(&PairHmmConfig::default());
    let start = std::time::Instant::now();
    let mut acc = 0.0;
    for r in &reads {
        acc += hmm.log10_likelihood(r, &quals, &hap);
    }
    let secs = start.elapsed().as_secs_f64();
    let cells = (reads.len() * 150 * 601) as f64;
    println!("pair-HMM: {:.0} M cells/s ({acc:.1})", cells / secs / 1e6);
}

/// One slippage event anywhere in a long homopolymer costs about the run's rate (Q20 → ~2
/// log10), not the per-position rate summed over the run (which would be ~0.6 in a T28).
#[test]
fn homopolymer_indel_costs_the_run_rate() {
    let mut hap = random_seq(120, 8);
    hap.push(b'C');
    hap.extend(std::iter::repeat_n(b'T', 28));
    hap.push(b'G');
    hap.extend(random_seq(120, 9));
    let read_ref = hap[60..220].to_vec();
    let mut read_del = read_ref.clone();
    read_del.remove(75);
    let mut read_ins = read_ref.clone();
    read_ins.insert(75, b'T');
    let base = score(&read_ref, 30, &hap);
    let cost_del = base - score(&read_del, 30, &hap);
    let cost_ins = base - score(&read_ins, 30, &hap);
    // log10(1 / (0.01 × 0.9)) ≈ 2.05, give or take the boundary slots at the run's edges.
    assert!(cost_del > 1.7 && cost_del < 2.4, "{cost_del}");
    assert!(cost_ins > 1.7 && cost_ins < 2.4, "{cost_ins}");
}
