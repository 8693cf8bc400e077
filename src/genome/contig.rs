//! Contigs: names (SAM rules), lengths, per-contig MD5s, the table of a reference's contigs
//! ([`ContigTable`]: `tid` → contig, the one contig type every module uses: SAM `@SQ`, VCF
//! `##contig`, the reference cache, the aligner's index, ploidy and shards) and the reference
//! digest.
//!
//! The reference digest is SHA-256 over the lines `name \t length \t md5 \n` of all contigs in
//! file order, where `md5` is the SAM `M5` value (MD5 of the upper-case sequence without line
//! breaks). It therefore identifies the sequences and their names and order, whatever the line
//! wrapping or case of the FASTA. Cost: one SHA-256 over a few bytes per contig.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest contig name minimap2's serialized index can hold.
pub const MAX_NAME_LEN: usize = 255;

/// One contig of a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contig {
    pub name: String,
    pub length: u64,
    /// SAM `M5`: MD5 (lower-case hex) of the upper-case sequence; `None` when only a `.fai` was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
}

impl Contig {
    /// A contig known by name and length only (an aligner's index, a `.fai`).
    pub fn new(name: impl Into<String>, length: u64) -> Contig {
        Contig { name: name.into(), length, md5: None }
    }

    /// The SAM `M5` / VCF `md5` value when it is 32 lower-case hex digits.
    pub fn checked_md5(&self) -> Option<&str> {
        self.md5.as_deref().filter(|m| m.len() == 32 && m.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    }
}

/// The contigs of one reference in reference order: `tid` (the index, as in BAM and in the
/// callers) → contig. Dereferences to a slice, so `table[tid as usize].name` works.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContigTable(Vec<Contig>);

impl ContigTable {
    pub fn new(contigs: Vec<Contig>) -> ContigTable {
        ContigTable(contigs)
    }

    /// The name of contig `tid`; empty for a `tid` the table does not have.
    pub fn name(&self, tid: u32) -> &str {
        self.0.get(tid as usize).map_or("", |c| c.name.as_str())
    }

    /// Sum of the contig lengths.
    pub fn total_length(&self) -> u64 {
        self.0.iter().map(|c| c.length).sum()
    }

    pub fn into_vec(self) -> Vec<Contig> {
        self.0
    }
}

impl std::ops::Deref for ContigTable {
    type Target = [Contig];
    fn deref(&self) -> &[Contig] {
        &self.0
    }
}

impl From<Vec<Contig>> for ContigTable {
    fn from(contigs: Vec<Contig>) -> ContigTable {
        ContigTable(contigs)
    }
}

/// Why `name` cannot be a contig name, if it cannot: SAM allows printable ASCII except
/// `\ , " ' ( ) [ ] { } < >`, not starting with `*` or `=`; minimap2 indexes at most 255 bytes.
pub fn contig_name_problem(name: &[u8]) -> Option<&'static str> {
    const FORBIDDEN: &[u8] = b"\\,\"'()[]{}<>";
    match name.first() {
        None => return Some("it is empty (no text right after `>`)"),
        Some(b'*' | b'=') => return Some("it starts with `*` or `=`, which SAM forbids"),
        Some(_) => {}
    }
    if name.len() > MAX_NAME_LEN {
        return Some("it is longer than 255 bytes, the limit of minimap2 indexes");
    }
    if name.iter().any(|b| !(b'!'..=b'~').contains(b)) {
        return Some("it contains a byte outside printable ASCII");
    }
    if name.iter().any(|b| FORBIDDEN.contains(b)) {
        return Some("it contains one of \\ , \" ' ( ) [ ] { } < >, which SAM forbids");
    }
    None
}

/// SHA-256 (lower-case hex) over `name \t length \t md5 \n` of each contig, in order.
pub fn reference_digest<'a>(contigs: impl IntoIterator<Item = (&'a str, u64, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (name, length, md5) in contigs {
        hasher.update(name.as_bytes());
        hasher.update(b"\t");
        hasher.update(length.to_string().as_bytes());
        hasher.update(b"\t");
        hasher.update(md5.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_name_rules() {
        assert_eq!(contig_name_problem(b"chr1"), None);
        assert_eq!(contig_name_problem(b"HLA-A*01:01:01:01"), None);
        assert_eq!(contig_name_problem(b"chrUn_KI270302v1"), None);
        assert!(contig_name_problem(b"").is_some());
        assert!(contig_name_problem(b"*chr").is_some());
        assert!(contig_name_problem(b"=x").is_some());
        assert!(contig_name_problem(b"a,b").is_some());
        assert!(contig_name_problem(b"a\xc3\xa9").is_some());
        assert!(contig_name_problem(&[b'a'; 256]).is_some());
        assert_eq!(contig_name_problem(&[b'a'; 255]), None);
    }

    #[test]
    fn digest_depends_on_name_length_md5_and_order() {
        let a = reference_digest([("c1", 4, "x"), ("c2", 5, "y")]);
        assert_eq!(a.len(), 64);
        assert_eq!(a, reference_digest([("c1", 4, "x"), ("c2", 5, "y")]));
        assert_ne!(a, reference_digest([("c2", 5, "y"), ("c1", 4, "x")]));
        assert_ne!(a, reference_digest([("c1", 4, "x"), ("c2", 5, "z")]));
        assert_ne!(a, reference_digest([("c1", 4, "x"), ("c3", 5, "y")]));
    }
}
