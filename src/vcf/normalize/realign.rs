//! Left-alignment and parsimony of one biallelic record, as `bcftools norm -f` (1.16) does it.
//!
//! 1. REF check: REF must equal the reference bases at POS (case-insensitive; reference IUPAC
//!    codes read as `N`; a REF with other than A/C/G/T/N never matches). A mismatching record is
//!    left as it is (`bcftools norm -c w`).
//! 2. Right trim: while both alleles end in the same base (and not both at the contig start with
//!    one allele down to one base), drop it; when an allele becomes empty, prepend up to 100
//!    reference bases (bcftools' window) to both and move POS left.
//! 3. Left trim: drop common leading bases while every allele keeps at least one.
//!
//! Cost: O(allele length + distance moved); one reference fetch per 100 bases moved.

use super::super::sequence::SequenceSource;

/// Reference bases bcftools prepends at a time while shifting left.
const PAD_WINDOW: u64 = 100;

/// Upper-cases and turns anything but A, C, G, T, N into N (as bcftools reads the reference).
pub(crate) fn canonical_reference(mut bases: Vec<u8>) -> Vec<u8> {
    for b in &mut bases {
        *b = match b.to_ascii_uppercase() {
            c @ (b'A' | b'C' | b'G' | b'T' | b'N') => c,
            _ => b'N',
        };
    }
    bases
}

/// Whether `ref_allele` equals the reference at `pos0` (0-based). `Err` when the fetch fails.
pub(crate) fn ref_matches(
    seq: &dyn SequenceSource,
    contig: &str,
    contig_len: u64,
    pos0: u64,
    ref_allele: &[u8],
) -> Result<bool, (u64, u64, String)> {
    let end0 = pos0.saturating_add(ref_allele.len() as u64);
    if !super::super::record::is_acgtn(ref_allele) || end0 > contig_len {
        return Ok(false);
    }
    let bases = seq.fetch(contig, pos0, end0).map_err(|m| (pos0, end0, m))?;
    Ok(canonical_reference(bases).eq_ignore_ascii_case(ref_allele))
}

/// A biallelic record after left-alignment and trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aligned {
    pub pos0: u64,
    pub ref_allele: Vec<u8>,
    pub alt: Vec<u8>,
}

/// Left-aligns and trims REF/ALT at `pos0` (REF already checked, REF != ALT, both sequence).
/// `Err((start0, end0, message))` when a reference fetch fails.
pub(crate) fn realign(
    seq: &dyn SequenceSource,
    contig: &str,
    pos0: u64,
    ref_allele: &[u8],
    alt: &[u8],
) -> Result<Aligned, (u64, u64, String)> {
    let (mut r, mut a) = (ref_allele.to_vec(), alt.to_vec());
    let mut pos = pos0;
    while let (Some(rl), Some(al)) = (r.last(), a.last()) {
        if rl != al || (r.len().min(a.len()) <= 1 && pos == 0) {
            break;
        }
        r.pop();
        a.pop();
        if r.is_empty() || a.is_empty() {
            let npad = pos.min(PAD_WINDOW);
            let pad = canonical_reference(seq.fetch(contig, pos - npad, pos).map_err(|m| (pos - npad, pos, m))?);
            r.splice(0..0, pad.iter().copied());
            a.splice(0..0, pad.iter().copied());
            pos -= npad;
        }
    }
    let mut trim = 0;
    while trim < r.len() && trim < a.len() && r[trim] == a[trim] && r.len().min(a.len()) - trim > 1 {
        trim += 1;
    }
    Ok(Aligned { pos0: pos + trim as u64, ref_allele: r.split_off(trim), alt: a.split_off(trim) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcf::sequence::InMemoryFasta;

    //             0         1         2         3
    //             0123456789012345678901234567890123456789
    const SEQ: &[u8] = b"ACGTACGTAAAAAGGCTTTTTCCCACGTAGGGGGGTTTAC";

    fn fasta() -> InMemoryFasta {
        InMemoryFasta::from_sequences([("c", SEQ)])
    }

    fn norm(pos0: u64, r: &str, a: &str) -> (u64, String, String) {
        let got = realign(&fasta(), "c", pos0, r.as_bytes(), a.as_bytes()).unwrap();
        (got.pos0, String::from_utf8(got.ref_allele).unwrap(), String::from_utf8(got.alt).unwrap())
    }

    #[test]
    fn deletion_in_homopolymer_moves_to_its_left_end() {
        // GGGGGG at 29..=34; deleting one G anywhere goes to the base before the run (A at 28).
        assert_eq!(norm(32, "GG", "G"), (28, "AG".into(), "A".into()));
        assert_eq!(norm(29, "GGGG", "G"), (28, "AGGG".into(), "A".into()));
        // Insertion of T into TTTTT (16..=20) anchors on C at 15.
        assert_eq!(norm(19, "T", "TT"), (15, "C".into(), "CT".into()));
    }

    #[test]
    fn parsimony_trims_shared_bases() {
        assert_eq!(norm(0, "ACG", "ATG"), (1, "C".into(), "T".into()));
        assert_eq!(norm(4, "ACGTA", "ACGA"), (6, "GT".into(), "G".into()));
        // Already normal stays.
        assert_eq!(norm(15, "CT", "C"), (15, "CT".into(), "C".into()));
    }

    #[test]
    fn contig_start_stops_the_shift() {
        // A deletion of the first base of a run at the contig start cannot be padded.
        assert_eq!(norm(0, "AC", "C"), (0, "AC".into(), "C".into()));
    }

    #[test]
    fn ref_check_is_case_insensitive_and_bounded() {
        let f = fasta();
        assert!(ref_matches(&f, "c", 40, 0, b"ACGT").unwrap());
        assert!(ref_matches(&f, "c", 40, 0, b"acgt").unwrap());
        assert!(!ref_matches(&f, "c", 40, 0, b"ACGA").unwrap());
        assert!(!ref_matches(&f, "c", 40, 38, b"ACG").unwrap());
        assert!(!ref_matches(&f, "c", 40, 0, b"RCGT").unwrap());
    }
}
