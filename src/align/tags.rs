//! Text and integer forms of the auxiliary tags dagr writes.
//!
//! Integers are stored in the smallest BAM type that holds them, as htslib does when it parses
//! SAM, so records compare equal to a SAM round trip. `MC` and `SA` need text: a CIGAR is
//! written once per read into a reusable `String` and shared by every record that cites it; an
//! `SA` entry (`rname,pos,strand,CIGAR,mapQ,NM;`, 1-based pos, the full soft-clipped CIGAR of that
//! alignment) is written once per alignment of a chimeric read. Cost: proportional to the CIGAR
//! length, only for the tags that need text.

use super::hit::Hit;
use rust_htslib::bam::record::{Aux, CigarString};
use std::fmt::Write as _;

/// The smallest BAM integer type holding `v` (unsigned preferred, as htslib chooses).
pub(crate) fn int_aux(v: i64) -> Aux<'static> {
    if v >= 0 {
        if let Ok(x) = u8::try_from(v) {
            Aux::U8(x)
        } else if let Ok(x) = u16::try_from(v) {
            Aux::U16(x)
        } else {
            Aux::U32(u32::try_from(v).unwrap_or(u32::MAX))
        }
    } else if let Ok(x) = i8::try_from(v) {
        Aux::I8(x)
    } else if let Ok(x) = i16::try_from(v) {
        Aux::I16(x)
    } else {
        Aux::I32(i32::try_from(v).unwrap_or(i32::MIN))
    }
}

/// Appends the SAM text of `cigar` to `out`.
pub(crate) fn write_cigar(out: &mut String, cigar: &CigarString) {
    for c in cigar.iter() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{}{}", c.len(), c.char());
    }
}

/// The SAM text of `cigar`.
pub(crate) fn cigar_text(cigar: &CigarString) -> String {
    let mut s = String::with_capacity(cigar.len() * 4);
    write_cigar(&mut s, cigar);
    s
}

/// Appends the `SA` entry of `hit` (with its terminating `;`) to `out`.
pub(crate) fn write_sa_entry(out: &mut String, hit: &Hit) {
    let contig = hit.contig.as_deref().map_or("*", String::as_str);
    let _ = write!(out, "{contig},{},{},", hit.pos + 1, if hit.reverse { '-' } else { '+' });
    write_cigar(out, &hit.cigar);
    let _ = write!(out, ",{},{};", hit.mapq, hit.nm);
}

/// The `SA` entries of a chimeric read's primary and supplementary alignments, primary first,
/// then supplementary in minimap2's order; secondaries are not listed.
pub(crate) fn sa_entries<'h>(primary: &'h Hit, others: &'h [Hit]) -> Vec<(&'h Hit, String)> {
    std::iter::once(primary)
        .chain(others.iter().filter(|h| h.kind == super::hit::HitKind::Supplementary))
        .map(|h| {
            let mut s = String::with_capacity(32);
            write_sa_entry(&mut s, h);
            (h, s)
        })
        .collect()
}

/// The `SA` value of the record of `this`: every entry but its own.
pub(crate) fn sa_value(entries: &[(&Hit, String)], this: &Hit) -> String {
    let mut s = String::new();
    for (h, text) in entries {
        if !std::ptr::eq(*h, this) {
            s.push_str(text);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::hit::HitKind;
    use rust_htslib::bam::record::Cigar;
    use std::sync::Arc;

    #[test]
    fn integers_take_the_smallest_type() {
        assert!(matches!(int_aux(0), Aux::U8(0)));
        assert!(matches!(int_aux(300), Aux::U16(300)));
        assert!(matches!(int_aux(70_000), Aux::U32(70_000)));
        assert!(matches!(int_aux(-5), Aux::I8(-5)));
        assert!(matches!(int_aux(-300), Aux::I16(-300)));
        assert!(matches!(int_aux(-70_000), Aux::I32(-70_000)));
    }

    #[test]
    fn sa_entries_exclude_the_record_itself() {
        let mk = |pos, reverse, kind, cigar: Vec<Cigar>| Hit {
            tid: 0,
            contig: Some(Arc::new("chr1".to_string())),
            pos,
            end: pos + 90,
            reverse,
            mapq: 60,
            kind,
            cigar: CigarString(cigar),
            leading_clip: 0,
            trailing_clip: 0,
            nm: 1,
            score: 0,
        };
        let p = mk(99, false, HitKind::Primary, vec![Cigar::Match(90), Cigar::SoftClip(60)]);
        let others = vec![
            mk(4999, true, HitKind::Supplementary, vec![Cigar::SoftClip(90), Cigar::Match(60)]),
            mk(7, true, HitKind::Secondary, vec![Cigar::Match(150)]),
        ];
        let entries = sa_entries(&p, &others);
        assert_eq!(entries.len(), 2);
        assert_eq!(sa_value(&entries, &p), "chr1,5000,-,90S60M,60,1;");
        assert_eq!(sa_value(&entries, &others[0]), "chr1,100,+,90M60S,60,1;");
        assert_eq!(cigar_text(&p.cigar), "90M60S");
    }
}
