//! Which MPI rank owns which stretch of the genome while one sample is aligned over several
//! ranks: the contigs laid end to end and cut into slices of equal work, one per rank, so that
//! rank order is coordinate order and rank 0 can join the ranks' sorted BAM slices by
//! concatenation.
//!
//! Work is counted per bin (a fixed length of each contig, [`PlacementSample::bin_length`]) and
//! spread within a bin over its non-N bases:
//! - [`GenomeSlices::by_work`]: a bin's work is its non-N bases (a gap or a centromere holds no
//!   reads, so a slice of equal length over one would leave its rank idle);
//! - [`GenomeSlices::by_coverage`]: a bin's work is the number of records of a sample of the
//!   input that fall in it (mapped before the cut: the ranks' first batches), plus a floor of 1/8
//!   record per full bin of non-N bases so that a stretch the sample missed still weighs
//!   something. Reads that cover only part of the reference (a panel, a region of a chromosome,
//!   a pileup) then still spread over every rank.
//!
//! Where the cut falls changes no output: records are sorted globally and the slices' QC merges
//! exactly at any cut. Records without a position go to the last rank.
//! Cost: four binary searches over one contig's N runs per record; the sample is one counter per bin.

use super::keys::SortKey;

/// Bins per genome aimed at: fine enough to cut within a chromosome, coarse enough that a
/// sample of a few hundred thousand records puts many in each (1 Mb bins on a human genome).
const BINS_AIMED_AT: u64 = 4096;
/// Shortest and longest bin.
const BIN_LENGTH_RANGE: (u64, u64) = (1024, 1 << 20);
/// A full bin of non-N bases that the sample missed weighs `1 / UNSAMPLED_BIN_SHARE` of a record.
const UNSAMPLED_BIN_SHARE: u64 = 8;

/// The bin length for a genome of `total` bases: it depends only on the contigs' lengths.
fn bin_length_for(total: u64) -> u64 {
    (total / BINS_AIMED_AT).clamp(BIN_LENGTH_RANGE.0, BIN_LENGTH_RANGE.1)
}

/// How many records of a sample fall in each bin of each contig; the ranks' samples add up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlacementSample {
    bin_length: u64,
    /// Index of each contig's first bin in `counts` (and the end, last).
    first_bin: Vec<usize>,
    counts: Vec<u64>,
}

impl PlacementSample {
    /// An empty sample over contigs of these lengths (header order).
    pub fn new(contig_lengths: &[u64]) -> PlacementSample {
        let bin_length = bin_length_for(contig_lengths.iter().sum());
        let mut first_bin = Vec::with_capacity(contig_lengths.len() + 1);
        let mut bins = 0usize;
        for &length in contig_lengths {
            first_bin.push(bins);
            bins += length.div_ceil(bin_length) as usize;
        }
        first_bin.push(bins);
        PlacementSample { bin_length, first_bin, counts: vec![0; bins] }
    }

    /// Bin length in bases: it depends only on the contigs' lengths.
    pub fn bin_length(&self) -> u64 {
        self.bin_length
    }

    /// Counts one record (one without a position, or past its contig, counts nowhere).
    pub fn add(&mut self, key: &SortKey) {
        let tid = key.tid as usize;
        let (Some(&first), Some(&end)) = (self.first_bin.get(tid), self.first_bin.get(tid + 1)) else { return };
        let bin = first + (key.pos.max(0) as u64 / self.bin_length) as usize;
        if bin < end {
            self.counts[bin] += 1;
        }
    }

    /// Adds another rank's sample of the same contigs.
    pub fn merge(&mut self, other: &PlacementSample) -> Result<(), String> {
        if other.bin_length != self.bin_length || other.first_bin != self.first_bin {
            return Err("placement samples over different contigs".into());
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    /// Records counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The counts of contig `tid`'s bins.
    fn contig_counts(&self, tid: usize) -> &[u64] {
        match (self.first_bin.get(tid), self.first_bin.get(tid + 1)) {
            (Some(&first), Some(&end)) => &self.counts[first..end],
            _ => &[],
        }
    }
}

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
    bin_length: u64,
    /// Work before each bin of the contig, and its whole work last (one more entry than bins).
    work_before_bin: Vec<u64>,
}

impl ContigWork {
    fn new(length: u64, n_runs: Vec<(u64, u64)>, bin_length: u64) -> ContigWork {
        let mut n_before = Vec::with_capacity(n_runs.len());
        let mut n = 0u64;
        for &(start, end) in &n_runs {
            n_before.push(n);
            n += end.saturating_sub(start);
        }
        ContigWork { start: 0, length, n_runs, n_before, bin_length, work_before_bin: Vec::new() }
    }

    /// The bases before `pos` that are not N.
    fn bases_before(&self, pos: u64) -> u64 {
        let pos = pos.min(self.length);
        let i = self.n_runs.partition_point(|&(start, _)| start <= pos);
        let n = match i.checked_sub(1) {
            Some(k) => self.n_before[k] + (pos.min(self.n_runs[k].1) - self.n_runs[k].0),
            None => 0,
        };
        pos - n
    }

    /// Bin `bin`'s non-N bases.
    fn bin_bases(&self, bin: u64) -> u64 {
        let from = bin * self.bin_length;
        self.bases_before(from + self.bin_length) - self.bases_before(from)
    }

    /// Sets each bin's work from `weight(bin, its non-N bases)`.
    fn weigh(&mut self, mut weight: impl FnMut(usize, u64) -> u64) {
        let bins = self.length.div_ceil(self.bin_length);
        let mut before = 0u64;
        self.work_before_bin = Vec::with_capacity(bins as usize + 1);
        for bin in 0..bins {
            self.work_before_bin.push(before);
            before += weight(bin as usize, self.bin_bases(bin));
        }
        self.work_before_bin.push(before);
    }

    /// The contig's work.
    fn work(&self) -> u64 {
        self.work_before_bin.last().copied().unwrap_or(0)
    }

    /// Work before `pos`: the bins before its bin, and the share of its bin's work that its
    /// bin's non-N bases before it hold. Monotone in `pos`.
    fn work_before(&self, pos: u64) -> u64 {
        let pos = pos.min(self.length);
        let bin = pos / self.bin_length;
        let bin_ends = (self.work_before_bin.get(bin as usize), self.work_before_bin.get(bin as usize + 1));
        let (Some(&before), Some(&after)) = bin_ends else { return self.work() };
        let in_bin = self.bases_before(pos) - self.bases_before(bin * self.bin_length);
        let (bin_work, bin_bases) = (after - before, self.bin_bases(bin));
        if bin_bases == 0 {
            return before;
        }
        before + (u128::from(bin_work) * u128::from(in_bin) / u128::from(bin_bases)) as u64
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
        let contigs: Vec<(u64, Vec<(u64, u64)>)> = contigs.into_iter().collect();
        let bin_length = bin_length_for(contigs.iter().map(|c| c.0).sum());
        Self::weighed(contigs, ranks, bin_length, |_, _, bases| bases)
    }

    /// Slices for `ranks` over the same contigs, each holding as many of `sample`'s records as
    /// the next (with the floor for unsampled bins, see the module docs). Without a record in
    /// the sample, the slices of [`GenomeSlices::by_work`].
    pub fn by_coverage(
        contigs: impl IntoIterator<Item = (u64, Vec<(u64, u64)>)>,
        sample: &PlacementSample,
        ranks: usize,
    ) -> GenomeSlices {
        if sample.total() == 0 {
            return Self::by_work(contigs, ranks);
        }
        let bin_length = sample.bin_length();
        // One record weighs `bin_length` units; a bin's floor is its non-N bases over the share.
        Self::weighed(contigs.into_iter().collect(), ranks, bin_length, |tid, bin, bases| {
            let records = sample.contig_counts(tid).get(bin).copied().unwrap_or(0);
            records * bin_length + bases / UNSAMPLED_BIN_SHARE
        })
    }

    /// Slices whose bins weigh `weight(contig, bin, non-N bases of the bin)`.
    fn weighed(
        contigs: Vec<(u64, Vec<(u64, u64)>)>,
        ranks: usize,
        bin_length: u64,
        mut weight: impl FnMut(usize, usize, u64) -> u64,
    ) -> GenomeSlices {
        let mut out = Vec::with_capacity(contigs.len());
        let mut total = 0u64;
        for (tid, (length, n_runs)) in contigs.into_iter().enumerate() {
            let mut contig = ContigWork::new(length, n_runs, bin_length);
            contig.weigh(|bin, bases| weight(tid, bin, bases));
            contig.start = total;
            total += contig.work();
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

    #[test]
    fn slices_by_coverage_split_the_sampled_records_evenly() {
        // Two contigs of 1 Mb (1,024-base bins); the sample's records all fall in chr1:200,000..400,000.
        let contigs = || vec![(1_000_000u64, Vec::new()), (1_000_000u64, Vec::new())];
        let mut sample = PlacementSample::new(&[1_000_000, 1_000_000]);
        assert_eq!(sample.bin_length(), 1024);
        for pos in (200_000..400_000).step_by(10) {
            sample.add(&key(0, pos));
        }
        sample.add(&key(SortKey::UNPLACED, -1));
        sample.add(&key(7, 5));
        assert_eq!(sample.total(), 20_000, "unplaced and unknown contigs count nowhere");
        // By non-N bases rank 0 would own all of chr1 and every sampled record.
        let by_work = GenomeSlices::by_work(contigs(), 2);
        assert_eq!(by_work.owner(&key(0, 399_999)), 0);
        // By coverage the cut falls near the middle of the covered stretch; the unsampled 1.8 Mb
        // weigh 1/8 record per bin, about 220 records in all, so the cut moves a little past it.
        let slices = GenomeSlices::by_coverage(contigs(), &sample, 2);
        let (tid, cut) = slices.first_locus(1);
        assert_eq!(tid, 0);
        assert!((300_000..315_000).contains(&cut), "cut at {cut}");
        let owned: Vec<usize> = (200_000..400_000).step_by(10).map(|p| slices.owner(&key(0, p))).collect();
        let on_rank_1 = owned.iter().filter(|&&r| r == 1).count();
        assert!((9_000..=10_500).contains(&on_rank_1), "{on_rank_1} of 20,000 sampled records on rank 1");
        // Still monotone, and records without a position still go last.
        assert!(owned.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(slices.owner(&key(1, 999_999)), 1);
        assert_eq!(slices.owner(&key(SortKey::UNPLACED, -1)), 1);
        // Samples from several ranks add up; an empty sample cuts by non-N bases.
        let mut merged = PlacementSample::new(&[1_000_000, 1_000_000]);
        merged.merge(&sample).unwrap();
        merged.merge(&sample).unwrap();
        assert_eq!(merged.total(), 40_000);
        assert!(merged.merge(&PlacementSample::new(&[5])).is_err());
        let empty = GenomeSlices::by_coverage(contigs(), &PlacementSample::new(&[1_000_000, 1_000_000]), 2);
        assert_eq!(empty.first_locus(1), by_work.first_locus(1));
        // A contig of length 0 and one past the sample's contigs hold no work.
        let with_empty = GenomeSlices::by_coverage(vec![(0u64, Vec::new()), (1_000_000, Vec::new())], &sample, 2);
        assert_eq!(with_empty.owner(&key(0, 0)), 0);
    }
}
