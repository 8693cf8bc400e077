//! The keys that travel with aligned records from the aligner to sorting and duplicate marking.
//!
//! Both are computed once, at alignment time, while both mates of a pair are in hand, and are
//! independent of the thread count: [`PairId`] is the pair's ordinal in the input (batches are a
//! fixed number of pairs), so every tie is broken by input order or by a read-name hash.

/// A read pair's ordinal in the sample's input, over all lanes in samplesheet order
/// (`lane_offset + batch_index * PAIRS_PER_BATCH + index_in_batch`).
pub type PairId = u64;

/// Coordinate order of output records, total and deterministic: reference id (unmapped reads
/// without a placed mate last, as `u32::MAX`), 0-based leftmost position, strand, then input
/// order (`pair_id`) and the record's rank within its pair ([`SortKey::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    pub tid: u32,
    pub pos: i64,
    pub reverse: bool,
    pub pair_id: PairId,
    /// 0: R1 primary, 1: R2 primary, 2..: supplementary and secondary records in emission order.
    pub rank: u8,
}

impl SortKey {
    /// `tid` of records that sort after every placed record (unmapped, no placed mate).
    pub const UNPLACED: u32 = u32::MAX;
}

/// Which mate a record or a fragment key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mate {
    R1,
    R2,
}

/// One end of a fragment: reference id, unclipped 5' position (0-based; for a reverse-strand
/// read the unclipped end), strand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct ReadEnd {
    pub tid: u32,
    pub unclipped_5prime: i64,
    pub reverse: bool,
}

/// What duplicates are grouped by (per library, across all lanes of a sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum DupKey {
    /// Both mates mapped: the two ends, ordered so that `first <= second`.
    Pair { library: u32, first: ReadEnd, second: ReadEnd },
    /// Only one mate mapped (its mate unmapped): that mate's end.
    Fragment { library: u32, end: ReadEnd, mate: Mate },
}

/// Flow-cell coordinates parsed from an Illumina read name
/// (`instrument:run:flowcell:lane:tile:x:y`), for optical duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct FlowcellPosition {
    pub lane: u32,
    pub tile: u32,
    pub x: u32,
    pub y: u32,
}

/// One pair's (or mate-unmapped fragment's) entry in the duplicate reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DupCandidate {
    pub key: DupKey,
    /// Sum of base qualities ≥ 15 over the mapped mate(s): the best-scoring member is kept.
    pub score: u32,
    /// A hash of the read name (FNV-1a 64 of the name without `/1` `/2`): breaks score ties.
    pub name_hash: u64,
    pub pair_id: PairId,
    pub position: Option<FlowcellPosition>,
}

/// Parses `instrument:run:flowcell:lane:tile:x:y` (the last four fields); `None` otherwise.
pub fn flowcell_position(name: &[u8]) -> Option<FlowcellPosition> {
    let mut fields = name.rsplit(|&b| b == b':');
    let parse = |f: Option<&[u8]>| -> Option<u32> { std::str::from_utf8(f?).ok()?.parse().ok() };
    let y = parse(fields.next())?;
    let x = parse(fields.next())?;
    let tile = parse(fields.next())?;
    let lane = parse(fields.next())?;
    Some(FlowcellPosition { lane, tile, x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illumina_names_give_flowcell_positions() {
        let p = flowcell_position(b"A00217:76:HFLT3DSXX:1:1104:9634:25222").unwrap();
        assert_eq!(p, FlowcellPosition { lane: 1, tile: 1104, x: 9634, y: 25222 });
        assert_eq!(flowcell_position(b"read17"), None);
    }
}
