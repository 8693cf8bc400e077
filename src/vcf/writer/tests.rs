use super::*;
use crate::genome::ploidy::Ploidy;
use crate::vcf::model::{Phase, RefBlock};
use md5::{Digest, Md5};
use std::io::Read as _;

mod fixture;
mod tools;

use fixture::*;

#[test]
fn header_holds_every_required_line() {
    let text = spec(VcfKind::Germline, &reference_seqs()).render().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "##fileformat=VCFv4.2");
    assert_eq!(lines[1], "##fileDate=20240229");
    assert_eq!(lines[2], "##source=dagr-0.1.0");
    assert!(lines[3].starts_with("##reference=file:///"));
    assert!(text.contains(",assembly=testasm>"));
    for key in ["GT", "AD", "DP", "GQ", "PL"] {
        assert!(text.contains(&format!("##FORMAT=<ID={key},")), "{key}");
    }
    assert!(text.contains("##FILTER=<ID=LowQual,Description=\"Low quality\">"));
    assert!(text.contains("##dagr_command=dagr run germline"));
    assert!(lines.last().unwrap().ends_with("FORMAT\tS1"));
    assert!(!text.contains("NON_REF"));

    let gvcf = spec(VcfKind::Gvcf { bands: GqBands::default() }, &reference_seqs()).render().unwrap();
    for needle in [
        "##ALT=<ID=NON_REF,",
        "##INFO=<ID=END,",
        "##FORMAT=<ID=MIN_DP,",
        "##GVCFBlock0-10=minGQ=0(inclusive),maxGQ=10(exclusive)",
        "##GVCFBlock20-30=minGQ=20(inclusive),maxGQ=30(exclusive)",
        "##GVCFBlock40-100=minGQ=40(inclusive),maxGQ=100(exclusive)",
    ] {
        assert!(gvcf.contains(needle), "{needle}");
    }
}

#[test]
fn somatic_header_names_the_pair() {
    let mut s = spec(VcfKind::Somatic { tumour: "T1".into(), normal: "N1".into() }, &reference_seqs());
    s.sample_names = vec!["T1".into(), "N1".into()];
    let text = s.render().unwrap();
    for needle in [
        "##tumor_sample=T1",
        "##normal_sample=N1",
        "##SAMPLE=<ID=T1,",
        "##SAMPLE=<ID=N1,",
        "##PEDIGREE=<Derived=T1,Original=N1>",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    s.kind = VcfKind::Somatic { tumour: "T1".into(), normal: "X".into() };
    assert!(s.render().unwrap_err().0.contains("\"X\""));
}

#[test]
fn bad_header_specs_are_refused() {
    let base = spec(VcfKind::Germline, &reference_seqs());
    let mut s = base.clone();
    s.contigs[0].md5 = Some("xyz".into());
    assert!(s.render().unwrap_err().0.contains("md5"));
    let mut s = base.clone();
    s.contigs[1].name = "chr 2".into();
    assert!(s.render().is_err());
    let mut s = base.clone();
    s.filters.push(("PASS".into(), "x".into()));
    assert!(s.render().is_err());
    let mut s = base;
    s.filters[0].1 = "say \"hi\"".into();
    assert!(s.render().is_err());
}

#[test]
fn non_ref_pl_takes_the_worst_observed_substitute() {
    // Haploid: <NON_REF> = max PL.
    assert_eq!(extend_pl_with_non_ref(&[90, 0], 2, 1).unwrap(), vec![90, 0, 90]);
    // Diploid biallelic: 0/0 0/1 1/1 | 0/NR 1/NR NR/NR.
    assert_eq!(extend_pl_with_non_ref(&[200, 0, 300], 2, 2).unwrap(), vec![200, 0, 300, 200, 300, 300]);
    // Triallelic 1/2: 0/0 0/1 1/1 0/2 1/2 2/2.
    let pl = [400, 150, 160, 170, 0, 180];
    let ext = extend_pl_with_non_ref(&pl, 3, 2).unwrap();
    assert_eq!(&ext[..6], &pl);
    assert_eq!(&ext[6..], &[400, 160, 180, 400]);
    assert!(extend_pl_with_non_ref(&[1, 2], 2, 2).is_none());
    assert_eq!(extend_pl_with_non_ref(&[0, 0, 0], 2, 2).unwrap(), vec![0; 6]);
}

#[test]
fn bands_and_merging_are_independent_of_cuts() {
    let bands = GqBands::default();
    assert_eq!(bands.band_of(0), 0);
    assert_eq!(bands.band_of(15), bands.band_of(19));
    assert_ne!(bands.band_of(19), bands.band_of(20));
    assert_eq!(bands.band_of(99), bands.band_of(400));
    assert!(GqBands::new(vec![1, 5]).is_err());
    assert!(GqBands::new(vec![0, 5, 5]).is_err());

    let gqs = [30, 31, 35, 12, 14, 19, 99, 120, 99, 5];
    let unit: Vec<RefBlock> =
        gqs.iter().enumerate().map(|(i, &gq)| block(0, i as u64, i as u64 + 1, gq, 20 + i as u32)).collect();
    let merged = merge_all(&unit);
    assert_eq!(merged.len(), 4);
    assert_eq!(
        (merged[0].start, merged[0].end, merged[0].gq, merged[0].min_depth, merged[0].depth),
        (0, 3, 30, 18, 20)
    );
    assert_eq!((merged[2].start, merged[2].end, merged[2].gq), (6, 9, 99));
    // Cut at a "shard edge", merge each side, then re-merge the pieces: same records.
    let mut pieces = merge_all(&unit[..5]);
    pieces.extend(merge_all(&unit[5..]));
    assert_eq!(merge_all(&pieces), merged);
    // Ploidy or contig change, or a gap, closes a block.
    let mut hap = block(0, 10, 11, 5, 20);
    hap.ploidy = Ploidy::Haploid;
    assert_eq!(merge_all(&[unit[9], hap, block(0, 12, 13, 5, 20), block(1, 13, 14, 5, 20)]).len(), 4);
}

#[test]
fn merged_blocks_are_honest() {
    // Sites of one band (GQ 40-99) with their own PLs: the block takes GQ and PL of the
    // lowest-GQ site (the first of two equal ones), MIN_DP the smallest depth.
    let site = |pos: u64, gq: u32, depth: u32, pl: [u32; 3]| RefBlock {
        start: pos,
        end: pos + 1,
        gq,
        depth,
        min_depth: depth,
        pl,
        ..block(0, pos, pos + 1, gq, depth)
    };
    let sites = [
        site(0, 89, 30, [0, 89, 900]),
        site(1, 49, 28, [0, 49, 700]),
        site(2, 49, 31, [0, 52, 650]),
        site(3, 99, 35, [0, 120, 999]),
    ];
    let merged = merge_all(&sites);
    assert_eq!(merged.len(), 1);
    let b = merged[0];
    assert_eq!((b.start, b.end, b.gq, b.min_depth, b.pl), (0, 4, 49, 28, [0, 49, 700]));
    for s in &sites {
        assert!(s.gq >= b.gq && s.min_depth >= b.min_depth, "every site at least as good as its block");
    }
    // No coverage never shares a block with coverage, even in the same band (GQ 0-9).
    let low =
        [site(10, 3, 1, [0, 3, 30]), site(11, 0, 0, [0, 0, 0]), site(12, 0, 0, [0, 0, 0]), site(13, 6, 2, [0, 6, 60])];
    let merged = merge_all(&low);
    let spans: Vec<(u64, u64, u32)> = merged.iter().map(|b| (b.start, b.end, b.min_depth)).collect();
    assert_eq!(spans, vec![(10, 11, 1), (11, 13, 0), (13, 14, 2)]);
}

#[test]
fn record_lines_match_the_format() {
    let seqs = reference_seqs();
    let mut out = Vec::new();
    let v = snv(&seqs, 0, 100, vec![0, 1]);
    record::variant_line(&mut out, "chr1", &v, false).unwrap();
    let r = seqs[0].1[100] as char;
    let a = alt_base(seqs[0].1[100]) as char;
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        format!(
            "chr1\t101\t.\t{r}\t{a}\t115.3\tPASS\t\
             AC=1;AF=0.500;AN=2;DP=18;FS=1.250;MQ=59.50;MQRankSum=0.000;QD=6.41;ReadPosRankSum=1.235;SOR=0.693\t\
             GT:AD:DP:GQ:PL\t0/1:10,8:18:99:120,0,200\n"
        ),
        "INFO keys alphabetical, -0.0001 written 0.000, BaseQRankSum (undefined) left out"
    );
    out.clear();
    record::variant_line(&mut out, "chr1", &v, true).unwrap();
    assert!(
        String::from_utf8(out.clone()).unwrap().ends_with(&format!(
            "{a},<NON_REF>\t115.3\tPASS\t\
         DP=18;FS=1.250;MQ=59.50;MQRankSum=0.000;QD=6.41;RAW_MQandDP=63720,18;ReadPosRankSum=1.235;SOR=0.693\t\
         GT:AD:DP:GQ:PL:SB\t0/1:10,8,0:18:99:120,0,200,120,200,200:5,5,4,4\n"
        )),
        "a gVCF variant record leaves AC, AF and AN to the joint genotyper and adds its raw sums"
    );
    out.clear();
    let h = haploid(&seqs, 1, 50);
    record::variant_line(&mut out, "chr2", &h, false).unwrap();
    assert!(
        String::from_utf8(out.clone())
            .unwrap()
            .ends_with("\tPASS\tAC=1;AF=1.000;AN=1;DP=12\tGT:AD:DP:GQ:PL\t1:0,12:12:90:90,0\n")
    );
    // A phased het: `a|b` in the sorted order or flipped, with PS (1-based) appended.
    for (flipped, gt) in [(false, "0|1"), (true, "1|0")] {
        out.clear();
        let phased = CalledVariant { phase: Some(Phase { flipped, set_pos: 41 }), ..v.clone() };
        record::variant_line(&mut out, "chr1", &phased, false).unwrap();
        let line = String::from_utf8(out.clone()).unwrap();
        assert!(line.ends_with(&format!("\tGT:AD:DP:GQ:PL:PS\t{gt}:10,8:18:99:120,0,200:42\n")), "{line}");
        out.clear();
        record::variant_line(&mut out, "chr1", &phased, true).unwrap();
        let line = String::from_utf8(out.clone()).unwrap();
        assert!(line.ends_with(&format!("\t{gt}:10,8,0:18:99:120,0,200,120,200,200:5,5,4,4:42\n")), "gVCF: {line}");
    }
    // FORMAT/DP is the informative reads (sum of AD), INFO/DP every read over the site.
    out.clear();
    let fewer = CalledVariant { allele_depths: vec![7, 6], depth: 20, ..v.clone() };
    record::variant_line(&mut out, "chr1", &fewer, false).unwrap();
    let line = String::from_utf8(out.clone()).unwrap();
    assert!(line.contains(";DP=20;") && line.ends_with("\t0/1:7,6:13:99:120,0,200\n"), "{line}");
    out.clear();
    let b = RefBlock { ploidy: Ploidy::Haploid, ..block(0, 9, 20, 150, 30) };
    record::block_line(&mut out, "chr1", &b, b'a').unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "chr1\t10\t.\tA\t<NON_REF>\t.\t.\tEND=20\tGT:DP:GQ:MIN_DP:PL\t0:30:99:28:0,150\n"
    );
    let mut bad = v.clone();
    bad.pl.pop();
    assert!(record::variant_line(&mut Vec::new(), "chr1", &bad, false).unwrap_err().contains("PL has 2 values"));
}

#[test]
fn writer_refuses_disorder_undeclared_filters_and_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let seqs = reference_seqs();
    let path = dir.path().join("s.g.vcf.gz");
    let mut w = VcfWriter::create(&path, &spec(VcfKind::Gvcf { bands: GqBands::default() }, &seqs), 0).unwrap();
    w.write_variant(&snv(&seqs, 0, 100, vec![0, 1])).unwrap();
    let err = w.write_variant(&snv(&seqs, 0, 90, vec![0, 1])).unwrap_err();
    assert!(matches!(err, VcfWriteError::Order { .. }), "{err}");
    assert!(err.to_string().contains("s.g.vcf.gz") && err.to_string().contains("chr1:91"));
    let mut filtered = snv(&seqs, 0, 110, vec![0, 1]);
    filtered.filters = vec!["Nope".into()];
    assert!(w.write_variant(&filtered).unwrap_err().to_string().contains("\"Nope\" is not declared"));
    w.write_block(&block(0, 120, 150, 30, 20), seqs[0].1[120]).unwrap();
    assert!(matches!(w.write_variant(&snv(&seqs, 0, 140, vec![0, 1])).unwrap_err(), VcfWriteError::Order { .. }));
    assert!(matches!(w.write_block(&block(5, 0, 1, 30, 20), b'A').unwrap_err(), VcfWriteError::UnknownContig { .. }));
    assert!(w.write_block(&block(0, 150, 999_999, 30, 20), b'A').unwrap_err().to_string().contains("past the contig"));
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a dropped writer leaves nothing");
    let bad_name = VcfWriter::create(&dir.path().join("s.vcf"), &spec(VcfKind::Germline, &seqs), 0);
    assert!(matches!(bad_name, Err(VcfWriteError::BadName { .. })));
}

#[test]
fn callable_bed_merges_adjacent_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let seqs = reference_seqs();
    let path = dir.path().join("S1.callable.bed.gz");
    let mut w = CallableBedWriter::create(&path, &spec(VcfKind::Germline, &seqs).contigs, 1).unwrap();
    w.extend([(0, 0, 10), (0, 10, 20), (0, 15, 18), (0, 30, 40), (0, 40, 40), (1, 0, 5), (1, 5, 7)]).unwrap();
    assert!(matches!(w.push(0, 100, 110).unwrap_err(), VcfWriteError::Order { .. }));
    let written = w.finish().unwrap();
    assert_eq!((written.intervals, written.bases), (3, 37));
    assert_eq!(gunzip(&path), "chr1\t0\t20\nchr1\t30\t40\nchr2\t0\t7\n");
    let sidecar = std::fs::read_to_string(dir.path().join("S1.callable.bed.gz.md5")).unwrap();
    assert_eq!(sidecar, format!("{}  S1.callable.bed.gz\n", written.data.md5));
}

#[test]
fn output_is_byte_identical_across_runs_and_threads() {
    let seqs = reference_seqs();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let wa = write_sample_gvcf(a.path(), &seqs, "S1", 0, 0);
    let wb = write_sample_gvcf(b.path(), &seqs, "S1", 0, 3);
    assert_eq!(wa.data.md5, wb.data.md5);
    assert_eq!(wa.index.md5, wb.index.md5);
    assert_eq!(std::fs::read(&wa.data.path).unwrap(), std::fs::read(&wb.data.path).unwrap());
    let md5 = hex::encode(Md5::digest(std::fs::read(&wa.data.path).unwrap()));
    assert_eq!(md5, wa.data.md5);
    assert!(a.path().join("S1.g.vcf.gz.tbi.md5").is_file());
}

#[test]
fn outputs_pass_bcftools_tabix_and_vcf_validator() {
    let dir = tempfile::tempdir().unwrap();
    let seqs = reference_seqs();
    let fasta = write_fasta(dir.path(), &seqs);
    let vcf = write_sample_vcf(dir.path(), &seqs, "S1");
    let g1 = write_sample_gvcf(dir.path(), &seqs, "S1", 0, 0);
    let g2 = write_sample_gvcf(dir.path(), &seqs, "S2", 7, 0);
    for path in [&vcf.data.path, &g1.data.path, &g2.data.path] {
        tools::bcftools_view_is_silent(path);
        tools::norm_finds_no_mismatch(path, &fasta);
        tools::region_query_works(path);
        tools::vcf_validator_is_silent(path);
    }
    tools::gvcf_merge_works(dir.path(), &fasta, &g1.data.path, &g2.data.path);
}

#[test]
fn a_file_without_records_is_valid_and_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.vcf.gz");
    let written = VcfWriter::create(&path, &spec(VcfKind::Germline, &reference_seqs()), 0).unwrap().finish().unwrap();
    assert_eq!(written.records, 0);
    assert!(gunzip(&path).ends_with("FORMAT\tS1\n"));
    assert!(dir.path().join("empty.vcf.gz.tbi").is_file());
    tools::bcftools_view_is_silent(&path);
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text
}

#[test]
fn no_call_blocks_are_written_as_such_and_never_merged_with_confident_ones() {
    let no_call = |start: u64, end: u64| RefBlock { gq: 0, pl: [0; 3], no_call: true, ..block(0, start, end, 0, 400) };
    let mut out = Vec::new();
    record::block_line(&mut out, "chr1", &no_call(9, 20), b'c').unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "chr1\t10\t.\tC\t<NON_REF>\t.\t.\tEND=20\tGT:DP:GQ:MIN_DP:PL\t./.:400:0:398:0,0,0\n"
    );
    let mut haploid = Vec::new();
    record::block_line(&mut haploid, "chr1", &RefBlock { ploidy: Ploidy::Haploid, ..no_call(9, 20) }, b'c').unwrap();
    assert!(String::from_utf8(haploid).unwrap().ends_with("\t.:400:0:398:0,0\n"));
    let claims_confidence = RefBlock { gq: 30, ..no_call(9, 20) };
    assert!(record::block_line(&mut Vec::new(), "chr1", &claims_confidence, b'c').is_err());

    // A GQ-0 reference block and a no-call block side by side stay two blocks.
    let mut merger = GvcfBlockMerger::new(GqBands::default());
    assert_eq!(merger.push(RefBlock { gq: 0, pl: [0, 0, 5], ..block(0, 0, 5, 0, 30) }), None);
    let closed = merger.push(no_call(5, 9)).expect("the confident block closes");
    assert_eq!((closed.start, closed.end, closed.no_call), (0, 5, false));
    assert_eq!(merger.push(no_call(9, 12)), None, "no-call blocks merge with each other");
    let last = merger.finish().unwrap();
    assert_eq!((last.start, last.end, last.no_call), (5, 12, true));
}
