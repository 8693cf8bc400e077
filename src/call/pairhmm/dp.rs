//! The forward recursion of the three-state pair-HMM, in scaled f64 probabilities.
//!
//! Per read base (a DP row) three passes over the columns, each free of loop-carried
//! dependencies so that they compile to SIMD: match and insertion cells need only the previous
//! row; the deletion cells run along the row, `d[c] = a[c−1] + e·d[c−1]` with
//! `a[c] = gap_open[c]·m[c]` and `e` the gap extension, which is unrolled four columns at a time
//! (`d[c] = a[c−1] + e·a[c−2] + e²·a[c−3] + e³·a[c−4] + e⁴·d[c−4]`): the four-term sums are
//! independent per column, and the remaining recurrence advances four independent lanes per step.

use std::ops::Range;

use super::PairHmmConfig;
use super::context::boundary_gap_open_phred;

/// Rows between rescaling passes: one row multiplies the largest cell by at least ~1e-5, so
/// eight rows stay far from underflow; the pass also flushes cells 1e-200 below the row's
/// maximum to zero so that no subnormal number ever slows the arithmetic.
const RESCALE_EVERY: usize = 8;
const FLUSH_BELOW: f64 = 1e-200;
/// Per read base hanging past either haplotype end: a random base (1/4), no gap-open cost,
/// the same on every haplotype of a region (they all span the same reference interval).
pub const OVERHANG_BASE_PROBABILITY: f64 = 0.25;
/// Leading zeros of the deletion scratch row (`a[c − 4]` exists for every column); also the
/// number of independent lanes of the deletion recurrence.
const LANES: usize = 4;

/// A haplotype with its transition tables, built once and scored against many reads.
#[derive(Debug, Clone)]
pub struct PreparedHaplotype {
    bases: Vec<u8>,
    /// Per boundary c in 0..=n: gap-open probability (insertion and deletion alike).
    gap_open: Vec<f64>,
    /// Per boundary: match → match, 1 − 2 × gap open.
    match_to_match: Vec<f64>,
    /// Per read base code (A, C, G, T, other) and haplotype position: 1.0 where the read base
    /// counts as a match (equal bases, or N on either side), else 0.0.
    match_masks: Vec<f64>,
}

impl PreparedHaplotype {
    pub fn new(bases: &[u8]) -> Self {
        let bases: Vec<u8> = bases.iter().map(u8::to_ascii_uppercase).collect();
        let gap_open: Vec<f64> = boundary_gap_open_phred(&bases).into_iter().map(|q| 10f64.powf(-q / 10.0)).collect();
        let match_to_match = gap_open.iter().map(|g| 1.0 - 2.0 * g).collect();
        let match_masks = [b'A', b'C', b'G', b'T', b'N']
            .iter()
            .flat_map(|&r| bases.iter().map(move |&h| f64::from(u8::from(h == r || r == b'N' || h == b'N'))))
            .collect();
        PreparedHaplotype { bases, gap_open, match_to_match, match_masks }
    }

    fn match_mask(&self, read_base: u8) -> &[f64] {
        let code = match read_base.to_ascii_uppercase() {
            b'A' => 0,
            b'C' => 1,
            b'G' => 2,
            b'T' => 3,
            _ => 4,
        };
        let n = self.bases.len();
        &self.match_masks[code * n..(code + 1) * n]
    }

    pub fn len(&self) -> usize {
        self.bases.len()
    }

    /// Whether columns `cols` of `self` and `other_cols` of `other` score every read alike:
    /// equal bases and equal gap-open rates on every boundary (after clamping as the DP does).
    pub fn same_window(&self, cols: Range<usize>, other: &PreparedHaplotype, other_cols: Range<usize>) -> bool {
        let (lo, hi) = clamp_window(cols, self.len());
        let (olo, ohi) = clamp_window(other_cols, other.len());
        hi - lo == ohi - olo
            && self.bases[lo..hi] == other.bases[olo..ohi]
            && self.gap_open[lo..=hi] == other.gap_open[olo..=ohi]
    }

    pub fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }
}

/// Reusable DP rows and per-quality emission tables; one per thread.
#[derive(Debug, Clone)]
pub struct PairHmm {
    gap_continue: f64,
    gap_close: f64,
    /// Per Phred 0..=93: (P(match emission), P(specific mismatch emission)).
    emission: Vec<(f64, f64)>,
    /// Previous and current match, insertion, deletion rows; then the deletion scratch rows.
    rows: [Vec<f64>; 8],
}

impl PairHmm {
    pub fn new(config: &PairHmmConfig) -> Self {
        let lo = config.min_base_qual.min(config.max_base_qual);
        let emission = (0u8..=93)
            .map(|q| {
                let q = q.clamp(lo, config.max_base_qual);
                let err = 10f64.powf(-f64::from(q) / 10.0);
                (1.0 - err, err / 3.0)
            })
            .collect();
        let gap_continue = 10f64.powf(-config.gap_extension_phred / 10.0);
        PairHmm { gap_continue, gap_close: 1.0 - gap_continue, emission, rows: Default::default() }
    }

    /// log10 P(read | haplotype): the read aligned end to end (globally), starting and ending
    /// anywhere on the haplotype at no cost. Read bases beyond a haplotype end are insertions.
    pub fn log10_likelihood(&mut self, bases: &[u8], quals: &[u8], hap: &PreparedHaplotype) -> f64 {
        self.log10_likelihood_in(bases, quals, hap, 0..hap.len())
    }

    /// As [`Self::log10_likelihood`], with the read confined to the haplotype columns `cols`
    /// (clamped to the haplotype): the window's ends act as the haplotype's ends.
    pub fn log10_likelihood_in(
        &mut self,
        bases: &[u8],
        quals: &[u8],
        hap: &PreparedHaplotype,
        cols: Range<usize>,
    ) -> f64 {
        let (lo, hi) = clamp_window(cols, hap.len());
        let n = hi - lo;
        if n == 0 {
            return bases.len() as f64 * OVERHANG_BASE_PROBABILITY.log10();
        }
        if bases.is_empty() {
            return 0.0;
        }
        let gap_open = &hap.gap_open[lo..=hi];
        let match_to_match = &hap.match_to_match[lo..=hi];
        let [mp, ip, dp, mc, ic, dc, scratch_a, scratch_b] = &mut self.rows;
        for row in [&mut *mp, &mut *ip, &mut *dp, &mut *mc, &mut *ic, &mut *dc] {
            row.clear();
            row.resize(n + 1, 0.0);
        }
        scratch_a.clear();
        scratch_a.resize(n + LANES, 0.0);
        scratch_b.clear();
        scratch_b.resize(n + 1, 0.0);
        // Row 0: the read may start matching at any haplotype base (free start, weight 1).
        // Starting past the last base would let a read skip the haplotype entirely.
        mp.fill(1.0);
        mp[n] = 0.0;
        let mut log10_scale = 0.0;
        let (g_ext, g_close) = (self.gap_continue, self.gap_close);
        let (e1, e2, e3) = (g_ext, g_ext * g_ext, g_ext * g_ext * g_ext);
        let e4 = e2 * e2;
        for (i, &base) in bases.iter().enumerate() {
            let q = quals.get(i).copied().unwrap_or(0).min(93);
            let (e_match, e_mis) = self.emission[usize::from(q)];
            let mask = &hap.match_mask(base)[lo..hi];
            let diff = e_match - e_mis;
            // Match: previous row, diagonal.
            let prev = mp[..n].iter().zip(&ip[..n]).zip(&dp[..n]);
            let terms = prev.zip(&match_to_match[..n]).zip(mask);
            for (out, ((((&m, &ins), &del), &mm), &hit)) in mc[1..].iter_mut().zip(terms) {
                *out = (e_mis + diff * hit) * (mm * m + g_close * (ins + del));
            }
            mc[0] = 0.0;
            // Insertion: previous row, same column; the ends emit overhanging bases.
            let vert = mp[1..n].iter().zip(&ip[1..n]).zip(&gap_open[1..n]);
            for (out, ((&m, &ins), &go)) in ic[1..n].iter_mut().zip(vert) {
                *out = go * m + g_ext * ins;
            }
            ic[0] = OVERHANG_BASE_PROBABILITY * (mp[0] + ip[0]);
            ic[n] = OVERHANG_BASE_PROBABILITY * (mp[n] + ip[n]);
            // Deletion: a[c] = gap_open[c]·m[c] at scratch_a[c + 4]; four-term sums per column.
            for (out, (&go, &m)) in scratch_a[LANES..].iter_mut().zip(gap_open[..n].iter().zip(&mc[..n])) {
                *out = go * m;
            }
            // For column c = t + 1: a[c − 1] = scratch_a[t + 4], ..., a[c − 4] = scratch_a[t + 1].
            let shifted = scratch_a[4..4 + n]
                .iter()
                .zip(&scratch_a[3..3 + n])
                .zip(&scratch_a[2..2 + n])
                .zip(&scratch_a[1..1 + n]);
            for (out, (((&a1, &a2), &a3), &a4)) in scratch_b[1..].iter_mut().zip(shifted) {
                *out = a1 + e1 * a2 + e2 * a3 + e3 * a4;
            }
            deletion_lanes(&mut dc[1..], &scratch_b[1..], e4);
            dc[0] = 0.0;
            if (i + 1) % RESCALE_EVERY == 0 {
                log10_scale += rescale(mc, ic, dc);
            }
            std::mem::swap(mp, mc);
            std::mem::swap(ip, ic);
            std::mem::swap(dp, dc);
        }
        // After the last swap the final row lives in mp/ip.
        // Column 0 holds reads that never entered the haplotype: not an alignment.
        let total: f64 = mp[1..].iter().zip(ip[1..].iter()).map(|(m, i)| m + i).sum();
        if total > 0.0 { total.log10() + log10_scale } else { f64::MIN_POSITIVE.log10() + log10_scale }
    }
}

/// `d[c] = b[c] + e4·d[c − 4]` (zero before the row): four independent lanes, one vector
/// register where AVX is compiled in (the release profile pins x86-64-v3), scalar otherwise;
/// both do the same multiply then add per lane, so they give the same bits.
fn deletion_lanes(d: &mut [f64], b: &[f64], e4: f64) {
    let n = d.len().min(b.len());
    let whole = n / LANES * LANES;
    let mut lanes = [0.0f64; LANES];
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    {
        use std::arch::x86_64::{_mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_storeu_pd};
        // SAFETY: AVX is enabled at compile time (cfg above); every load and store reads or
        // writes four f64 at an offset c with c + 4 ≤ whole ≤ len of both slices.
        unsafe {
            let factor = _mm256_set1_pd(e4);
            let mut acc = _mm256_loadu_pd(lanes.as_ptr());
            let mut c = 0;
            while c < whole {
                let sum = _mm256_loadu_pd(b.as_ptr().add(c));
                acc = _mm256_add_pd(sum, _mm256_mul_pd(factor, acc));
                _mm256_storeu_pd(d.as_mut_ptr().add(c), acc);
                c += LANES;
            }
            _mm256_storeu_pd(lanes.as_mut_ptr(), acc);
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
    for (out, sum) in d[..whole].chunks_exact_mut(LANES).zip(b[..whole].chunks_exact(LANES)) {
        for l in 0..LANES {
            lanes[l] = sum[l] + e4 * lanes[l];
            out[l] = lanes[l];
        }
    }
    for l in 0..n - whole {
        d[whole + l] = b[whole + l] + e4 * lanes[l];
    }
}

/// A column window clamped to a haplotype of `len` bases, as (start, end) with start ≤ end.
fn clamp_window(cols: Range<usize>, len: usize) -> (usize, usize) {
    let lo = cols.start.min(len);
    (lo, cols.end.clamp(lo, len))
}

/// Divide the row by its maximum and flush negligible cells; returns log10 of the factor.
fn rescale(m: &mut [f64], i: &mut [f64], d: &mut [f64]) -> f64 {
    let max = m.iter().chain(i.iter()).chain(d.iter()).fold(0.0f64, |a, &b| a.max(b));
    if max <= 0.0 {
        return 0.0;
    }
    let inv = 1.0 / max;
    for row in [m, i, d] {
        for v in row.iter_mut() {
            let s = *v * inv;
            *v = if s < FLUSH_BELOW { 0.0 } else { s };
        }
    }
    max.log10()
}
