//! The germline VCF and gVCF as downstream tools read them (issue 16): on every variant record
//! GT is the genotype whose PL is 0, GQ = min(99, second-lowest PL), FORMAT/DP = sum of AD, the
//! INFO annotations are present where defined, `bcftools +fill-tags` agrees with AC/AN/AF, and
//! `bcftools view`, `bcftools norm -c e` and `vcf-validator` accept both files without a word.

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
    if !require_tool("vcf-validator") {
        return;
    }
    for f in [&vcf, &gvcf] {
        let out = tool(&["vcf-validator"], f);
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(said.trim().is_empty(), "vcf-validator on {}: {said}", f.display());
    }
}
