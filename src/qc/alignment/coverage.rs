//! Genome coverage as Picard `CollectWgsMetrics` defines it, streamed over coordinate-sorted
//! records with a sliding depth window.
//!
//! Counted: aligned bases (CIGAR M/=/X; not deletions or skips) with base quality ≥ 20 and a
//! called base (not N), of records that are mapped, primary or supplementary (secondary are
//! excluded), not duplicates, not QC-failed, MAPQ ≥ 20, paired with a mapped mate (Picard's
//! `COUNT_UNPAIRED=false`). A pair's overlap is counted once, as Picard's per-locus read-name
//! set does: where both mates of a pair would count a base at a locus, the mate that comes
//! first in coordinate order counts it. Loci whose reference base is N are outside the
//! territory. Depths are capped at 250 for the histogram, and the mean is the capped mean.
//!
//! Memory: a `VecDeque<u32>` from the first unfinished locus to the furthest aligned end seen
//! (one read span for short reads, not a chromosome), plus, per pair whose mates overlap and
//! whose second mate is not yet seen, the loci the first mate counted. Time: O(aligned bases +
//! territory), each locus flushed once.
//!
//! **Slices** (MPI ranks each holding one coordinate range of the BAM, [`Coverage::for_slice`]):
//! a slice `[from, to)` histograms only its own loci, and hands over what the loci at its edges
//! need from its neighbours ([`CoverageSlice`]): the raw depths of its first [`HANDOVER`] loci
//! (the *head*, not histogrammed), the depths its records leave past `to` (the *overhang*), the
//! overlap loci still waiting for a mate in a later slice, and the loci counted by records in its
//! head whose mate lies in an earlier slice. [`merge_slices`] adds each overhang into the head it
//! falls in, takes one count off each locus both mates of a pair counted across a boundary, and
//! histograms the heads: the histogram one pass over the joined file gives. A record reaching
//! further past its slice than the next head (more than [`HANDOVER`] bases) makes the merge
//! answer [`NotExact`]; the caller then reads the joined file instead.

use crate::genome::error::ReferenceError;
use crate::genome::reference::Reference;
use rust_htslib::bam::Record;
use rust_htslib::bam::record::Cigar;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Picard's `COVERAGE_CAP` default.
pub const COVERAGE_CAP: usize = 250;
pub const MIN_MAPQ: u8 = 20;
pub const MIN_BASE_QUALITY: u8 = 20;

/// A contig of the genome territory: its length and its runs of N (0-based, half-open, sorted,
/// disjoint), which are not part of the territory. Contigs are given in BAM header order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContigTerritory {
    pub name: String,
    pub length: u64,
    pub n_runs: Vec<(u64, u64)>,
}

impl ContigTerritory {
    /// A contig with no N bases.
    pub fn without_n(name: &str, length: u64) -> ContigTerritory {
        ContigTerritory { name: name.to_string(), length, n_runs: Vec::new() }
    }

    /// Bases of the contig that are not N.
    pub fn territory(&self) -> u64 {
        self.length - self.n_runs.iter().map(|(a, b)| b - a).sum::<u64>()
    }
}

/// Scans the reference in 4 Mb chunks for runs of `N` (after upper-casing; Picard's no-call
/// bases are N, n and '.') and returns the territory of every contig, in reference order.
pub fn territory_from_reference(reference: &Reference) -> Result<Vec<ContigTerritory>, ReferenceError> {
    const CHUNK: u64 = 4 << 20;
    let mut out = Vec::with_capacity(reference.contigs().len());
    for contig in reference.contigs() {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut start = 0;
        while start < contig.length {
            let end = (start + CHUNK).min(contig.length);
            let bases = reference.fetch(&contig.name, start, end)?;
            for (i, &b) in bases.iter().enumerate() {
                if b == b'N' || b == b'.' {
                    let p = start + i as u64;
                    match runs.last_mut() {
                        Some(last) if last.1 == p => last.1 = p + 1,
                        _ => runs.push((p, p + 1)),
                    }
                }
            }
            start = end;
        }
        out.push(ContigTerritory { name: contig.name.clone(), length: contig.length, n_runs: runs });
    }
    Ok(out)
}

/// Loci a slice leaves to the merge: the first [`HANDOVER`] loci of a slice (its head) are not
/// histogrammed by the slice, so that the overhang of earlier slices can be added to them.
pub const HANDOVER: u64 = 1 << 16;

/// A genome locus: contig index in header order and 0-based position; `(contigs, 0)` is the end.
pub type Locus = (usize, u64);

/// Raw depths of consecutive loci of one contig, from `start`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DepthSpan {
    pub tid: usize,
    pub start: u64,
    pub depths: Vec<u32>,
}

/// Loci one record of a pair counted (contig `tid`), named by the pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairLoci {
    pub name: Vec<u8>,
    pub tid: usize,
    pub loci: Vec<u64>,
}

/// What one slice's coverage pass hands to [`merge_slices`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageSlice {
    /// Histogram of the slice's loci outside its head.
    pub hist: Vec<u64>,
    /// Depths of the slice's first loci (up to [`HANDOVER`]), not histogrammed.
    pub head: DepthSpan,
    /// Depths its records leave at and past the slice's end.
    pub overhang: DepthSpan,
    /// First mates' overlap loci whose mate lies in a later slice.
    pub waiting: Vec<PairLoci>,
    /// Loci counted by primary records in the head whose mate lies in an earlier slice.
    pub mates_of_earlier: Vec<PairLoci>,
}

/// A slice's bounds and what it collects for the merge.
struct SliceState {
    from: Locus,
    to: Locus,
    head_end: u64,
    head: DepthSpan,
    mates_of_earlier: Vec<PairLoci>,
}

/// The slices do not join exactly: a record reaches further into a later slice than its head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alignment QC slices do not join: {0}")]
pub struct NotExact(pub String);

/// Loci (contig positions) a first mate counted inside the range its mate may overlap.
struct Pending {
    tid: usize,
    mate_pos: u64,
    loci: Vec<u64>,
}

pub(super) struct Coverage {
    contigs: Vec<ContigTerritory>,
    /// `hist[d]`: territory loci with depth `d` (capped).
    pub(super) hist: Vec<u64>,
    /// Contigs before `tid` are finished; loci of `tid` before `start` are finished.
    tid: usize,
    start: u64,
    depth: VecDeque<u32>,
    n_cursor: usize,
    pending: HashMap<Vec<u8>, Pending>,
    sweep_at: usize,
    /// Set for one slice of a larger file.
    slice: Option<SliceState>,
}

impl Coverage {
    pub(super) fn new(contigs: Vec<ContigTerritory>) -> Coverage {
        Coverage {
            contigs,
            hist: vec![0; COVERAGE_CAP + 1],
            tid: 0,
            start: 0,
            depth: VecDeque::new(),
            n_cursor: 0,
            pending: HashMap::new(),
            sweep_at: 1024,
            slice: None,
        }
    }

    /// Coverage of the loci `[from, to)` only, for records that all start in that range (one
    /// slice of a coordinate-sorted file), leaving its first `handover` loci to the merge;
    /// finish with [`Coverage::finish_slice`].
    pub(super) fn for_slice(contigs: Vec<ContigTerritory>, from: Locus, to: Locus, handover: u64) -> Coverage {
        let contig_end = contigs.get(from.0).map_or(from.1, |c| c.length);
        let slice_end = if to.0 == from.0 { to.1 } else { contig_end };
        let head_end = (from.1 + handover).min(slice_end).min(contig_end).max(from.1);
        let head = DepthSpan { tid: from.0, start: from.1, depths: Vec::new() };
        let mut coverage = Coverage::new(contigs);
        (coverage.tid, coverage.start) = from;
        coverage.slice = Some(SliceState { from, to, head_end, head, mates_of_earlier: Vec::new() });
        coverage
    }

    /// Records loci `[self.start, until)` of the current contig into the histogram (the head of
    /// a slice into its hand-over instead; never past a slice's end).
    fn flush_to(&mut self, until: u64) {
        let Some(contig) = self.contigs.get(self.tid) else { return };
        let mut until = until.min(contig.length);
        if let Some(slice) = &mut self.slice {
            if self.tid == slice.to.0 {
                until = until.min(slice.to.1);
            }
            if self.tid == slice.head.tid && self.start < slice.head_end {
                let stop = until.min(slice.head_end);
                let from_window = ((stop.saturating_sub(self.start)) as usize).min(self.depth.len());
                slice.head.depths.extend(self.depth.drain(..from_window));
                let zeros = stop.saturating_sub(self.start) as usize - from_window;
                slice.head.depths.extend(std::iter::repeat_n(0, zeros));
                self.start = self.start.max(stop);
            }
        }
        while self.start < until {
            // Skip an N run that covers `start`; otherwise run to the next N run or `until`.
            while self.n_cursor < contig.n_runs.len() && contig.n_runs[self.n_cursor].1 <= self.start {
                self.n_cursor += 1;
            }
            let next_n = contig.n_runs.get(self.n_cursor).copied();
            let (in_n, stop) = match next_n {
                Some((a, b)) if a <= self.start => (true, b.min(until)),
                Some((a, _)) => (false, a.min(until)),
                None => (false, until),
            };
            let len = stop - self.start;
            let from_window = (len as usize).min(self.depth.len());
            for d in self.depth.drain(..from_window) {
                if !in_n {
                    self.hist[(d as usize).min(COVERAGE_CAP)] += 1;
                }
            }
            if !in_n {
                self.hist[0] += len - from_window as u64;
            }
            self.start = stop;
        }
    }

    /// Finishes every contig before `tid` (and the current one), then moves to `tid`.
    fn advance_to_contig(&mut self, tid: usize) {
        while self.tid < tid && self.tid < self.contigs.len() {
            self.flush_to(u64::MAX);
            self.tid += 1;
            self.start = 0;
            self.depth.clear();
            self.n_cursor = 0;
        }
    }

    /// Finishes all contigs.
    pub(super) fn finish(&mut self) {
        self.advance_to_contig(self.contigs.len());
    }

    /// Finishes a slice: flushes its loci up to its end and returns what the merge needs (the
    /// histogram is taken, so call it once, instead of [`Coverage::finish`]).
    pub(super) fn finish_slice(&mut self) -> CoverageSlice {
        let Some(to) = self.slice.as_ref().map(|s| s.to) else {
            self.finish();
            return CoverageSlice { hist: std::mem::take(&mut self.hist), ..Default::default() };
        };
        self.advance_to_contig(to.0);
        self.flush_to(to.1);
        let overhang = if self.tid == to.0 && self.start == to.1 {
            DepthSpan { tid: to.0, start: to.1, depths: self.depth.drain(..).collect() }
        } else {
            DepthSpan::default()
        };
        let waiting = self
            .pending
            .drain()
            .filter(|(_, p)| (p.tid, p.mate_pos) >= to)
            .map(|(name, p)| PairLoci { name, tid: p.tid, loci: p.loci })
            .collect();
        // The slice's state is done with: the loci are flushed.
        let (head, mates_of_earlier) = self.slice.take().map(|s| (s.head, s.mates_of_earlier)).unwrap_or_default();
        CoverageSlice { hist: std::mem::take(&mut self.hist), head, overhang, waiting, mates_of_earlier }
    }

    /// Territory size (non-N bases of all contigs).
    pub(super) fn territory(&self) -> u64 {
        self.contigs.iter().map(ContigTerritory::territory).sum()
    }

    /// Adds one record (the caller has applied the record filters). Returns `false` when the
    /// record is out of coordinate order, in which case it is ignored.
    pub(super) fn add(&mut self, rec: &Record) -> bool {
        let (Ok(tid), Ok(pos)) = (usize::try_from(rec.tid()), u64::try_from(rec.pos())) else { return false };
        if tid < self.tid || (tid == self.tid && pos < self.start) || tid >= self.contigs.len() {
            return false;
        }
        self.advance_to_contig(tid);
        self.flush_to(pos);
        self.sweep_pending(tid, pos);
        let primary = !rec.is_supplementary();
        let earlier = if primary { self.pending.remove(rec.qname()) } else { None };
        let excluded = earlier.map(|p| p.loci).unwrap_or_default();
        let mate_pos = u64::try_from(rec.mpos()).unwrap_or(u64::MAX);
        let may_overlap = primary && rec.mtid() == rec.tid() && mate_pos >= pos && excluded.is_empty();
        // In a slice's head, a primary record whose mate lies in an earlier slice: its loci may
        // be ones that mate counted (the merge decides).
        let mate_earlier = primary
            && self.slice.as_ref().is_some_and(|s| {
                let mate = usize::try_from(rec.mtid()).ok().map(|t| (t, mate_pos));
                tid == s.head.tid && pos < s.head_end && mate.is_some_and(|m| m < s.from)
            });
        let mut all_counted = Vec::new();
        let mut counted = Vec::new();
        let (quals, seq) = (rec.qual(), rec.seq());
        let (mut rpos, mut qpos) = (pos, 0usize);
        for op in rec.cigar().iter() {
            match *op {
                Cigar::Match(n) | Cigar::Equal(n) | Cigar::Diff(n) => {
                    for k in 0..n as usize {
                        let (r, q) = (rpos + k as u64, qpos + k);
                        let good = quals.get(q).is_some_and(|&bq| bq >= MIN_BASE_QUALITY)
                            && q < seq.len()
                            && seq.encoded_base(q) != 15;
                        if good && excluded.binary_search(&r).is_err() {
                            self.bump(r);
                            if may_overlap && r >= mate_pos {
                                counted.push(r);
                            }
                            if mate_earlier {
                                all_counted.push(r);
                            }
                        }
                    }
                    rpos += u64::from(n);
                    qpos += n as usize;
                }
                Cigar::Ins(n) | Cigar::SoftClip(n) => qpos += n as usize,
                Cigar::Del(n) | Cigar::RefSkip(n) => rpos += u64::from(n),
                Cigar::HardClip(_) | Cigar::Pad(_) => {}
            }
        }
        if !counted.is_empty() {
            self.pending.insert(rec.qname().to_vec(), Pending { tid, mate_pos, loci: counted });
        }
        if !all_counted.is_empty()
            && let Some(slice) = &mut self.slice
        {
            slice.mates_of_earlier.push(PairLoci { name: rec.qname().to_vec(), tid, loci: all_counted });
        }
        true
    }

    fn bump(&mut self, locus: u64) {
        let i = (locus - self.start) as usize;
        if i >= self.depth.len() {
            self.depth.resize(i + 1, 0);
        }
        self.depth[i] += 1;
    }

    /// Drops pending loci whose mate should have arrived already (it was filtered out).
    fn sweep_pending(&mut self, tid: usize, pos: u64) {
        if self.pending.len() < self.sweep_at {
            return;
        }
        self.pending.retain(|_, p| p.tid == tid && p.mate_pos >= pos);
        self.sweep_at = (self.pending.len() * 2).max(1024);
    }
}

/// Joins the slices of one file, in slice order, into the histogram of the whole file (see the
/// module docs). Cost: O(slices × [`HANDOVER`] + overhang and hand-over loci).
pub fn merge_slices(contigs: &[ContigTerritory], slices: Vec<CoverageSlice>) -> Result<Vec<u64>, NotExact> {
    let mut hist = vec![0u64; COVERAGE_CAP + 1];
    let mut heads: Vec<(DepthSpan, Vec<i64>)> = Vec::new();
    let mut overhangs = Vec::new();
    let mut waiting: HashMap<Vec<u8>, PairLoci> = HashMap::new();
    let mut mates = Vec::new();
    for slice in slices {
        if slice.hist.len() != hist.len() {
            return Err(NotExact(format!("a slice's histogram has {} bins, not {}", slice.hist.len(), hist.len())));
        }
        for (total, n) in hist.iter_mut().zip(&slice.hist) {
            *total += n;
        }
        if !slice.head.depths.is_empty() {
            let depths = slice.head.depths.iter().map(|&d| i64::from(d)).collect();
            heads.push((slice.head, depths));
        }
        overhangs.push(slice.overhang);
        waiting.extend(slice.waiting.into_iter().map(|p| (p.name.clone(), p)));
        mates.extend(slice.mates_of_earlier);
    }
    // The head holding a locus, as (head index, offset); heads are in genome order.
    let find = |heads: &[(DepthSpan, Vec<i64>)], tid: usize, locus: u64| -> Option<(usize, usize)> {
        let i = heads.partition_point(|(h, _)| (h.tid, h.start) <= (tid, locus)).checked_sub(1)?;
        let h = &heads[i].0;
        (h.tid == tid && locus < h.start + h.depths.len() as u64).then(|| (i, (locus - h.start) as usize))
    };
    let contig_length = |tid: usize| contigs.get(tid).map_or(0, |c| c.length);
    for overhang in overhangs {
        for (k, &d) in overhang.depths.iter().enumerate() {
            let locus = overhang.start + k as u64;
            if d == 0 || locus >= contig_length(overhang.tid) {
                continue;
            }
            let (i, at) = find(&heads, overhang.tid, locus).ok_or_else(|| {
                NotExact(format!("depth at contig {} position {locus} lies past the next slice's head", overhang.tid))
            })?;
            heads[i].1[at] += i64::from(d);
        }
    }
    // Both mates of a pair counted these loci, in different slices: the first mate keeps them.
    for mate in mates {
        let Some(first) = waiting.get(&mate.name).filter(|w| w.tid == mate.tid) else { continue };
        for locus in mate.loci.iter().filter(|l| first.loci.binary_search(l).is_ok()) {
            let (i, at) = find(&heads, mate.tid, *locus).ok_or_else(|| {
                NotExact(format!("an overlapping pair at contig {} position {locus} lies past a head", mate.tid))
            })?;
            heads[i].1[at] -= 1;
        }
    }
    for (span, depths) in &heads {
        let Some(contig) = contigs.get(span.tid) else { continue };
        let mut n_cursor = 0;
        for (k, &d) in depths.iter().enumerate() {
            let locus = span.start + k as u64;
            while n_cursor < contig.n_runs.len() && contig.n_runs[n_cursor].1 <= locus {
                n_cursor += 1;
            }
            let in_n = contig.n_runs.get(n_cursor).is_some_and(|&(a, _)| a <= locus);
            if locus >= contig.length || in_n {
                continue;
            }
            let d = usize::try_from(d).map_err(|_| NotExact(format!("negative depth {d} at position {locus}")))?;
            hist[d.min(COVERAGE_CAP)] += 1;
        }
    }
    Ok(hist)
}
