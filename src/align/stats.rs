//! Integer counts of what alignment produced, per batch and mergeable across batches (the sum
//! does not depend on the order of merging).

/// What [`super::PairAligner::align_batch`] saw and emitted. Read counts are over primary
/// records, so every input read counts once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlignStats {
    /// Read pairs aligned.
    pub pairs: u64,
    /// Reads (2 × pairs).
    pub reads: u64,
    /// Bases of all reads.
    pub bases: u64,
    /// Reads with a mapped primary.
    pub mapped_reads: u64,
    /// Reads flagged properly paired (0x2).
    pub properly_paired_reads: u64,
    /// Pairs with both mates mapped.
    pub both_mapped_pairs: u64,
    /// Mapped reads whose mate is unmapped.
    pub singleton_reads: u64,
    /// Mapped reads whose mate is mapped to another contig.
    pub mate_other_contig_reads: u64,
    /// Pairs with neither mate mapped.
    pub unmapped_pairs: u64,
    /// Reads with supplementary alignments (chimeric).
    pub chimeric_reads: u64,
    /// Supplementary records (0x800).
    pub supplementary_records: u64,
    /// Secondary records (0x100; only when asked for).
    pub secondary_records: u64,
    /// All records emitted.
    pub records: u64,
}

impl AlignStats {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &AlignStats) {
        self.pairs += other.pairs;
        self.reads += other.reads;
        self.bases += other.bases;
        self.mapped_reads += other.mapped_reads;
        self.properly_paired_reads += other.properly_paired_reads;
        self.both_mapped_pairs += other.both_mapped_pairs;
        self.singleton_reads += other.singleton_reads;
        self.mate_other_contig_reads += other.mate_other_contig_reads;
        self.unmapped_pairs += other.unmapped_pairs;
        self.chimeric_reads += other.chimeric_reads;
        self.supplementary_records += other.supplementary_records;
        self.secondary_records += other.secondary_records;
        self.records += other.records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_every_count() {
        let one = AlignStats {
            pairs: 1,
            reads: 2,
            bases: 3,
            mapped_reads: 4,
            properly_paired_reads: 5,
            both_mapped_pairs: 6,
            singleton_reads: 7,
            mate_other_contig_reads: 8,
            unmapped_pairs: 9,
            chimeric_reads: 10,
            supplementary_records: 11,
            secondary_records: 12,
            records: 13,
        };
        let mut sum = one;
        sum.merge(&one);
        assert_eq!(sum.records, 26);
        assert_eq!(sum.pairs, 2);
        assert_eq!(sum.secondary_records, 24);
        let mut zero = AlignStats::default();
        zero.merge(&one);
        assert_eq!(zero, one);
    }
}
