//! Golden tests: one folder per case under `tests/golden/`, run by this harness (`harness = false`).
//!
//! ```text
//! cargo test --test golden                    # every case
//! cargo test --test golden -- bad-            # the cases whose name contains `bad-`
//! BLESS=1 cargo test --test golden [-- NAME]  # rewrite the expected files from what dagr does now
//! ```
//!
//! A case folder `tests/golden/<case>/` holds:
//!
//! - `cmd` (required): the arguments of `dagr`, **one argument per line**, taken verbatim (no
//!   shell: no quoting, globbing or variables). Blank lines and lines starting with `#` are
//!   skipped. Placeholders, also in `env` and `*.in` files:
//!   `{testdata}` (the repository's `testdata/`), `{tmp}` (a fresh, empty folder for this case and
//!   the working directory of the command), `{case}` (this case's folder), `{repo}` (the
//!   repository root).
//! - `env` (optional): `NAME=value` per line, added to the command's environment. The harness
//!   already sets `RUST_LOG=warn`, `SOURCE_DATE_EPOCH=1790000000` (a fixed `##fileDate`),
//!   `COLUMNS=100` (help wrapping), `NO_COLOR=1` and `TMPDIR={tmp}`, and removes every
//!   `DAGR_*` variable it inherited.
//! - `*.in` (optional): templates copied into `{tmp}` without the `.in`, placeholders replaced
//!   (e.g. a samplesheet `pair.csv.in` with `{testdata}/somatic/...` paths becomes
//!   `{tmp}/pair.csv`).
//! - `outputs` (optional): files the command writes that are compared too, one per line:
//!   `PATH -> NAME [MODE]`, PATH relative to `{tmp}`, NAME the expected file in the case folder.
//!   MODE: `text` (default: the whole file), `header` (only lines starting with `#`, e.g. a VCF
//!   header), `shape` (JSON: the key structure with value types, not the values, so a removed or
//!   renamed key shows; array elements merged as `[]`, numeric keys as `{n}`). Gzip/BGZF files are
//!   decompressed first.
//! - `expected.exit`, `expected.stdout`, `expected.stderr`: what the command must give. A missing
//!   `expected.stdout`/`expected.stderr` means "empty"; BLESS writes them only when non-empty.
//!
//! Everything compared is normalized first: ANSI colour codes removed; the case's `{tmp}`,
//! `{case}`, `{testdata}` and `{repo}` paths put back as placeholders (also `file://` URLs of
//! them); ISO-8601 timestamps → `{time}`; durations such as `0.4 s` → `{secs} s`; `pid 123` →
//! `pid {pid}`.
//!
//! Adding a case = adding a folder with a `cmd` (and `env`, `outputs`, `*.in` as needed), then
//! `BLESS=1 cargo test --test golden -- <case>` and reviewing the new expected files in the diff.
//! Without BLESS a mismatch fails with the first differing lines of each differing file.
//!
//! Arguments understood (the rest of libtest's are accepted and ignored): a name filter
//! (substring), `--exact`, `--skip NAME`, `--list`, `--ignored` (runs nothing: no case is
//! ignored), `--test-threads N` (cases run in parallel, by default up to 4).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases_dir() -> PathBuf {
    repo().join("tests/golden")
}

/// One case folder, read.
struct Case {
    name: String,
    dir: PathBuf,
}

/// What a case produced or expects: name of the expected file → normalized text.
type Files = Vec<(String, String)>;

struct Outcome {
    name: String,
    /// Mismatches, each a readable report; empty when the case passed (or was blessed).
    failures: Vec<String>,
    blessed: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filter: Option<String> = None;
    let mut skips: Vec<String> = Vec::new();
    let (mut exact, mut list, mut only_ignored) = (false, false, false);
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exact" => exact = true,
            "--list" => list = true,
            "--ignored" => only_ignored = true,
            "--skip" => skips.extend(it.next().cloned()),
            "--test-threads" => threads = it.next().and_then(|n| n.parse().ok()).unwrap_or(threads),
            s if s.starts_with("--test-threads=") => threads = s[15..].parse().unwrap_or(threads),
            // libtest options that take a value, accepted and ignored.
            "--format" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" | "--report-time" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => filter = Some(s.to_string()),
        }
    }
    let bless = std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0");

    let mut cases: Vec<Case> = std::fs::read_dir(cases_dir())
        .expect("tests/golden/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cmd").is_file())
        .map(|dir| Case { name: dir.file_name().unwrap().to_string_lossy().into_owned(), dir })
        .filter(|c| match &filter {
            Some(f) if exact => &c.name == f,
            Some(f) => c.name.contains(f.as_str()),
            None => true,
        })
        .filter(|c| !skips.iter().any(|s| c.name.contains(s.as_str())))
        .collect();
    // Cases that write outputs (pipeline runs) are the slow ones: start them first.
    cases.sort_by_key(|c| (!c.dir.join("outputs").is_file(), c.name.clone()));
    if list {
        for c in &cases {
            println!("{}: test", c.name);
        }
        return;
    }
    if only_ignored {
        cases.clear();
    }

    println!("\nrunning {} golden cases{}", cases.len(), if bless { " (BLESS: rewriting expected files)" } else { "" });
    let queue = Mutex::new(cases.into_iter());
    let results = Mutex::new(Vec::<Outcome>::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let Some(case) = queue.lock().unwrap().next() else { break };
                    let outcome = run_case(&case, bless);
                    let verdict = if !outcome.failures.is_empty() {
                        "FAILED"
                    } else if !outcome.blessed.is_empty() {
                        "blessed"
                    } else {
                        "ok"
                    };
                    println!("test golden::{} ... {verdict}", outcome.name);
                    results.lock().unwrap().push(outcome);
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let failed: Vec<&Outcome> = results.iter().filter(|o| !o.failures.is_empty()).collect();
    for o in &failed {
        println!("\n---- golden::{} ----", o.name);
        for f in &o.failures {
            println!("{f}");
        }
    }
    for o in results.iter().filter(|o| !o.blessed.is_empty()) {
        println!("blessed {}: {}", o.name, o.blessed.join(", "));
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for o in &failed {
            println!("    golden::{}", o.name);
        }
        println!("\nA case's expected files are rewritten with: BLESS=1 cargo test --test golden -- <case>");
    }
    println!(
        "\ntest result: {}. {} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        results.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// Placeholder → path, longest path first so that nested paths are put back correctly.
struct Places(Vec<(&'static str, String)>);

impl Places {
    fn new(case: &Path, tmp: &Path) -> Self {
        let mut v: Vec<(&'static str, String)> = Vec::new();
        for (name, path) in
            [("{tmp}", tmp), ("{case}", case), ("{testdata}", &repo().join("testdata")), ("{repo}", &repo())]
        {
            v.push((name, path.display().to_string()));
            if let Ok(c) = path.canonicalize() {
                v.push((name, c.display().to_string()));
            }
        }
        v.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
        v.dedup();
        Places(v)
    }

    /// `{tmp}/x` → the real path.
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for name in ["{tmp}", "{case}", "{testdata}", "{repo}"] {
            let (_, path) = self.0.iter().find(|(n, _)| *n == name).unwrap();
            out = out.replace(name, path);
        }
        out
    }

    /// The real paths → placeholders.
    fn unfill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, path) in &self.0 {
            out = out.replace(path.as_str(), name);
        }
        out
    }
}

/// Lines of a case file without blank lines and `#` comments.
fn lines_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

fn run_case(case: &Case, bless: bool) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let places = Places::new(&case.dir, tmp.path());
    let mut outcome = Outcome { name: case.name.clone(), failures: Vec::new(), blessed: Vec::new() };

    // Templates.
    for entry in std::fs::read_dir(&case.dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(target) = name.strip_suffix(".in") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(tmp.path().join(target), places.fill(&text)).unwrap();
        }
    }

    let args: Vec<String> = lines_of(&case.dir.join("cmd")).iter().map(|l| places.fill(l)).collect();
    let mut cmd = Command::new("timeout");
    cmd.arg("600").arg(env!("CARGO_BIN_EXE_dagr")).args(&args).current_dir(tmp.path()).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DAGR_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn")
        .env("SOURCE_DATE_EPOCH", "1790000000")
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp.path());
    if case.dir.join("env").is_file() {
        for line in lines_of(&case.dir.join("env")) {
            let (k, v) =
                line.split_once('=').unwrap_or_else(|| panic!("{}: env line `{line}` is not NAME=value", case.name));
            cmd.env(k.trim(), places.fill(v));
        }
    }
    let out = cmd.output().expect("timeout and the dagr binary run");
    let exit = match out.status.code() {
        Some(c) => c.to_string(),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!("signal {}", out.status.signal().unwrap_or(0))
        }
    };

    let mut got: Files = vec![
        ("expected.exit".into(), format!("{exit}\n")),
        ("expected.stdout".into(), normalize(&String::from_utf8_lossy(&out.stdout), &places)),
        ("expected.stderr".into(), normalize(&String::from_utf8_lossy(&out.stderr), &places)),
    ];
    if case.dir.join("outputs").is_file() {
        for line in lines_of(&case.dir.join("outputs")) {
            let (path, rest) = line.split_once("->").unwrap_or_else(|| panic!("{}: outputs line `{line}`", case.name));
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_else(|| panic!("{}: outputs line `{line}` names no file", case.name));
            let mode = words.next().unwrap_or("text");
            let file = tmp.path().join(path.trim());
            let text = match read_maybe_gzip(&file) {
                Ok(text) => text,
                Err(e) => format!("<cannot read {}: {e}>\n", path.trim()),
            };
            let text = match mode {
                "text" => normalize(&text, &places),
                "header" => normalize(
                    &text.lines().filter(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect::<String>(),
                    &places,
                ),
                "shape" => match serde_json::from_str::<Value>(&text) {
                    Ok(v) => json_shape(&v),
                    Err(e) => format!("<not JSON: {e}>\n"),
                },
                m => panic!("{}: unknown output mode `{m}` (text, header, shape)", case.name),
            };
            got.push((name.to_string(), text));
        }
    }

    for (name, text) in got {
        let path = case.dir.join(&name);
        let optional = name == "expected.stdout" || name == "expected.stderr";
        let expected = std::fs::read_to_string(&path).ok();
        let expected_text = expected.clone().unwrap_or_default();
        if expected_text == text && (expected.is_some() || optional) {
            continue;
        }
        if bless {
            if optional && text.is_empty() {
                let _ = std::fs::remove_file(&path);
            } else {
                std::fs::write(&path, &text).unwrap();
            }
            outcome.blessed.push(name);
        } else if expected.is_none() && !optional {
            outcome.failures.push(format!("{name}: missing (create it with BLESS=1)"));
        } else {
            outcome.failures.push(format!("{name} differs (- expected, + actual):\n{}", diff(&expected_text, &text)));
        }
    }
    if !outcome.failures.is_empty() {
        outcome.failures.push(format!("command: dagr {}", places.unfill(&args.join(" "))));
    }
    outcome
}

fn read_maybe_gzip(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text)?;
        Ok(text)
    } else {
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

// ---- normalization ---------------------------------------------------------------------------

fn normalize(text: &str, places: &Places) -> String {
    let text = strip_ansi(text);
    let text = places.unfill(&text);
    let text = timestamps(&text);
    let text = durations(&text);
    pids(&text)
}

/// Removes `ESC [ ... final-byte` sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Does `pattern` match at the start of `s`? `9` matches a digit, any other char itself.
fn shape_at(s: &[u8], pattern: &[u8]) -> bool {
    s.len() >= pattern.len() && pattern.iter().zip(s).all(|(p, c)| if *p == b'9' { c.is_ascii_digit() } else { p == c })
}

/// `2026-12-07T06:59:41.844349Z`, `2026-12-07T06:59:41Z`, `2026-12-07 06:59:41` → `{time}`.
fn timestamps(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if (shape_at(&b[i..], b"9999-99-99T99:99:99") || shape_at(&b[i..], b"9999-99-99 99:99:99"))
            && (i == 0 || !b[i - 1].is_ascii_digit())
        {
            let mut j = i + 19;
            if j < b.len() && b[j] == b'.' {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j < b.len() && b[j] == b'Z' {
                j += 1;
            } else if shape_at(&b[j..], b"+99:99") || shape_at(&b[j..], b"-99:99") {
                j += 6;
            }
            out.push_str(&text[copied..i]);
            out.push_str("{time}");
            i = j;
            copied = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A decimal number followed by ` s` (and not by a letter): `0.4 s`, `12.25 s` → `{secs} s`.
fn durations(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j < b.len() && b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit() {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if shape_at(&b[j..], b" s") && b.get(j + 2).is_none_or(|c| !c.is_ascii_alphanumeric()) {
                    out.push_str(&text[copied..i]);
                    out.push_str("{secs}");
                    copied = j;
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `pid 12345` → `pid {pid}`.
fn pids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("pid ") {
        let after = &rest[k + 4..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..k + 4]);
        if digits > 0 {
            out.push_str("{pid}");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

// ---- JSON shape ------------------------------------------------------------------------------

/// The key structure of a JSON document: one line per path with the types seen there, in
/// document order; array elements are merged under `[]`, numeric keys under `{n}`.
fn json_shape(v: &Value) -> String {
    let mut paths: Vec<(String, BTreeSet<&'static str>)> = Vec::new();
    walk(v, "", &mut paths);
    paths
        .iter()
        .map(|(p, t)| {
            format!("{} {}\n", if p.is_empty() { "." } else { p }, t.iter().copied().collect::<Vec<_>>().join("|"))
        })
        .collect()
}

fn walk(v: &Value, path: &str, paths: &mut Vec<(String, BTreeSet<&'static str>)>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match paths.iter_mut().find(|(p, _)| p == path) {
        Some((_, kinds)) => {
            kinds.insert(kind);
        }
        None => paths.push((path.to_string(), BTreeSet::from([kind]))),
    }
    match v {
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), paths);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                // Numeric keys are data (a histogram's bins), not structure.
                let k = if k.parse::<i64>().is_ok() { "{n}" } else { k.as_str() };
                walk(item, &format!("{path}.{k}"), paths);
            }
        }
        _ => {}
    }
}

// ---- diff ------------------------------------------------------------------------------------

/// A line diff (longest common subsequence) of the first differences: up to 20 changed lines with
/// 2 lines of context, `-` expected, `+` actual, line numbers of the expected file.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    if a == b {
        return "    (the same lines; they differ in the final newline)\n".into();
    }
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > 4_000_000 {
        let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(n.min(m));
        return format!(
            "    line {}:\n    - {}\n    + {}\n",
            i + 1,
            a.get(i).copied().unwrap_or("<end of file>"),
            b.get(i).copied().unwrap_or("<end of file>")
        );
    }
    // lcs[i][j]: the LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // Edit script: (' ' | '-' | '+', expected line number, text).
    let mut script: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            script.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            script.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            script.push(('+', i + 1, b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = script.iter().enumerate().filter(|(_, s)| s.0 != ' ').map(|(k, _)| k).collect();
    let mut out = String::new();
    let mut last: Option<usize> = None;
    for (shown, &k) in changed.iter().enumerate() {
        if shown == 20 {
            out.push_str(&format!("    ... and {} more changed lines\n", changed.len() - shown));
            break;
        }
        let from = k.saturating_sub(2).max(last.map_or(0, |l| l + 1));
        if last.is_none_or(|l| from > l + 1) {
            out.push_str(&format!("    @@ line {} @@\n", script[from].1));
        }
        for s in &script[from..=k] {
            out.push_str(&format!("    {} {}\n", s.0, s.2));
        }
        // Context after the change, through to the next change when that follows closely.
        let next = changed.iter().find(|&&c| c > k).copied();
        let upto = match next {
            Some(c) if c <= k + 5 => c - 1,
            _ => (k + 2).min(script.len() - 1),
        };
        for s in &script[k + 1..=upto] {
            out.push_str(&format!("    {} {}\n", s.0, s.2));
        }
        last = Some(upto);
    }
    out
}
