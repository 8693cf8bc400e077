//! BAI indexes read as data: merging the indexes of BAM slices into the index of the file the
//! slices join into, so that [`super::writer::concatenate_bam`] never reads the joined BAM to
//! index it; and the compressed bytes per 16 kb window ([`window_bytes`]), where the calling
//! stages expect their work.
//!
//! A BAI (SAM spec, 5.2) is, after the magic `BAI\1` and `n_ref`, per reference a binning index
//! (bins, each a list of chunks: pairs of virtual offsets) and a linear index (per 16 kb window,
//! the smallest virtual offset of a record overlapping it), then an optional count of records
//! without coordinates. htslib adds to each reference the pseudo-bin 37450 with two pairs: the
//! virtual offsets where the reference's records begin and end, and its mapped and unmapped counts.
//!
//! Slice `r`'s record blocks start at compressed offset `start` in its file (0 for the first slice,
//! whose header is kept) and are copied to `base` in the joined file, so every virtual offset of its
//! index `(coffset << 16) | uoffset` becomes `((coffset - start + base) << 16) | uoffset` ([`Shift`]).
//! A chunk may end at the slice's end-of-file block (`len - 28`): that maps onto the next slice's
//! `base`, where the next record is. Per reference, over the slices in file order (a reference may
//! span several slices, since slices are cut inside contigs):
//!
//! - bins: the union by bin number; a bin present in several slices gets their shifted chunk lists
//!   concatenated in slice order (already in file order). Bins are written in ascending number.
//! - pseudo-bin: the begin offset of the first slice that has the reference, the end offset of the
//!   last, the mapped and unmapped counts summed (counts, not offsets: never shifted).
//! - linear index: per window, the smallest shifted non-zero entry over the slices; a window no slice
//!   gives a non-zero entry takes the previous merged window's (0 before the first). htslib fills a
//!   window without records from the next one (older versions from the previous one; 0 is what
//!   readers take for "none"), so a slice's entry for a window it has no record in still points at
//!   one of its own records after the window: a lower bound for the records after the window in
//!   that slice, and the minimum over slices is the entry htslib gives the joined file. Length: the
//!   longest of the slices' linear indexes.
//! - records without coordinates: summed (present when any slice has the count).
//!
//! The merged bins need not be the ones htslib would build over the joined file (it folds small
//! bins into their parents per file, and joins chunks that share a block), but every region query
//! reads the same records through either. Cost: O(size of the slices' indexes), one slice's index
//! in memory at a time beside the merged one; no pass over any BAM.

use std::collections::BTreeMap;
use std::io;

const MAGIC: &[u8; 4] = b"BAI\x01";
/// Bases per window of the linear index (SAM spec 5.2), the grain of [`window_bytes`].
pub const LINEAR_WINDOW: u64 = 1 << 14;
/// htslib's pseudo-bin (`META_BIN` for BAI's 5 levels): reference begin/end offsets and counts.
const PSEUDO_BIN: u32 = 37450;

fn bad(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a BAI as htslib writes it: {what}"))
}

/// Where one slice's record blocks go in the joined file (compressed byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// Offset of the slice's first record block in the slice (0 for a slice whose header is kept).
    pub start: u64,
    /// Offset of the slice's end-of-file block: the largest offset its index may name.
    pub end: u64,
    /// Offset where the slice's first record block lands in the joined file.
    pub base: u64,
}

impl Shift {
    fn apply(self, vo: u64) -> io::Result<u64> {
        let coffset = vo >> 16;
        if coffset < self.start || coffset > self.end {
            return Err(bad(format_args!(
                "virtual offset {vo:#x} lies outside the slice's record blocks (bytes {}..={})",
                self.start, self.end
            )));
        }
        let moved = coffset - self.start + self.base;
        if moved >= 1 << 48 {
            return Err(bad(format_args!("virtual offset {vo:#x} moves past the 48-bit range")));
        }
        Ok((moved << 16) | (vo & 0xffff))
    }
}

/// The pseudo-bin's content: the reference's record offsets and counts.
#[derive(Debug, Clone, Copy)]
struct Span {
    beg: u64,
    end: u64,
    mapped: u64,
    unmapped: u64,
}

/// One reference of the merged index.
#[derive(Debug, Default)]
struct Reference {
    bins: BTreeMap<u32, Vec<(u64, u64)>>,
    span: Option<Span>,
    /// 0: no slice has given the window an offset yet.
    windows: Vec<u64>,
}

/// The index of the joined file, built from the slices' indexes in file order.
#[derive(Debug, Default)]
pub struct Merger {
    /// `None` until the first slice fixes the number of references.
    refs: Option<Vec<Reference>>,
    n_no_coor: Option<u64>,
}

impl Merger {
    /// Adds the next slice's index (the bytes of its `.bai`), its offsets moved by `shift`. An
    /// error (`InvalidData`) says what is wrong with these bytes; the caller names the file.
    pub fn add(&mut self, bytes: &[u8], shift: Shift) -> io::Result<()> {
        let mut input = Cursor { bytes, at: 0 };
        if input.take(4)? != MAGIC {
            return Err(bad("no BAI magic"));
        }
        let n_ref = input.count("n_ref")?;
        let refs = self.refs.get_or_insert_with(|| (0..n_ref).map(|_| Reference::default()).collect());
        if refs.len() != n_ref {
            return Err(bad(format_args!("{n_ref} references where the first slice has {}", refs.len())));
        }
        for (tid, merged) in refs.iter_mut().enumerate() {
            let n_bin = input.count("n_bin")?;
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..n_bin {
                let bin = input.u32()?;
                if !seen.insert(bin) {
                    return Err(bad(format_args!("bin {bin} appears twice for reference {tid}")));
                }
                let n_chunk = input.count("n_chunk")?;
                if bin == PSEUDO_BIN {
                    if n_chunk != 2 {
                        return Err(bad(format_args!("pseudo-bin of reference {tid} has {n_chunk} pairs, not 2")));
                    }
                    let (beg, end) = (shift.apply(input.u64()?)?, shift.apply(input.u64()?)?);
                    let (mapped, unmapped) = (input.u64()?, input.u64()?);
                    merged.span = Some(match merged.span {
                        None => Span { beg, end, mapped, unmapped },
                        Some(s) => Span {
                            beg: s.beg,
                            end,
                            mapped: s.mapped.saturating_add(mapped),
                            unmapped: s.unmapped.saturating_add(unmapped),
                        },
                    });
                    continue;
                }
                input.check_room(n_chunk, 16)?;
                let chunks = merged.bins.entry(bin).or_default();
                for _ in 0..n_chunk {
                    chunks.push((shift.apply(input.u64()?)?, shift.apply(input.u64()?)?));
                }
            }
            let n_intv = input.count("n_intv")?;
            input.check_room(n_intv, 8)?;
            if merged.windows.len() < n_intv {
                merged.windows.resize(n_intv, 0);
            }
            for window in &mut merged.windows[..n_intv] {
                let vo = input.u64()?;
                if vo != 0 {
                    let vo = shift.apply(vo)?;
                    *window = if *window == 0 { vo } else { (*window).min(vo) };
                }
            }
        }
        match input.bytes.len() - input.at {
            0 => {}
            8 => {
                let n = input.u64()?;
                self.n_no_coor = Some(self.n_no_coor.unwrap_or(0).saturating_add(n));
            }
            n => return Err(bad(format_args!("{n} bytes after the last reference"))),
        }
        Ok(())
    }

    /// The merged index's bytes. Fails only when a count no longer fits the format's `i32`.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        let refs = self.refs.unwrap_or_default();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_count(&mut out, refs.len())?;
        for reference in refs {
            put_count(&mut out, reference.bins.len() + usize::from(reference.span.is_some()))?;
            for (bin, chunks) in &reference.bins {
                out.extend_from_slice(&bin.to_le_bytes());
                put_count(&mut out, chunks.len())?;
                for &(beg, end) in chunks {
                    out.extend_from_slice(&beg.to_le_bytes());
                    out.extend_from_slice(&end.to_le_bytes());
                }
            }
            if let Some(span) = reference.span {
                out.extend_from_slice(&PSEUDO_BIN.to_le_bytes());
                put_count(&mut out, 2)?;
                for value in [span.beg, span.end, span.mapped, span.unmapped] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
            put_count(&mut out, reference.windows.len())?;
            let mut previous = 0;
            for vo in reference.windows {
                let vo = if vo == 0 { previous } else { vo };
                out.extend_from_slice(&vo.to_le_bytes());
                previous = vo;
            }
        }
        if let Some(n) = self.n_no_coor {
            out.extend_from_slice(&n.to_le_bytes());
        }
        Ok(out)
    }
}

/// An estimate of the compressed BAM bytes per 16 kb window, per reference (header order), from a
/// BAI's linear index. htslib gives a window without records the next window's offset, so a run
/// of windows sharing one offset ends with the window whose records start there: that last
/// window gets the bytes up to the next different offset (the reference's end offset from the
/// pseudo-bin after the last), the others 0. Grain: BGZF blocks (about 64 kB of records), so a
/// guide for weighing regions, not a measure. Cost: one parse of the index; no read of the BAM.
pub fn window_bytes(bai: &[u8]) -> io::Result<Vec<Vec<u64>>> {
    let mut merger = Merger::default();
    merger.add(bai, Shift { start: 0, end: u64::MAX >> 16, base: 0 })?;
    let refs = merger.refs.unwrap_or_default();
    Ok(refs
        .iter()
        .map(|r| {
            let end = r.span.map_or(0, |s| s.end >> 16);
            let starts: Vec<u64> = r.windows.iter().map(|&vo| vo >> 16).collect();
            (0..starts.len())
                .map(|w| match starts.get(w + 1) {
                    _ if starts[w] == 0 => 0,
                    Some(&next) if next == starts[w] => 0,
                    Some(&next) => next.saturating_sub(starts[w]),
                    None => end.saturating_sub(starts[w]),
                })
                .collect()
        })
        .collect())
}

fn put_count(out: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let n = i32::try_from(n).map_err(|_| bad(format_args!("merged count {n} exceeds the format's i32")))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// Little-endian reads over a whole index in memory; running out is `InvalidData`.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let slice = self.bytes.get(self.at..self.at.saturating_add(n)).ok_or_else(|| bad("truncated"))?;
        self.at += n;
        Ok(slice)
    }

    /// Fails early when `n` items of `size` bytes cannot follow (before allocating for them).
    fn check_room(&self, n: usize, size: usize) -> io::Result<()> {
        if n.saturating_mul(size) > self.bytes.len() - self.at { Err(bad("truncated")) } else { Ok(()) }
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// An `i32` count, which must not be negative.
    fn count(&mut self, what: &str) -> io::Result<usize> {
        let b = self.take(4)?;
        let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        usize::try_from(n).map_err(|_| bad(format_args!("negative {what} ({n})")))
    }
}
