//! Synthetic assembly tests; the helpers also serve the active-region and read tests.

use super::*;

/// A deterministic pseudo-random reference (no long repeats).
pub(crate) fn random_reference(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"ACGT"[(x >> 33) as usize % 4]
        })
        .collect()
}

/// An edit: replace `reference[pos..pos + ref_len]` with `alt`.
pub(crate) type Edit<'a> = (usize, usize, &'a [u8]);

/// The haplotype of `edits` (sorted, non-overlapping) and each base's reference coordinate.
pub(crate) fn haplotype(reference: &[u8], edits: &[Edit<'_>]) -> (Vec<u8>, Vec<Option<u64>>) {
    let (mut bases, mut coords, mut at) = (Vec::new(), Vec::new(), 0usize);
    for &(pos, ref_len, alt) in edits {
        bases.extend_from_slice(&reference[at..pos]);
        coords.extend((at..pos).map(|p| Some(p as u64)));
        let shared = ref_len.min(alt.len());
        bases.extend_from_slice(alt);
        coords.extend((0..alt.len()).map(|i| (i < shared).then_some((pos + i) as u64)));
        at = pos + ref_len;
    }
    bases.extend_from_slice(&reference[at..]);
    coords.extend((at..reference.len()).map(|p| Some(p as u64)));
    (bases, coords)
}

/// Reads of `len` bases every `step` bases along a haplotype, with exact CIGARs.
pub(crate) fn tile_reads(hap: &(Vec<u8>, Vec<Option<u64>>), len: usize, step: usize, first_hash: u64) -> Vec<ReadView> {
    let (bases, coords) = hap;
    let mut out = Vec::new();
    let mut o = 0;
    while o + len <= bases.len() {
        let cs = &coords[o..o + len];
        let lead = cs.iter().take_while(|c| c.is_none()).count();
        let mut cigar: Vec<(u8, u32)> = Vec::new();
        let push = |op: u8, n: u32, cigar: &mut Vec<(u8, u32)>| match cigar.last_mut() {
            Some((last, m)) if *last == op => *m += n,
            _ => cigar.push((op, n)),
        };
        if lead > 0 {
            push(4, lead as u32, &mut cigar);
        }
        let mut prev: Option<u64> = None;
        for c in &cs[lead..] {
            match (c, prev) {
                (None, _) => push(1, 1, &mut cigar),
                (Some(c), Some(p)) if *c > p + 1 => {
                    push(2, (c - p - 1) as u32, &mut cigar);
                    push(0, 1, &mut cigar);
                }
                _ => push(0, 1, &mut cigar),
            }
            if c.is_some() {
                prev = *c;
            }
        }
        let start = cs[lead..].iter().flatten().next().copied().unwrap_or(0);
        out.push(ReadView {
            name_hash: first_hash + out.len() as u64,
            bases: bases[o..o + len].to_vec(),
            quals: vec![30; len],
            mapq: 60,
            reverse: out.len() % 2 == 1,
            first_of_pair: true,
            ref_start: start,
            cigar,
        });
        o += step;
    }
    out
}

fn run(reference: &[u8], reads: &[ReadView]) -> Assembly {
    let region = ActiveRegion { tid: 0, start: 0, end: reference.len() as u64 };
    assemble(&region, reference, reads, &AssemblyConfig::default())
}

fn has(a: &Assembly, pos: u64, r: &[u8], alt: &[u8]) -> bool {
    a.candidates.iter().any(|c| c.pos == pos && c.ref_allele == r && c.alt_allele == alt)
}

#[test]
fn snv_is_found_with_two_haplotypes() {
    let reference = random_reference(500, 1);
    let alt = if reference[250] == b'A' { b"C" } else { b"A" };
    let reads = tile_reads(&haplotype(&reference, &[(250, 1, alt)]), 100, 4, 0);
    let a = run(&reference, &reads);
    assert_eq!(a.kmer_size, Some(25));
    assert_eq!(a.candidates.len(), 1, "{:?}", a.candidates);
    assert!(has(&a, 250, &reference[250..251], alt));
    assert!(a.haplotypes[0].is_reference && a.haplotypes[0].bases == reference);
    assert_eq!(a.haplotypes.len(), 2);
    assert_eq!(a.haplotypes[1].variants, vec![0]);
}

#[test]
fn homopolymer_insertion_is_left_aligned() {
    let mut reference = random_reference(500, 2);
    reference[249] = b'C';
    reference[250..256].copy_from_slice(b"AAAAAA");
    reference[256] = b'G';
    // inserted at the right end of the run, as an aligner might place it
    let reads = tile_reads(&haplotype(&reference, &[(256, 0, b"A")]), 100, 4, 0);
    let a = run(&reference, &reads);
    assert_eq!(a.candidates.len(), 1, "{:?}", a.candidates);
    assert!(has(&a, 249, b"C", b"CA"), "{:?}", a.candidates);
}

#[test]
fn ten_base_deletion_is_found() {
    let reference = random_reference(500, 3);
    let reads = tile_reads(&haplotype(&reference, &[(240, 10, b"")]), 100, 3, 0);
    let a = run(&reference, &reads);
    let found: Vec<_> = a.candidates.iter().filter(|c| c.ref_allele.len() == 11 && c.alt_allele.len() == 1).collect();
    assert_eq!(found.len(), 1, "{:?}", a.candidates);
    assert_eq!(a.candidates.len(), 1);
}

#[test]
fn het_pair_on_different_haplotypes_gives_two_alt_haplotypes() {
    let reference = random_reference(500, 4);
    let snv = |p: usize| -> &'static [u8] { if reference[p] == b'T' { b"G" } else { b"T" } };
    let mut reads = tile_reads(&haplotype(&reference, &[(200, 1, snv(200))]), 100, 4, 0);
    reads.extend(tile_reads(&haplotype(&reference, &[(300, 1, snv(300))]), 100, 4, 1000));
    reads.sort_by_key(|r| (r.ref_start, r.name_hash));
    let a = run(&reference, &reads);
    assert_eq!(a.candidates.len(), 2, "{:?}", a.candidates);
    let sets: Vec<&Vec<usize>> = a.haplotypes.iter().map(|h| &h.variants).collect();
    assert!(sets.contains(&&vec![0]) && sets.contains(&&vec![1]), "{sets:?}");
    assert!(a.haplotypes.iter().skip(1).all(|h| !h.is_reference));
}

#[test]
fn tandem_repeat_retries_larger_k_and_left_aligns() {
    let mut reference = random_reference(500, 5);
    reference[219] = b'G';
    for i in 0..15 {
        reference[220 + 2 * i..222 + 2 * i].copy_from_slice(b"CA");
    }
    reference[250] = b'T';
    let reads = tile_reads(&haplotype(&reference, &[(240, 2, b"")]), 100, 3, 0);
    let a = run(&reference, &reads);
    assert_eq!(a.kmer_size, Some(35));
    assert_eq!(a.candidates.len(), 1, "{:?}", a.candidates);
    assert!(has(&a, 219, b"GCA", b"G"), "{:?}", a.candidates);
}

#[test]
fn pileup_fallback_when_no_k_works() {
    let reference = random_reference(500, 6);
    let alt = if reference[250] == b'A' { b"C" } else { b"A" };
    let reads = tile_reads(&haplotype(&reference, &[(250, 1, alt)]), 100, 4, 0);
    let region = ActiveRegion { tid: 3, start: 1000, end: 1500 };
    let shifted: Vec<ReadView> = reads
        .into_iter()
        .map(|mut r| {
            r.ref_start += 1000;
            r
        })
        .collect();
    let cfg = AssemblyConfig { kmer_sizes: vec![], ..AssemblyConfig::default() };
    let a = assemble(&region, &reference, &shifted, &cfg);
    assert_eq!(a.kmer_size, None);
    assert_eq!(
        a.candidates,
        vec![CandidateVariant { tid: 3, pos: 1250, ref_allele: vec![reference[250]], alt_allele: alt.to_vec() }]
    );
    assert_eq!(a.haplotypes.len(), 2);
}

#[test]
fn pileup_fallback_joins_alleles_that_reads_carry_together() {
    // Two hom-alt SNVs 6 bp apart, no usable k: besides one haplotype per SNV, the reads'
    // combination gets a haplotype, so a read carrying both fits it and speaks for each SNV.
    let reference = random_reference(500, 11);
    let alt = |p: usize| if reference[p] == b'A' { &b"C"[..] } else { &b"A"[..] };
    let reads = tile_reads(&haplotype(&reference, &[(250, 1, alt(250)), (256, 1, alt(256))]), 100, 4, 0);
    let region = ActiveRegion { tid: 0, start: 0, end: 500 };
    let cfg = AssemblyConfig { kmer_sizes: vec![], ..AssemblyConfig::default() };
    let a = assemble(&region, &reference, &reads, &cfg);
    assert_eq!(a.kmer_size, None);
    assert_eq!(a.candidates.len(), 2, "{:?}", a.candidates);
    assert_eq!(a.haplotypes.len(), 4, "reference, each SNV, both: {:?}", a.haplotypes);
    assert!(a.haplotypes.iter().any(|h| h.variants == vec![0, 1]));
}

#[test]
fn alignment_diffs_cover_mismatch_insertion_deletion() {
    use align::{Diff, diffs};
    assert_eq!(diffs(b"ACGTACGT", b"ACGTACGT"), vec![]);
    assert_eq!(diffs(b"ACGAACGT", b"ACGTACGT"), vec![Diff::Mismatch { pos: 3, base: b'A' }]);
    let d = diffs(b"ACGTTTTTACGGA", b"ACGTTTACGGA");
    assert!(matches!(d.as_slice(), [Diff::Insertion { seq, .. }] if seq == b"TT"), "{d:?}");
    let d = diffs(b"ACGTACGGA", b"ACGTTTACGGA");
    assert!(matches!(d.as_slice(), [Diff::Deletion { len: 2, .. }]), "{d:?}");
}

/// The representation is the likeliest set of mutations: in an (ATA)n STR a 5-bp insertion and
/// a SNV (the public truth's spelling), not a 1-bp and a 4-bp insertion.
#[test]
fn str_expansion_is_one_insertion_and_a_snv() {
    use align::{Diff, diffs};
    let reference = b"GACTCTGTCTCAAAAAAAAATAATAATAATAATAACAACACTACC";
    let hap = b"GACTCTGTCTCAAAAAATAATATAATAATAATAATAATAACAACACTACC";
    let d = diffs(hap, reference);
    let insertions: Vec<usize> =
        d.iter().filter_map(|x| if let Diff::Insertion { seq, .. } = x { Some(seq.len()) } else { None }).collect();
    let mismatches = d.iter().filter(|x| matches!(x, Diff::Mismatch { .. })).count();
    assert_eq!((insertions.as_slice(), mismatches), (&[5usize][..], 1), "{d:?}");
}

/// ... while four differing bases that an insertion and a deletion explain stay two indels
/// (NA12878 chr22 window: the truth's spelling), and two adjacent changes stay SNVs.
#[test]
fn indel_pair_beats_four_snvs_and_mnp_stays_snvs() {
    use align::{Diff, diffs};
    let d = diffs(b"GAGATTGCACCTCTAAACTCTAGCCTGG", b"GAGATTGCACCAGTGCACTCTAGCCTGG");
    assert!(d.iter().any(|x| matches!(x, Diff::Insertion { .. })), "{d:?}");
    assert!(d.iter().any(|x| matches!(x, Diff::Deletion { len: 4, .. })), "{d:?}");
    assert!(!d.iter().any(|x| matches!(x, Diff::Mismatch { .. })), "{d:?}");
    let d = diffs(b"GAGATTGCACTGAGTGCACTC", b"GAGATTGCACCAAGTGCACTC");
    assert_eq!(d.iter().filter(|x| matches!(x, Diff::Mismatch { .. })).count(), 2, "{d:?}");
}
