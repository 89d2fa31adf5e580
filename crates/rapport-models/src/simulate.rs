//! Deterministic simulation from known parameters, for tests and benchmark data.

use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use crate::bgnbd::BgNbdParams;
use crate::gamma_gamma::GammaGammaParams;
use crate::summary::{History, Purchase, TimeUnit};

/// Simulates one BG/NBD history per entry of `ages` (observation lengths, model unit).
///
/// Invalid parameters (not positive) yield an empty vector.
pub fn simulate_bgnbd_histories<R: Rng + ?Sized>(params: &BgNbdParams, ages: &[f64], rng: &mut R) -> Vec<History> {
    let Some(draws) = Draws::new(params) else {
        return Vec::new();
    };
    ages.iter()
        .map(|&age| {
            let (mut frequency, mut recency) = (0, 0.0);
            draws.walk(age, rng, |t| {
                frequency += 1;
                recency = t;
            });
            History {
                frequency,
                recency,
                age,
            }
        })
        .collect()
}

/// Who is simulated and over which days, for [`simulate_purchases`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulationPlan {
    /// Number of customers, numbered 0..customers.
    pub customers: u32,
    /// First day a customer can make its first purchase.
    pub acquisition_start: i32,
    /// Last day a customer can make its first purchase.
    pub acquisition_end: i32,
    /// Last day of the simulated log.
    pub end_day: i32,
    /// Time unit the model parameters are expressed in.
    pub unit: TimeUnit,
}

/// Simulates a purchase log: customers acquired uniformly over the acquisition days,
/// buying by BG/NBD until the end day, each purchase's amount drawn by Gamma-Gamma
/// (rounded to cents).
pub fn simulate_purchases<R: Rng + ?Sized>(
    params: &BgNbdParams,
    spend: &GammaGammaParams,
    plan: &SimulationPlan,
    rng: &mut R,
) -> Vec<Purchase> {
    let (Some(draws), Ok(rates)) = (Draws::new(params), Gamma::new(spend.q, 1.0 / spend.gamma)) else {
        return Vec::new();
    };
    let unit_days = plan.unit.days();
    let mut log = Vec::new();
    let mut repeats = Vec::new();
    for customer in 0..plan.customers {
        let start = rng.random_range(plan.acquisition_start..=plan.acquisition_end);
        let Ok(amounts) = Gamma::new(spend.p, 1.0 / rates.sample(rng)) else {
            continue;
        };
        let amount = |rng: &mut R| (amounts.sample(rng) * 100.0).round() / 100.0;
        log.push(Purchase {
            customer,
            day: start,
            amount: amount(rng),
        });
        let age = f64::from(plan.end_day - start) / unit_days;
        repeats.clear();
        draws.walk(age, rng, |t| repeats.push(t));
        for &t in &repeats {
            let day = start + (t * unit_days).floor() as i32;
            log.push(Purchase {
                customer,
                day,
                amount: amount(rng),
            });
        }
    }
    log
}

/// The population distributions of BG/NBD.
struct Draws {
    rates: Gamma<f64>,
    dropouts: Beta<f64>,
}

impl Draws {
    fn new(p: &BgNbdParams) -> Option<Self> {
        Some(Draws {
            rates: Gamma::new(p.r, 1.0 / p.alpha).ok()?,
            dropouts: Beta::new(p.a, p.b).ok()?,
        })
    }

    /// Draws one customer and calls `purchase` with each repeat purchase time up to `age`.
    fn walk<R: Rng + ?Sized>(&self, age: f64, rng: &mut R, mut purchase: impl FnMut(f64)) {
        let lambda = self.rates.sample(rng);
        let p = self.dropouts.sample(rng);
        let Ok(waits) = Exp::new(lambda) else { return };
        let mut t = 0.0;
        loop {
            t += waits.sample(rng);
            if t.is_nan() || t > age {
                return;
            }
            purchase(t);
            // BG/NBD customers can only drop out right after a repeat purchase.
            if rng.random::<f64>() < p {
                return;
            }
        }
    }
}
