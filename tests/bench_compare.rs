//! `dagr bench compare` against the reference scoring method: the callsets under
//! `testdata/bench/` were scored with `bench/score.sh` (bcftools norm, view -T, isec) into
//! `expected_scores.tsv`; the library must give the same TP/FP/FN and the same rounded scores.
//! Then the CLI entry point: JSON, `--fail-below`, and bad inputs (exit code and message).

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

use clap::Parser;
use dagr::bench::{CompareOptions, CompareReport, QueryFilter, TruthFilter, compare};
use dagr::cli::bench::{BenchArgs, run};
use dagr::vcf::InMemoryFasta;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bench")
}

fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ref/ref.fa")
}

fn reference() -> &'static InMemoryFasta {
    static REF: OnceLock<InMemoryFasta> = OnceLock::new();
    REF.get_or_init(|| InMemoryFasta::from_path(&reference_path()).expect("testdata/ref/ref.fa loads"))
}

/// One line of `expected_scores.tsv`.
struct Expected {
    case: String,
    truth: String,
    query: String,
    regions: String,
    query_filter: String,
    truth_filter: String,
    class: String,
    counts: [u64; 3],
    scores: [String; 3],
}

fn expected_rows() -> Vec<Expected> {
    let text = std::fs::read_to_string(bench_dir().join("expected_scores.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 13, "expected_scores.tsv line: {line}");
            Expected {
                case: f[0].into(),
                truth: f[1].into(),
                query: f[2].into(),
                regions: f[3].into(),
                query_filter: f[4].into(),
                truth_filter: f[5].into(),
                class: f[6].into(),
                counts: [f[7].parse().unwrap(), f[8].parse().unwrap(), f[9].parse().unwrap()],
                scores: [f[10].into(), f[11].into(), f[12].into()],
            }
        })
        .collect()
}

fn run_case(row: &Expected) -> CompareReport {
    let dir = bench_dir();
    let options = CompareOptions {
        regions: Some(dir.join(&row.regions)),
        query_filter: if row.query_filter == "pass" { QueryFilter::Pass } else { QueryFilter::PassWithAlt },
        truth_filter: if row.truth_filter == "all" { TruthFilter::All } else { TruthFilter::Auto },
        ..CompareOptions::default()
    };
    compare(&dir.join(&row.truth), &dir.join(&row.query), reference(), &options)
        .unwrap_or_else(|e| panic!("{}: {e}", row.case))
}

#[test]
fn scores_equal_the_reference_method() {
    let rows = expected_rows();
    assert!(rows.len() >= 10, "expected_scores.tsv has {} rows", rows.len());
    for pair in rows.chunks(2) {
        let report = run_case(&pair[0]);
        for row in pair {
            assert_eq!(row.case, pair[0].case, "rows come in SNV/INDEL pairs");
            let s = if row.class == "SNV" { report.snv } else { report.indel };
            let got_scores = [format!("{:.4}", s.precision), format!("{:.4}", s.recall), format!("{:.4}", s.f1)];
            assert_eq!([s.tp, s.fp, s.fn_], row.counts, "{} {} TP/FP/FN", row.case, row.class);
            assert_eq!(got_scores, row.scores, "{} {} precision/recall/F1", row.case, row.class);
        }
    }
}

#[test]
fn germline_report_has_genotypes_and_clean_normalization() {
    let row = expected_rows().into_iter().find(|r| r.case == "bcftools_bwa").unwrap();
    let report = run_case(&row);
    assert_eq!(report.truth.sample.as_deref(), Some("BENCH_GERMLINE"));
    assert_eq!(report.query.sample.as_deref(), Some("peer"));
    assert_eq!(report.truth.normalization.ref_mismatches + report.query.normalization.ref_mismatches, 0);
    let gc = report.genotype_concordance;
    assert_eq!(gc.compared, report.snv.tp + report.indel.tp);
    assert!(gc.concordant <= gc.compared && gc.fraction.unwrap() > 0.99);
    // Somatic truth has no samples: nothing to compare genotypes with.
    let row = expected_rows().into_iter().find(|r| r.case == "freebayes_pooled_somatic").unwrap();
    let report = run_case(&row);
    assert_eq!((report.truth.samples, report.genotype_concordance.compared), (0, 0));
    assert_eq!(report.query.sample.as_deref(), Some("normal"));
}

/// `dagr bench ...` as the binary will parse it.
#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn cli(args: &[&str]) -> Result<u8, dagr::cli::CliError> {
    let parsed = TestCli::try_parse_from(std::iter::once("dagr-bench").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{e}"));
    run(&parsed.bench)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn germline_args(query: &str) -> Vec<String> {
    let dir = bench_dir();
    vec![
        "compare".into(),
        "--truth".into(),
        p(&dir.join("germline_truth.vcf.gz")).into(),
        "--query".into(),
        p(&dir.join(query)).into(),
        "--reference".into(),
        p(&reference_path()).into(),
        "--regions".into(),
        p(&dir.join("germline_confident.bed")).into(),
    ]
}

fn cli_owned(args: &[String]) -> Result<u8, dagr::cli::CliError> {
    cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn cli_writes_json_and_passes_thresholds() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("scores.json");
    let mut args = germline_args("bcftools_bwa.vcf.gz");
    args.extend(["--json".into(), p(&json).into(), "--fail-below".into(), "snv=0.99,indel=0.99".into()]);
    assert_eq!(cli_owned(&args).unwrap(), 0);
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(value["snv"]["tp"], 1345);
    assert_eq!(value["indel"]["fn"], 1);
    assert_eq!(value["regions"]["bases"], 998_000);
    assert_eq!(value["query"]["selection"], "FILTER PASS or `.`, GT carries an ALT");
    let leftovers: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the JSON, no temporary file: {leftovers:?}");
}

#[test]
fn cli_fail_below_names_class_and_threshold() {
    let mut args = germline_args("freebayes_bwa.vcf.gz");
    args.extend(["--fail-below".into(), "snv=0.99,indel=0.99".into()]);
    let err = cli_owned(&args).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.message.contains("INDEL F1 0.9837 is below the threshold 0.99"), "{}", err.message);
    assert!(!err.message.contains("SNV"), "SNV F1 0.9981 passes: {}", err.message);
    let bad = TestCli::try_parse_from([
        "dagr-bench",
        "compare",
        "--truth",
        "t",
        "--query",
        "q",
        "--reference",
        "r",
        "--fail-below",
        "mnp=0.5",
    ]);
    assert!(bad.is_err());
}

#[test]
fn cli_bad_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad_vcf = dir.path().join("bad_pos.vcf");
    std::fs::write(
        &bad_vcf,
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr20_1M\tten\t.\tA\tG\t.\t.\t.\n",
    )
    .unwrap();
    let other_contig = dir.path().join("other_contig.vcf");
    std::fs::write(
        &other_contig,
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr21\t10\t.\tA\tG\t.\t.\t.\n",
    )
    .unwrap();
    let bad_bed = dir.path().join("inverted.bed");
    std::fs::write(&bad_bed, "chr20_1M\t100\t50\n").unwrap();
    let not_vcf = dir.path().join("notes.txt");
    std::fs::write(&not_vcf, "hello\n").unwrap();
    let missing = dir.path().join("missing.vcf.gz");

    let cases: Vec<(usize, PathBuf, Vec<&str>)> = vec![
        (4, missing.clone(), vec!["missing.vcf.gz", "cannot read"]),
        (4, bad_vcf.clone(), vec!["bad_pos.vcf: line 3", "POS `ten`"]),
        (4, other_contig.clone(), vec!["other_contig.vcf: line 3", "`chr21` is not in the reference"]),
        (4, not_vcf.clone(), vec!["notes.txt", "not a VCF"]),
        (8, bad_bed.clone(), vec!["inverted.bed:1", "not below"]),
        (6, missing.clone(), vec!["missing.vcf.gz"]),
    ];
    for (slot, path, wants) in cases {
        let mut args = germline_args("bcftools_bwa.vcf.gz");
        args[slot] = p(&path).into();
        let err = cli_owned(&args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{}", err.message);
        for want in wants {
            assert!(err.message.contains(want), "`{want}` not in: {}", err.message);
        }
    }
    let mut args = germline_args("bcftools_bwa.vcf.gz");
    args.extend(["--query-sample".into(), "nobody".into()]);
    let err = cli_owned(&args).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message.contains("bcftools_bwa.vcf.gz: sample `nobody`") && err.message.contains("peer"),
        "{}",
        err.message
    );
}

/// `haplotype_{truth,query}.vcf`: hand-made spellings of one haplotype that exact matching misses
/// (see testdata/bench/README.md): A, B rescued; C a near miss; D the same alleles at another
/// zygosity; E an exact match.
#[test]
fn haplotype_aware_figures_rescue_equivalent_spellings() {
    let dir = bench_dir();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("hap.json");
    let base: Vec<String> = vec![
        "compare".into(),
        "--truth".into(),
        p(&dir.join("haplotype_truth.vcf")).into(),
        "--query".into(),
        p(&dir.join("haplotype_query.vcf")).into(),
        "--reference".into(),
        p(&reference_path()).into(),
    ];
    let mut args = base.clone();
    args.extend(["--json".into(), p(&json).into(), "--fail-below".into(), "snv=0.28,hap:snv=0.7,hap:indel=0.5".into()]);
    assert_eq!(cli_owned(&args).unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // The exact keys are unchanged.
    assert_eq!(
        (v["snv"]["tp"].as_u64(), v["snv"]["fp"].as_u64(), v["snv"]["fn"].as_u64()),
        (Some(1), Some(3), Some(2))
    );
    assert_eq!(
        (v["indel"]["tp"].as_u64(), v["indel"]["fp"].as_u64(), v["indel"]["fn"].as_u64()),
        (Some(0), Some(4), Some(4))
    );
    let h = &v["haplotype"];
    let counts = |c: &str| ["tp_truth", "tp_query", "fp", "fn"].map(|k| h[c][k].as_u64().unwrap());
    // B: one complex truth record is spelled by two query records (one SNV, one deletion).
    assert_eq!(counts("snv"), [2, 3, 1, 1]);
    assert_eq!(counts("indel"), [2, 2, 2, 2]);
    assert_eq!(format!("{:.4}", h["snv"]["precision"].as_f64().unwrap()), "0.7500");
    let c = &h["clusters"];
    let clusters = ["total", "with_exact_errors", "examined", "rescued", "zygosity_only", "too_many_phasings"]
        .map(|k| c[k].as_u64().unwrap());
    assert_eq!(clusters, [5, 4, 4, 2, 1, 0]);
    assert_eq!(h["options"]["max_distance"], 30);

    let mut args = base.clone();
    args.extend(["--fail-below".into(), "indel=0.0,hap:indel=0.6".into()]);
    let err = cli_owned(&args).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert_eq!(err.message, "haplotype-aware INDEL F1 0.5000 is below the threshold 0.6 (--fail-below hap:indel=0.6)");
    // With --cluster-distance 0 only overlapping or adjacent records cluster: A's records lie a
    // few bases apart and are no longer rescued; B's overlap and still are.
    let mut args = base;
    args.extend(["--json".into(), p(&json).into(), "--cluster-distance".into(), "0".into()]);
    assert_eq!(cli_owned(&args).unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["haplotype"]["clusters"]["rescued"], 1);
}

#[test]
fn haplotype_figures_never_fall_below_exact_ones() {
    for row in expected_rows().chunks(2) {
        let report = run_case(&row[0]);
        for (exact, hap) in [(&report.snv, &report.haplotype.snv), (&report.indel, &report.haplotype.indel)] {
            assert!(hap.tp_truth >= exact.tp && hap.tp_query >= exact.tp, "{}", row[0].case);
            assert!(hap.fp <= exact.fp && hap.fn_ <= exact.fn_, "{}", row[0].case);
            assert!(hap.f1 >= exact.f1, "{}", row[0].case);
        }
    }
}
