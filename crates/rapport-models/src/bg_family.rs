//! Likelihood and predictions shared by BG/NBD and its modified form MBG/NBD.
//!
//! Both models have Poisson purchasing with gamma-distributed rates (r, alpha) and a
//! beta-distributed (a, b) chance of dropping out after a purchase; MBG/NBD also allows
//! dropping out at time zero, which shifts b by one and applies to zero-frequency rows.

use std::ops::Range;

use crate::data::{Histories, TimeTables};
use crate::fit::Objective;
use crate::parallel::map_reduce;
use crate::special::{digamma, hyp2f1, ln_beta, ln_gamma, trigamma};
use crate::summary::History;

/// Which member of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Fader, Hardie and Lee (2005): dropout only after a repeat purchase.
    Bg,
    /// Batislam, Denizel and Filiztekin (2007): dropout also possible at the first purchase.
    Mbg,
}

/// Parameters in the order r, alpha, a, b.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Family {
    pub variant: Variant,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl Family {
    /// Extra b offset of the variant in the beta terms.
    fn shift(&self) -> f64 {
        match self.variant {
            Variant::Bg => 0.0,
            Variant::Mbg => 1.0,
        }
    }

    /// Probability the customer is alive at the end of calibration.
    ///
    /// 1 / (1 + odds of having dropped out at the last purchase); the odds overflow to
    /// infinity (P(alive) 0) rather than to NaN, so one power suffices per customer.
    pub fn p_alive(&self, h: &History) -> f64 {
        let x = f64::from(h.frequency);
        let den = match self.variant {
            Variant::Bg if h.frequency == 0 => return 1.0,
            Variant::Bg => self.b + x - 1.0,
            Variant::Mbg => self.b + x,
        };
        let ratio = (self.alpha + h.age) / (self.alpha + h.recency);
        1.0 / (1.0 + self.a / den * ratio.powf(self.r + x))
    }

    /// Expected purchases in (T, T + t] given alive at T.
    pub fn expected_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64 {
        if let Some((below, above)) = self.straddle_a_equal_one() {
            let mean = below.expected_if_alive(frequency, age, t);
            return 0.5 * (mean + above.expected_if_alive(frequency, age, t));
        }
        let x = f64::from(frequency);
        let (r, a, b, s) = (self.r + x, self.a, self.b + x, self.shift());
        let z = t / (self.alpha + age + t);
        let decay = ((self.alpha + age) / (self.alpha + age + t)).powf(r);
        let c = a + b + s - 1.0;
        (c / (a - 1.0)) * (1.0 - decay * hyp2f1(r, b + s, c, z))
    }

    /// Expected purchases of a new customer in its first t.
    pub fn expected_new(&self, t: f64) -> f64 {
        if let Some((below, above)) = self.straddle_a_equal_one() {
            return 0.5 * (below.expected_new(t) + above.expected_new(t));
        }
        let s = self.shift();
        let lead = match self.variant {
            Variant::Bg => (self.a + self.b - 1.0) / (self.a - 1.0),
            Variant::Mbg => self.b / (self.a - 1.0),
        };
        let z = t / (self.alpha + t);
        let decay = (self.alpha / (self.alpha + t)).powf(self.r);
        lead * (1.0 - decay * hyp2f1(self.r, self.b + s, self.a + self.b + s - 1.0, z))
    }

    /// The expectations divide by a - 1 although they are smooth at a = 1; there they are
    /// the mean of the values just either side.
    fn straddle_a_equal_one(&self) -> Option<(Family, Family)> {
        const GAP: f64 = 1e-6;
        let below = Family { a: 1.0 - GAP, ..*self };
        let above = Family { a: 1.0 + GAP, ..*self };
        ((self.a - 1.0).abs() < GAP / 2.0).then_some((below, above))
    }

    /// Probability of exactly `n` repeat purchases in a new customer's first `t`.
    pub fn prob_n_new(&self, n: u32, t: f64) -> f64 {
        let (r, a, b, s) = (self.r, self.a, self.b, self.shift());
        let nf = f64::from(n);
        let (ln_p, ln_q) = ((self.alpha / (self.alpha + t)).ln(), (t / (self.alpha + t)).ln());
        // Negative-binomial probability of j purchases while alive.
        let nbd = |j: f64| {
            let power = if j > 0.0 { j * ln_q } else { 0.0 };
            (ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + r * ln_p + power).exp()
        };
        let base = ln_beta(a, b);
        let still_alive = (ln_beta(a, b + nf + s) - base).exp() * nbd(nf);
        if n == 0 && self.variant == Variant::Bg {
            return still_alive;
        }
        let below: f64 = (0..n).map(|j| nbd(f64::from(j))).sum();
        let dropped = (ln_beta(a + 1.0, b + nf - 1.0 + s) - base).exp() * (1.0 - below);
        still_alive + dropped
    }

    /// Probability of exactly `n` purchases in the next `t` for a customer with `h`.
    ///
    /// Alive now, the customer restarts a BG/NBD process (no dropout before its next
    /// purchase) with the posterior parameters r + x, alpha + T, a, b + x (+ 1 for MBG);
    /// dropped out, it makes none.
    pub fn prob_n(&self, h: &History, n: u32, t: f64) -> f64 {
        let x = f64::from(h.frequency);
        let posterior = Family {
            variant: Variant::Bg,
            r: self.r + x,
            alpha: self.alpha + h.age,
            a: self.a,
            b: self.b + x + self.shift(),
        };
        let p = self.p_alive(h);
        let dead = if n == 0 { 1.0 - p } else { 0.0 };
        p * posterior.prob_n_new(n, t) + dead
    }

    /// Median of the time to the next purchase (see [`crate::CustomerModel`]); closed form.
    pub fn median_time_to_next_purchase(&self, h: &History) -> Option<f64> {
        self.median_given_p_alive(h, self.p_alive(h))
    }

    /// The median of [`Family::median_time_to_next_purchase`] from a known P(alive) `p`.
    pub fn median_given_p_alive(&self, h: &History, p: f64) -> Option<f64> {
        if p <= 0.5 {
            return None;
        }
        let shape = self.r + f64::from(h.frequency);
        Some((self.alpha + h.age) * ((1.0 - 0.5 / p).powf(-1.0 / shape) - 1.0))
    }
}

/// Log-likelihood of grouped histories, with analytic gradient.
pub(crate) struct FamilyObjective<'a> {
    pub data: &'a Histories,
    pub variant: Variant,
}

/// ln(alpha + t) and 1 / (alpha + t) for every distinct age and recency.
struct TimeLogs {
    age: Vec<(f64, f64)>,
    recency: Vec<(f64, f64)>,
}

impl TimeLogs {
    fn new(times: &TimeTables, alpha: f64) -> Self {
        let table = |ts: &[f64]| ts.iter().map(|t| ((alpha + t).ln(), 1.0 / (alpha + t))).collect();
        TimeLogs {
            age: table(&times.ages),
            recency: table(&times.recencies),
        }
    }
}

/// Log-likelihood, gradient and Hessian (upper triangle) in parameter order r, alpha, a, b.
#[derive(Default)]
struct Acc {
    ll: f64,
    g: [f64; 4],
    h: [[f64; 4]; 4],
}

impl Acc {
    fn merge(mut self, other: Acc) -> Acc {
        self.ll += other.ll;
        self.g.iter_mut().zip(other.g).for_each(|(a, b)| *a += b);
        for (row, other_row) in self.h.iter_mut().zip(other.h) {
            row.iter_mut().zip(other_row).for_each(|(a, b)| *a += b);
        }
        self
    }
}

/// Weighted sums over the rows of one frequency group.
///
/// Each row contributes -(r + x) ln(α + T) and, when it can have dropped out,
/// softplus(d) with d = ln a - ln(b + x - 1) + (r + x)(ln(α + T) - ln(α + t_x)); with
/// σ = sigmoid(d) the derivatives are σ ∂d and σ ∂²d + σ(1 - σ) ∂d ∂dᵀ, and ∂d involves
/// the row only through ln and 1/(α + t) differences, so these sums are all it takes.
#[derive(Default)]
struct GroupSums {
    weight: f64,
    /// Σ w ln(α + T), Σ w / (α + T), Σ w / (α + T)².
    age_ln: f64,
    age_inv: f64,
    age_inv2: f64,
    /// Σ w softplus(d).
    softplus: f64,
    /// Σ w σ, times 1, Δln, Δinv, Δinv² (Δ: age term minus recency term).
    s: f64,
    s_ln: f64,
    s_inv: f64,
    s_inv2: f64,
    /// Σ w σ(1 - σ), times 1, Δln, Δinv, Δln², Δln Δinv, Δinv².
    c: f64,
    c_ln: f64,
    c_inv: f64,
    c_ln2: f64,
    c_ln_inv: f64,
    c_inv2: f64,
}

impl FamilyObjective<'_> {
    /// Sums the rows `range` of the data, all of frequency `x`.
    fn group_sums(&self, f: &Family, x: u32, range: Range<usize>, logs: &TimeLogs) -> GroupSums {
        let xf = f64::from(x);
        let rx = f.r + xf;
        let branch = x > 0 || f.variant == Variant::Mbg;
        let ln_a_den = f.a.ln() - (f.b + xf + f.shift() - 1.0).ln();
        let rows = &self.data.rows()[range.clone()];
        let index = &self.data.times().index[range];
        let mut t = GroupSums::default();
        for (row, &(ai, ri)) in rows.iter().zip(index) {
            let w = row.weight;
            let (l_big, inv_big) = logs.age[ai as usize];
            t.weight += w;
            t.age_ln += w * l_big;
            t.age_inv += w * inv_big;
            t.age_inv2 += w * inv_big * inv_big;
            if branch {
                let (l_small, inv_small) = logs.recency[ri as usize];
                let (dl, di) = (l_big - l_small, inv_big - inv_small);
                let d = ln_a_den + rx * dl;
                let e = (-d.abs()).exp();
                let inv = 1.0 / (1.0 + e);
                let ws = w * if d >= 0.0 { inv } else { e * inv };
                let wc = w * e * inv * inv;
                t.softplus += w * (d.max(0.0) + e.ln_1p());
                t.s += ws;
                t.s_ln += ws * dl;
                t.s_inv += ws * di;
                t.s_inv2 += ws * (inv_big * inv_big - inv_small * inv_small);
                t.c += wc;
                t.c_ln += wc * dl;
                t.c_inv += wc * di;
                t.c_ln2 += wc * dl * dl;
                t.c_ln_inv += wc * dl * di;
                t.c_inv2 += wc * di * di;
            }
        }
        t
    }

    /// Adds the per-row terms of one frequency group, from its sums.
    fn add_rows(f: &Family, x: u32, t: &GroupSums, acc: &mut Acc) {
        let rx = f.r + f64::from(x);
        let (a, den) = (f.a, f.b + f64::from(x) + f.shift() - 1.0);
        acc.ll -= rx * t.age_ln;
        acc.g[0] -= t.age_ln;
        acc.g[1] -= rx * t.age_inv;
        acc.h[0][1] -= t.age_inv;
        acc.h[1][1] += rx * t.age_inv2;
        if x == 0 && f.variant == Variant::Bg {
            // No dropout term; b + x - 1 may be zero.
            return;
        }
        acc.ll += t.softplus;
        acc.g[0] += t.s_ln;
        acc.g[1] += rx * t.s_inv;
        acc.g[2] += t.s / a;
        acc.g[3] -= t.s / den;
        let h = &mut acc.h;
        h[0][0] += t.c_ln2;
        h[0][1] += rx * t.c_ln_inv + t.s_inv;
        h[0][2] += t.c_ln / a;
        h[0][3] -= t.c_ln / den;
        h[1][1] += rx * rx * t.c_inv2 - rx * t.s_inv2;
        h[1][2] += rx * t.c_inv / a;
        h[1][3] -= rx * t.c_inv / den;
        h[2][2] += (t.c - t.s) / (a * a);
        h[2][3] -= t.c / (a * den);
        h[3][3] += (t.c + t.s) / (den * den);
    }

    /// Log-likelihood, gradient and Hessian terms of some frequency groups.
    fn accumulate(&self, f: &Family, logs: &TimeLogs, groups: &[(u32, Range<usize>)]) -> Acc {
        let mut acc = Acc::default();
        for (x, range) in groups {
            let sums = self.group_sums(f, *x, range.clone(), logs);
            Self::add_rows(f, *x, &sums, &mut acc);
            Self::add_frequency_terms(f, *x, sums.weight, &mut acc);
        }
        acc
    }

    /// Adds the terms that depend only on the frequency, once per group.
    fn add_frequency_terms(f: &Family, x: u32, weight: f64, acc: &mut Acc) {
        let xf = f64::from(x);
        let (rx, bx, abx) = (f.r + xf, f.b + xf + f.shift(), f.a + f.b + xf + f.shift());
        acc.ll += weight * (ln_gamma(rx) + ln_gamma(bx) - ln_gamma(abx));
        acc.g[0] += weight * digamma(rx);
        acc.g[2] -= weight * digamma(abx);
        acc.g[3] += weight * (digamma(bx) - digamma(abx));
        let t_abx = weight * trigamma(abx);
        acc.h[0][0] += weight * trigamma(rx);
        acc.h[2][2] -= t_abx;
        acc.h[2][3] -= t_abx;
        acc.h[3][3] += weight * trigamma(bx) - t_abx;
    }

    /// The whole log-likelihood with gradient and Hessian at `theta`.
    fn evaluate(&self, theta: &[f64]) -> Acc {
        let f = Family {
            variant: self.variant,
            r: theta[0],
            alpha: theta[1],
            a: theta[2],
            b: theta[3],
        };
        let logs = TimeLogs::new(self.data.times(), f.alpha);
        let groups = self.data.by_frequency();
        let work = |part: &[(u32, Range<usize>)]| self.accumulate(&f, &logs, part);
        let mut acc = map_reduce(groups, |g| g.1.len(), work, Acc::merge);
        let w = self.data.customers();
        let ab = f.a + f.b;
        acc.ll += w * (ln_gamma(ab) - ln_gamma(f.b) - ln_gamma(f.r) + f.r * f.alpha.ln());
        acc.g[0] += w * (f.alpha.ln() - digamma(f.r));
        acc.g[1] += w * f.r / f.alpha;
        acc.g[2] += w * digamma(ab);
        acc.g[3] += w * (digamma(ab) - digamma(f.b));
        let t_ab = w * trigamma(ab);
        acc.h[0][0] -= w * trigamma(f.r);
        acc.h[0][1] += w / f.alpha;
        acc.h[1][1] -= w * f.r / (f.alpha * f.alpha);
        acc.h[2][2] += t_ab;
        acc.h[2][3] += t_ab;
        acc.h[3][3] += t_ab - w * trigamma(f.b);
        acc
    }
}

impl Objective for FamilyObjective<'_> {
    fn log_likelihood(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let acc = self.evaluate(theta);
        if let Some(g) = grad {
            g.copy_from_slice(&acc.g);
        }
        acc.ll
    }

    fn has_gradient(&self) -> bool {
        true
    }

    fn with_hessian(&self, theta: &[f64], grad: &mut [f64], hessian: &mut [f64]) -> Option<f64> {
        let acc = self.evaluate(theta);
        grad.copy_from_slice(&acc.g);
        for i in 0..4 {
            for j in 0..4 {
                hessian[i * 4 + j] = acc.h[i.min(j)][i.max(j)];
            }
        }
        Some(acc.ll)
    }

    fn names(&self) -> &'static [&'static str] {
        &["r", "alpha", "a", "b"]
    }

    fn weight(&self) -> f64 {
        self.data.customers()
    }
}

/// A starting point scaled to the data: rate near the observed repeat rate, neutral dropout.
pub(crate) fn starting_point(data: &Histories) -> [f64; 4] {
    let (mut xs, mut ts) = (0.0, 0.0);
    for row in data.rows() {
        xs += row.weight * f64::from(row.history.frequency);
        ts += row.weight * row.history.age;
    }
    let alpha = if xs > 0.0 { (ts / xs).clamp(1e-3, 1e6) } else { 1.0 };
    [1.0, alpha, 1.0, 1.0]
}
