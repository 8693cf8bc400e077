//! The duplicate-marking entry of a pair, computed while both mates are in hand.
//!
//! Both primaries mapped: [`DupKey::Pair`] with the two ends (contig, unclipped 5' position,
//! strand) ordered so that `first <= second`. One mapped: [`DupKey::Fragment`] for it. None: no
//! entry. The score is the sum of the Phred base qualities ≥ 15 of the mapped mates (whole reads,
//! as stored in SEQ/QUAL). Cost: one pass over the mapped mates' qualities.

use super::hit::Hit;
use crate::alignments::keys::{DupCandidate, DupKey, Mate, PairId, ReadEnd, flowcell_position};
use crate::reads::name_hash;

/// Base qualities at or above this count towards a pair's score.
pub const MIN_SCORED_QUALITY: u8 = 15;

/// One mapped mate: its primary and Phred+33 qualities.
pub(crate) type MappedMate<'a> = (&'a Hit, &'a [u8]);

/// The duplicate entry of a pair named `name` (suffix removed), or `None` when neither mate maps.
pub(crate) fn candidate(
    r1: Option<MappedMate<'_>>,
    r2: Option<MappedMate<'_>>,
    name: &[u8],
    pair_id: PairId,
    library: u32,
) -> Option<DupCandidate> {
    let key = match (r1, r2) {
        (Some((a, _)), Some((b, _))) => {
            let (ea, eb) = (read_end(a), read_end(b));
            let (first, second) = if ea <= eb { (ea, eb) } else { (eb, ea) };
            DupKey::Pair { library, first, second }
        }
        (Some((a, _)), None) => DupKey::Fragment { library, end: read_end(a), mate: Mate::R1 },
        (None, Some((b, _))) => DupKey::Fragment { library, end: read_end(b), mate: Mate::R2 },
        (None, None) => return None,
    };
    let score = [r1, r2].iter().flatten().map(|(_, qual)| quality_score(qual)).sum();
    Some(DupCandidate { key, score, name_hash: name_hash(name), pair_id, position: flowcell_position(name) })
}

/// The end of a mapped primary.
fn read_end(hit: &Hit) -> ReadEnd {
    ReadEnd {
        tid: u32::try_from(hit.tid).unwrap_or(u32::MAX),
        unclipped_5prime: hit.unclipped_5prime(),
        reverse: hit.reverse,
    }
}

/// Sum of Phred qualities (from Phred+33) at or above [`MIN_SCORED_QUALITY`].
pub(crate) fn quality_score(qual: &[u8]) -> u32 {
    qual.iter().map(|&q| q.saturating_sub(33)).filter(|&q| q >= MIN_SCORED_QUALITY).map(u32::from).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_qualities_of_fifteen_and_more() {
        // '0' = Q15, '/' = Q14, 'I' = Q40.
        assert_eq!(quality_score(b"0/I!"), 55);
        assert_eq!(quality_score(b""), 0);
    }
}
