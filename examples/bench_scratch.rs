// Scratch: print score.sh-style lines from dagr's library. Deleted after verification.
use dagr::bench::{compare, CompareOptions, QueryFilter, TruthFilter};
use dagr::vcf::InMemoryFasta;
use std::path::PathBuf;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let reference = InMemoryFasta::from_path(&PathBuf::from(&a[3])).unwrap();
    let mut o = CompareOptions { regions: Some(PathBuf::from(&a[4])), ..Default::default() };
    if a.get(5).map(|s| s.as_str()) == Some("PASS") { o.query_filter = QueryFilter::Pass; }
    if a.get(6).map(|s| s.as_str()) == Some("none") { o.truth_filter = TruthFilter::All; }
    let r = compare(&PathBuf::from(&a[1]), &PathBuf::from(&a[2]), &reference, &o).unwrap();
    for (n, s) in [("SNV", r.snv), ("INDEL", r.indel)] {
        println!("{n} {} {} {} {:.4} {:.4} {:.4}", s.tp, s.fp, s.fn_, s.precision, s.recall, s.f1);
    }
    eprintln!("{}", dagr::bench::render_table(&r));
}
