//! Tests of reference preparation and its cache, on small temporary FASTAs.

use super::*;
use crate::align::{IndexParams, Minimap2Index, load_index};
use std::fmt::Write as _;

static NO_CANCEL: AtomicBool = AtomicBool::new(false);
/// minimap2's `sr` defaults (k21w11), the index the stage and the CLI build by default.
static SR: Minimap2Index = Minimap2Index { params: IndexParams { k: 21, w: 11 } };
static K15W10: Minimap2Index = Minimap2Index { params: IndexParams { k: 15, w: 10 } };

fn default_opts() -> PrepareOptions<'static> {
    PrepareOptions { index: &SR, threads: 2 }
}

/// Deterministic pseudo-random bases (xorshift64).
fn bases(seed: u64, n: usize) -> String {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"ACGT"[(x >> 33) as usize % 4])
        })
        .collect()
}

/// A two-contig FASTA wrapped at `width`, with header descriptions, or lower-case without.
fn fasta_text(width: usize, lower: bool) -> String {
    let mut out = String::new();
    for (name, seed) in [("chrA", 7u64), ("chrB", 8)] {
        let _ = writeln!(out, ">{name}{}", if lower { "" } else { " test contig" });
        let seq = if lower { bases(seed, 6_000).to_lowercase() } else { bases(seed, 6_000) };
        for chunk in seq.as_bytes().chunks(width) {
            let _ = writeln!(out, "{}", String::from_utf8_lossy(chunk));
        }
    }
    out
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("ref.fa");
    std::fs::write(&fasta, fasta_text(60, false)).unwrap();
    let cache = dir.path().join("cache");
    (dir, fasta, cache)
}

fn prepare(fasta: &Path, cache: Option<&Path>, opts: &PrepareOptions) -> Result<PreparedReference, PrepareError> {
    prepare_reference(fasta, cache, opts, &NO_CANCEL)
}

#[test]
fn first_run_writes_everything_second_is_up_to_date() {
    let (_tmp, fasta, cache) = setup();
    let opts = default_opts();
    let first = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert_eq!(first.rebuilt, ["fasta", "fai", "dict", "md5", "mmi"]);
    assert_eq!(first.dir, cache.join(&first.digest[..16]));
    assert_eq!(first.contigs.len(), 2);
    assert_eq!(first.total_length, 12_000);
    assert_eq!(first.fai, first.dir.join("ref.fa.fai"));
    assert_eq!(first.mmi, first.dir.join("ref.k21w11.mmi"));
    assert_eq!(std::fs::read_link(&first.fasta).unwrap(), fasta.canonicalize().unwrap());
    assert_eq!(std::fs::read_to_string(&first.fai).unwrap(), "chrA\t6000\t18\t60\t61\nchrB\t6000\t6136\t60\t61\n");
    let dict = std::fs::read_to_string(&first.dict).unwrap();
    let uri = format!("UR:file://{}", fasta.canonicalize().unwrap().display());
    assert!(dict.starts_with("@HD\tVN:1.6\n@SQ\tSN:chrA\tLN:6000\tM5:"), "{dict}");
    assert_eq!(dict.matches(&uri).count(), 2, "{dict}");
    let roles: Vec<_> = first.files.iter().map(|f| f.role).collect();
    assert_eq!(roles, ["fasta", "fai", "dict", "md5", "mmi", "info"]);
    for f in &first.files[1..] {
        assert_eq!(md5_of_file(&f.path).unwrap(), (f.md5.clone(), f.size), "{}", f.role);
    }
    assert_eq!(first.files[0].md5, md5_of_file(&fasta).unwrap().0);
    assert_eq!(load_index(&first.mmi, 1).unwrap().n_seq(), 2);

    let second = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert!(second.up_to_date(), "rebuilt {:?}", second.rebuilt);
    assert_eq!(second.files, first.files);
    let loaded = PreparedReference::load(&first.dir, "k21w11").unwrap();
    assert_eq!(loaded.files, first.files);
    assert_eq!(loaded.contigs, first.contigs);
    // reference.json keeps the layout existing caches have (index params and minimap2 version).
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&first.info).unwrap()).unwrap();
    let index = &json["indexes"]["k21w11"];
    assert_eq!(index["params"], serde_json::json!({ "k": 21, "w": 11 }));
    assert_eq!(index["minimap2"], crate::align::minimap2_version());
    assert_eq!(index["file"], "ref.k21w11.mmi");
}

#[test]
fn other_parameters_add_an_index() {
    let (_tmp, fasta, cache) = setup();
    let first = prepare(&fasta, Some(&cache), &default_opts()).unwrap();
    let opts = PrepareOptions { index: &K15W10, threads: 1 };
    let other = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert_eq!(other.rebuilt, ["mmi"]);
    assert_eq!(other.mmi, first.dir.join("ref.k15w10.mmi"));
    assert!(first.mmi.exists());
    assert_eq!(PreparedReference::load(&first.dir, "k21w11").unwrap().mmi, first.mmi);
    assert_eq!(PreparedReference::load(&first.dir, "k15w10").unwrap().mmi, other.mmi);
}

#[test]
fn missing_or_damaged_files_are_rebuilt_alone() {
    let (_tmp, fasta, cache) = setup();
    let opts = default_opts();
    let first = prepare(&fasta, Some(&cache), &opts).unwrap();
    std::fs::remove_file(&first.mmi).unwrap();
    std::fs::write(&first.dict, "truncated").unwrap();
    let again = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert_eq!(again.rebuilt, ["dict", "mmi"]);
    assert_eq!(again.files, first.files, "same bytes as before");
    assert!(PreparedReference::load(&first.dir, "k21w11").is_ok());
}

/// A same-size edit of a small cache file (the `.fai` here) is caught by its recorded MD5: `load`
/// refuses the folder and `prepare` rewrites the file.
#[test]
fn a_same_size_edit_of_a_cache_file_is_caught_by_its_digest() {
    let (_tmp, fasta, cache) = setup();
    let opts = default_opts();
    let first = prepare(&fasta, Some(&cache), &opts).unwrap();
    let fai = first.dir.join("ref.fa.fai");
    let mut bytes = std::fs::read(&fai).unwrap();
    let digit = bytes.iter().position(u8::is_ascii_digit).unwrap();
    bytes[digit] = if bytes[digit] == b'9' { b'8' } else { b'9' };
    std::fs::write(&fai, &bytes).unwrap();
    let err = PreparedReference::load(&first.dir, "k21w11").unwrap_err().to_string();
    assert!(err.contains("ref.fa.fai is missing or changed"), "{err}");
    let again = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert_eq!(again.rebuilt, ["fai"]);
    assert!(PreparedReference::load(&first.dir, "k21w11").is_ok());
}

#[test]
fn touched_fasta_is_rescanned_and_rewrapped_copy_shares_the_folder() {
    let (tmp, fasta, cache) = setup();
    let opts = default_opts();
    let first = prepare(&fasta, Some(&cache), &opts).unwrap();
    let file = File::options().write(true).open(&fasta).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5)).unwrap();
    let touched = prepare(&fasta, Some(&cache), &opts).unwrap();
    assert_eq!(touched.rebuilt, ["fasta", "fai", "dict"], "content unchanged: md5 table and index kept");
    assert_eq!(touched.dir, first.dir);

    let rewrapped = tmp.path().join("ref.fasta");
    std::fs::write(&rewrapped, fasta_text(80, true)).unwrap();
    let copy = prepare(&rewrapped, Some(&cache), &opts).unwrap();
    assert_eq!(copy.digest, first.digest, "digest ignores wrapping and case");
    assert_eq!(copy.dir, first.dir);
    assert!(copy.rebuilt.contains(&"fai"));
    assert_eq!(std::fs::read_to_string(&copy.fai).unwrap(), "chrA\t6000\t6\t80\t81\nchrB\t6000\t6087\t80\t81\n");
}

#[test]
fn default_cache_is_beside_the_fasta() {
    let (tmp, fasta, _cache) = setup();
    let prepared = prepare(&fasta, None, &default_opts()).unwrap();
    assert_eq!(prepared.dir, tmp.path().join("ref.fa.dagr").join(&prepared.digest[..16]));
}

#[test]
fn unwritable_folder_asks_for_a_cache_dir() {
    let (tmp, fasta, _cache) = setup();
    // Root may write anywhere: a file where the cache folder's parent should be makes it fail too,
    // but with a different error kind, so check the mapping itself as well.
    let e = writable_error(tmp.path(), io::Error::from(io::ErrorKind::PermissionDenied), HINT_BESIDE);
    assert_eq!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::BadInput);
    let msg = e.to_string();
    assert!(msg.contains("--cache-dir") && msg.contains("--reference-cache"), "{msg}");
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let ro_fasta = ro.join("ref.fa");
    std::fs::copy(&fasta, &ro_fasta).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if File::create(ro.join("probe")).is_err() {
        let e = prepare(&ro_fasta, None, &default_opts()).unwrap_err();
        assert!(matches!(e, PrepareError::NotWritable { .. }), "{e}");
        assert!(e.to_string().contains("--cache-dir"), "{e}");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn bad_fasta_is_bad_input_naming_line_and_contig() {
    let (tmp, _fasta, cache) = setup();
    let bad = tmp.path().join("bad.fa");
    std::fs::write(&bad, ">c1\nACGT\n>c2\nACXT\n").unwrap();
    let e = prepare(&bad, Some(&cache), &default_opts()).unwrap_err();
    assert_eq!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::BadInput);
    let msg = e.to_string();
    assert!(msg.contains("bad.fa: line 4, column 3: contig `c2`: character 'X'"), "{msg}");
    let e = prepare(&tmp.path().join("none.fa"), Some(&cache), &default_opts()).unwrap_err();
    assert_eq!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::BadInput, "{e}");
}

#[test]
fn cancelled_before_work_is_interrupted() {
    let (_tmp, fasta, cache) = setup();
    let e = prepare_reference(&fasta, Some(&cache), &default_opts(), &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(e, PrepareError::Cancelled), "{e}");
    assert_eq!(crate::outcome::Classify::failure(&e), crate::outcome::Failure::Interrupted);
}

#[test]
fn concurrent_jobs_do_not_race() {
    let (_tmp, fasta, cache) = setup();
    let results: Vec<_> = std::thread::scope(|s| {
        let jobs: Vec<_> = (0..3).map(|_| s.spawn(|| prepare(&fasta, Some(&cache), &default_opts()))).collect();
        jobs.into_iter().map(|j| j.join().unwrap().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| !r.up_to_date()).count(), 1, "exactly one job builds");
    assert!(results.windows(2).all(|w| w[0].files == w[1].files));
}
