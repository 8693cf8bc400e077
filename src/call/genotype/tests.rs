use super::*;
use crate::call::pairhmm::{PairHmmConfig, likelihood_matrix};

fn random_seq(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(s >> 60) as usize & 3]
        })
        .collect()
}

/// Reference of 300 bp with `base` at 150.
fn reference(base: u8) -> Vec<u8> {
    let mut r = random_seq(300, 42);
    r[150] = base;
    r[151..154].copy_from_slice(b"CTG");
    r
}

fn cand(pos: u64, r: &[u8], a: &[u8]) -> CandidateVariant {
    CandidateVariant { tid: 0, pos, ref_allele: r.to_vec(), alt_allele: a.to_vec() }
}

fn hap(bases: Vec<u8>, variants: Vec<usize>) -> Haplotype {
    Haplotype { is_reference: variants.is_empty(), bases, variants }
}

/// `n` reads of 100 bp from `seq`, staggered so that all cover position 150.
fn reads_from(seq: &[u8], n: usize, mapq: u8, first_hash: u64) -> Vec<ReadView> {
    (0..n)
        .map(|k| {
            let start = 60 + (k * 7) % 40;
            ReadView {
                name_hash: first_hash + k as u64,
                bases: seq[start..start + 100].to_vec(),
                quals: vec![30; 100],
                mapq,
                reverse: k % 2 == 1,
                first_of_pair: true,
                ref_start: start as u64,
                cigar: vec![(0, 100)],
            }
        })
        .collect()
}

fn with_base(mut seq: Vec<u8>, pos: usize, b: u8) -> Vec<u8> {
    seq[pos] = b;
    seq
}

fn run(cands: &[CandidateVariant], haps: &[Haplotype], reads: &[ReadView], ploidy: Ploidy) -> Vec<SiteCall> {
    let m = likelihood_matrix(reads, haps, &PairHmmConfig::default());
    genotype_region(cands, haps, reads, &m, |_, _| ploidy, &GenotypeConfig::default())
}

fn snv_setup(n_ref: usize, n_alt: usize, mapq: u8) -> (Vec<CandidateVariant>, Vec<Haplotype>, Vec<ReadView>) {
    let r = reference(b'A');
    let alt = with_base(r.clone(), 150, b'G');
    let mut reads = reads_from(&r, n_ref, mapq, 0);
    reads.extend(reads_from(&alt, n_alt, mapq, 1000));
    (vec![cand(150, b"A", b"G")], vec![hap(r, vec![]), hap(alt, vec![0])], reads)
}

#[test]
fn clean_het_snv() {
    let (c, h, reads) = snv_setup(15, 15, 60);
    let calls = run(&c, &h, &reads, Ploidy::Diploid);
    assert_eq!(calls.len(), 1);
    let v = &calls[0].call;
    assert_eq!(v.genotype, vec![0, 1]);
    assert_eq!(v.allele_depths, vec![15, 15]);
    assert_eq!(v.depth, 30);
    assert!(v.gq >= 70, "{v:?}");
    assert!(v.qual > 70.0, "{v:?}");
    assert_eq!(v.pl[1], 0);
    assert!(v.pl[0] > 300 && v.pl[2] > 300, "{:?}", v.pl);
    assert!(v.filters.is_empty());
    assert!(v.fisher_strand.is_some_and(|fs| fs < 3.0));
}

#[test]
fn hom_alt_snv() {
    let (c, h, reads) = snv_setup(0, 30, 60);
    let v = &run(&c, &h, &reads, Ploidy::Diploid)[0].call;
    assert_eq!(v.genotype, vec![1, 1]);
    assert_eq!(v.pl[2], 0);
    assert!(v.gq >= 80, "{v:?}");
}

#[test]
fn haploid_call() {
    let (c, h, reads) = snv_setup(1, 20, 60);
    let v = &run(&c, &h, &reads, Ploidy::Haploid)[0].call;
    assert_eq!(v.genotype, vec![1]);
    assert_eq!(v.pl.len(), 2);
    assert!(v.gq >= 90);
    assert!(run(&c, &h, &reads, Ploidy::Absent).is_empty());
}

#[test]
fn het_alt_snv_and_deletion_share_a_padded_ref() {
    let r = reference(b'A');
    let snv = with_base(r.clone(), 150, b'C');
    let mut del = r.clone();
    del.drain(151..153); // ACT → A
    let cands = vec![cand(150, b"A", b"C"), cand(150, b"ACT", b"A")];
    let haps = vec![hap(r.clone(), vec![]), hap(snv.clone(), vec![0]), hap(del.clone(), vec![1])];
    let mut reads = reads_from(&snv, 15, 60, 0);
    reads.extend(reads_from(&del, 15, 60, 1000));
    let calls = run(&cands, &haps, &reads, Ploidy::Diploid);
    assert_eq!(calls.len(), 1);
    let v = &calls[0].call;
    assert_eq!(v.ref_allele, b"ACT".to_vec());
    assert_eq!(v.alt_alleles, vec![b"CCT".to_vec(), b"A".to_vec()]);
    assert_eq!(v.genotype, vec![1, 2]);
    assert_eq!(v.pl.len(), 6);
    assert_eq!(v.pl[4], 0);
    assert_eq!(v.allele_depths, vec![0, 15, 15]);
}

#[test]
fn low_fraction_paralog_at_mapq30_is_not_a_confident_het() {
    let (c, h, reads) = snv_setup(24, 6, 30);
    let s = &run(&c, &h, &reads, Ploidy::Diploid)[0];
    let v = &s.call;
    let confident_het = v.genotype == vec![0, 1] && v.gq >= 20 && v.filters.is_empty();
    assert!(!confident_het, "{s:?}");
    assert!(v.qual < 10.0, "{s:?}");
    assert!(v.filters.iter().any(|f| f == FILTER_ALLELE_BALANCE), "{s:?}");
    assert!(s.artifact_probability > 0.5);
}

#[test]
fn unbalanced_but_plausible_het_at_mapq60_survives() {
    let (c, h, reads) = snv_setup(22, 8, 60);
    let s = &run(&c, &h, &reads, Ploidy::Diploid)[0];
    assert_eq!(s.call.genotype, vec![0, 1], "{s:?}");
    assert!(s.call.qual > 20.0 && s.call.filters.is_empty(), "{s:?}");
}

#[test]
fn no_informative_reads_no_call() {
    let (c, h, mut reads) = snv_setup(10, 10, 0);
    assert!(run(&c, &h, &reads, Ploidy::Diploid).is_empty());
    // Reads that do not reach the site.
    for r in &mut reads {
        r.mapq = 60;
        r.bases.truncate(20);
        r.quals.truncate(20);
        r.cigar = vec![(0, 20)];
    }
    assert!(run(&c, &h, &reads, Ploidy::Diploid).is_empty());
    assert!(run(&c, &h, &[], Ploidy::Diploid).is_empty());
}

#[test]
fn strand_bias_is_measured() {
    let (c, h, mut reads) = snv_setup(15, 15, 60);
    for r in &mut reads {
        // Ref reads on both strands, alt reads all forward.
        r.reverse = r.name_hash < 1000 && r.name_hash % 2 == 1;
    }
    let v = &run(&c, &h, &reads, Ploidy::Diploid)[0].call;
    assert!(v.fisher_strand.is_some_and(|fs| fs > 10.0), "{v:?}");
}

#[test]
fn exact_tests() {
    let p = fisher_exact_two_sided([10, 0, 0, 10]);
    assert!((p - 2.0 / 184756.0).abs() < 1e-9, "{p}");
    assert!((fisher_exact_two_sided([5, 5, 5, 5]) - 1.0).abs() < 1e-9);
    let b = binomial_half_lower_tail(6, 30);
    assert!((b - 0.000715).abs() < 2e-5, "{b}");
    assert_eq!(binomial_half_lower_tail(30, 30), 1.0);
}

#[test]
fn genotype_order_is_vcf_order() {
    let g = genotypes(3, 2);
    assert_eq!(g, vec![vec![0, 0], vec![0, 1], vec![1, 1], vec![0, 2], vec![1, 2], vec![2, 2]]);
}
