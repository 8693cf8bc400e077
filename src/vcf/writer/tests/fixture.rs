//! A small deterministic reference, header specs, calls and blocks for the writer's tests.

use super::super::*;
use crate::genome::ploidy::Ploidy;
use crate::vcf::model::{CalledVariant, RefBlock, SiteAnnotations};
use md5::{Digest, Md5};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub type Seqs = Vec<(String, Vec<u8>)>;

/// chr1 (2000 bp, diploid in the tests) and chr2 (1500 bp, haploid in the tests).
pub fn reference_seqs() -> Seqs {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut contig = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                b"ACGT"[(state >> 62) as usize]
            })
            .collect()
    };
    vec![("chr1".into(), contig(2000)), ("chr2".into(), contig(1500))]
}

pub fn spec(kind: VcfKind, seqs: &Seqs) -> VcfHeaderSpec {
    VcfHeaderSpec {
        contigs: seqs
            .iter()
            .map(|(name, seq)| crate::genome::Contig {
                name: name.clone(),
                length: seq.len() as u64,
                md5: Some(hex::encode(Md5::digest(seq))),
            })
            .collect(),
        assembly: Some("testasm".into()),
        reference_path: PathBuf::from("/data/ref/test.fa"),
        sample_names: vec!["S1".into()],
        source_version: "0.1.0".into(),
        command_line: "dagr run germline --samplesheet s.csv".into(),
        filters: vec![("LowQual".into(), "Low quality".into())],
        kind,
        extra_info: Vec::new(),
        extra_format: Vec::new(),
        // 2024-02-29T00:00:00Z
        file_date_epoch: 1_709_164_800,
    }
}

pub fn alt_base(b: u8) -> u8 {
    match b {
        b'A' => b'C',
        b'C' => b'G',
        b'G' => b'T',
        _ => b'A',
    }
}

pub fn snv(seqs: &Seqs, tid: u32, pos: u64, genotype: Vec<u8>) -> CalledVariant {
    let r = seqs[tid as usize].1[pos as usize];
    let hom = genotype == [1, 1];
    CalledVariant {
        tid,
        pos,
        ref_allele: vec![r],
        alt_alleles: vec![vec![alt_base(r)]],
        genotype,
        qual: 115.3,
        gq: 99,
        pl: if hom { vec![300, 120, 0] } else { vec![120, 0, 200] },
        allele_depths: if hom { vec![0, 18] } else { vec![10, 8] },
        depth: 18,
        filters: Vec::new(),
        fisher_strand: Some(1.25),
        annotations: SiteAnnotations {
            rms_mapq: Some(59.5),
            qual_by_depth: Some(115.3 / 18.0),
            strand_odds_ratio: Some(0.6932),
            mq_rank_sum: Some(-0.0001),
            read_pos_rank_sum: Some(1.2345),
            base_q_rank_sum: None,
            raw_mapq: Some((63720, 18)),
            strand_counts: Some([5, 5, 4, 4]),
        },
        phase: None,
    }
}

pub fn haploid(seqs: &Seqs, tid: u32, pos: u64) -> CalledVariant {
    CalledVariant {
        genotype: vec![1],
        qual: 88.0,
        gq: 90,
        pl: vec![90, 0],
        allele_depths: vec![0, 12],
        depth: 12,
        fisher_strand: None,
        annotations: SiteAnnotations::default(),
        ..snv(seqs, tid, pos, vec![0, 1])
    }
}

fn deletion(seqs: &Seqs, pos: u64) -> CalledVariant {
    let s = &seqs[0].1[pos as usize..pos as usize + 3];
    CalledVariant { ref_allele: s.to_vec(), alt_alleles: vec![s[..1].to_vec()], ..snv(seqs, 0, pos, vec![1, 1]) }
}

fn multiallelic(seqs: &Seqs, pos: u64) -> CalledVariant {
    let r = seqs[0].1[pos as usize];
    let (a1, a2) = (alt_base(r), alt_base(alt_base(r)));
    CalledVariant {
        alt_alleles: vec![vec![a1], vec![a2]],
        genotype: vec![1, 2],
        qual: 12.04,
        pl: vec![400, 150, 160, 170, 0, 180],
        allele_depths: vec![1, 9, 8],
        filters: vec!["LowQual".into()],
        ..snv(seqs, 0, pos, vec![0, 1])
    }
}

/// The calls of a sample: S1 and S2 differ.
pub fn variants(seqs: &Seqs, sample: &str) -> Vec<CalledVariant> {
    match sample {
        "S1" => vec![snv(seqs, 0, 100, vec![0, 1]), deletion(seqs, 300), multiallelic(seqs, 500), haploid(seqs, 1, 50)],
        _ => vec![snv(seqs, 0, 100, vec![1, 1]), snv(seqs, 0, 700, vec![0, 1]), haploid(seqs, 1, 900)],
    }
}

pub fn block(tid: u32, start: u64, end: u64, gq: u32, depth: u32) -> RefBlock {
    RefBlock {
        tid,
        start,
        end,
        min_depth: depth.saturating_sub(2),
        depth,
        gq,
        ploidy: Ploidy::Diploid,
        pl: [0, gq, gq * 2 + 10],
        no_call: false,
    }
}

pub fn merge_all(blocks: &[RefBlock]) -> Vec<RefBlock> {
    let mut merger = GvcfBlockMerger::new(GqBands::default());
    let mut out: Vec<RefBlock> = blocks.iter().filter_map(|b| merger.push(*b)).collect();
    out.extend(merger.finish());
    out
}

pub fn write_sample_vcf(dir: &Path, seqs: &Seqs, sample: &str) -> WrittenVcf {
    let mut s = spec(VcfKind::Germline, seqs);
    s.sample_names = vec![sample.into()];
    let mut w = VcfWriter::create(&dir.join(format!("{sample}.vcf.gz")), &s, 0).unwrap();
    for v in variants(seqs, sample) {
        w.write_variant(&v).unwrap();
    }
    w.finish().unwrap()
}

/// A gVCF: per-base blocks whose GQ varies with position (`shift` moves the band edges), merged,
/// around the sample's variants; chr2 haploid.
pub fn write_sample_gvcf(dir: &Path, seqs: &Seqs, sample: &str, shift: u64, threads: usize) -> WrittenVcf {
    let mut s = spec(VcfKind::Gvcf { bands: GqBands::default() }, seqs);
    s.sample_names = vec![sample.into()];
    let mut w = VcfWriter::create(&dir.join(format!("{sample}.g.vcf.gz")), &s, threads).unwrap();
    let calls = variants(seqs, sample);
    let mut merger = GvcfBlockMerger::new(GqBands::default());
    for (tid, (_, seq)) in seqs.iter().enumerate() {
        let tid = tid as u32;
        let ploidy = if tid == 1 { Ploidy::Haploid } else { Ploidy::Diploid };
        let mut pos = 0u64;
        while pos < seq.len() as u64 {
            if let Some(v) = calls.iter().find(|v| v.tid == tid && v.pos == pos) {
                if let Some(b) = merger.flush() {
                    w.write_block(&b, seqs[b.tid as usize].1[b.start as usize]).unwrap();
                }
                w.write_variant(v).unwrap();
                pos += v.ref_allele.len() as u64;
                continue;
            }
            let gq = ((pos + shift) / 37 % 5) as u32 * 12 + 3;
            let unit = RefBlock { ploidy, ..block(tid, pos, pos + 1, gq, 20 + (pos % 7) as u32) };
            if let Some(b) = merger.push(unit) {
                w.write_block(&b, seqs[b.tid as usize].1[b.start as usize]).unwrap();
            }
            pos += 1;
        }
    }
    if let Some(b) = merger.finish() {
        w.write_block(&b, seqs[b.tid as usize].1[b.start as usize]).unwrap();
    }
    w.finish().unwrap()
}

/// Writes `ref.fa` (60 bases a line) and its `.fai`.
pub fn write_fasta(dir: &Path, seqs: &Seqs) -> PathBuf {
    let (mut fa, mut fai) = (String::new(), String::new());
    for (name, seq) in seqs {
        fa.push_str(&format!(">{name}\n"));
        let offset = fa.len();
        for line in seq.chunks(60) {
            fa.push_str(std::str::from_utf8(line).unwrap());
            fa.push('\n');
        }
        let _ = writeln!(fai, "{name}\t{}\t{offset}\t60\t61", seq.len());
    }
    let path = dir.join("ref.fa");
    std::fs::write(&path, fa).unwrap();
    std::fs::write(dir.join("ref.fa.fai"), fai).unwrap();
    path
}
