//! Paired-end alignment of a batch: minimap2 `map_pair` per pair on the stage's rayon pool, then
//! dagr's own records, sort keys and duplicate entries.
//!
//! Per pair: both mates go to minimap2 together (`mm_map_frag`, the `sr` preset: FR orientation,
//! fragment bound `max_frag_len`), named by R1's name as read, as the minimap2 CLI does (the name
//! seeds minimap2's tie breaking, so equal repeats resolve as the CLI resolves them). A mate with
//! no bases cannot go to `map_pair`: the other is then mapped alone and the empty one is
//! unmapped. The mappings become [`super::hit::Hit`]s, the pair's proper flag and TLEN are derived
//! ([`super::mate`]), and records are built ([`super::record`]) in a fixed order: R1 primary
//! (rank 0), R2 primary (rank 1), then R1's and R2's other alignments (ranks 2..). Pairs are
//! processed with `par_iter` and collected in input order, so the output is the same for any pool
//! size; nothing uses floating point.
//!
//! Cost: dominated by minimap2 (seeding, chaining, banded DP); record building is one pass over
//! each read's bases and qualities per record, with `String` formatting only for `MC`, `SA`.

use super::dup::{self, MappedMate};
use super::error::{AlignError, lossy};
use super::hit::{Hit, HitKind, ReadHits, read_hits};
use super::mate::{PairingBound, template_len};
use super::record::{ReadContext, Scratch, mapped_record, unmapped_record};
use super::stats::AlignStats;
use super::tags::{cigar_text, sa_entries, sa_value};
use crate::alignments::keys::{DupCandidate, PairId, SortKey};
use crate::genome::Contig;
use crate::reads::{FastqRecord, PairBatch};
use minimap2::{Aligner, Built, Mapping};
use rayon::prelude::*;
use rust_htslib::bam::Record;
use std::ffi::CStr;
use std::sync::Arc;

/// The read group of a lane: `RG:Z` value and the library's index (for duplicate keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadGroup {
    pub id: String,
    pub library_index: u32,
}

/// Alignment options. `Default`: the `sr` preset's fragment bound, no secondary records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlignOptions {
    /// Maximum fragment length for minimap2's pairing and for the proper-pair rule
    /// (see [`super::mate`]); `None`: the preset's (800 for `sr`).
    pub max_fragment_len: Option<usize>,
    /// Emit secondary alignments (flag 0x100). Off by default, as `minimap2 -ax sr`.
    pub secondary: bool,
}

/// Records and duplicate entries of one batch, in input order.
#[derive(Debug, Default)]
pub struct AlignedBatch {
    /// Every record with its sort key: per pair R1 primary, R2 primary, then the others.
    pub records: Vec<(SortKey, Record)>,
    /// One entry per pair with at least one mapped mate.
    pub candidates: Vec<DupCandidate>,
    pub stats: AlignStats,
}

/// One pair's output.
struct PairOutput {
    records: Vec<(SortKey, Record)>,
    candidate: Option<DupCandidate>,
    stats: AlignStats,
}

/// Aligns read pairs with a shared minimap2 index and builds their BAM records.
pub struct PairAligner {
    aligner: Arc<Aligner<Built>>,
    options: AlignOptions,
    contigs: Vec<Contig>,
    bound: PairingBound,
}

impl PairAligner {
    /// Wraps a loaded index (`sr` preset, CIGAR on: [`super::index::load_index`]). Fails on an
    /// empty or multi-part index.
    pub fn new(aligner: Arc<Aligner<Built>>, options: AlignOptions) -> Result<Self, AlignError> {
        if !aligner.has_index() {
            return Err(AlignError::Index { detail: "no index loaded".into() });
        }
        if aligner.idx_parts.len() > 1 {
            return Err(AlignError::MultiPartIndex { parts: aligner.idx_parts.len() });
        }
        let contigs = index_contigs(&aligner)?;
        let opt = &aligner.mapopt;
        let max_frag_len = match options.max_fragment_len {
            Some(n) => i64::try_from(n).unwrap_or(i64::MAX),
            None => i64::from(opt.max_frag_len),
        };
        let bound =
            PairingBound { max_frag_len, max_gap: i64::from(opt.max_gap), max_gap_ref: i64::from(opt.max_gap_ref) };
        Ok(Self { aligner, options, contigs, bound })
    }

    /// The index's sequences in `tid` order: the BAM header's `@SQ` lines must follow it.
    pub fn contigs(&self) -> &[Contig] {
        &self.contigs
    }

    pub fn options(&self) -> &AlignOptions {
        &self.options
    }

    /// Aligns every pair of `batch` on `pool` and returns results in input order.
    /// `first_pair_id` is the [`PairId`] of the batch's first pair.
    pub fn align_batch(
        &self,
        batch: &PairBatch,
        first_pair_id: PairId,
        rg: &ReadGroup,
        pool: &rayon::ThreadPool,
    ) -> Result<AlignedBatch, AlignError> {
        let first_number = batch.first_pair_number();
        let outputs: Vec<PairOutput> = pool.install(|| {
            (0..batch.len())
                .into_par_iter()
                .map_init(Scratch::default, |scratch, i| {
                    let (r1, r2) = batch.pair(i);
                    let n = i as u64;
                    self.align_pair(r1, r2, first_number + n, first_pair_id + n, rg, scratch)
                })
                .collect::<Result<_, _>>()
        })?;
        let mut out = AlignedBatch {
            records: Vec::with_capacity(outputs.iter().map(|o| o.records.len()).sum()),
            candidates: Vec::with_capacity(outputs.len()),
            stats: AlignStats::default(),
        };
        for o in outputs {
            out.records.extend(o.records);
            out.candidates.extend(o.candidate);
            out.stats.merge(&o.stats);
        }
        Ok(out)
    }

    /// Aligns one pair (`pair_number`: 1-based in the lane, for errors).
    fn align_pair(
        &self,
        r1: FastqRecord<'_>,
        r2: FastqRecord<'_>,
        pair_number: u64,
        pair_id: PairId,
        rg: &ReadGroup,
        scratch: &mut Scratch,
    ) -> Result<PairOutput, AlignError> {
        let name = r1.name().strip_suffix(b"/1").unwrap_or(r1.name());
        check_name(r1.name(), name, pair_number)?;
        let (m1, m2) = self.map(r1, r2, pair_number, name)?;
        let n_seq = i32::try_from(self.contigs.len()).unwrap_or(i32::MAX);
        let keep = self.options.secondary;
        let hits = |m, read: FastqRecord<'_>, mate: &str| {
            read_hits(m, read.len(), n_seq, keep)
                .map_err(|d| AlignError::inconsistent(pair_number, name, format!("{mate}: {d}")))
        };
        let (h1, h2) = (hits(m1, r1, "R1")?, hits(m2, r2, "R2")?);
        let (p1, p2) = (h1.primary.as_ref(), h2.primary.as_ref());
        let len_sum = (r1.len() + r2.len()) as i64;
        let (proper, tlen1, tlen2) = match (p1, p2) {
            (Some(a), Some(b)) => {
                (self.bound.is_proper(a, b, len_sum), template_len(a, true, b), template_len(b, false, a))
            }
            _ => (false, 0, 0),
        };
        let (cigar1, cigar2) = (p1.map(|h| cigar_text(&h.cigar)), p2.map(|h| cigar_text(&h.cigar)));
        let ctx1 = ReadContext {
            pair: pair_number,
            name,
            seq: r1.seq(),
            qual: r1.qual(),
            is_r1: true,
            own_primary: p1,
            mate_primary: p2,
            mate_cigar: cigar2.as_deref(),
            proper,
            tlen: tlen1,
            read_group: &rg.id,
        };
        let ctx2 = ReadContext {
            seq: r2.seq(),
            qual: r2.qual(),
            is_r1: false,
            own_primary: p2,
            mate_primary: p1,
            mate_cigar: cigar1.as_deref(),
            tlen: tlen2,
            ..ctx1
        };
        let (first1, rest1) = read_records(&ctx1, &h1, scratch)?;
        let (first2, rest2) = read_records(&ctx2, &h2, scratch)?;
        let records = keyed(pair_id, [first1, first2].into_iter().chain(rest1).chain(rest2), pair_number, name)?;
        let (q1, q2): (Option<MappedMate<'_>>, Option<MappedMate<'_>>) =
            (p1.map(|h| (h, r1.qual())), p2.map(|h| (h, r2.qual())));
        let candidate = dup::candidate(q1, q2, name, pair_id, rg.library_index);
        let stats = pair_stats(&h1, &h2, proper, len_sum, records.len());
        Ok(PairOutput { records, candidate, stats })
    }

    /// minimap2's mappings of both mates (see the module documentation for empty mates).
    fn map(
        &self,
        r1: FastqRecord<'_>,
        r2: FastqRecord<'_>,
        pair_number: u64,
        name: &[u8],
    ) -> Result<(Vec<Mapping>, Vec<Mapping>), AlignError> {
        let qname = Some(r1.name());
        let failed =
            |detail: &str| AlignError::Minimap2 { pair: pair_number, name: lossy(name), detail: detail.into() };
        let single = |seq: &[u8]| self.aligner.map(seq, false, false, None, None, qname).map_err(failed);
        match (r1.is_empty(), r2.is_empty()) {
            (false, false) => self
                .aligner
                .map_pair(r1.seq(), r2.seq(), false, false, self.options.max_fragment_len, None, qname)
                .map_err(failed),
            (false, true) => Ok((single(r1.seq())?, Vec::new())),
            (true, false) => Ok((Vec::new(), single(r2.seq())?)),
            (true, true) => Ok((Vec::new(), Vec::new())),
        }
    }
}

/// Checks that a name can be passed to minimap2 (no NUL) and stored in BAM (≤ 254 bytes).
fn check_name(raw: &[u8], name: &[u8], pair: u64) -> Result<(), AlignError> {
    if raw.contains(&0) {
        return Err(AlignError::NameHasNul { pair, name: lossy(name) });
    }
    if name.len() > 254 {
        return Err(AlignError::NameTooLong { pair, name: lossy(name), len: name.len() });
    }
    Ok(())
}

/// The records of one read: its primary (or unmapped) record, then its other alignments.
fn read_records(
    ctx: &ReadContext<'_>,
    hits: &ReadHits,
    scratch: &mut Scratch,
) -> Result<(Record, Vec<Record>), AlignError> {
    let Some(primary) = hits.primary.as_ref() else {
        return Ok((unmapped_record(ctx, scratch)?, Vec::new()));
    };
    let entries = if hits.is_chimeric() { sa_entries(primary, &hits.others) } else { Vec::new() };
    let sa = |h: &Hit| (!entries.is_empty()).then(|| sa_value(&entries, h));
    let first = mapped_record(ctx, primary, sa(primary).as_deref(), scratch)?;
    let mut rest = Vec::with_capacity(hits.others.len());
    for h in &hits.others {
        let sa = if h.kind == HitKind::Supplementary { sa(h) } else { None };
        rest.push(mapped_record(ctx, h, sa.as_deref(), scratch)?);
    }
    Ok((first, rest))
}

/// Sort keys for a pair's records, ranked in emission order.
fn keyed(
    pair_id: PairId,
    records: impl Iterator<Item = Record>,
    pair: u64,
    name: &[u8],
) -> Result<Vec<(SortKey, Record)>, AlignError> {
    let mut out = Vec::with_capacity(2);
    for (i, record) in records.enumerate() {
        let rank =
            u8::try_from(i).map_err(|_| AlignError::TooManyRecords { pair, name: lossy(name), records: i + 1 })?;
        let tid = u32::try_from(record.tid()).unwrap_or(SortKey::UNPLACED);
        let key = SortKey { tid, pos: record.pos(), reverse: record.is_reverse(), pair_id, rank };
        out.push((key, record));
    }
    Ok(out)
}

/// The counts of one pair.
fn pair_stats(h1: &ReadHits, h2: &ReadHits, proper: bool, bases: i64, records: usize) -> AlignStats {
    let (p1, p2) = (h1.primary.as_ref(), h2.primary.as_ref());
    let mapped = u64::from(p1.is_some()) + u64::from(p2.is_some());
    let count = |kind| h1.others.iter().chain(&h2.others).filter(|h| h.kind == kind).count() as u64;
    let other_contig = matches!((p1, p2), (Some(a), Some(b)) if a.tid != b.tid);
    AlignStats {
        pairs: 1,
        reads: 2,
        bases: u64::try_from(bases).unwrap_or(0),
        mapped_reads: mapped,
        properly_paired_reads: if proper { 2 } else { 0 },
        both_mapped_pairs: u64::from(mapped == 2),
        singleton_reads: u64::from(mapped == 1),
        mate_other_contig_reads: if other_contig { 2 } else { 0 },
        unmapped_pairs: u64::from(mapped == 0),
        chimeric_reads: u64::from(h1.is_chimeric()) + u64::from(h2.is_chimeric()),
        supplementary_records: count(HitKind::Supplementary),
        secondary_records: count(HitKind::Secondary),
        records: records as u64,
    }
}

/// The index's sequence names and lengths.
fn index_contigs(aligner: &Aligner<Built>) -> Result<Vec<Contig>, AlignError> {
    let n = aligner.n_seq() as usize;
    if n == 0 {
        return Err(AlignError::Index { detail: "it holds no sequence".into() });
    }
    (0..n)
        .map(|i| {
            let seq = aligner.get_seq(i).filter(|s| !s.name.is_null());
            let seq = seq.ok_or_else(|| AlignError::Index { detail: format!("sequence {i} has no name") })?;
            // SAFETY: minimap2 keeps every sequence name as a NUL-terminated C string owned by the
            // index, which `aligner` keeps alive for the duration of this borrow; it is copied.
            let name = unsafe { CStr::from_ptr(seq.name) };
            let name =
                name.to_str().map_err(|_| AlignError::Index { detail: format!("sequence {i}'s name is not UTF-8") })?;
            Ok(Contig::new(name, u64::from(seq.len)))
        })
        .collect()
}
