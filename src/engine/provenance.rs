//! Provenance: dagr's version and commit, the bundled htslib's version, the run's canonical command
//! line.

use std::collections::BTreeMap;

/// htslib's version string, as the linked library reports it.
pub fn htslib_version() -> String {
    // SAFETY: hts_version returns a pointer to a static NUL-terminated string.
    unsafe {
        let p = rust_htslib::htslib::hts_version();
        if p.is_null() { "unknown".to_string() } else { std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned() }
    }
}

/// The bundled tools every pipeline runs (htslib, which reads and writes every BAM, CRAM and
/// VCF); the stage kinds add their own ([`crate::engine::stage::Stage::tool_versions`]), see
/// `Pipeline::tools`.
pub fn engine_tools() -> BTreeMap<String, String> {
    BTreeMap::from([("htslib".to_string(), htslib_version())])
}

/// `dagr <version> (<commit>)`.
pub fn dagr_version_line() -> String {
    format!("{} ({})", crate::VERSION, crate::GIT_COMMIT)
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// Joins words into one shell-safe command line.
pub fn command_line(words: &[String]) -> String {
    words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b.fa"), "a/b.fa");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(command_line(&["dagr".into(), "run".into(), "a b".into()]), "dagr run 'a b'");
    }
}
