//! Where each read can align on each haplotype of an active region, so that the pair-HMM fills
//! only the cells that matter: GATK's read clipping to the region, plus a column window.
//!
//! - Rows: only the read bases whose reference position (from the alignment; soft clips
//!   extrapolated, inserted bases at their anchor) lies inside the region are scored. Bases
//!   past the region's ends would overhang every haplotype alike (all span the same reference
//!   interval), so dropping them changes each read's likelihoods by the same factor on every
//!   haplotype: genotypes do not move. A read with no base inside is uninformative (log10 0).
//! - Columns: the read's first and last kept base are projected onto each haplotype through its
//!   candidate variants (each variant ending at or before a position shifts it by its length
//!   change), and the DP runs on those columns widened by a margin of
//!   [`WINDOW_MARGIN`] plus the region's longest candidate indel on each side, which covers a
//!   read whose indel the aligner missed or clipped.
//!
//! Cost: O(CIGAR) per read and O(candidates) per haplotype; the DP then costs
//! kept bases × (projected span + 2 × margin) cells instead of read length × region length.

use std::ops::Range;

use crate::call::reads::walk::{Event, walk};
use crate::call::types::{ActiveRegion, CandidateVariant, Haplotype, ReadView};

/// Columns added on each side of a read's projected span, beyond the longest candidate indel.
pub const WINDOW_MARGIN: usize = 16;

/// Columns on each side of a read's projected span within which two haplotypes must agree
/// for the read to score them alike (see [`super::region_likelihood_matrix`]).
pub const CORE_MARGIN: usize = 4;

/// The part of a read inside a region: its base range and the reference positions of the
/// first and last kept base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlacement {
    pub bases: (usize, usize),
    pub first_ref: u64,
    pub last_ref: u64,
}

/// The bases of `read` placed inside `start..end`, or `None` when none is.
pub fn place_read(read: &ReadView, start: u64, end: u64) -> Option<ReadPlacement> {
    let mut placed: Option<ReadPlacement> = None;
    let mut note = |coord: u64, idx: usize| {
        if coord >= start && coord < end {
            placed = Some(match placed {
                None => ReadPlacement { bases: (idx, idx + 1), first_ref: coord, last_ref: coord },
                Some(p) => ReadPlacement { bases: (p.bases.0, idx + 1), first_ref: p.first_ref, last_ref: coord },
            });
        }
    };
    walk(read, |event| match event {
        Event::Base { ref_pos, read_idx } => note(ref_pos, read_idx),
        Event::Insertion { anchor, read_idx, len } => (0..len).for_each(|j| note(anchor + 1, read_idx + j)),
        Event::SoftClip { ref_pos, read_idx, len, leading } => (0..len).for_each(|j| {
            let coord = if leading { ref_pos.checked_sub((len - j) as u64) } else { Some(ref_pos + j as u64) };
            if let Some(c) = coord {
                note(c, read_idx + j);
            }
        }),
        Event::Deletion { .. } => {}
    });
    placed.filter(|p| p.bases.1 <= read.bases.len() && p.bases.1 <= read.quals.len())
}

/// Maps reference positions of a region to columns of one of its haplotypes.
#[derive(Debug, Clone)]
pub struct HaplotypeProjection {
    region_start: u64,
    /// (reference position where the shift starts to apply, cumulative length change), sorted.
    shifts: Vec<(u64, i64)>,
    len: usize,
}

impl HaplotypeProjection {
    pub fn new(region: &ActiveRegion, hap: &Haplotype, candidates: &[CandidateVariant]) -> Self {
        let mut changes: Vec<(u64, i64)> = hap
            .variants
            .iter()
            .filter_map(|&v| candidates.get(v))
            .map(|c| (c.pos + c.ref_allele.len() as u64, c.alt_allele.len() as i64 - c.ref_allele.len() as i64))
            .filter(|&(_, d)| d != 0)
            .collect();
        changes.sort_unstable();
        let mut total = 0i64;
        let shifts = changes
            .into_iter()
            .map(|(at, d)| {
                total += d;
                (at, total)
            })
            .collect();
        HaplotypeProjection { region_start: region.start, shifts, len: hap.bases.len() }
    }

    /// The haplotype column of reference position `pos`, clamped to the haplotype.
    pub fn column(&self, pos: u64) -> usize {
        let k = self.shifts.partition_point(|&(at, _)| at <= pos);
        let shift = if k == 0 { 0 } else { self.shifts[k - 1].1 };
        let col = pos as i64 - self.region_start as i64 + shift;
        col.clamp(0, self.len as i64) as usize
    }

    /// Columns a read placed at `first_ref..=last_ref` is scored on, `margin` wider each side.
    pub fn window(&self, placement: &ReadPlacement, margin: usize) -> Range<usize> {
        let lo = self.column(placement.first_ref).saturating_sub(margin);
        let hi = (self.column(placement.last_ref) + 1 + margin).min(self.len);
        lo..hi.max(lo)
    }
}

/// The margin for a region: [`WINDOW_MARGIN`] plus its longest candidate indel.
pub fn region_margin(candidates: &[CandidateVariant]) -> usize {
    let longest = candidates.iter().map(|c| c.ref_allele.len().abs_diff(c.alt_allele.len())).max().unwrap_or(0);
    WINDOW_MARGIN + longest
}
