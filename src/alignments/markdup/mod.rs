//! Duplicate marking as a keyed reduction over [`DupCandidate`]s, with Picard MarkDuplicates'
//! semantics and metrics.
//!
//! # Algorithm
//! * **Pairs** (both mates mapped) are grouped by [`DupKey::Pair`] (library, both unclipped 5'
//!   ends and strands). In each group the member with the highest score is kept; ties go to the
//!   smaller `name_hash`, then the smaller `pair_id`. Every other member is a duplicate, both
//!   mates ([`DuplicateMarks::is_duplicate`] answers for R1 and R2; the caller flags the pair's
//!   secondary and supplementary records too).
//! * **Fragments** (one mate mapped, the other unmapped) are grouped by their mapped end
//!   (library, reference, unclipped 5', strand). As in Picard, a fragment whose end equals either
//!   end of any mapped pair of the library is a duplicate (pairs win, whether or not that pair is
//!   itself a duplicate); in a group with no pair on its end the best score is kept (same
//!   tie-breaks). The **unmapped mate of a duplicate fragment is not flagged**: Picard only flags
//!   records that produced a read end, and an unmapped read never does (samtools markdup agrees).
//! * **Optical duplicates** (pairs only, as Picard counts them): inside one duplicate set,
//!   members on the same lane and tile whose |dx| and |dy| are both ≤ `optical_pixel_distance`
//!   are linked; each connected cluster of n members counts n − 1 optical duplicates. The kept
//!   member is never optical: its cluster's other members are; in other clusters the member with
//!   the smallest (x, y) is the one not counted. This is Picard's graph rule (which its fast path
//!   equals for small sets). Lane stands in for Picard's read group (one `@RG` per lane).
//!   Picard also splits a set whose pairs differ in which mate is leftmost; [`DupKey`] does not
//!   record that, so dagr does not split (it can only lower the count when both occur on a tile).
//!
//! # Partitioning (one node or many)
//! The reduction is exact on any partition where every pair group lives in one shard (route
//! pairs by [`shard_of`]) and every fragment group lives in one shard (route fragments by
//! [`shard_of`], which hashes their [`EndKey`]). Fragments also need to know which of their ends
//! are covered by a pair held elsewhere: all-gather [`fragment_ends`] (mate-unmapped fragments
//! are rare), let each shard answer with [`covered_ends`] of its own pairs, and route those
//! answers by [`end_shard`]. [`resolve_partition`] then reduces a shard to a [`MarksPart`]
//! (serde, additive per-library counts) and [`DuplicateMarks::merge`] combines the parts.
//! [`resolve`] is that with one shard. Results do not depend on input order or on the number of
//! shards: every choice is made by sorting on (key, −score, name_hash, pair_id).
//!
//! # Cost
//! O(n log n) time for n candidates (two sorts), plus O(k²) worst case per optical tile bucket
//! of a duplicate set of size k (a sweep on x prunes it to near-linear in practice). Memory: the
//! candidates themselves plus O(duplicates) for the result (9 bytes per flagged pair); within a
//! memory share, [`CandidateStore`] spills pairs to partition files and reduces one at a time.

mod marks;
mod metrics;
mod reduce;
mod store;

pub use marks::{DUP_R1, DUP_R2, DuplicateMarks, MarksPart, OPTICAL};
pub use metrics::{LibraryCounts, LibraryMetrics, estimate_library_size, write_picard_metrics};
pub use reduce::{EndKey, covered_ends, end_shard, fragment_ends, resolve_partition, shard_of};
pub use store::{CandidateStats, CandidateStore};

use crate::alignments::keys::DupCandidate;
use serde::{Deserialize, Serialize};

/// Options of the reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkdupOptions {
    /// Maximum |dx| and |dy| (pixels) between optical duplicates on one tile: 2500 for patterned
    /// flow cells (NovaSeq, HiSeq X/4000), 100 for older unpatterned ones (Picard's default).
    pub optical_pixel_distance: u32,
}

impl MarkdupOptions {
    pub const PATTERNED_FLOWCELL_DISTANCE: u32 = 2500;
    pub const UNPATTERNED_FLOWCELL_DISTANCE: u32 = 100;
}

impl Default for MarkdupOptions {
    fn default() -> Self {
        MarkdupOptions { optical_pixel_distance: Self::PATTERNED_FLOWCELL_DISTANCE }
    }
}

/// Resolves duplicates among all candidates of a sample on one node (one shard).
/// `library_names[i]` names library id `i` in the metrics.
pub fn resolve(candidates: Vec<DupCandidate>, library_names: &[String], options: &MarkdupOptions) -> DuplicateMarks {
    let part = resolve_partition(candidates, &[], options);
    DuplicateMarks::merge(vec![part], library_names)
}

#[cfg(test)]
mod tests;
