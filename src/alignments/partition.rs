//! Which MPI rank owns which stretch of the genome while one sample is aligned over several
//! ranks: the contigs laid end to end and cut into slices of equal length, one per rank, so that
//! rank order is coordinate order and rank 0 can join the ranks' sorted BAM slices by
//! concatenation. Records without a position go to the last rank. Cost: one multiplication per
//! record. (Equal length is not equal work: a genome's N runs and coverage differ by slice.)

use super::keys::SortKey;

/// Which rank owns a record: slices of equal length over the contigs laid end to end.
pub struct GenomeSlices {
    /// Offset of each contig's first base in the concatenated genome.
    contig_start: Vec<u64>,
    total: u64,
    ranks: u64,
}

impl GenomeSlices {
    /// Slices for `ranks` over contigs of these lengths, in the header's order.
    pub fn new(contig_lengths: impl IntoIterator<Item = u64>, ranks: usize) -> GenomeSlices {
        let mut contig_start = Vec::new();
        let mut total = 0u64;
        for length in contig_lengths {
            contig_start.push(total);
            total += length;
        }
        GenomeSlices { contig_start, total: total.max(1), ranks: ranks.max(1) as u64 }
    }

    /// Monotone in the sort key, so that rank order is coordinate order.
    pub fn owner(&self, key: &SortKey) -> usize {
        let Some(&start) = self.contig_start.get(key.tid as usize) else {
            return (self.ranks - 1) as usize;
        };
        let at = start + u64::try_from(key.pos.max(0)).unwrap_or(0);
        ((u128::from(at.min(self.total - 1)) * u128::from(self.ranks) / u128::from(self.total)) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tid: u32, pos: i64) -> SortKey {
        SortKey { tid, pos, reverse: false, pair_id: 0, rank: 0 }
    }

    #[test]
    fn genome_slices_follow_coordinate_order_and_cover_every_rank() {
        let contigs = [1000u64, 600, 400];
        let slices = GenomeSlices::new(contigs, 4);
        let mut last = 0;
        let mut seen = [false; 4];
        for (tid, len) in [(0u32, 1000i64), (1, 600), (2, 400)] {
            for pos in (0..len).step_by(7) {
                let owner = slices.owner(&key(tid, pos));
                assert!(owner >= last, "owner must not decrease along the genome");
                last = owner;
                seen[owner] = true;
            }
        }
        assert_eq!(seen, [true; 4]);
        // 2,000 bases in 4 slices of 500: chr1:500 starts the second one.
        assert_eq!(slices.owner(&key(0, 499)), 0);
        assert_eq!(slices.owner(&key(0, 500)), 1);
        // Records without a position go last, after every placed record.
        assert_eq!(slices.owner(&key(SortKey::UNPLACED, -1)), 3);
        assert_eq!(GenomeSlices::new(contigs, 1).owner(&key(2, 399)), 0);
    }
}
