//! A walk over a read's CIGAR that reports what each operation means on the reference:
//! aligned bases, insertions and deletions (with their anchor: the reference base before the
//! event) and soft clips. Cost: O(CIGAR length + aligned bases).

use crate::call::types::ReadView;

/// One alignment event of a read, in reference coordinates (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Read base `read_idx` aligned to reference position `ref_pos` (M, =, X).
    Base { ref_pos: u64, read_idx: usize },
    /// Read bases `read_idx..read_idx + len` inserted after reference position `anchor`.
    Insertion { anchor: u64, read_idx: usize, len: usize },
    /// Reference bases `anchor + 1..=anchor + len` deleted; `read_idx` is the next read base.
    Deletion { anchor: u64, read_idx: usize, len: usize },
    /// `len` soft-clipped bases at a read end; `ref_pos` is the reference position where the
    /// clip meets the alignment (the first aligned base, or one past the last).
    SoftClip { ref_pos: u64, read_idx: usize, len: usize, leading: bool },
}

/// Calls `f` on each event of `read`, in read order. Anchors before position 0 are skipped.
pub fn walk(read: &ReadView, mut f: impl FnMut(Event)) {
    let mut ref_pos = read.ref_start;
    let mut read_idx = 0usize;
    for &(op, n) in &read.cigar {
        let len = n as usize;
        match op {
            0 | 7 | 8 => {
                for j in 0..len {
                    f(Event::Base { ref_pos: ref_pos + j as u64, read_idx: read_idx + j });
                }
                ref_pos += u64::from(n);
                read_idx += len;
            }
            1 => {
                if ref_pos > 0 && len > 0 {
                    f(Event::Insertion { anchor: ref_pos - 1, read_idx, len });
                }
                read_idx += len;
            }
            2 | 3 => {
                if op == 2 && ref_pos > 0 && len > 0 {
                    f(Event::Deletion { anchor: ref_pos - 1, read_idx, len });
                }
                ref_pos += u64::from(n);
            }
            4 => {
                if len > 0 {
                    f(Event::SoftClip { ref_pos, read_idx, len, leading: read_idx == 0 });
                }
                read_idx += len;
            }
            _ => {}
        }
    }
}
