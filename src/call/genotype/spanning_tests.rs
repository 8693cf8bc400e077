//! Spanning deletions (`*`): a called deletion over a later called site.

use super::spanning::{STAR, deleted_span};
use super::*;
use crate::call::pairhmm::{PairHmmConfig, likelihood_matrix};

fn random_seq(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_add(0x2545_F491_4F6C_DD1D);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(s >> 60) as usize & 3]
        })
        .collect()
}

fn cand(pos: u64, r: &[u8], a: &[u8]) -> CandidateVariant {
    CandidateVariant { tid: 0, pos, ref_allele: r.to_vec(), alt_allele: a.to_vec() }
}

fn hap(bases: Vec<u8>, variants: Vec<usize>) -> Haplotype {
    Haplotype { is_reference: variants.is_empty(), bases, variants }
}

/// `n` reads of 100 bp from `seq`, staggered so that all cover positions 140..150.
fn reads_from(seq: &[u8], n: usize, first_hash: u64) -> Vec<ReadView> {
    (0..n)
        .map(|k| {
            let start = 55 + (k * 7) % 35;
            ReadView {
                name_hash: first_hash + k as u64,
                bases: seq[start..start + 100].to_vec(),
                quals: vec![30; 100],
                mapq: 60,
                reverse: k % 2 == 1,
                first_of_pair: true,
                ref_start: start as u64,
                cigar: vec![(0, 100)],
            }
        })
        .collect()
}

fn run(cands: &[CandidateVariant], haps: &[Haplotype], reads: &[ReadView], ploidy: Ploidy) -> Vec<CalledVariant> {
    let m = likelihood_matrix(reads, haps, &PairHmmConfig::default());
    genotype_region(cands, haps, reads, &m, |_, _| ploidy, &GenotypeConfig::default())
        .into_iter()
        .map(|c| c.call)
        .filter(|c| c.genotype.iter().any(|&a| a > 0))
        .collect()
}

/// Reference of 300 bp; a 5-base deletion after the anchor at 140 (141..146 deleted) and an
/// SNV at `snv_pos` on another haplotype.
struct Setup {
    reference: Vec<u8>,
    deletion: Vec<u8>,
    snv: Vec<u8>,
    cands: Vec<CandidateVariant>,
    haps: Vec<Haplotype>,
}

fn setup(snv_pos: usize) -> Setup {
    let reference = random_seq(300, 7);
    let mut deletion = reference.clone();
    deletion.drain(141..146);
    let mut snv = reference.clone();
    snv[snv_pos] = if reference[snv_pos] == b'A' { b'C' } else { b'A' };
    let cands = vec![
        cand(140, &reference[140..146], &reference[140..141]),
        cand(snv_pos as u64, &reference[snv_pos..=snv_pos], &snv[snv_pos..=snv_pos]),
    ];
    let haps = vec![hap(reference.clone(), vec![]), hap(deletion.clone(), vec![0]), hap(snv.clone(), vec![1])];
    Setup { reference, deletion, snv, cands, haps }
}

#[test]
fn deleted_span_is_the_removed_bases() {
    assert_eq!(deleted_span(100, b"ACT", b"A"), Some((101, 103)));
    assert_eq!(deleted_span(100, b"ACT", b"AT"), Some((101, 102)), "padded AC→A removes the C only");
    assert_eq!(deleted_span(100, b"ACAC", b"AC"), Some((101, 103)), "leftmost in a repeat");
    assert_eq!(deleted_span(100, b"A", b"G"), None);
    assert_eq!(deleted_span(100, b"A", b"AT"), None);
    assert_eq!(deleted_span(100, b"ACT", STAR), None);
}

#[test]
fn het_deletion_over_a_het_snv_on_the_other_copy_is_one_two_with_star() {
    let s = setup(143);
    let mut reads = reads_from(&s.deletion, 15, 0);
    reads.extend(reads_from(&s.snv, 15, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (del, snv) = (&calls[0], &calls[1]);
    assert_eq!((del.pos, del.genotype.clone()), (140, vec![0, 1]));
    assert_eq!(del.alt_alleles, vec![s.reference[140..141].to_vec()]);
    assert_eq!(snv.pos, 143);
    assert_eq!(snv.ref_allele, s.reference[143..144].to_vec());
    assert_eq!(snv.alt_alleles, vec![s.snv[143..144].to_vec(), STAR.to_vec()]);
    assert_eq!(snv.genotype, vec![1, 2]);
    assert_eq!(snv.pl.len(), 6, "PL over REF, ALT, *");
    assert_eq!(snv.pl[4], 0, "1/2 is the best genotype: {:?}", snv.pl);
    assert_eq!(snv.allele_depths.len(), 3);
    assert!(snv.allele_depths[0] <= 1 && snv.allele_depths[1] >= 12 && snv.allele_depths[2] >= 12, "{snv:?}");
    assert!(snv.qual > 30.0 && snv.gq >= 30, "{snv:?}");
    assert!(snv.filters.is_empty(), "{snv:?}");
}

#[test]
fn hom_snv_reads_under_a_het_deletion_stay_with_the_snv_allele() {
    // The SNV on the REF copy too: no REF reads at 143 → GT 1/2 still, never 0/2 or 1/1.
    let s = setup(145);
    let mut reads = reads_from(&s.deletion, 14, 0);
    reads.extend(reads_from(&s.snv, 16, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    let snv = calls.iter().find(|c| c.pos == 145).expect("SNV called");
    assert_eq!(snv.genotype, vec![1, 2], "{snv:?}");
    assert_eq!(snv.alt_alleles.last().map(Vec::as_slice), Some(STAR));
}

#[test]
fn a_site_explained_by_the_deletion_alone_is_not_called() {
    // Het deletion over REF; the SNV haplotype has no reads of its own: no call at 143, no `*`.
    let s = setup(143);
    let mut reads = reads_from(&s.deletion, 15, 0);
    reads.extend(reads_from(&s.reference, 15, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].pos, 140);
    assert!(calls.iter().all(|c| !c.alt_alleles.iter().any(|a| a == STAR)));
}

#[test]
fn an_snv_seen_only_in_the_deletions_reads_is_dropped() {
    // The public set's pattern: the deletion's reads fit the SNV haplotype better than REF (a
    // repeat), so alone the SNV site looks het. With `*` they go to `*`: GT 0/*, no call.
    let s = setup(143);
    let mut reads = reads_from(&s.deletion, 12, 0);
    reads.extend(reads_from(&s.reference, 18, 1000));
    // Columns: ref hap, deletion hap, SNV hap (log10).
    let mut log10 = Vec::new();
    for r in 0..reads.len() {
        log10.extend_from_slice(if r < 12 { &[-30.0, -2.0, -12.0] } else { &[-2.0, -30.0, -12.0] });
    }
    let m = LikelihoodMatrix { reads: reads.len(), haplotypes: 3, log10 };
    let config = GenotypeConfig::default();
    let alone = build_sites(&s.cands, &s.haps);
    let ev = evidence::site_evidence(&alone[1], &reads, &m, &config);
    let without_star = genotype_site(&alone[1], &ev, 2, &config).unwrap();
    assert_eq!(without_star.call.genotype, vec![0, 1], "the SNV site alone takes the deletion's reads");
    let calls = genotype_region(&s.cands, &s.haps, &reads, &m, |_, _| Ploidy::Diploid, &config);
    let variants: Vec<_> = calls.iter().filter(|c| c.call.genotype.iter().any(|&a| a > 0)).collect();
    assert_eq!(variants.len(), 1, "{variants:?}");
    assert_eq!((variants[0].call.pos, variants[0].call.genotype.clone()), (140, vec![0, 1]));
}

#[test]
fn an_snv_past_the_deletion_gets_no_star() {
    let s = setup(150);
    let mut reads = reads_from(&s.deletion, 15, 0);
    reads.extend(reads_from(&s.snv, 15, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    let snv = calls.iter().find(|c| c.pos == 150).expect("SNV called");
    assert_eq!(snv.alt_alleles.len(), 1, "{snv:?}");
    assert_eq!(snv.genotype, vec![0, 1]);
}

#[test]
fn star_calls_are_written_and_consistent_with_the_vcf_rules() {
    let s = setup(143);
    let mut reads = reads_from(&s.deletion, 15, 0);
    reads.extend(reads_from(&s.snv, 15, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    let snv = &calls[1];
    // GT indices below the allele count, sorted; PL sized for diploid over 3 alleles.
    assert!(snv.genotype.windows(2).all(|w| w[0] <= w[1]));
    assert!(snv.genotype.iter().all(|&a| usize::from(a) < 1 + snv.alt_alleles.len()));
    assert_eq!(snv.pl.len(), model::genotypes(3, 2).len());
}

/// The deletion and the `*` site written as VCF and gVCF: the writer takes them, and bcftools
/// (when installed) reads them without a word and finds every REF in the FASTA.
#[test]
fn star_records_are_valid_vcf_and_gvcf() {
    use crate::vcf::writer::{GqBands, VcfHeaderSpec, VcfKind, VcfWriter};
    use md5::{Digest, Md5};
    let s = setup(143);
    let mut reads = reads_from(&s.deletion, 15, 0);
    reads.extend(reads_from(&s.snv, 15, 1000));
    let calls = run(&s.cands, &s.haps, &reads, Ploidy::Diploid);
    assert_eq!(calls.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("t.fa");
    std::fs::write(&fasta, format!(">t\n{}\n", String::from_utf8_lossy(&s.reference))).unwrap();
    for kind in [VcfKind::Germline, VcfKind::Gvcf { bands: GqBands::default() }] {
        let gvcf = matches!(kind, VcfKind::Gvcf { .. });
        let spec = VcfHeaderSpec {
            contigs: vec![crate::genome::Contig {
                name: "t".into(),
                length: s.reference.len() as u64,
                md5: Some(hex::encode(Md5::digest(&s.reference))),
            }],
            assembly: None,
            reference_path: fasta.clone(),
            sample_names: vec!["S1".into()],
            source_version: "0".into(),
            command_line: "test".into(),
            filters: vec![(FILTER_ALLELE_BALANCE.into(), "allele balance".into())],
            kind,
            extra_info: Vec::new(),
            extra_format: Vec::new(),
            file_date_epoch: 0,
        };
        let path = dir.path().join(if gvcf { "s.g.vcf.gz" } else { "s.vcf.gz" });
        let mut w = VcfWriter::create(&path, &spec, 0).unwrap();
        for c in &calls {
            w.write_variant(c).unwrap();
        }
        w.finish().unwrap();
        let text = String::from_utf8(std::process::Command::new("gzip").arg("-dc").arg(&path).output().unwrap().stdout)
            .unwrap();
        let star = text.lines().find(|l| l.starts_with("t\t144\t")).expect("the * record");
        let want = if gvcf { ",*,<NON_REF>\t" } else { ",*\t" };
        assert!(star.contains(want) && star.contains("\t1/2:"), "{star}");
        if !crate::test_tools::require_tool("bcftools") {
            continue;
        }
        let o = std::process::Command::new("bcftools")
            .args(["view", "-Ov", "-o", "/dev/null"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = std::process::Command::new("bcftools")
            .args(["norm", "-c", "e", "-Ou", "-o", "/dev/null", "-f"])
            .arg(&fasta)
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
