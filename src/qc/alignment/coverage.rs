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
        }
    }

    /// Records loci `[self.start, until)` of the current contig into the histogram.
    fn flush_to(&mut self, until: u64) {
        let Some(contig) = self.contigs.get(self.tid) else { return };
        let until = until.min(contig.length);
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
