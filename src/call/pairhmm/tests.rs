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

fn read_at(hap: &[u8], start: usize, len: usize, region_start: u64) -> ReadView {
    ReadView {
        name_hash: start as u64,
        bases: hap[start..start + len].to_vec(),
        quals: vec![30; len],
        mapq: 60,
        reverse: false,
        first_of_pair: true,
        ref_start: region_start + start as u64,
        cigar: vec![(0, len as u32)],
    }
}

/// The windowed, clipped matrix ranks haplotypes as the full DP does: per read, the
/// difference between two haplotypes' likelihoods agrees closely.
#[test]
fn region_matrix_agrees_with_full_dp_on_haplotype_differences() {
    let region = ActiveRegion { tid: 0, start: 1000, end: 1400 };
    let reference = random_seq(400, 21);
    // Candidates: an SNV at 1200 and a 3-bp deletion at 1250 (VCF style, anchor first).
    let snv = CandidateVariant {
        tid: 0,
        pos: 1200,
        ref_allele: vec![reference[200]],
        alt_allele: vec![if reference[200] == b'A' { b'C' } else { b'A' }],
    };
    let del = CandidateVariant {
        tid: 0,
        pos: 1250,
        ref_allele: reference[250..254].to_vec(),
        alt_allele: vec![reference[250]],
    };
    let mut with_snv = reference.clone();
    with_snv[200] = snv.alt_allele[0];
    let mut with_del = reference.clone();
    with_del.drain(251..254);
    let haps = vec![
        Haplotype { bases: reference.clone(), is_reference: true, variants: vec![] },
        Haplotype { bases: with_snv.clone(), is_reference: false, variants: vec![0] },
        Haplotype { bases: with_del.clone(), is_reference: false, variants: vec![1] },
    ];
    let candidates = vec![snv, del];
    // Reads from each haplotype, some hanging over the region's ends.
    let mut reads = Vec::new();
    for start in [0usize, 60, 120, 180] {
        reads.push(read_at(&with_snv, start, 150, region.start));
        reads.push(read_at(&reference, start, 150, region.start));
    }
    let mut overhang = read_at(&reference, 300, 100, region.start);
    overhang.bases.extend(random_seq(50, 22));
    overhang.quals.extend(vec![30; 50]);
    overhang.cigar = vec![(0, 150)];
    reads.push(overhang);
    let mut del_read = read_at(&with_del, 160, 150, region.start);
    // Aligned as the aligner might: the deletion clipped away at the end.
    del_read.cigar = vec![(0, 91), (4, 59)];
    reads.push(del_read);
    let cfg = PairHmmConfig::default();
    let full = likelihood_matrix(&reads, &haps, &cfg);
    let windowed = region_likelihood_matrix(&region, &candidates, &reads, &haps, &cfg);
    for r in 0..reads.len() {
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let d_full = full.get(r, a) - full.get(r, b);
            let d_win = windowed.get(r, a) - windowed.get(r, b);
            assert!((d_full - d_win).abs() < 0.05, "read {r} haps {a}/{b}: full {d_full} windowed {d_win}");
        }
    }
    // A read far from both variants sees identical haplotypes: no DP, an all-zero row.
    let quiet = read_at(&reference, 0, 60, region.start);
    let m = region_likelihood_matrix(&region, &candidates, &[quiet], &haps, &cfg);
    assert_eq!(m.row(0), &[0.0, 0.0, 0.0]);
    // The deletion read prefers the deletion haplotype clearly.
    let last = reads.len() - 1;
    assert!(windowed.get(last, 2) - windowed.get(last, 0) > 3.0);
}

#[test]
fn read_placement_clips_to_the_region_and_projects_through_indels() {
    use super::window::{HaplotypeProjection, place_read};
    let region = ActiveRegion { tid: 0, start: 100, end: 200 };
    let mut read = read_at(&random_seq(300, 30), 0, 150, 0);
    read.ref_start = 50;
    read.cigar = vec![(4, 10), (0, 140)];
    // Leading clip extrapolated: read base 0 sits at 40; bases 60..150 fall in 100..190.
    let placed = place_read(&read, region.start, region.end).expect("overlaps");
    assert_eq!(placed.bases, (60, 150));
    assert_eq!((placed.first_ref, placed.last_ref), (100, 189));
    assert!(place_read(&read, 300, 400).is_none());
    // A 5-bp insertion ending at 130 shifts later positions right by 5 on its haplotype.
    let ins = CandidateVariant { tid: 0, pos: 129, ref_allele: b"A".to_vec(), alt_allele: b"AGGGGG".to_vec() };
    let hap = Haplotype { bases: vec![b'A'; 105], is_reference: false, variants: vec![0] };
    let p = HaplotypeProjection::new(&region, &hap, &[ins]);
    assert_eq!(p.column(120), 20);
    assert_eq!(p.column(140), 45);
    assert_eq!(p.column(500), 105, "clamped to the haplotype");
}

/// The textbook forward recursion, cell by cell in f64 without rescaling (short reads only),
/// with the model of the module docs: the SIMD kernel must compute the same numbers.
fn naive_forward(read: &[u8], q: u8, hap: &[u8]) -> f64 {
    let (m, n) = (read.len(), hap.len());
    let go: Vec<f64> = super::context::boundary_gap_open_phred(hap).iter().map(|p| 10f64.powf(-p / 10.0)).collect();
    let err = 10f64.powf(-f64::from(q.clamp(6, 40)) / 10.0);
    let (ext, close) = (0.1, 0.9);
    let zeros = vec![vec![0.0f64; n + 1]; m + 1];
    let (mut mm, mut ii, mut dd) = (zeros.clone(), zeros.clone(), zeros);
    mm[0][..n].fill(1.0);
    for i in 1..=m {
        ii[i][0] = 0.25 * (mm[i - 1][0] + ii[i - 1][0]);
        for c in 1..=n {
            let emit = if read[i - 1] == hap[c - 1] { 1.0 - err } else { err / 3.0 };
            let stay = 1.0 - 2.0 * go[c - 1];
            mm[i][c] = emit * (stay * mm[i - 1][c - 1] + close * (ii[i - 1][c - 1] + dd[i - 1][c - 1]));
        }
        for c in 1..n {
            ii[i][c] = go[c] * mm[i - 1][c] + ext * ii[i - 1][c];
        }
        ii[i][n] = 0.25 * (mm[i - 1][n] + ii[i - 1][n]);
        for c in 1..=n {
            dd[i][c] = go[c - 1] * mm[i][c - 1] + ext * dd[i][c - 1];
        }
    }
    (1..=n).map(|c| mm[m][c] + ii[m][c]).sum::<f64>().log10()
}

#[test]
fn kernel_matches_the_textbook_recursion() {
    let hap = random_seq(60, 40);
    let mut cases: Vec<Vec<u8>> = vec![hap[10..40].to_vec()];
    let mut del = hap[10..45].to_vec();
    del.drain(12..15);
    cases.push(del);
    let mut ins = hap[10..38].to_vec();
    ins.splice(14..14, b"GTA".iter().copied());
    cases.push(ins);
    let mut mis = hap[20..50].to_vec();
    mis[7] = if mis[7] == b'A' { b'G' } else { b'A' };
    cases.push(mis);
    for read in &cases {
        let fast = score(read, 30, &hap);
        let slow = naive_forward(read, 30, &hap);
        assert!((fast - slow).abs() < 1e-9, "{fast} vs {slow}");
    }
}
