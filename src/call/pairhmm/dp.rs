//! The forward recursion of the three-state pair-HMM, in scaled f64 probabilities.

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
    rows: [Vec<f64>; 6],
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
        let n = hap.len();
        if n == 0 {
            return bases.len() as f64 * OVERHANG_BASE_PROBABILITY.log10();
        }
        let [mp, ip, dp, mc, ic, dc] = &mut self.rows;
        for row in [&mut *mp, &mut *ip, &mut *dp, &mut *mc, &mut *ic, &mut *dc] {
            row.clear();
            row.resize(n + 1, 0.0);
        }
        // Row 0: the read may start matching at any haplotype base (free start, weight 1).
        // Starting past the last base would let a read skip the haplotype entirely.
        mp.fill(1.0);
        mp[n] = 0.0;
        let mut log10_scale = 0.0;
        let (g_ext, g_close) = (self.gap_continue, self.gap_close);
        for (i, &base) in bases.iter().enumerate() {
            let q = quals.get(i).copied().unwrap_or(0).min(93);
            let (e_match, e_mis) = self.emission[usize::from(q)];
            mc[0] = 0.0;
            dc[0] = 0.0;
            ic[0] = OVERHANG_BASE_PROBABILITY * (mp[0] + ip[0]);
            let mask = hap.match_mask(base);
            let diff = e_match - e_mis;
            // Match and insertion need only the previous row: independent cells, vectorizable.
            let prev = mp[..n].iter().zip(&ip[..n]).zip(&dp[..n]);
            let terms = prev.zip(&hap.match_to_match[..n]).zip(mask);
            for (out, ((((&m, &ins), &del), &mm), &hit)) in mc[1..].iter_mut().zip(terms) {
                *out = (e_mis + diff * hit) * (mm * m + g_close * (ins + del));
            }
            let vert = mp[1..].iter().zip(&ip[1..]).zip(&hap.gap_open[1..]);
            for (out, ((&m, &ins), &go)) in ic[1..].iter_mut().zip(vert) {
                *out = go * m + g_ext * ins;
            }
            // Deletion runs along the row: a serial two-flop recurrence.
            let mut d = 0.0;
            for c in 1..=n {
                d = hap.gap_open[c - 1] * mc[c - 1] + g_ext * d;
                dc[c] = d;
            }
            ic[n] = OVERHANG_BASE_PROBABILITY * (mp[n] + ip[n]);
            if (i + 1) % RESCALE_EVERY == 0 {
                log10_scale += rescale(mc, ic, dc);
            }
            std::mem::swap(mp, mc);
            std::mem::swap(ip, ic);
            std::mem::swap(dp, dc);
        }
        if bases.is_empty() {
            return 0.0;
        }
        // After the last swap the final row lives in mp/ip.
        // Column 0 holds reads that never entered the haplotype: not an alignment.
        let total: f64 = mp[1..].iter().zip(ip[1..].iter()).map(|(m, i)| m + i).sum();
        if total > 0.0 { total.log10() + log10_scale } else { f64::MIN_POSITIVE.log10() + log10_scale }
    }
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
