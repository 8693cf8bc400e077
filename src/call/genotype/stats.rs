//! Small exact tests: Fisher's exact test for strand bias (FS) and the binomial lower tail for
//! allele balance. Exact sums over at most depth + 1 terms, with ln-factorials built per call.

fn ln_factorials(n: u64) -> Vec<f64> {
    let mut lf = Vec::with_capacity(n as usize + 1);
    let mut acc = 0.0;
    lf.push(0.0);
    for k in 1..=n {
        acc += (k as f64).ln();
        lf.push(acc);
    }
    lf
}

/// Two-sided Fisher exact p-value of the 2×2 table [[a, b], [c, d]] (rows: ref/alt, columns:
/// forward/reverse): the sum of the probabilities of all tables with the same margins that are
/// no more likely than the observed one.
pub fn fisher_exact_two_sided(t: [u64; 4]) -> f64 {
    let [a, b, c, d] = t;
    let (r1, r2, c1) = (a + b, c + d, a + c);
    let n = r1 + r2;
    if n == 0 {
        return 1.0;
    }
    let lf = ln_factorials(n);
    let fixed = lf[r1 as usize] + lf[r2 as usize] + lf[c1 as usize] + lf[(n - c1) as usize] - lf[n as usize];
    let ln_p = |x: u64| {
        let (xb, xc) = (r1 - x, c1 - x);
        let xd = r2 - xc;
        fixed - lf[x as usize] - lf[xb as usize] - lf[xc as usize] - lf[xd as usize]
    };
    let observed = ln_p(a);
    let lo = c1.saturating_sub(r2);
    let hi = r1.min(c1);
    let p: f64 = (lo..=hi).map(ln_p).filter(|&l| l <= observed + 1e-7).map(f64::exp).sum();
    p.min(1.0)
}

/// Phred-scaled Fisher strand statistic (FS).
pub fn fisher_strand(t: [u64; 4]) -> f64 {
    let p = fisher_exact_two_sided(t).max(1e-300);
    let fs = -10.0 * p.log10();
    if fs > 0.0 { fs } else { 0.0 }
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2).
pub fn binomial_half_lower_tail(k: u64, n: u64) -> f64 {
    if k >= n {
        return 1.0;
    }
    let lf = ln_factorials(n);
    let ln_half_n = n as f64 * 0.5f64.ln();
    let p: f64 = (0..=k).map(|x| (lf[n as usize] - lf[x as usize] - lf[(n - x) as usize] + ln_half_n).exp()).sum();
    p.min(1.0)
}
