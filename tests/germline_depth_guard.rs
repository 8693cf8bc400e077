//! The depth guard (issue 14, item 5): GERM plus the reads of a collapsed repeat
//! (`testdata/collapsed/`, an extra lane: 12 copies the reference lacks piled onto
//! chr20_1M:270,001-270,700 at ~13x the sample's depth). With the default guard (10 × the median,
//! at least 100) the pile is not called: no-call gVCF blocks, nothing callable, no variant, and the run report
//! counts it. With the guard off, the same pile is taken for callable reference, so the guard is
//! what keeps it out.

#![allow(clippy::unwrap_used)] // test helpers unwrap: a panic is a test failure

mod common;
use common::*;
use std::io::Read as _;
use std::path::Path;

/// 0-based, half-open: the collapsed segment.
const SEGMENT: (u64, u64) = (270_000, 270_700);

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text
}

/// Data lines of a (g)VCF as (0-based start, end, FILTER, GT).
fn records(vcf: &Path) -> Vec<(u64, u64, String, String)> {
    gunzip(vcf)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let start = f[1].parse::<u64>().unwrap() - 1;
            let end = f[7]
                .split(';')
                .find_map(|kv| kv.strip_prefix("END="))
                .map_or(start + f[3].len() as u64, |e| e.parse().unwrap());
            (start, end, f[6].to_string(), f[9].split(':').next().unwrap().to_string())
        })
        .collect()
}

/// Callable bases inside the intervals `within` (0-based, half-open).
fn callable_within(bed: &Path, within: &[(u64, u64)]) -> u64 {
    gunzip(bed)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (s, e): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            within.iter().map(|&(a, b)| e.min(b).saturating_sub(s.max(a))).sum::<u64>()
        })
        .sum()
}

fn in_segment(start: u64, end: u64) -> bool {
    start < SEGMENT.1 && SEGMENT.0 < end
}

fn call_germline_metrics(outdir: &Path) -> serde_json::Value {
    let report = report(outdir);
    let stage = report["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "call_germline").unwrap().clone();
    stage["metrics"].clone()
}

#[test]
fn a_collapsed_repeat_is_left_uncalled_and_counted() {
    let work = tempfile::tempdir().unwrap();
    let sheet = germ_sheet_with_extra_lane(work.path(), "collapsed", "L6");

    // The default pipeline: guard at 10 × the median coverage, at least 100. GERM covers 42 kb of
    // the 1 Mb reference, so its genome-wide median is 0 and the floor applies.
    let guarded = work.path().join("guarded");
    let (code, _, err) = run(qc_run(work.path(), "germline", &sheet, &guarded).args(["--threads", "2"]));
    assert_eq!(code, 0, "{err}");
    let m = call_germline_metrics(&guarded);
    assert_eq!(m["depth_guard"], 100, "the floor: {m}");
    let positions = m["depth_guard_positions"].as_u64().unwrap();
    assert!((100..=700).contains(&positions), "the pile's middle is above the guard, nothing else: {m}");
    assert!(m["depth_guard_skipped_regions"].as_u64().unwrap() >= 1, "{m}");
    assert!(err.contains("above the depth guard"), "the log says so: {err}");

    let dir = guarded.join("GERM");
    let gvcf = records(&dir.join("GERM.g.vcf.gz"));
    let no_call: Vec<&(u64, u64, String, String)> = gvcf.iter().filter(|r| r.3 == "./.").collect();
    assert!(!no_call.is_empty(), "no-call blocks in the gVCF");
    assert!(no_call.iter().all(|r| in_segment(r.0, r.1)), "no-call blocks only over the pile: {no_call:?}");
    let no_call_bases: u64 = no_call.iter().map(|r| r.1 - r.0).sum();
    assert_eq!(no_call_bases, positions, "every guarded position is a no-call block position");
    let guarded_spans: Vec<(u64, u64)> = no_call.iter().map(|r| (r.0, r.1)).collect();
    let bed = dir.join("GERM.callable.bed.gz");
    assert_eq!(callable_within(&bed, &guarded_spans), 0, "no guarded position is callable");
    let callable_in_pile = callable_within(&bed, &[SEGMENT]);
    let calls = records(&dir.join("GERM.vcf.gz"));
    assert!(!calls.iter().any(|r| in_segment(r.0, r.1)), "no call in the pile");

    // The guard off (depth_guard: 0): the same reads give calls and callable bases there.
    let yaml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/germline.yaml")).unwrap();
    assert!(yaml.contains("depth_guard: 10.0"), "the shipped pipeline states the guard");
    let off = work.path().join("germline_no_guard.yaml");
    std::fs::write(&off, yaml.replace("depth_guard: 10.0", "depth_guard: 0")).unwrap();
    let unguarded = work.path().join("unguarded");
    let (code, _, err) = run(qc_run(work.path(), off.to_str().unwrap(), &sheet, &unguarded).args(["--threads", "2"]));
    assert_eq!(code, 0, "{err}");
    let m = call_germline_metrics(&unguarded);
    assert_eq!(m["depth_guard_positions"], 0, "{m}");
    let dir = unguarded.join("GERM");
    let bed = dir.join("GERM.callable.bed.gz");
    assert!(callable_within(&bed, &guarded_spans) > 0, "without the guard the pile looks callable");
    assert!(callable_within(&bed, &[SEGMENT]) > callable_in_pile, "the guard took callable bases away");
    assert!(!records(&dir.join("GERM.g.vcf.gz")).iter().any(|r| r.3 == "./."), "no no-call block without the guard");
}
