//! `dagr run somatic` on testdata's tumour/normal pair: the somatic VCF's standard header and
//! fields, accuracy against the somatic truth, no germline truth variant as a somatic PASS, and
//! output that does not depend on the thread count.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn pair_sheet(dir: &Path) -> PathBuf {
    let s = testdata().join("somatic");
    let p = dir.join("pair.csv");
    let text = format!(
        "patient,sex,status,sample,lane,fastq_1,fastq_2\nPT1,XX,0,NORMAL,L1,{n1},{n2}\nPT1,XX,1,TUMOR,L1,{t1},{t2}\n",
        n1 = s.join("normal_R1.fastq.gz").display(),
        n2 = s.join("normal_R2.fastq.gz").display(),
        t1 = s.join("tumor_R1.fastq.gz").display(),
        t2 = s.join("tumor_R2.fastq.gz").display(),
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn run_somatic(work: &Path, outdir: &Path, threads: &str) {
    let sheet = pair_sheet(work);
    let (code, _, err) = run(qc_run(work, "somatic", &sheet, outdir)
        .args(["--threads", threads])
        .env("SOURCE_DATE_EPOCH", "1790000000"));
    assert_eq!(code, 0, "{err}");
}

fn text_of(path: &Path) -> String {
    let out = std::process::Command::new("gzip").arg("-dc").arg(path).output().expect("gzip runs");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn somatic_pair_is_called_to_a_standard_vcf_that_does_not_depend_on_threads() {
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a");
    run_somatic(work.path(), &a, "2");
    let dir = a.join("TUMOR_vs_NORMAL");
    let vcf = dir.join("TUMOR_vs_NORMAL.somatic.vcf.gz");
    for f in ["TUMOR_vs_NORMAL.somatic.vcf.gz", "TUMOR_vs_NORMAL.somatic.vcf.gz.tbi"] {
        assert!(dir.join(f).is_file(), "{f} missing");
        assert!(dir.join(format!("{f}.md5")).is_file(), "{f}.md5 missing");
    }
    // The normal also gets its germline VCF.
    assert!(a.join("NORMAL/NORMAL.vcf.gz").is_file());

    let text = text_of(&vcf);
    for line in [
        "##tumor_sample=TUMOR",
        "##normal_sample=NORMAL",
        "##PEDIGREE=<Derived=TUMOR,Original=NORMAL>",
        "##INFO=<ID=TLOD,",
        "##INFO=<ID=NLOD,",
        "##FORMAT=<ID=F1R2,",
        "##FORMAT=<ID=F2R1,",
        "##FILTER=<ID=germline,",
        "##FILTER=<ID=orientation,",
    ] {
        assert!(text.lines().any(|l| l.starts_with(line)), "header lacks {line}");
    }
    let header = text.lines().find(|l| l.starts_with("#CHROM")).unwrap();
    assert!(header.ends_with("FORMAT\tTUMOR\tNORMAL"), "{header}");
    let records: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!records.is_empty());
    for r in &records {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(f[8], "GT:AD:AF:DP:F1R2:F2R1", "{r}");
        assert!(f[9].starts_with("0/1:") && f[10].starts_with("0/0:"), "{r}");
    }

    // Accuracy in the confident region. Measured: SNV 8 TP / 0 FP / 1 FN, indel 3 / 0 / 0.
    let reference = dagr::vcf::InMemoryFasta::from_path(&testdata().join("ref/ref.fa")).unwrap();
    let options = dagr::bench::CompareOptions { regions: Some(testdata().join("confident.bed")), ..Default::default() };
    let truth = testdata().join("somatic/truth_somatic.vcf.gz");
    let r = dagr::bench::compare(&truth, &vcf, &reference, &options).unwrap();
    assert!(r.snv.tp >= 7 && r.snv.fp == 0, "SNV {:?}", r.snv);
    assert!(r.indel.tp >= 2 && r.indel.fp == 0, "indel {:?}", r.indel);
    // No germline truth variant of the pair's patient is a somatic PASS call.
    let germline =
        dagr::bench::compare(&testdata().join("somatic/truth_germline.vcf.gz"), &vcf, &reference, &options).unwrap();
    assert_eq!(germline.snv.tp + germline.indel.tp, 0, "germline variants called somatic: {germline:?}");

    // The identity check ran and found one individual.
    let r = report(&a);
    let stage = r["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "call_somatic").unwrap().clone();
    let concordance = stage["metrics"]["identity_concordance"].as_f64().expect("identity in the report");
    assert!(stage["metrics"]["identity_sites"].as_u64().unwrap() >= 20, "{stage}");
    assert!(concordance > 0.95, "{concordance}");

    // Threads do not change the VCF (the command line does not name them).
    let b = work.path().join("b");
    run_somatic(work.path(), &b, "1");
    let strip = |t: String| t.lines().filter(|l| !l.starts_with("##dagr_command")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(text), strip(text_of(&b.join("TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz"))));

    // bcftools reads it without a word (a missing bcftools fails under CI, else skips this).
    if require_tool("bcftools") {
        let out = std::process::Command::new("bcftools").arg("view").arg(&vcf).output().unwrap();
        assert!(out.status.success());
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn bgzip_and_index(path: &Path) {
    assert!(std::process::Command::new("bgzip").arg("-f").arg(path).status().unwrap().success());
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    assert!(std::process::Command::new("tabix").args(["-f", "-p", "vcf"]).arg(&gz).status().unwrap().success());
}

/// A panel of normals and a population resource (both optional, as in Mutect2) filter the calls
/// they name: `panel_of_normals` and `germline` (population AF above 0.01).
#[test]
fn panel_of_normals_and_germline_resource_filter_the_calls_they_name() {
    // bgzip and tabix build the resource files (scripts/deps.sh installs them).
    if !require_tool("bgzip") || !require_tool("tabix") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a");
    run_somatic(work.path(), &a, "2");
    let text = text_of(&a.join("TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz"));
    let pass: Vec<Vec<String>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f[6] == "PASS")
        .collect();
    assert!(pass.len() >= 2);
    let (first, second) = (&pass[0], &pass[1]);
    let header = "##fileformat=VCFv4.2\n##contig=<ID=chr20_1M,length=1000000>\n\
        ##INFO=<ID=AF,Number=A,Type=Float,Description=\"Population allele frequency\">\n\
        #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    let pon = work.path().join("pon.vcf");
    std::fs::write(&pon, format!("{header}chr20_1M\t{}\t.\t{}\t{}\t.\t.\t.\n", first[1], first[3], first[4])).unwrap();
    let pop = work.path().join("population.vcf");
    std::fs::write(&pop, format!("{header}chr20_1M\t{}\t.\t{}\t{}\t.\t.\tAF=0.2\n", second[1], second[3], second[4]))
        .unwrap();
    bgzip_and_index(&pon);
    bgzip_and_index(&pop);
    let yaml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/somatic.yaml")).unwrap();
    assert!(yaml.contains("      tumour_in_normal: 0.03\n"));
    let yaml = yaml.replace(
        "      tumour_in_normal: 0.03\n",
        "      tumour_in_normal: 0.03\n      panel_of_normals: pon.vcf.gz\n      germline_resource: population.vcf.gz\n",
    );
    let pipeline = work.path().join("somatic-resources.yaml");
    std::fs::write(&pipeline, yaml).unwrap();
    let b = work.path().join("b");
    let sheet = pair_sheet(work.path());
    let (code, _, err) = run(&mut qc_run(work.path(), pipeline.to_str().unwrap(), &sheet, &b));
    assert_eq!(code, 0, "{err}");
    let text = text_of(&b.join("TUMOR_vs_NORMAL/TUMOR_vs_NORMAL.somatic.vcf.gz"));
    assert!(text.lines().any(|l| l.starts_with("##FILTER=<ID=panel_of_normals,")));
    let filter_at = |pos: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.split('\t').nth(1) == Some(pos))
            .unwrap()
            .split('\t')
            .nth(6)
            .unwrap()
            .to_string()
    };
    assert!(filter_at(&first[1]).contains("panel_of_normals"), "{}", filter_at(&first[1]));
    assert!(filter_at(&second[1]).contains("germline"), "{}", filter_at(&second[1]));
}
