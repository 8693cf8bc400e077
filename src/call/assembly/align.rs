//! Haplotype-to-reference alignment: the common prefix and suffix are trimmed, and the middle
//! is aligned globally with affine gaps (Gotoh) under weights that are event priors rather than
//! read-alignment scores: a match costs nothing, a mismatch 300, a gap 390 to open and 15 per
//! base (≈ 100 × −log10 of a SNV's prior 1e-3, an indel's 1.25e-4, and a length decay of ~0.7
//! per extra base). So the representation chosen is the likeliest set of mutations that spells
//! the haplotype: one 5-bp insertion and a SNV beat a 1-bp and a 4-bp insertion in an STR, and
//! an insertion plus a deletion beat four SNVs (GATK's read-alignment weights, 200/−150/−260/−11,
//! get the first of these wrong and the second right by a hair). Ties prefer match, then
//! deletion, then insertion, so the result is unique.
//! Cost: O(n × m) time and memory over the trimmed middle only.

/// One difference of a haplotype from the reference window, in window coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    /// Reference base at `pos` replaced by `base`.
    Mismatch { pos: usize, base: u8 },
    /// `seq` inserted before reference position `pos`.
    Insertion { pos: usize, seq: Vec<u8> },
    /// Reference bases `pos..pos + len` deleted.
    Deletion { pos: usize, len: usize },
}

const MATCH: i32 = 0;
const MISMATCH: i32 = -300;
const OPEN: i32 = -390;
const EXTEND: i32 = -30;
const NEG: i32 = i32::MIN / 4;

/// The differences of `hap` from `reference`, in reference order.
pub fn diffs(hap: &[u8], reference: &[u8]) -> Vec<Diff> {
    let prefix = hap.iter().zip(reference).take_while(|(a, b)| a == b).count();
    let max_suffix = hap.len().min(reference.len()) - prefix;
    let suffix = hap.iter().rev().zip(reference.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    let h = &hap[prefix..hap.len() - suffix];
    let r = &reference[prefix..reference.len() - suffix];
    let mut out = align_middle(h, r);
    for d in &mut out {
        match d {
            Diff::Mismatch { pos, .. } | Diff::Insertion { pos, .. } | Diff::Deletion { pos, .. } => *pos += prefix,
        }
    }
    out
}

/// Gotoh matrices: best score ending in a match/mismatch (`m`), a deletion (`d`, reference
/// consumed) or an insertion (`i`, haplotype consumed).
struct Matrices {
    cols: usize,
    m: Vec<i32>,
    d: Vec<i32>,
    i: Vec<i32>,
}

fn fill(h: &[u8], r: &[u8]) -> Matrices {
    let cols = r.len() + 1;
    let size = (h.len() + 1) * cols;
    let mut x = Matrices { cols, m: vec![NEG; size], d: vec![NEG; size], i: vec![NEG; size] };
    x.m[0] = 0;
    for j in 1..cols {
        x.d[j] = OPEN + EXTEND * (j as i32 - 1);
    }
    for a in 1..=h.len() {
        x.i[a * cols] = OPEN + EXTEND * (a as i32 - 1);
        for b in 1..cols {
            let here = a * cols + b;
            let diag = (a - 1) * cols + b - 1;
            let best_diag = x.m[diag].max(x.d[diag]).max(x.i[diag]);
            x.m[here] = best_diag + if h[a - 1] == r[b - 1] { MATCH } else { MISMATCH };
            let left = here - 1;
            x.d[here] = (x.m[left] + OPEN).max(x.d[left] + EXTEND).max(x.i[left] + OPEN);
            let up = here - cols;
            x.i[here] = (x.m[up] + OPEN).max(x.i[up] + EXTEND).max(x.d[up] + OPEN);
        }
    }
    x
}

fn align_middle(h: &[u8], r: &[u8]) -> Vec<Diff> {
    if h.is_empty() && r.is_empty() {
        return Vec::new();
    }
    let x = fill(h, r);
    let (mut a, mut b) = (h.len(), r.len());
    let at = |a: usize, b: usize| a * x.cols + b;
    // 0 match, 1 deletion, 2 insertion
    let end = at(a, b);
    let mut state = if x.m[end] >= x.d[end] && x.m[end] >= x.i[end] {
        0
    } else if x.d[end] >= x.i[end] {
        1
    } else {
        2
    };
    let mut rev: Vec<Diff> = Vec::new();
    while a > 0 || b > 0 {
        let here = at(a, b);
        match state {
            0 if a > 0 && b > 0 => {
                if h[a - 1] != r[b - 1] {
                    rev.push(Diff::Mismatch { pos: b - 1, base: h[a - 1] });
                }
                let p = at(a - 1, b - 1);
                state = if x.m[p] >= x.d[p] && x.m[p] >= x.i[p] {
                    0
                } else if x.d[p] >= x.i[p] {
                    1
                } else {
                    2
                };
                a -= 1;
                b -= 1;
            }
            1 if b > 0 => {
                push_deletion(&mut rev, b - 1);
                let p = here - 1;
                let v = x.d[here];
                state = if b > 1 && v == x.d[p] + EXTEND {
                    1
                } else if v == x.m[p] + OPEN {
                    0
                } else if v == x.i[p] + OPEN {
                    2
                } else {
                    1
                };
                b -= 1;
            }
            _ if a > 0 => {
                push_insertion(&mut rev, b, h[a - 1]);
                let p = here - x.cols;
                let v = x.i[here];
                state = if a > 1 && v == x.i[p] + EXTEND {
                    2
                } else if v == x.m[p] + OPEN {
                    0
                } else if v == x.d[p] + OPEN {
                    1
                } else {
                    2
                };
                a -= 1;
            }
            _ => {
                // Only reference bases left (a == 0): the rest is a deletion.
                push_deletion(&mut rev, b - 1);
                b -= 1;
            }
        }
    }
    rev.reverse();
    rev
}

/// Extends the deletion being traced backwards, or starts one at `pos`.
fn push_deletion(rev: &mut Vec<Diff>, pos: usize) {
    if let Some(Diff::Deletion { pos: p, len }) = rev.last_mut()
        && *p == pos + 1
    {
        *p = pos;
        *len += 1;
        return;
    }
    rev.push(Diff::Deletion { pos, len: 1 });
}

/// Extends the insertion being traced backwards (same reference position), or starts one.
fn push_insertion(rev: &mut Vec<Diff>, pos: usize, base: u8) {
    if let Some(Diff::Insertion { pos: p, seq }) = rev.last_mut()
        && *p == pos
    {
        seq.insert(0, base);
        return;
    }
    rev.push(Diff::Insertion { pos, seq: vec![base] });
}
