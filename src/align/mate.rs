//! Pair-level facts derived from the two primaries: proper pairing and template length.
//!
//! **Proper pair** (flag 0x2) follows the test minimap2's own pairing (`mm_pair`) applies, so
//! that dagr agrees with `minimap2 -ax sr`: both primaries mapped to the same contig on opposite
//! strands, the forward-strand read starting at or before the reverse-strand read (FR
//! orientation), and the gap between them, `reverse.pos - forward.end`, at most `max_gap_ref`,
//! which is minimap2's `max(max_frag_len - (len1 + len2), max_gap)` (or its `max_gap_ref` when
//! set). With the `sr` preset (max_frag_len 800, max_gap 100) and 2×150 reads that is a gap of at
//! most 500 bases, i.e. a fragment (|TLEN|) of at most 800 when both reads align end to end.
//!
//! **TLEN** follows the SAM specification: the number of reference bases from the leftmost mapped
//! base of the two primaries to the rightmost, positive on the leftmost record (lower POS; on a tie
//! the forward-strand one; on the same strand R1) and negative on the other; 0 when the mates are
//! on different contigs or one is unmapped. minimap2 and `samtools fixmate` instead measure 5' end
//! to 5' end, which differs only for pairs where one read extends past its mate's 5' end
//! (dovetails, reads longer than the fragment).
//!
//! Cost: constant per pair.

use super::hit::Hit;

/// The parameters of minimap2's pairing that the proper-pair rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairingBound {
    /// Maximum fragment length (minimap2 `max_frag_len`, 0 when unset).
    pub max_frag_len: i64,
    /// minimap2 `max_gap`.
    pub max_gap: i64,
    /// minimap2 `max_gap_ref` (≤ 0 when unset).
    pub max_gap_ref: i64,
}

impl PairingBound {
    /// The largest gap between the forward read's end and the reverse read's start, as minimap2
    /// computes it for a pair of reads of total length `len_sum`.
    pub fn max_gap(&self, len_sum: i64) -> i64 {
        if self.max_gap_ref > 0 {
            self.max_gap_ref
        } else if self.max_frag_len > 0 {
            (self.max_frag_len - len_sum).max(self.max_gap)
        } else {
            self.max_gap
        }
    }

    /// Whether two mapped primaries form a proper pair (see the module documentation).
    pub fn is_proper(&self, a: &Hit, b: &Hit, len_sum: i64) -> bool {
        if a.tid != b.tid || a.reverse == b.reverse {
            return false;
        }
        let (forward, reverse) = if a.reverse { (b, a) } else { (a, b) };
        forward.pos <= reverse.pos && reverse.pos - forward.end <= self.max_gap(len_sum)
    }
}

/// TLEN of the record of `this` (a primary; `this_is_r1` says which mate) with its mate's
/// primary `mate`, per the SAM specification (see the module documentation).
pub(crate) fn template_len(this: &Hit, this_is_r1: bool, mate: &Hit) -> i64 {
    if this.tid != mate.tid {
        return 0;
    }
    let span = this.end.max(mate.end) - this.pos.min(mate.pos);
    let leftmost = match this.pos.cmp(&mate.pos) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => match (this.reverse, mate.reverse) {
            (false, true) => true,
            (true, false) => false,
            _ => this_is_r1,
        },
    };
    if leftmost { span } else { -span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::hit::HitKind;
    use rust_htslib::bam::record::{Cigar, CigarString};

    fn hit(tid: i32, pos: i64, end: i64, reverse: bool) -> Hit {
        Hit {
            tid,
            contig: None,
            pos,
            end,
            reverse,
            mapq: 60,
            kind: HitKind::Primary,
            cigar: CigarString(vec![Cigar::Match((end - pos) as u32)]),
            leading_clip: 0,
            trailing_clip: 0,
            nm: 0,
            score: 0,
        }
    }

    const SR: PairingBound = PairingBound { max_frag_len: 800, max_gap: 100, max_gap_ref: -1 };

    #[test]
    fn proper_pairs_are_fr_within_the_gap() {
        let f = hit(0, 1000, 1150, false);
        assert!(SR.is_proper(&f, &hit(0, 1650, 1800, true), 300));
        assert!(!SR.is_proper(&f, &hit(0, 1651, 1801, true), 300), "gap 501 > 800 - 300");
        assert!(!SR.is_proper(&f, &hit(0, 1200, 1350, false), 300), "same strand");
        assert!(!SR.is_proper(&f, &hit(1, 1200, 1350, true), 300), "other contig");
        assert!(!SR.is_proper(&f, &hit(0, 900, 1050, true), 300), "RF");
        assert!(SR.is_proper(&f, &hit(0, 1000, 1150, true), 300), "same start");
        assert_eq!(SR.max_gap(1000), 100);
    }

    #[test]
    fn tlen_spans_leftmost_to_rightmost() {
        let (a, b) = (hit(0, 1000, 1150, false), hit(0, 1250, 1400, true));
        assert_eq!(template_len(&a, true, &b), 400);
        assert_eq!(template_len(&b, false, &a), -400);
        // A read reaching past its mate's end still spans leftmost to rightmost.
        let (c, d) = (hit(0, 1000, 1150, false), hit(0, 990, 1100, true));
        assert_eq!(template_len(&c, true, &d), -160);
        assert_eq!(template_len(&d, false, &c), 160);
        // Same start: the forward read is leftmost.
        let (e, f) = (hit(0, 500, 600, true), hit(0, 500, 650, false));
        assert_eq!((template_len(&e, true, &f), template_len(&f, false, &e)), (-150, 150));
        assert_eq!(template_len(&a, true, &hit(1, 5, 10, true)), 0);
    }
}
