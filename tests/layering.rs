//! Layering: every reference from one module of `src/` to another must be allowed by `RULES`
//! (DESIGN.md "Dependencies point one way"; architecture review F1 and §c).
//!
//! The unit of a rule is a module path prefix: `engine` covers `engine::scheduler`, and
//! `engine::stage` covers `engine::stage::params`. References within one top-level module are always
//! allowed. Across top-level modules the most specific rule decides: the longest `to` prefix, then
//! the longest `from` prefix, `deny` on a tie. Anything no rule allows is denied.
//!
//! Test code (`#[cfg(test)]` items and `#[cfg(test)] mod tests;` files) is not checked: tests may
//! build fixtures from any layer. See `tests/layering/checker.rs` for what is read and skipped.
//!
//! `DAGR_LAYERING_GRAPH=1 cargo test --test layering -- --nocapture` prints the module graph
//! (per top-level module, the modules it references and how often; `!` marks a forbidden edge).
//! The fixtures under `tests/layering_fixtures/` are small source trees that cargo never compiles
//! (it builds only `tests/*.rs` and `tests/*/main.rs`): each but `clean` holds forbidden
//! references that the checker must report, at the expected lines.

#[path = "layering/checker.rs"]
mod checker;

use checker::{Report, Rule, allow, deny};
use std::path::Path;

/// The allowlist: `allow`/`deny(from, to, why)`, grouped by layer from the top down. `why` is
/// printed with every reference a deny rule stops; give every new rule its reason.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    // Crate-level utilities: every module may use them.
    allow("*", "outcome",     "failure classes and their exit codes"),
    allow("*", "clock",       "timestamps and SOURCE_DATE_EPOCH"),
    allow("*", "units",       "sizes, durations, Slurm formats"),
    allow("*", "output_file", "atomic output files"),
    allow("*", "accounting",  "CPU-time accounting"),
    allow("*", "console",     "progress bars and lines, the run summary on stderr"),
    allow("*", "VERSION",     "the build's version"),
    allow("*", "GIT_COMMIT",  "the build's commit"),

    // The top: the binary and the CLI.
    allow("main", "cli",      "main.rs parses, sets up logging and calls the CLI"),
    deny("*", "cli",          "nothing imports the CLI: exit codes belong in crate::outcome, shared code in the layer that uses it"),
    allow("cli", "engine",    "the CLI validates the request and runs the engine"),
    allow("cli", "exec",      "the CLI picks the executor and hands it to the engine"),
    allow("cli", "stages",    "the CLI hands the stage registry to the engine"),
    allow("cli", "*",         "subcommands (bench, prepare-reference, validate) call domain code directly"),

    // Executors: run the engine's stage instances (local, MPI, Slurm).
    deny("*", "exec",         "only the CLI chooses an executor; the engine calls it through its Runner trait"),
    allow("exec", "engine",   "executors implement the engine's Runner and read its plan and report"),
    allow("exec", "samples",  "a Slurm array task is one sample of the samplesheet"),
    allow("exec", "genome",   "executors split work over contigs and shards"),

    // Stages: adapters from the engine's stage contract to domain code.
    deny("*", "stages",           "only the CLI names concrete stages: it passes the registry to the engine"),
    allow("stages", "engine::stage", "the stage contract: Stage, StageContext, params, artifacts, StageError"),
    deny("stages", "engine",      "stages see the engine only through engine::stage: move what they need there"),
    allow("stages", "reads",      "stages adapt domain code"),
    allow("stages", "align",      "stages adapt domain code"),
    allow("stages", "alignments", "stages adapt domain code"),
    allow("stages", "call",       "stages adapt domain code"),
    allow("stages", "vcf",        "stages adapt domain code"),
    allow("stages", "qc",         "stages adapt domain code"),
    allow("stages", "samples",    "stages adapt domain code"),
    allow("stages", "bench",      "stages adapt domain code"),
    allow("stages", "genome",     "stages adapt domain code"),

    // The engine: spec, plan, scheduler, cache, report.
    deny("*", "engine",       "domain code never imports the engine: move the item down or pass the value in"),
    allow("engine", "samples", "a run iterates the samplesheet's samples"),
    allow("engine", "genome",  "scopes iterate contigs and shards"),
    allow("engine", "qc",      "the run report's genome equivalents (qc::genome_equivalents)"),

    // Domain modules, top to bottom: plain library code.
    allow("qc", "reads",           "FASTQ QC"),
    allow("qc", "alignments",      "alignment QC"),
    allow("qc", "vcf",             "variant QC"),
    allow("qc", "genome",          "per-contig QC"),
    allow("qc", "samples",         "genome equivalents per sample (a normal counts 1, a tumour 3)"),
    allow("bench", "vcf",          "truth comparison reads VCF"),
    allow("bench", "genome",       "truth comparison over regions"),
    allow("call", "vcf",           "the callers write VCF and gVCF (GqBands, GvcfBlockMerger)"),
    allow("call", "reads",         "the read-name hash (reads::name_hash) for tie-breaks and downsampling"),
    allow("call", "genome",        "calling over contigs, regions and shards"),
    deny("vcf", "call",            "vcf never imports call: records as written belong in vcf::model, Ploidy/Sex in genome"),
    allow("vcf", "genome",         "contig lines and reference bases"),
    allow("align", "alignments",   "align hands its records to sorting and writing"),
    allow("align", "reads",        "align maps the read pairs that reads yields"),
    allow("align", "genome",       "the reference it aligns to"),
    allow("alignments", "genome",  "contig tables and coordinates"),
    allow("samples", "genome",     "Sex and ploidy"),
    allow("reads", "genome",       "read placement on contigs"),
    deny("genome", "*",            "genome is the bottom: it uses only the crate-level utilities"),
];

/// The violations grouped by unit pair and rule, each reference with file:line; then the problems.
fn describe(report: &Report) -> String {
    let mut groups: std::collections::BTreeMap<(String, String, String), Vec<String>> = Default::default();
    for v in &report.violations {
        let r = &v.reference;
        let (from, to) = (checker::unit(&r.from).to_string(), checker::unit(&r.to).to_string());
        let rule = match v.rule {
            Some(rule) => format!("deny {} -> {}: {}", rule.from, rule.to, rule.why),
            None => format!("no rule allows {from} -> {to}"),
        };
        let line = format!("  {}:{}: {} -> {} (`{}`)", r.file, r.line, r.from.join("::"), r.to.join("::"), r.written);
        groups.entry((from, to, rule)).or_default().push(line);
    }
    let mut text = String::new();
    for ((from, to, rule), lines) in groups {
        text += &format!("{from} -> {to}, {} references, breaks `{rule}`\n{}\n", lines.len(), lines.join("\n"));
        text += &format!(
            "  fix: move the item to a module `{from}` may import (or pass the value in from the caller), \
             or add an allow rule with its reason to RULES in tests/layering.rs\n"
        );
    }
    for problem in &report.problems {
        text += &format!("{problem}\n");
    }
    text
}

fn graph_text(report: &Report) -> String {
    let forbidden: std::collections::HashSet<(String, String)> = report
        .violations
        .iter()
        .map(|v| (checker::unit(&v.reference.from).to_string(), checker::unit(&v.reference.to).to_string()))
        .collect();
    let mut text = String::new();
    for (from, targets) in checker::graph(&report.references) {
        let targets: Vec<String> = targets
            .iter()
            .map(|(to, n)| {
                format!("{to} {n}{}", if forbidden.contains(&(from.clone(), to.clone())) { "!" } else { "" })
            })
            .collect();
        text += &format!("{from:<12} -> {}\n", targets.join(", "));
    }
    text
}

#[test]
fn src_follows_the_layer_rules() {
    let report = checker::check(Path::new(env!("CARGO_MANIFEST_DIR")), RULES);
    if std::env::var_os("DAGR_LAYERING_GRAPH").is_some() {
        eprintln!("module graph of src/ (references per unit, `!`: forbidden):\n{}", graph_text(&report));
    }
    // Guards against a walk that silently finds nothing.
    let graph = checker::graph(&report.references);
    assert!(
        report.references.len() > 100 && graph.get("cli").is_some_and(|to| to.contains_key("engine")),
        "the walk found too little:\n{}",
        graph_text(&report)
    );
    assert!(
        report.violations.is_empty() && report.problems.is_empty(),
        "{} forbidden module references, {} problems:\n{}",
        report.violations.len(),
        report.problems.len(),
        describe(&report)
    );
}

fn fixture(case: &str) -> Report<'static> {
    checker::check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/layering_fixtures").join(case), RULES)
}

/// Asserts that `case` breaks exactly `expected`: (file, line, target path) triples.
fn assert_flags(case: &str, expected: &[(&str, usize, &str)]) {
    let report = fixture(case);
    let mut found: Vec<(String, usize, String)> = report
        .violations
        .iter()
        .map(|v| (v.reference.file.clone(), v.reference.line, v.reference.to.join("::")))
        .collect();
    found.sort();
    let mut expected: Vec<(String, usize, String)> =
        expected.iter().map(|(f, l, t)| (f.to_string(), *l, t.to_string())).collect();
    expected.sort();
    assert_eq!(found, expected, "fixture {case}:\n{}", describe(&report));
    assert!(report.problems.is_empty(), "fixture {case}:\n{}", describe(&report));
}

#[test]
fn fixture_vcf_imports_call() {
    assert_flags("vcf_imports_call", &[("src/vcf/writer.rs", 3, "call::types::CalledVariant")]);
}

#[test]
fn fixture_genome_imports_engine_via_super() {
    assert_flags(
        "genome_imports_engine_via_super",
        &[("src/genome/ploidy.rs", 3, "engine::samplesheet::Sex"), ("src/genome/ploidy.rs", 7, "engine::Y")],
    );
}

#[test]
fn fixture_nested_use_tree() {
    assert_flags(
        "nested_use_tree",
        &[("src/call/mod.rs", 6, "engine::report::now_epoch"), ("src/call/mod.rs", 7, "engine")],
    );
}

#[test]
fn fixture_qualified_path_in_expr() {
    assert_flags(
        "qualified_path_in_expr",
        &[
            ("src/vcf/header.rs", 3, "engine::report::now_epoch"),
            ("src/vcf/header.rs", 4, "engine::report::utc_timestamp"),
            ("src/vcf/header.rs", 6, "engine::samplesheet::Sex"),
            ("src/vcf/header.rs", 7, "cli::exit::FAILURE"),
        ],
    );
}

#[test]
fn fixture_engine_imports_cli() {
    assert_flags(
        "engine_imports_cli",
        &[("src/engine/report.rs", 6, "cli::exit::FAILURE"), ("src/engine/report.rs", 9, "exec::local::run")],
    );
}

#[test]
fn fixture_stages_import_engine_internals() {
    assert_flags("stages_import_engine_internals", &[("src/stages/mod.rs", 5, "engine::scheduler::Plan")]);
}

#[test]
fn fixture_orphan_file_is_reported() {
    let report = fixture("orphan_file");
    assert_eq!(report.problems.len(), 1, "{}", describe(&report));
    assert!(report.problems[0].starts_with("src/vcf/forgotten.rs: no `mod` reaches"), "{}", describe(&report));
}

#[test]
fn fixture_clean_passes_and_sees_every_edge() {
    let report = fixture("clean");
    assert!(report.violations.is_empty() && report.problems.is_empty(), "{}", describe(&report));
    let expected = "\
call         -> vcf 2
cli          -> engine 1, exec 1, outcome 1, stages 1, vcf 1
engine       -> outcome 1
exec         -> engine 1
genome       -> crate 1
main         -> cli 1
stages       -> call 1, engine 2
vcf          -> genome 1, outcome 2
";
    assert_eq!(graph_text(&report), expected);
}
