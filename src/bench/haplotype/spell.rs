//! Spelling one side of a cluster: its records as reference edits, grouped into phase units, and
//! every haplotype set those units can spell.
//!
//! A record becomes an [`Edit`] (its REF span `[start, end)` replaced by the inserted bases, after
//! trimming the bases REF and ALT share at either end, so an indel's anchor base is no edit). A
//! [`Layout`] puts each record on haplotypes through a bit mask (bit i = haplotype i carries it)
//! inside a phase unit: the side's phased records form one unit (phase sets are not read: a
//! cluster of 30 bp rarely spans two), the rows of one unphased file record form one unit (the
//! rows atomization made of one record keep that record's phase), and a unit whose records are
//! all homozygous has nothing to orient. [`spell_all`] enumerates the orientations of the free
//! units (the first one fixed: swapping every haplotype spells the same unordered pair), applies
//! each haplotype's edits in order to the reference window, and collects two keys per phasing:
//! the sorted haplotypes (genotype-aware) and the distinct non-reference haplotypes (alleles only,
//! zygosity ignored). A phasing that puts overlapping edits, or two insertions at one point, on
//! one haplotype spells nothing.
//!
//! Cost: 2^(u-1) phasings for u free units (the caller bounds u), each O(P·(W + e log e)) for
//! ploidy P, a window of W bases and e edits.

use std::collections::{BTreeMap, HashSet};

/// One record as a change to the reference: bases `[start, end)` (0-based) become `ins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub start: u64,
    pub end: u64,
    pub ins: Vec<u8>,
}

impl Edit {
    /// The edit a REF/ALT pair at 0-based `pos0` makes, with shared leading and trailing bases
    /// trimmed.
    pub fn new(pos0: u64, ref_allele: &[u8], alt: &[u8]) -> Self {
        let prefix = ref_allele.iter().zip(alt).take_while(|(r, a)| r == a).count();
        let (r, a) = (&ref_allele[prefix..], &alt[prefix..]);
        let suffix = r.iter().rev().zip(a.iter().rev()).take_while(|(x, y)| x == y).count();
        Self {
            start: pos0 + prefix as u64,
            end: pos0 + (prefix + r.len() - suffix) as u64,
            ins: a[..a.len() - suffix].to_vec(),
        }
    }
}

/// One record placed on haplotypes: `mask` bit i set = haplotype i carries edit `edit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub edit: usize,
    pub mask: u8,
}

/// Which phase unit a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum UnitKey {
    /// Every phased record of the side.
    Phased,
    /// The rows of one unphased file record (or, comparing alleles only, one row).
    Record(u64),
}

/// One side of a cluster, ready to spell.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// Haplotypes per phasing: 1 or 2.
    pub ploidy: usize,
    pub units: BTreeMap<UnitKey, Vec<Placed>>,
}

impl Layout {
    pub fn new(ploidy: usize) -> Self {
        Self { ploidy, units: BTreeMap::new() }
    }

    pub fn place(&mut self, key: UnitKey, placed: Placed) {
        self.units.entry(key).or_default().push(placed);
    }

    /// Units with a record on some haplotypes but not all: their orientation matters.
    pub fn free_units(&self) -> usize {
        let full = self.full_mask();
        self.units.values().filter(|u| u.iter().any(|p| p.mask & full != full && p.mask & full != 0)).count()
    }

    fn full_mask(&self) -> u8 {
        if self.ploidy >= 2 { 0b11 } else { 0b1 }
    }
}

/// The reference bases of a cluster's window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    pub start: u64,
    pub bases: &'a [u8],
}

/// What a side can spell, over all its phasings.
#[derive(Debug, Default)]
pub(crate) struct Spellings {
    /// Sorted haplotypes (one entry per phasing that spells).
    pub genotype: HashSet<Vec<Vec<u8>>>,
    /// Distinct non-reference haplotypes, sorted.
    pub alleles: HashSet<Vec<Vec<u8>>>,
}

/// Every haplotype set `layout` spells over `window`; `edits` are indexed by [`Placed::edit`].
/// The caller bounds [`Layout::free_units`].
pub(crate) fn spell_all(layout: &Layout, edits: &[Edit], window: Window<'_>) -> Spellings {
    let full = layout.full_mask();
    let units: Vec<&Vec<Placed>> = layout.units.values().collect();
    let free: Vec<usize> =
        (0..units.len()).filter(|&i| units[i].iter().any(|p| p.mask & full != full && p.mask & full != 0)).collect();
    let phasings: u64 = 1 << free.len().saturating_sub(1);
    let mut out = Spellings::default();
    for phasing in 0..phasings {
        let mut haps: Vec<Vec<usize>> = vec![Vec::new(); layout.ploidy.max(1)];
        for (u, unit) in units.iter().enumerate() {
            // Free unit k (k >= 1) is swapped when bit k-1 of the phasing is set.
            let swap = free.iter().position(|&f| f == u).is_some_and(|k| k > 0 && phasing >> (k - 1) & 1 == 1);
            for p in unit.iter() {
                let mask = if swap { (p.mask & 1) << 1 | (p.mask >> 1 & 1) } else { p.mask };
                for (h, hap) in haps.iter_mut().enumerate() {
                    if mask >> h & 1 == 1 {
                        hap.push(p.edit);
                    }
                }
            }
        }
        let spelled: Option<Vec<Vec<u8>>> = haps.iter().map(|h| spell(h, edits, window)).collect();
        let Some(mut spelled) = spelled else { continue };
        spelled.sort();
        let mut alleles: Vec<Vec<u8>> = spelled.iter().filter(|h| h.as_slice() != window.bases).cloned().collect();
        alleles.dedup();
        out.genotype.insert(spelled);
        out.alleles.insert(alleles);
    }
    out
}

/// One haplotype: the window with `chosen` edits applied, or `None` when two of them collide
/// (overlapping spans, or two insertions at one point).
pub(crate) fn spell(chosen: &[usize], edits: &[Edit], window: Window<'_>) -> Option<Vec<u8>> {
    let mut order: Vec<&Edit> = chosen.iter().filter_map(|&i| edits.get(i)).collect();
    order.sort_by_key(|e| (e.start, e.end));
    let mut out = Vec::with_capacity(window.bases.len() + 16);
    let mut cursor = window.start;
    let mut last_insertion: Option<u64> = None;
    for e in order {
        if e.start < cursor || (e.start == e.end && last_insertion == Some(e.start)) {
            return None;
        }
        let from = usize::try_from(cursor - window.start).ok()?;
        let to = usize::try_from(e.start - window.start).ok()?;
        out.extend_from_slice(window.bases.get(from..to)?);
        out.extend_from_slice(&e.ins);
        cursor = e.end;
        if e.start == e.end {
            last_insertion = Some(e.start);
        }
    }
    let from = usize::try_from(cursor - window.start).ok()?;
    out.extend_from_slice(window.bases.get(from..)?);
    Some(out)
}
