//! The germline VCF and gVCF as downstream tools read them (issue 16): on every variant record
//! GT is the genotype whose PL is 0, GQ = min(99, second-lowest PL), FORMAT/DP = sum of AD, the
//! INFO annotations are present where defined, phase sets are well formed (PS on phased hets
//! only, the POS of the block's first het, no block of one), `bcftools +fill-tags` agrees with
//! AC/AN/AF, `bcftools view`, `bcftools norm -c e` and `vcf-validator` accept both files without
//! a word, and `bcftools merge -g` merges the gVCF.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn records(path: &Path) -> Vec<Vec<String>> {
    let out = Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// VCF genotype index of a (sorted) diploid or haploid genotype.
fn genotype_index(gt: &str) -> usize {
    let mut alleles: Vec<usize> = gt.split(['/', '|']).map(|a| a.parse().unwrap()).collect();
    alleles.sort_unstable();
    match alleles[..] {
        [a] => a,
        [j, k] => k * (k + 1) / 2 + j,
        _ => panic!("ploidy of {gt}"),
    }
}

fn check_variant_records(path: &Path, vcf: bool) -> usize {
    let mut checked = 0;
    for r in records(path) {
        if r[4] == "<NON_REF>" {
            continue; // a reference block
        }
        let sample: BTreeMap<&str, &str> = r[8].split(':').zip(r[9].split(':')).collect();
        let pl: Vec<u32> = sample["PL"].split(',').map(|v| v.parse().unwrap()).collect();
        let gt = genotype_index(sample["GT"]);
        let line = r.join("\t");
        assert_eq!(pl[gt], 0, "GT is not the genotype whose PL is 0: {line}");
        let mut sorted = pl.clone();
        sorted.sort_unstable();
        assert_eq!(sample["GQ"].parse::<u32>().unwrap(), sorted[1].min(99), "GQ is not min(99, second PL): {line}");
        let ad: Vec<u32> = sample["AD"].split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(sample["DP"].parse::<u32>().unwrap(), ad.iter().sum::<u32>(), "FORMAT/DP is not sum(AD): {line}");

        let info: BTreeMap<&str, &str> = r[7].split(';').filter_map(|kv| kv.split_once('=')).collect();
        let keys: Vec<&str> = r[7].split(';').map(|kv| kv.split('=').next().unwrap()).collect();
        let mut alphabetical = keys.clone();
        alphabetical.sort_unstable();
        assert_eq!(keys, alphabetical, "INFO keys out of order: {line}");
        let always: &[&str] =
            if vcf { &["AC", "AF", "AN", "DP", "FS", "MQ", "QD", "SOR"] } else { &["DP", "FS", "MQ", "QD", "SOR"] };
        for key in always {
            assert!(info.contains_key(key), "INFO/{key} missing: {line}");
        }
        // Rank sums exactly where both REF and ALT informative reads exist (MAPQ is known for
        // every read; position and base quality for every read that does not delete the base).
        let both = ad[0] > 0 && ad[1..].iter().any(|&d| d > 0);
        assert_eq!(info.contains_key("MQRankSum"), both, "MQRankSum where both REF and ALT reads exist: {line}");
        if !both {
            assert!(!info.contains_key("ReadPosRankSum") && !info.contains_key("BaseQRankSum"), "{line}");
        }
        assert!(info["DP"].parse::<u32>().unwrap() >= ad.iter().sum::<u32>(), "INFO/DP counts every read: {line}");
        checked += 1;
    }
    checked
}

/// Phased records: `|` exactly where PS is given, only hets, PS the POS of the block's first
/// record, every block at least two hets. Returns (phased hets, blocks).
fn check_phase_sets(path: &Path) -> (usize, usize) {
    let mut blocks: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    for r in records(path) {
        if r[4] == "<NON_REF>" {
            continue;
        }
        let sample: BTreeMap<&str, &str> = r[8].split(':').zip(r[9].split(':')).collect();
        let line = r.join("\t");
        let gt = sample["GT"];
        assert_eq!(gt.contains('|'), sample.contains_key("PS"), "PS exactly on phased GTs: {line}");
        let Some(ps) = sample.get("PS") else { continue };
        let alleles: Vec<&str> = gt.split('|').collect();
        assert!(alleles.len() == 2 && alleles[0] != alleles[1], "only hets are phased: {line}");
        let ps: u64 = ps.parse().unwrap();
        let pos: u64 = r[1].parse().unwrap();
        assert!(ps <= pos, "PS after POS: {line}");
        blocks.entry((r[0].clone(), ps)).or_default().push(pos);
    }
    for ((contig, ps), members) in &blocks {
        assert!(members.len() >= 2, "a phase block of one het at {contig}:{ps}");
        assert_eq!(members[0], *ps, "PS {ps} is not the POS of its block's first het");
    }
    (blocks.values().map(Vec::len).sum(), blocks.len())
}

fn tool(args: &[&str], file: &Path) -> std::process::Output {
    let out = Command::new(args[0]).args(&args[1..]).arg(file).output().unwrap();
    assert!(out.status.success(), "{args:?} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn germline_records_are_consistent_annotated_and_accepted_by_readers() {
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    let sheet = testdata().join("samplesheet_germline.csv");
    let (code, _, err) = run(qc_run(work.path(), "germline", &sheet, &outdir).args(["--threads", "2"]));
    assert_eq!(code, 0, "{err}");
    let vcf = outdir.join("GERM/GERM.vcf.gz");
    let gvcf = outdir.join("GERM/GERM.g.vcf.gz");
    let n = check_variant_records(&vcf, true);
    assert!(n > 50, "{n} variant records");
    assert_eq!(check_variant_records(&gvcf, false), n, "the gVCF carries every variant record");
    let (phased, blocks) = check_phase_sets(&vcf);
    assert!(phased > n / 4 && blocks > 1, "{phased} phased hets in {blocks} blocks of {n} records");
    assert_eq!(check_phase_sets(&gvcf), (phased, blocks), "the gVCF carries the same phase");

    if !require_tool("bcftools") {
        return;
    }
    // +fill-tags recomputes AC, AN and AF from GT: the same values.
    let ours = tool(&["bcftools", "query", "-f", "%AC\t%AN\t%AF\n"], &vcf).stdout;
    let filled = Command::new("sh")
        .arg("-c")
        .arg(format!("bcftools +fill-tags '{}' -- -t AC,AN,AF | bcftools query -f '%AC\\t%AN\\t%AF\\n'", vcf.display()))
        .output()
        .unwrap();
    assert!(filled.status.success(), "bcftools +fill-tags: {}", String::from_utf8_lossy(&filled.stderr));
    let parse = |text: &[u8]| -> Vec<(String, String, Vec<f64>)> {
        String::from_utf8_lossy(text)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].to_string(), f[1].to_string(), f[2].split(',').map(|v| v.parse().unwrap()).collect())
            })
            .collect()
    };
    let (ours, filled) = (parse(&ours), parse(&filled.stdout));
    assert_eq!(ours.len(), n);
    for (a, b) in ours.iter().zip(&filled) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1), "AC/AN differ from bcftools +fill-tags");
        assert!(a.2.iter().zip(&b.2).all(|(x, y)| (x - y).abs() < 1e-3), "AF {:?} vs {:?}", a.2, b.2);
    }
    let reference = testdata().join("ref/ref.fa");
    for f in [&vcf, &gvcf] {
        let out = tool(&["bcftools", "view", "-Ov", "-o", "/dev/null"], f);
        assert!(
            out.stderr.is_empty(),
            "bcftools view warns on {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        tool(&["bcftools", "norm", "-c", "e", "-f", reference.to_str().unwrap(), "-Ou", "-o", "/dev/null"], f);
    }
    // A joint merge of gVCFs reads the blocks and the joint fields (the same sample twice here).
    let merged = Command::new("bcftools")
        .args(["merge", "--force-samples", "-g"])
        .arg(&reference)
        .args(["-Ou", "-o", "/dev/null"])
        .arg(&gvcf)
        .arg(&gvcf)
        .output()
        .unwrap();
    assert!(merged.status.success(), "bcftools merge -g: {}", String::from_utf8_lossy(&merged.stderr));
    if !require_tool("vcf-validator") {
        return;
    }
    for f in [&vcf, &gvcf] {
        let out = tool(&["vcf-validator"], f);
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(said.trim().is_empty(), "vcf-validator on {}: {said}", f.display());
    }
}
