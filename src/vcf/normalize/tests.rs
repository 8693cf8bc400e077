//! Normalization cases, with expectations taken from `bcftools norm -a -m -any -f` followed by
//! `bcftools norm -d exact` (bcftools 1.16) on the same input.

use super::*;
use crate::vcf::sequence::InMemoryFasta;

/// 1-based: A1 C2 G3 T4 A5 C6 G7 T8 A9 A10 ... (see the index comments).
const SEQ: &[u8] =
    b"ACGTACGTAAAAAGGCTTTTTCCCACGTAGGGGGGTTTACAGATCAGAGAGAGAGTTTCCGAAGCTAGCATCGACTAGCATCGACTGGGCATCAGCAC";

fn run(body: &str) -> (Vec<String>, NormalizationStats) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.vcf");
    let header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n";
    std::fs::write(&path, format!("{header}{body}")).unwrap();
    let fasta = InMemoryFasta::from_sequences([("c", SEQ)]);
    let set = normalize_file(&path, None, &fasta).unwrap();
    let lines = set
        .variants
        .iter()
        .map(|v| {
            let gt = v.genotype.as_ref().map(|g| g.to_string()).unwrap_or_default();
            format!("{} {} {} {}", v.pos, String::from_utf8_lossy(&v.ref_allele), String::from_utf8_lossy(&v.alt), gt)
        })
        .collect();
    (lines, set.stats)
}

fn rec(pos: u64, r: &str, a: &str, gt: &str) -> String {
    format!("c\t{pos}\t.\t{r}\t{a}\t.\t.\t.\tGT\t{gt}\n")
}

#[test]
fn matches_bcftools_on_mixed_cases() {
    let body = [
        rec(1, "ACGT", "AG", "0/1"),         // complex: CGT>G at 2
        rec(5, "AC", "GT", "1|0"),           // MNP → two SNVs, phase kept
        rec(9, "A", "AT,G", "1/2"),          // multi-allelic, overlapping atoms
        rec(14, "GG", "AG,AC", "1/2"),       // both ALTs share G>A
        rec(17, "TTT", "T,TT", "2/1"),       // two deletions in a T run, left-aligned
        rec(25, "AC", "GT,*", "1/2"),        // has `*`: split only, MNP left whole
        rec(30, "GGGG", "G", "0/1"),         // homopolymer deletion moves left
        rec(33, "GGG", "GGGGA", "1/1"),      // insertion atom
        rec(41, "AGATCA", "TGATGA", "0/1"),  // MNP with gaps
        rec(48, "AGAG", "A", "0/1"),         // not a repeat unit: stays
        rec(59, "CCGA", "CCGA,CG", "0/1"),   // ALT == REF dropped; CGA>G genotype 0/0
        rec(70, "ATCGAC", "AGG", "0/1"),     // SNV + complex atom
        rec(80, "ATCGA", "AT,<DEL>", "1/2"), // symbolic dropped, AT trimmed
        rec(87, "GG", "GGX", "0/1"),         // invalid ALT dropped
    ]
    .concat();
    let (got, stats) = run(&body);
    let want = [
        "2 CGT G 0/1",
        "5 A G 1|0",
        "6 C T 1|0",
        "9 A AT 1/0",
        "9 A G 0/1",
        "14 G A 1/1",
        "15 G C 0/1",
        "16 CT C 1/0",
        "16 CTT C 0/1",
        "25 AC GT 1/0",
        "29 AGGG A 0/1",
        "35 G GGA 1/1",
        "41 A T 0/1",
        "45 C G 0/1",
        "48 AGAG A 0/1",
        "60 CGA G 0/0",
        "71 T G 0/1",
        "72 CGAC G 0/1",
        "81 TCGA T 1/0",
    ];
    assert_eq!(got, want);
    assert_eq!(stats.records_read, 14);
    assert_eq!(stats.symbolic_dropped, 1);
    assert_eq!(stats.invalid_alt_dropped, 1);
    assert_eq!(stats.alt_equals_ref_dropped, 1);
    assert_eq!(stats.ref_mismatches, 0);
    // `*` rows: bcftools' companions at 9 (two), 14, 17 (two), and the `*` ALT at 25.
    assert_eq!(stats.spanning_deletions_dropped, 6);
    assert_eq!(stats.kept, 19);
}

#[test]
fn left_aligns_in_a_homopolymer_from_any_position() {
    // GGGGGG at 30..=35; the same deletion written at three places is one variant at 29.
    let body = [rec(31, "GG", "G", "0/1"), rec(33, "GG", "G", "1/1"), rec(30, "GGG", "GG", "0/1")].concat();
    let (got, stats) = run(&body);
    assert_eq!(got, ["29 AG A 0/1"]);
    assert_eq!(stats.duplicates_removed, 2);
    assert_eq!(stats.realigned, 3);
}

#[test]
fn duplicates_keep_the_first_record() {
    // The MNP's first SNV and a plain SNV at 5 are the same variant; the first one's GT stays.
    let body = [rec(5, "AC", "GT", "0/1"), rec(5, "A", "G", "1/1"), rec(5, "A", "T", "1/1")].concat();
    let (got, stats) = run(&body);
    assert_eq!(got, ["5 A G 0/1", "5 A T 1/1", "6 C T 0/1"]);
    assert_eq!(stats.duplicates_removed, 1);
}

#[test]
fn multiallelic_split_follows_the_genotype() {
    let body = [rec(2, "C", "A,G,T", "1/2"), rec(3, "G", "A,C", "2|2"), rec(4, "T", "A,C", "./2")].concat();
    let (got, _) = run(&body);
    assert_eq!(got, ["2 C A 1/0", "2 C G 0/1", "2 C T 0/0", "3 G A 0|0", "3 G C 1|1", "4 T A ./0", "4 T C ./1"]);
}

#[test]
fn symbolic_and_star_alleles_are_dropped() {
    let body = [
        rec(2, "C", "<NON_REF>", "0/0"),
        rec(3, "G", "A,<NON_REF>", "0/1"),
        rec(4, "T", "<*>", "0/0"),
        rec(5, "A", "*", "0/1"),
        rec(6, "C", "G]c:20]", "0/1"),
        "c\t7\t.\tG\t.\t.\t.\t.\tGT\t0/0\n".to_string(),
    ]
    .concat();
    let (got, stats) = run(&body);
    assert_eq!(got, ["3 G A 0/1"]);
    assert_eq!((stats.symbolic_dropped, stats.spanning_deletions_dropped, stats.no_alt_dropped), (4, 1, 1));
}

#[test]
fn ref_mismatch_is_counted_and_left_as_written() {
    // Reference at 30..=33 is GGGG; REF says AGGG: not realigned, reported.
    let body = [rec(30, "AGGG", "A", "0/1"), rec(2, "R", "A", "0/1")].concat();
    let (got, stats) = run(&body);
    assert_eq!(got, ["2 R A 0/1", "30 AGGG A 0/1"]);
    assert_eq!(stats.ref_mismatches, 2);
    assert_eq!(stats.ref_mismatch_examples[0], "c:30 REF=AGGG reference=GGGG");
    assert_eq!(stats.ref_mismatch_examples[1], "c:2 REF=R reference=C");
}

#[test]
fn contig_missing_from_the_reference_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.vcf");
    std::fs::write(&path, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchrZ\t5\t.\tA\tG\t.\t.\t.\n").unwrap();
    let fasta = InMemoryFasta::from_sequences([("c", SEQ)]);
    let err = normalize_file(&path, None, &fasta).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("`chrZ` is not in the reference"), "{err}");
}

#[test]
fn unknown_sample_lists_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.vcf");
    std::fs::write(&path, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tN\tT\n").unwrap();
    let fasta = InMemoryFasta::from_sequences([("c", SEQ)]);
    let err = normalize_file(&path, Some("X"), &fasta).unwrap_err().to_string();
    assert!(err.contains("sample `X`") && err.contains("N, T"), "{err}");
    let set = normalize_file(&path, Some("T"), &fasta).unwrap();
    assert_eq!(set.sample.as_deref(), Some("T"));
}

#[test]
fn truncated_gzip_names_the_file_and_line() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.vcf.gz");
    let mut text = String::from("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n");
    for pos in 1..2000 {
        text.push_str(&format!("c\t{}\t.\tA\tG\t.\t.\t.\n", pos % 90 + 1));
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let fasta = InMemoryFasta::from_sequences([("c", SEQ)]);
    let err = normalize_file(&path, None, &fasta).unwrap_err().to_string();
    assert!(err.contains("cut.vcf.gz: line") && err.contains("cannot read"), "{err}");
}
