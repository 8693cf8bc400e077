//! A reference of hundreds of small contigs with N runs: the germline pipeline succeeds, its
//! VCF and gVCF are valid, and no call, reference block or callable interval claims an N base.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

fn read_fasta(path: &Path) -> Vec<u8> {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.starts_with('>')).flat_map(|l| l.bytes()).collect()
}

fn gunzip(path: &Path) -> String {
    let out = std::process::Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `contigs` as a FASTA with 60 columns.
fn write_fasta(path: &Path, contigs: &[(String, Vec<u8>)]) {
    let mut text = String::new();
    for (name, seq) in contigs {
        text.push_str(&format!(">{name}\n"));
        for line in seq.chunks(60) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
    }
    std::fs::write(path, text).unwrap();
}

/// The reads' window (chr20_1M:250,000-300,000) as contig `win` behind a 2 kb N run, with a 1 kb
/// N gap and a 20-base N run inside (reads align through the short one); 320 contigs of 600 bp
/// from elsewhere (no reads), every tenth with 100 Ns in the middle; one contig of N only.
fn many_contigs_reference(dir: &Path) -> (std::path::PathBuf, BTreeMap<String, Vec<u8>>) {
    let chr = read_fasta(&testdata().join("ref/ref.fa"));
    let mut contigs: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..320 {
        let mut s = chr[i * 700..i * 700 + 600].to_vec();
        if i % 10 == 0 {
            s[250..350].fill(b'N');
        }
        contigs.push((format!("small{i:03}"), s));
    }
    contigs.push(("gap".into(), vec![b'N'; 3000]));
    let mut win = vec![b'N'; 2000];
    win.extend_from_slice(&chr[250_000..300_000]);
    // chr20_1M 270,000-271,000 and 285,000-285,020 become N.
    win[2000 + 20_000..2000 + 21_000].fill(b'N');
    win[2000 + 35_000..2000 + 35_020].fill(b'N');
    contigs.insert(160, ("win".into(), win));
    let path = dir.join("many.fa");
    write_fasta(&path, &contigs);
    (path, contigs.into_iter().collect())
}

fn is_n(seqs: &BTreeMap<String, Vec<u8>>, contig: &str, pos: u64) -> bool {
    !matches!(seqs[contig][pos as usize], b'A' | b'C' | b'G' | b'T')
}

#[test]
fn many_small_contigs_with_n_runs_give_valid_outputs_and_nothing_over_n() {
    let work = tempfile::tempdir().unwrap();
    let (fasta, seqs) = many_contigs_reference(work.path());
    let sheet = testdata().join("samplesheet_germline.csv");
    let out = work.path().join("out");
    let started = std::time::Instant::now();
    let (code, _, err) =
        run(qc_run_with_reference(work.path(), "germline", &sheet, &out, &fasta).args(["--threads", "2"]));
    assert_eq!(code, 0, "{err}");
    eprintln!("germline over {} contigs: {:.1} s", seqs.len(), started.elapsed().as_secs_f64());

    let vcf = gunzip(&out.join("GERM/GERM.vcf.gz"));
    let gvcf = gunzip(&out.join("GERM/GERM.g.vcf.gz"));
    assert_eq!(gvcf.lines().filter(|l| l.starts_with("##contig=")).count(), seqs.len());
    let body = |t: &str| t.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>();
    let calls = body(&vcf);
    assert!(calls.len() >= 40, "the window is called: {} calls", calls.len());
    // No call has an N in its REF span; no block touches an N; blocks on many contigs, none on `gap`.
    for l in &calls {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f[0], "win", "reads only cover `win`: {l}");
        let pos = f[1].parse::<u64>().unwrap() - 1;
        assert!((pos..pos + f[3].len() as u64).all(|p| !is_n(&seqs, f[0], p)), "call over N: {l}");
    }
    let mut contigs_with_blocks = std::collections::BTreeSet::new();
    for l in body(&gvcf) {
        let f: Vec<&str> = l.split('\t').collect();
        let start = f[1].parse::<u64>().unwrap() - 1;
        let end = match f[7].strip_prefix("END=") {
            Some(e) => e.parse::<u64>().unwrap(),
            None => start + f[3].len() as u64,
        };
        assert!((start..end).all(|p| !is_n(&seqs, f[0], p)), "gVCF record over N: {l}");
        if f[4] == "<NON_REF>" {
            contigs_with_blocks.insert(f[0].to_string());
        }
    }
    assert!(contigs_with_blocks.len() > 300 && !contigs_with_blocks.contains("gap"), "{}", contigs_with_blocks.len());
    // The callable BED claims no N either.
    for l in gunzip(&out.join("GERM/GERM.callable.bed.gz")).lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split('\t').collect();
        let (s, e) = (f[1].parse::<u64>().unwrap(), f[2].parse::<u64>().unwrap());
        assert!((s..e).all(|p| !is_n(&seqs, f[0], p)), "callable over N: {l}");
    }
    // The VCF's calls are the gVCF's variant records.
    let gvcf_calls: Vec<String> = body(&gvcf)
        .into_iter()
        .filter(|l| !l.split('\t').nth(4).unwrap().eq("<NON_REF>"))
        .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(":"))
        .collect();
    let vcf_calls: Vec<String> = calls.iter().map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(":")).collect();
    assert_eq!(vcf_calls, gvcf_calls);

    // bcftools reads both without a word and finds every REF in the FASTA (a missing bcftools
    // fails under CI, else skips this).
    if !require_tool("bcftools") {
        return;
    }
    for f in ["GERM.vcf.gz", "GERM.g.vcf.gz"] {
        let path = out.join("GERM").join(f);
        let o = std::process::Command::new("bcftools")
            .args(["view", "-Ov", "-o", "/dev/null"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "bcftools view {f}: {}", String::from_utf8_lossy(&o.stderr));
        let o = std::process::Command::new("bcftools")
            .args(["norm", "-c", "e", "-Ou", "-o", "/dev/null", "-f"])
            .arg(&fasta)
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "bcftools norm -c e {f}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
