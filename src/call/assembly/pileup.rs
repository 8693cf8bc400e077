//! Pileup candidates: alleles read directly off the alignments, so that variants are not lost
//! where assembly fails (or misses an event near a region edge). A SNV counts a read when the
//! base quality is ≥ `min_base_qual` (default 20); an indel counts a read when the bases next
//! to the event have quality ≥ `min_base_qual`; indels are left-aligned in the window. Mates
//! overlapping each other are not de-duplicated here (the thresholds are applied by the
//! caller). Cost: O(aligned bases) time, O(distinct alleles) memory.

use crate::call::assembly::variants::{LocalVariant, left_align_deletion, left_align_insertion};
use crate::call::reads::walk::{Event, walk};
use crate::call::types::ReadView;
use std::collections::BTreeMap;

/// A pileup allele with the reads supporting it and the filtered depth at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PileupAllele {
    pub variant: LocalVariant,
    pub reads: u32,
    pub depth: u32,
}

/// Alleles of `reads` that differ from `reference` (window at `window_start`), in order.
pub fn pileup_alleles(reads: &[ReadView], reference: &[u8], window_start: u64, min_base_qual: u8) -> Vec<PileupAllele> {
    let n = reference.len();
    let mut depth = vec![0u32; n];
    let mut counts: BTreeMap<LocalVariant, u32> = BTreeMap::new();
    for read in reads {
        for v in read_alleles(read, reference, window_start, min_base_qual, Some(&mut depth)) {
            *counts.entry(v).or_insert(0) += 1;
        }
    }
    counts
        .into_iter()
        .map(|(variant, reads)| {
            let d = depth[variant.pos].max(reads);
            PileupAllele { variant, reads, depth: d }
        })
        .collect()
}

/// The alleles one read carries in the window (same rules as [`pileup_alleles`]), in read
/// order; when `depth` is given, the read's good bases are added to it.
pub fn read_alleles(
    read: &ReadView,
    reference: &[u8],
    window_start: u64,
    min_base_qual: u8,
    mut depth: Option<&mut Vec<u32>>,
) -> Vec<LocalVariant> {
    let n = reference.len();
    let mut out = Vec::new();
    let index = |pos: u64| -> Option<usize> {
        let i = pos.checked_sub(window_start)? as usize;
        (i < n).then_some(i)
    };
    let good = |i: usize| read.quals.get(i).is_some_and(|&q| q >= min_base_qual);
    walk(read, |event| match event {
        Event::Base { ref_pos, read_idx } => {
            let Some(i) = index(ref_pos) else { return };
            if !good(read_idx) {
                return;
            }
            if let Some(d) = depth.as_deref_mut() {
                d[i] += 1;
            }
            let base = read.bases.get(read_idx).copied().unwrap_or(b'N');
            if base != reference[i] && matches!(base, b'A' | b'C' | b'G' | b'T') {
                out.push(LocalVariant { pos: i, ref_allele: vec![reference[i]], alt_allele: vec![base] });
            }
        }
        Event::Insertion { anchor, read_idx, len } => {
            let Some(a) = index(anchor) else { return };
            let Some(seq) = read.bases.get(read_idx..read_idx + len) else { return };
            let flanks_good = read_idx > 0 && good(read_idx - 1) && good(read_idx + len);
            if flanks_good && seq.iter().all(|b| matches!(b, b'A' | b'C' | b'G' | b'T')) {
                out.push(left_align_insertion(reference, a, seq, 0));
            }
        }
        Event::Deletion { anchor, read_idx, len } => {
            let Some(a) = index(anchor) else { return };
            if a + len < n && read_idx > 0 && good(read_idx - 1) && good(read_idx) {
                out.push(left_align_deletion(reference, a, len, 0));
            }
        }
        Event::SoftClip { .. } => {}
    });
    out
}
