//! Haplotype differences → VCF-style variants: SNVs (an MNP is written as its SNVs), and indels
//! with their anchor base, left-aligned against the reference without crossing the previous
//! variant of the same haplotype. Trimmed to parsimony by construction (one event per record).
//! Cost: O(differences × shift length).

use crate::call::assembly::align::Diff;

/// A variant in window coordinates: `pos` is the first base of `ref_allele`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalVariant {
    pub pos: usize,
    pub ref_allele: Vec<u8>,
    pub alt_allele: Vec<u8>,
}

impl LocalVariant {
    /// Length change (alt − ref); 0 for SNVs.
    pub fn indel_len(&self) -> usize {
        self.ref_allele.len().abs_diff(self.alt_allele.len())
    }

    /// Last window position the variant's reference allele covers.
    fn last_ref_pos(&self) -> usize {
        self.pos + self.ref_allele.len() - 1
    }
}

/// Deletion of `reference[anchor + 1..=anchor + len]`, shifted left while equivalent, not
/// moving its anchor left of `floor`.
pub fn left_align_deletion(reference: &[u8], mut anchor: usize, len: usize, floor: usize) -> LocalVariant {
    while anchor > floor && anchor + len < reference.len() && reference[anchor] == reference[anchor + len] {
        anchor -= 1;
    }
    LocalVariant {
        pos: anchor,
        ref_allele: reference[anchor..=anchor + len].to_vec(),
        alt_allele: vec![reference[anchor]],
    }
}

/// Insertion of `seq` after `reference[anchor]`, shifted left while equivalent, not moving its
/// anchor left of `floor`.
pub fn left_align_insertion(reference: &[u8], mut anchor: usize, seq: &[u8], floor: usize) -> LocalVariant {
    let mut seq = seq.to_vec();
    while anchor > floor && seq.last() == Some(&reference[anchor]) {
        seq.rotate_right(1);
        anchor -= 1;
    }
    let mut alt = vec![reference[anchor]];
    alt.extend_from_slice(&seq);
    LocalVariant { pos: anchor, ref_allele: vec![reference[anchor]], alt_allele: alt }
}

/// The variants of one haplotype, in reference order. Indels at the very first window base
/// (no anchor) are dropped; the assembler's haplotypes never have them.
pub fn variants(diffs: &[Diff], reference: &[u8]) -> Vec<LocalVariant> {
    let mut out: Vec<LocalVariant> = Vec::new();
    for d in diffs {
        let floor = out.last().map_or(0, |v| v.last_ref_pos() + 1);
        let v = match d {
            Diff::Mismatch { pos, base } => {
                LocalVariant { pos: *pos, ref_allele: vec![reference[*pos]], alt_allele: vec![*base] }
            }
            Diff::Insertion { pos, seq } if *pos > 0 => left_align_insertion(reference, pos - 1, seq, floor),
            Diff::Deletion { pos, len } if *pos > 0 => left_align_deletion(reference, pos - 1, *len, floor),
            _ => continue,
        };
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homopolymer_insertion_and_deletion_move_left() {
        let r = b"GCAAAATG";
        let ins = left_align_insertion(r, 5, b"A", 0);
        assert_eq!((ins.pos, ins.ref_allele.as_slice(), ins.alt_allele.as_slice()), (1, &b"C"[..], &b"CA"[..]));
        let del = left_align_deletion(r, 4, 1, 0);
        assert_eq!((del.pos, del.ref_allele.as_slice(), del.alt_allele.as_slice()), (1, &b"CA"[..], &b"C"[..]));
        // dinucleotide repeat: delete "CA" from GCACACAT
        let del = left_align_deletion(b"GCACACAT", 4, 2, 0);
        assert_eq!((del.pos, del.ref_allele.as_slice()), (0, &b"GCA"[..]));
    }
}
