//! minimap2 mappings normalized for record building.
//!
//! A [`Hit`] is one alignment of one read in SAM terms: contig id, 0-based leftmost mapped base,
//! exclusive end, strand, MAPQ, and a CIGAR that already carries its soft clips. minimap2 reports
//! query coordinates on the original read (`query_start..query_end`), so in reference orientation
//! the leading clip is `query_start` on the forward strand and `len - query_end` on the reverse
//! strand (and the other way round for the trailing clip). Every hit is checked: the CIGAR must
//! consume `len` query bases (clips included) and exactly `target_end - target_start` reference
//! bases, and the contig id must be in the index; a hit that does not add up is an error, never a
//! malformed record. Cost: one pass over the CIGAR operations per hit.

use minimap2::{Mapping, Strand};
use rust_htslib::bam::record::{Cigar, CigarString};
use std::sync::Arc;

/// The SAM role of an alignment within its read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HitKind {
    Primary,
    Supplementary,
    Secondary,
}

/// One alignment of one read, in SAM terms.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub tid: i32,
    pub contig: Option<Arc<String>>,
    /// 0-based leftmost mapped base.
    pub pos: i64,
    /// 0-based exclusive end of the mapped bases.
    pub end: i64,
    pub reverse: bool,
    pub mapq: u8,
    pub kind: HitKind,
    /// Soft clips included (never hard clips: SEQ is always the whole read).
    pub cigar: CigarString,
    pub leading_clip: i64,
    pub trailing_clip: i64,
    /// minimap2's NM: mismatches + gaps + ambiguous bases.
    pub nm: i32,
    /// minimap2's DP alignment score (`AS`).
    pub score: i32,
}

impl Hit {
    /// Unclipped 5' position, 0-based: `pos - leading clip` on the forward strand; on the reverse
    /// strand the unclipped end, inclusive (`end - 1 + trailing clip`).
    pub fn unclipped_5prime(&self) -> i64 {
        if self.reverse { self.end - 1 + self.trailing_clip } else { self.pos - self.leading_clip }
    }
}

/// All kept alignments of one read: its primary (none when unmapped) and the others in
/// minimap2's order (supplementary, and secondary when asked for).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadHits {
    pub primary: Option<Hit>,
    pub others: Vec<Hit>,
}

impl ReadHits {
    /// Supplementary alignments exist (the read is chimeric): primary and supplementary records
    /// then carry `SA`.
    pub fn is_chimeric(&self) -> bool {
        self.primary.is_some() && self.others.iter().any(|h| h.kind == HitKind::Supplementary)
    }
}

/// Normalizes a read's mappings. Secondary alignments are dropped unless `keep_secondary`. When
/// minimap2 marks no alignment primary (it always marks one), the read is treated as unmapped.
pub(crate) fn read_hits(
    mappings: Vec<Mapping>,
    read_len: usize,
    n_seq: i32,
    keep_secondary: bool,
) -> Result<ReadHits, String> {
    let mut hits = ReadHits::default();
    for m in mappings {
        let kind = if m.is_primary {
            HitKind::Primary
        } else if m.is_supplementary {
            HitKind::Supplementary
        } else {
            HitKind::Secondary
        };
        if kind == HitKind::Secondary && !keep_secondary {
            continue;
        }
        if kind == HitKind::Primary && hits.primary.is_some() {
            return Err("two primary alignments for one read".into());
        }
        let hit = hit(m, kind, read_len, n_seq)?;
        match kind {
            HitKind::Primary => hits.primary = Some(hit),
            _ => hits.others.push(hit),
        }
    }
    if hits.primary.is_none() {
        hits.others.clear();
    }
    Ok(hits)
}

/// One mapping as a [`Hit`], checked.
fn hit(m: Mapping, kind: HitKind, read_len: usize, n_seq: i32) -> Result<Hit, String> {
    let len = i64::try_from(read_len).map_err(|_| "read too long".to_string())?;
    let (qs, qe) = (i64::from(m.query_start), i64::from(m.query_end));
    if !(0 <= qs && qs < qe && qe <= len) {
        return Err(format!("query range {qs}..{qe} on a read of {len} bases"));
    }
    if !(0..n_seq).contains(&m.target_id) {
        return Err(format!("contig id {} outside the index's {n_seq}", m.target_id));
    }
    let reverse = m.strand == Strand::Reverse;
    let (leading_clip, trailing_clip) = if reverse { (len - qe, qs) } else { (qs, len - qe) };
    let alignment = m.alignment.ok_or_else(|| "no base-level alignment (CIGAR)".to_string())?;
    let ops = alignment.cigar.as_deref().unwrap_or_default();
    let cigar = cigar_with_clips(ops, leading_clip, trailing_clip)?;
    let (pos, end) = (i64::from(m.target_start), i64::from(m.target_end));
    let (ref_len, query_len) = consumed(&cigar);
    if ref_len != end - pos || query_len != len || ref_len == 0 {
        return Err(format!(
            "CIGAR {cigar} covers {ref_len} reference and {query_len} read bases, expected {} and {len}",
            end - pos
        ));
    }
    Ok(Hit {
        tid: m.target_id,
        contig: m.target_name,
        pos,
        end,
        reverse,
        mapq: u8::try_from(m.mapq).unwrap_or(u8::MAX),
        kind,
        cigar,
        leading_clip,
        trailing_clip,
        nm: alignment.nm,
        score: alignment.alignment_score.unwrap_or(0),
    })
}

/// minimap2's CIGAR (reference orientation, packed `(len, op)`) framed by the soft clips. Clip
/// operations already in `ops` (the crate's optional clipping) are replaced by ours.
fn cigar_with_clips(ops: &[(u32, u8)], leading: i64, trailing: i64) -> Result<CigarString, String> {
    let clip = |n: i64| u32::try_from(n).map_err(|_| format!("clip of {n} bases"));
    let mut out = Vec::with_capacity(ops.len() + 2);
    if leading > 0 {
        out.push(Cigar::SoftClip(clip(leading)?));
    }
    for &(n, op) in ops {
        let c = match op {
            0 => Cigar::Match(n),
            1 => Cigar::Ins(n),
            2 => Cigar::Del(n),
            3 => Cigar::RefSkip(n),
            4 | 5 => continue,
            6 => Cigar::Pad(n),
            7 => Cigar::Equal(n),
            8 => Cigar::Diff(n),
            _ => return Err(format!("unknown CIGAR operation code {op}")),
        };
        out.push(c);
    }
    if trailing > 0 {
        out.push(Cigar::SoftClip(clip(trailing)?));
    }
    Ok(CigarString(out))
}

/// (reference bases, query bases) a CIGAR consumes.
pub(crate) fn consumed(cigar: &CigarString) -> (i64, i64) {
    let (mut r, mut q) = (0i64, 0i64);
    for c in cigar.iter() {
        let n = i64::from(c.len());
        match c {
            Cigar::Match(_) | Cigar::Equal(_) | Cigar::Diff(_) => {
                r += n;
                q += n;
            }
            Cigar::Del(_) | Cigar::RefSkip(_) => r += n,
            Cigar::Ins(_) | Cigar::SoftClip(_) => q += n,
            Cigar::HardClip(_) | Cigar::Pad(_) => {}
        }
    }
    (r, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_frame_the_cigar_and_are_checked() {
        let c = cigar_with_clips(&[(10, 0), (2, 1), (5, 0), (3, 2), (4, 0)], 7, 3).unwrap();
        assert_eq!(c.to_string(), "7S10M2I5M3D4M3S");
        assert_eq!(consumed(&c), (22, 31));
        let c = cigar_with_clips(&[(4, 4), (10, 0)], 4, 0).unwrap();
        assert_eq!(c.to_string(), "4S10M");
        assert!(cigar_with_clips(&[(1, 9)], 0, 0).is_err());
    }

    #[test]
    fn unclipped_five_prime_ends() {
        let cigar = CigarString(vec![Cigar::SoftClip(5), Cigar::Match(90), Cigar::SoftClip(5)]);
        let mut h = Hit {
            tid: 0,
            contig: None,
            pos: 100,
            end: 190,
            reverse: false,
            mapq: 60,
            kind: HitKind::Primary,
            cigar,
            leading_clip: 5,
            trailing_clip: 7,
            nm: 0,
            score: 0,
        };
        assert_eq!(h.unclipped_5prime(), 95);
        h.reverse = true;
        assert_eq!(h.unclipped_5prime(), 196);
    }
}
