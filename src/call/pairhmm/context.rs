//! Context-aware gap-open model: the probability of an insertion or deletion error in a
//! homopolymer or short tandem repeat (STR) grows with the tract's length, because polymerase
//! slippage (in library PCR and in sequencing-by-synthesis) is what makes Illumina indel errors,
//! and slippage grows roughly exponentially with tract length.
//!
//! Tables (gap-open Phred of a whole tract: the probability that a read shows one slippage
//! event *somewhere* in the tract; lower means a gap is cheaper):
//!
//! | homopolymer run (bases) | 1  | 2  | 3  | 4  | 5  | 6  | 7  | 8  | 9  | 10 | ≥11 |
//! |-------------------------|----|----|----|----|----|----|----|----|----|----|-----|
//! | gap open                | 45 | 43 | 40 | 37 | 34 | 31 | 28 | 26 | 24 | 22 | 20  |
//!
//! | STR copies (unit 2–4 bp) | ≤1 | 2  | 3  | 4  | 5  | 6  | 7  | ≥8 |
//! |--------------------------|----|----|----|----|----|----|----|----|
//! | gap open                 | 45 | 42 | 38 | 34 | 31 | 28 | 25 | 22 |
//!
//! Outside repeats Q45 (≈3e-5 per position) matches the indel error rate of current Illumina
//! instruments; in long homopolymers the observed per-read rate approaches 1e-2 (Q20), the floor
//! used by the STR-dependent models of DRAGEN and GATK's DRAGEN-GATK mode. Dinucleotide and
//! longer units slip less per base than homopolymers of the same length, so their table is
//! indexed by copies.
//!
//! Per-run rate: a 1-unit indel in a tract of `L` bases can be placed at any of its ~`L`
//! positions, and the forward algorithm sums over all of them. Charging the tract rate at
//! every position would therefore make one slippage event `L` times likelier than the table
//! says (in a T28 run, 28 × 1e-2 ≈ 0.25: a read with a real 1-bp indel would look only
//! ~0.5 log10 less likely on the reference haplotype). So each position of a tract gets the
//! tract rate divided by the tract length, Phred `table + 10·log10(L)`, and one event anywhere
//! in the tract costs the tract's rate ([`tract_gap_open_phred`]). Outside repeats the rate is
//! per position (Q45), and a position never costs more than that.
//! A position takes the cheapest (smallest Phred) per-position rate of any tract covering it,
//! and the gap between two positions the cheaper of its two neighbours, so a gap on either edge
//! of a run costs what a gap inside it costs.
//!
//! Cost: O(n × 4) per haplotype, computed once per haplotype and reused for every read.

/// Longest repeat unit considered (bp).
pub const MAX_REPEAT_UNIT: usize = 4;

/// Gap-open Phred outside any repeat.
pub const NON_REPEAT_GAP_OPEN_PHRED: f64 = 45.0;

const HOMOPOLYMER_GAP_OPEN: [f64; 12] = [45.0, 45.0, 43.0, 40.0, 37.0, 34.0, 31.0, 28.0, 26.0, 24.0, 22.0, 20.0];
const STR_GAP_OPEN: [f64; 9] = [45.0, 45.0, 42.0, 38.0, 34.0, 31.0, 28.0, 25.0, 22.0];

/// Gap-open Phred for a position inside a tract of `copies` copies of a `unit`-bp repeat
/// unit (a homopolymer is unit 1, its copies its run length).
pub fn gap_open_phred(unit: usize, copies: usize) -> f64 {
    match unit {
        0 => NON_REPEAT_GAP_OPEN_PHRED,
        1 => HOMOPOLYMER_GAP_OPEN[copies.min(HOMOPOLYMER_GAP_OPEN.len() - 1)],
        _ => STR_GAP_OPEN[copies.min(STR_GAP_OPEN.len() - 1)],
    }
}

/// Per-position gap-open Phred inside a tract of `len` bases holding `copies` copies of a
/// `unit`-bp repeat unit: the tract's rate spread over its positions (see the module doc),
/// never above [`NON_REPEAT_GAP_OPEN_PHRED`].
pub fn tract_gap_open_phred(unit: usize, copies: usize, len: usize) -> f64 {
    let per_run = gap_open_phred(unit, copies);
    if unit == 0 || len <= 1 {
        return per_run;
    }
    (per_run + 10.0 * (len as f64).log10()).min(NON_REPEAT_GAP_OPEN_PHRED)
}

/// Per haplotype position, the smallest per-position gap-open Phred of any repeat tract covering it.
pub fn position_gap_open_phred(bases: &[u8]) -> Vec<f64> {
    let n = bases.len();
    let mut phred = vec![NON_REPEAT_GAP_OPEN_PHRED; n];
    for unit in 1..=MAX_REPEAT_UNIT {
        // A tract of unit k is a maximal stretch where bases[q] == bases[q - k]; it covers
        // [first - k, last] and holds (len / k) whole copies.
        let mut q = unit;
        while q < n {
            if !same_base(bases[q], bases[q - unit]) {
                q += 1;
                continue;
            }
            let first = q;
            while q < n && same_base(bases[q], bases[q - unit]) {
                q += 1;
            }
            let start = first - unit;
            let copies = (q - start) / unit;
            if copies >= 2 {
                let p = tract_gap_open_phred(unit, copies, q - start);
                for slot in &mut phred[start..q] {
                    if p < *slot {
                        *slot = p;
                    }
                }
            }
        }
    }
    phred
}

/// Per gap boundary `c` in `0..=n` (a gap between haplotype bases `c - 1` and `c`), the
/// cheaper gap-open Phred of the two neighbouring positions.
pub fn boundary_gap_open_phred(bases: &[u8]) -> Vec<f64> {
    let pos = position_gap_open_phred(bases);
    let n = pos.len();
    (0..=n)
        .map(|c| {
            let left = if c > 0 { pos[c - 1] } else { NON_REPEAT_GAP_OPEN_PHRED };
            let right = pos.get(c).copied().unwrap_or(NON_REPEAT_GAP_OPEN_PHRED);
            left.min(right)
        })
        .collect()
}

fn same_base(a: u8, b: u8) -> bool {
    a == b && a != b'N'
}
