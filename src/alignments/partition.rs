//! Which MPI rank owns which stretch of the genome while one sample is aligned over several
//! ranks: the contigs laid end to end and cut into slices of equal work, one per rank, so that
//! rank order is coordinate order and rank 0 can join the ranks' sorted BAM slices by
//! concatenation. Work is counted in reference bases that are not N ([`GenomeSlices::by_work`]:
//! a gap or a centromere holds no reads, so a slice of equal length over one would leave its rank
//! idle); coverage differences are not modelled. Records without a position go to the last rank.
//! Cost: a binary search over one contig's N runs per record.

use super::keys::SortKey;

/// Which rank owns a record: slices of equal work over the contigs laid end to end.
pub struct GenomeSlices {
    contigs: Vec<ContigWork>,
    /// Work of the whole genome (at least 1).
    total: u64,
    ranks: u64,
}

/// One contig's place in the work coordinate.
struct ContigWork {
    /// Work of the contigs before it.
    start: u64,
    length: u64,
    /// Its N runs (sorted, disjoint, half-open) and, for each, the N bases of the runs before it.
    n_runs: Vec<(u64, u64)>,
    n_before: Vec<u64>,
}

impl ContigWork {
    /// Work before `pos`: the bases before it that are not N.
    fn work_before(&self, pos: u64) -> u64 {
        let pos = pos.min(self.length);
        let i = self.n_runs.partition_point(|&(start, _)| start <= pos);
        let n = match i.checked_sub(1) {
            Some(k) => self.n_before[k] + (pos.min(self.n_runs[k].1) - self.n_runs[k].0),
            None => 0,
        };
        pos - n
    }
}

impl GenomeSlices {
    /// Slices for `ranks` over contigs of these lengths (every base one unit of work), in the
    /// header's order.
    pub fn new(contig_lengths: impl IntoIterator<Item = u64>, ranks: usize) -> GenomeSlices {
        Self::by_work(contig_lengths.into_iter().map(|length| (length, Vec::new())), ranks)
    }

    /// Slices for `ranks` over contigs given as `(length, N runs)` in the header's order (runs
    /// sorted, disjoint, half-open, within the contig): each slice holds as many non-N bases as
    /// the next, whatever the gaps. The cut depends only on the reference and `ranks`.
    pub fn by_work(contigs: impl IntoIterator<Item = (u64, Vec<(u64, u64)>)>, ranks: usize) -> GenomeSlices {
        let mut out = Vec::new();
        let mut total = 0u64;
        for (length, n_runs) in contigs {
            let mut n_before = Vec::with_capacity(n_runs.len());
            let mut n = 0u64;
            for &(start, end) in &n_runs {
                n_before.push(n);
                n += end.saturating_sub(start);
            }
            let contig = ContigWork { start: total, length, n_runs, n_before };
            total += contig.work_before(length);
            out.push(contig);
        }
        GenomeSlices { contigs: out, total: total.max(1), ranks: ranks.max(1) as u64 }
    }

    /// Monotone in the sort key, so that rank order is coordinate order.
    pub fn owner(&self, key: &SortKey) -> usize {
        match self.contigs.get(key.tid as usize) {
            Some(_) => self.owner_at(key.tid as usize, u64::try_from(key.pos.max(0)).unwrap_or(0)),
            None => (self.ranks - 1) as usize,
        }
    }

    /// The rank owning position `pos` of contig `tid` (a contig of the header).
    fn owner_at(&self, tid: usize, pos: u64) -> usize {
        let contig = &self.contigs[tid];
        let at = contig.start + contig.work_before(pos);
        ((u128::from(at.min(self.total - 1)) * u128::from(self.ranks) / u128::from(self.total)) as u64) as usize
    }

    /// The first locus (contig index, position) that `rank` owns: its slice of the placed
    /// records is `[first_locus(rank), first_locus(rank + 1))`, and `(contigs, 0)` stands for
    /// the end of the genome (an empty slice where a rank owns no base). A binary search per contig.
    pub fn first_locus(&self, rank: usize) -> (usize, u64) {
        if rank == 0 {
            return (0, 0);
        }
        for (tid, contig) in self.contigs.iter().enumerate() {
            if contig.length == 0 || self.owner_at(tid, contig.length - 1) < rank {
                continue;
            }
            let (mut lo, mut hi) = (0u64, contig.length - 1);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.owner_at(tid, mid) >= rank { hi = mid } else { lo = mid + 1 }
            }
            return (tid, lo);
        }
        (self.contigs.len(), 0)
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

    #[test]
    fn slices_hold_equal_non_n_bases_whatever_the_gaps() {
        // chr1: 1,000 bases with N at 100..600; chr2: all N; chr3: 500 bases. Work: 500 + 0 + 500.
        let slices = GenomeSlices::by_work([(1000u64, vec![(100, 600)]), (300, vec![(0, 300)]), (500, vec![])], 2);
        assert_eq!(slices.owner(&key(0, 99)), 0);
        assert_eq!(slices.owner(&key(0, 599)), 0, "inside the gap: the work before it");
        assert_eq!(slices.owner(&key(0, 999)), 0, "chr1 holds 500 of 1,000 units of work");
        assert_eq!(slices.owner(&key(1, 150)), 1, "an all-N contig sits at the boundary");
        assert_eq!(slices.owner(&key(2, 0)), 1);
        assert_eq!(slices.owner(&key(2, 499)), 1);
        // By length, the first slice would have ended at chr1:900 and held 400 bases of work.
        let by_length = GenomeSlices::new([1000u64, 300, 500], 2);
        assert_eq!(by_length.owner(&key(0, 950)), 1);
        // Monotone along the genome, every rank used.
        let four = GenomeSlices::by_work([(1000u64, vec![(0, 10), (100, 600), (990, 1000)]), (500, vec![])], 4);
        let mut last = 0;
        let mut seen = [false; 4];
        for (tid, len) in [(0u32, 1000i64), (1, 500)] {
            for pos in 0..len {
                let owner = four.owner(&key(tid, pos));
                assert!(owner >= last);
                last = owner;
                seen[owner] = true;
            }
        }
        assert_eq!(seen, [true; 4]);
        // Each rank's first locus is where ownership steps up to it.
        for rank in 1..4 {
            let (tid, pos) = four.first_locus(rank);
            assert_eq!(four.owner(&key(tid as u32, pos as i64)), rank);
            assert!(pos == 0 || four.owner(&key(tid as u32, pos as i64 - 1)) < rank);
        }
        assert_eq!(four.first_locus(0), (0, 0));
        // More ranks than bases of work: the ranks past the genome own an empty slice at its end.
        let tiny = GenomeSlices::new([2u64], 4);
        assert_eq!((tiny.first_locus(1), tiny.first_locus(2)), ((0, 1), (0, 1)));
        assert_eq!(tiny.first_locus(3), (1, 0));
    }
}
