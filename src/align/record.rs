//! BAM records of one read, built by dagr itself from its normalized alignments.
//!
//! - Flags: 0x1 always; 0x40 (R1) or 0x80 (R2); 0x2 when the pair is proper (on every record of
//!   the template, supplementary included, since it is a property of the template); 0x4 unmapped;
//!   0x8 mate unmapped, otherwise 0x20 from the mate primary's strand; 0x10 own strand; 0x100
//!   secondary; 0x800 supplementary. 0x400 is left to duplicate marking.
//! - Mate fields always describe the mate's primary record; when the mate is unmapped it is placed
//!   at this read's primary position (SAM recommended practice), so RNEXT/PNEXT point there.
//! - An unmapped read with a mapped mate takes the mate's RNAME/POS, MAPQ 0, no CIGAR, TLEN 0;
//!   a fully unmapped pair has RNAME/POS/RNEXT/PNEXT unset (flags 77 and 141).
//! - TLEN of a primary comes from [`super::mate::template_len`]; supplementary and secondary
//!   records repeat their own primary's TLEN (as Picard's mate fixing does).
//! - SEQ is the whole read (soft clips only, never hard clips), reverse-complemented and QUAL
//!   reversed on the reverse strand; QUAL drops the Phred+33 offset.
//! - Tags: NM, AS on mapped records; SA on the primary and supplementary records of a chimeric
//!   read; MC and MQ whenever the mate is mapped; RG always.
//! - The BAI bin is computed here (htslib does not when writing).
//!
//! Cost: one pass over the read's bases and qualities per record, plus the tags.

use super::error::{AlignError, lossy};
use super::hit::{Hit, HitKind};
use super::tags::int_aux;
use rust_htslib::bam::Record;
use rust_htslib::bam::record::Aux;

/// What every record of one read shares.
pub(crate) struct ReadContext<'a> {
    /// 1-based pair number within the lane, for errors.
    pub pair: u64,
    /// The name without its `/1` `/2` suffix.
    pub name: &'a [u8],
    /// Bases and Phred+33 qualities as in the FASTQ file.
    pub seq: &'a [u8],
    pub qual: &'a [u8],
    pub is_r1: bool,
    pub own_primary: Option<&'a Hit>,
    pub mate_primary: Option<&'a Hit>,
    /// The mate primary's CIGAR text (`MC`), when the mate is mapped.
    pub mate_cigar: Option<&'a str>,
    pub proper: bool,
    /// TLEN of this read's primary record.
    pub tlen: i64,
    pub read_group: &'a str,
}

impl ReadContext<'_> {
    /// Flags shared by all records of the read.
    fn pair_flags(&self) -> u16 {
        let mut flags = 0x1 | if self.is_r1 { 0x40 } else { 0x80 };
        if self.proper {
            flags |= 0x2;
        }
        match self.mate_primary {
            None => flags |= 0x8,
            Some(m) if m.reverse => flags |= 0x20,
            Some(_) => {}
        }
        flags
    }

    /// (RNEXT, PNEXT): the mate primary's, or this read's primary position when the mate is
    /// unmapped and placed there; unset when neither is mapped.
    fn mate_position(&self) -> (i32, i64) {
        match (self.mate_primary, self.own_primary) {
            (Some(m), _) | (None, Some(m)) => (m.tid, m.pos),
            (None, None) => (-1, -1),
        }
    }

    fn tag_error(&self, tag: &str, e: rust_htslib::errors::Error) -> AlignError {
        AlignError::Tag { pair: self.pair, name: lossy(self.name), tag: tag.into(), detail: e.to_string() }
    }

    /// Pushes a tag (each tag is pushed once per record, so unchecked is safe).
    fn push(&self, record: &mut Record, tag: &str, value: Aux<'_>) -> Result<(), AlignError> {
        record.push_aux_unchecked(tag.as_bytes(), value).map_err(|e| self.tag_error(tag, e))
    }

    /// MC, MQ (mate mapped) and RG.
    fn push_mate_tags(&self, record: &mut Record) -> Result<(), AlignError> {
        if let (Some(mate), Some(cigar)) = (self.mate_primary, self.mate_cigar) {
            self.push(record, "MC", Aux::String(cigar))?;
            self.push(record, "MQ", int_aux(i64::from(mate.mapq)))?;
        }
        self.push(record, "RG", Aux::String(self.read_group))
    }
}

/// Reusable buffers for SEQ and QUAL.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    seq: Vec<u8>,
    qual: Vec<u8>,
}

impl Scratch {
    /// Fills the buffers with the read in record orientation and returns them.
    fn oriented(&mut self, seq: &[u8], qual: &[u8], reverse: bool) -> (&[u8], &[u8]) {
        self.seq.clear();
        self.qual.clear();
        if reverse {
            self.seq.extend(seq.iter().rev().map(|&b| complement(b)));
            self.qual.extend(qual.iter().rev().map(|&q| q.saturating_sub(33)));
        } else {
            self.seq.extend_from_slice(seq);
            self.qual.extend(qual.iter().map(|&q| q.saturating_sub(33)));
        }
        (&self.seq, &self.qual)
    }
}

/// Complement of a base; anything but `ACGT` (either case) becomes `N`.
fn complement(b: u8) -> u8 {
    match b {
        b'A' | b'a' => b'T',
        b'C' | b'c' => b'G',
        b'G' | b'g' => b'C',
        b'T' | b't' => b'A',
        _ => b'N',
    }
}

/// The record of one alignment of the read; `sa` is its `SA` value for chimeric reads.
pub(crate) fn mapped_record(
    ctx: &ReadContext<'_>,
    hit: &Hit,
    sa: Option<&str>,
    scratch: &mut Scratch,
) -> Result<Record, AlignError> {
    let mut record = Record::new();
    let (seq, qual) = scratch.oriented(ctx.seq, ctx.qual, hit.reverse);
    record.set(ctx.name, Some(&hit.cigar), seq, qual);
    let mut flags = ctx.pair_flags();
    if hit.reverse {
        flags |= 0x10;
    }
    match hit.kind {
        HitKind::Primary => {}
        HitKind::Supplementary => flags |= 0x800,
        HitKind::Secondary => flags |= 0x100,
    }
    record.set_flags(flags);
    record.set_tid(hit.tid);
    record.set_pos(hit.pos);
    record.set_bin(reg2bin(hit.pos, hit.end));
    record.set_mapq(hit.mapq);
    let (mtid, mpos) = ctx.mate_position();
    record.set_mtid(mtid);
    record.set_mpos(mpos);
    record.set_insert_size(if ctx.mate_primary.is_some() { ctx.tlen } else { 0 });
    ctx.push(&mut record, "NM", int_aux(i64::from(hit.nm)))?;
    ctx.push(&mut record, "AS", int_aux(i64::from(hit.score)))?;
    if let Some(sa) = sa.filter(|_| hit.kind != HitKind::Secondary) {
        ctx.push(&mut record, "SA", Aux::String(sa))?;
    }
    ctx.push_mate_tags(&mut record)?;
    Ok(record)
}

/// The record of an unmapped read: placed at its mate's primary when that is mapped.
pub(crate) fn unmapped_record(ctx: &ReadContext<'_>, scratch: &mut Scratch) -> Result<Record, AlignError> {
    let mut record = Record::new();
    let (seq, qual) = scratch.oriented(ctx.seq, ctx.qual, false);
    record.set(ctx.name, None, seq, qual);
    record.set_flags(ctx.pair_flags() | 0x4);
    let (tid, pos) = ctx.mate_position();
    record.set_tid(tid);
    record.set_pos(pos);
    record.set_bin(reg2bin(pos, pos + 1));
    record.set_mapq(0);
    record.set_mtid(tid);
    record.set_mpos(pos);
    record.set_insert_size(0);
    ctx.push_mate_tags(&mut record)?;
    Ok(record)
}

/// The BAI bin of the 0-based half-open interval `[beg, end)` (htslib's `hts_reg2bin` with
/// 14-bit minimum shift and 5 levels); 4680 for unplaced records (`beg` = -1).
pub(crate) fn reg2bin(beg: i64, end: i64) -> u16 {
    let end = end - 1;
    let mut shift = 14;
    let mut t: i64 = ((1 << 15) - 1) / 7;
    for level in (1..=5).rev() {
        if beg >> shift == end >> shift {
            return u16::try_from(t + (beg >> shift)).unwrap_or(0);
        }
        shift += 3;
        t -= 1 << (3 * (level - 1));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_htslib() {
        assert_eq!(reg2bin(-1, 0), 4680);
        assert_eq!(reg2bin(0, 1), 4681);
        assert_eq!(reg2bin(0, 150), 4681);
        assert_eq!(reg2bin(16_383, 16_385), 585);
        assert_eq!(reg2bin(1_000_000, 1_000_150), 4681 + 61);
        assert_eq!(reg2bin(0, 1 << 29), 0);
    }

    #[test]
    fn reverse_orientation_complements_and_reverses() {
        let mut s = Scratch::default();
        let (seq, qual) = s.oriented(b"AACgtN", b"!#%')+", true);
        assert_eq!(seq, b"NACGTT");
        assert_eq!(qual, &[10, 8, 6, 4, 2, 0]);
        let (seq, qual) = s.oriented(b"AC", b"I5", false);
        assert_eq!((seq, qual), (&b"AC"[..], &[40u8, 20][..]));
    }
}
