//! Special functions: log-gamma wrappers, a stable softplus and the Gauss hypergeometric 2F1.

use std::f64::consts::PI;

/// Natural log of the gamma function for positive arguments.
pub fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// Digamma (derivative of `ln_gamma`) for positive arguments.
pub fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// Trigamma (derivative of `digamma`) for positive arguments.
///
/// The recurrence ψ₁(x) = ψ₁(x + 1) + 1/x² lifts x to at least 20, where the asymptotic
/// series in Bernoulli numbers is accurate to about 1e-16 relative.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let (mut z, mut lifted) = (x, 0.0);
    while z < 20.0 {
        lifted += 1.0 / (z * z);
        z += 1.0;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    let tail = r2 * (1.0 / 6.0 - r2 * (1.0 / 30.0 - r2 * (1.0 / 42.0 - r2 * (1.0 / 30.0 - r2 * 5.0 / 66.0))));
    lifted + r * (1.0 + 0.5 * r + tail)
}

/// Natural log of the beta function B(a, b) for positive arguments.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(1 + e^x) without overflow.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// 1 / (1 + e^-x) without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln(e^a + e^b) without overflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// Gauss hypergeometric function 2F1(a, b; c; z) for real parameters and real z < 1.
///
/// The power series is summed directly for 0 <= z <= 1/2; negative z is mapped into
/// (0, 1) by the Pfaff transformation, and z > 1/2 by the 1 - z connection formula
/// (Abramowitz and Stegun 15.3.6). When c - a - b is (nearly) an integer that formula
/// has cancelling poles; it is then evaluated on both sides of the integer and interpolated,
/// which is accurate to about 1e-11 relative. Returns NaN outside the domain.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if [a, b, c, z].iter().any(|v| v.is_nan()) || z >= 1.0 || is_pole(c) {
        return f64::NAN;
    }
    if z == 0.0 || a == 0.0 || b == 0.0 {
        return 1.0;
    }
    if z < 0.0 {
        // Pfaff: the argument z/(z-1) lies in (0, 1); pick the form whose series has
        // positive terms when there is one, as that sum cannot cancel.
        let w = z / (z - 1.0);
        return if c - b > 0.0 || c - a <= 0.0 {
            (1.0 - z).powf(-a) * hyp2f1_unit(a, c - b, c, w)
        } else {
            (1.0 - z).powf(-b) * hyp2f1_unit(c - a, b, c, w)
        };
    }
    hyp2f1_unit(a, b, c, z)
}

const SERIES_TOL: f64 = 1e-16;
const SERIES_MAX_TERMS: usize = 20_000;
const INTEGER_GAP: f64 = 1e-4;
/// Largest z summed directly with positive terms: about 1,800 terms at most.
const POSITIVE_SERIES_LIMIT: f64 = 0.98;

/// 2F1 for z in [0, 1).
fn hyp2f1_unit(a: f64, b: f64, c: f64, z: f64) -> f64 {
    // With positive parameters every term is positive, so the direct series is exact up
    // to rounding however slowly it converges; the connection formula can cancel badly.
    let positive = a > 0.0 && b > 0.0 && c > 0.0;
    if z <= 0.5 || is_pole(a) || is_pole(b) || (positive && z <= POSITIVE_SERIES_LIMIT) {
        return series(a, b, c, z);
    }
    let m = c - a - b;
    let offset = m - m.round();
    if offset.abs() < INTEGER_GAP {
        // Cubic Lagrange interpolation in c through points clear of the integer.
        let nodes = [-2.0, -1.0, 1.0, 2.0].map(|k| k * INTEGER_GAP);
        let mut total = 0.0;
        for (i, &ni) in nodes.iter().enumerate() {
            let basis: f64 = nodes
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &nj)| (offset - nj) / (ni - nj))
                .product();
            total += basis * near_one(a, b, c - offset + ni, z);
        }
        return total;
    }
    near_one(a, b, c, z)
}

/// Power series; exact for a terminating (non-positive integer a or b) series.
fn series(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut small_in_a_row = 0;
    for n in 0..SERIES_MAX_TERMS {
        let k = n as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term == 0.0 {
            return sum;
        }
        small_in_a_row = if term.abs() <= SERIES_TOL * sum.abs() {
            small_in_a_row + 1
        } else {
            0
        };
        if small_in_a_row >= 2 {
            return sum;
        }
    }
    f64::NAN
}

/// The 1 - z connection formula, for z in (1/2, 1) and non-integer c - a - b.
fn near_one(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let w = 1.0 - z;
    let (lc, sc) = ln_gamma_signed(c);
    let first = gamma_ratio(lc, sc, c - a - b, &[c - a, c - b]);
    let second = gamma_ratio(lc, sc, a + b - c, &[a, b]);
    let mut total = 0.0;
    if first != 0.0 {
        total += first * series(a, b, a + b - c + 1.0, w);
    }
    if second != 0.0 {
        total += second * w.powf(c - a - b) * series(c - a, c - b, c - a - b + 1.0, w);
    }
    total
}

/// Γ(c) Γ(top) / (Γ(bottom[0]) Γ(bottom[1])), given ln|Γ(c)| and its sign; 0 at a pole below.
fn gamma_ratio(ln_c: f64, sign_c: f64, top: f64, bottom: &[f64; 2]) -> f64 {
    if bottom.iter().any(|&x| is_pole(x)) {
        return 0.0;
    }
    let (lt, st) = ln_gamma_signed(top);
    let (l0, s0) = ln_gamma_signed(bottom[0]);
    let (l1, s1) = ln_gamma_signed(bottom[1]);
    sign_c * st * s0 * s1 * (ln_c + lt - l0 - l1).exp()
}

/// ln|Γ(x)| and the sign of Γ(x) for any real x that is not a pole.
fn ln_gamma_signed(x: f64) -> (f64, f64) {
    if x > 0.0 {
        return (ln_gamma(x), 1.0);
    }
    // Reflection: Γ(x) Γ(1-x) = π / sin(πx).
    let s = (PI * x).sin();
    (PI.ln() - s.abs().ln() - ln_gamma(1.0 - x), s.signum())
}

fn is_pole(x: f64) -> bool {
    x <= 0.0 && x == x.round()
}
