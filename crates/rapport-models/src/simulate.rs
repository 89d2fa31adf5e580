//! Deterministic simulation from known parameters, for tests and benchmark data.

use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use crate::bgnbd::BgNbdParams;
use crate::gamma_gamma::GammaGammaParams;
use crate::summary::{History, Purchase, TimeUnit};

/// Simulates one BG/NBD history per entry of `ages` (observation lengths, model unit).
///
/// Invalid parameters (not positive) yield an empty vector.
pub fn simulate_bgnbd_histories<R: Rng + ?Sized>(
    params: &BgNbdParams,
    ages: &[f64],
    rng: &mut R,
) -> Vec<History> {
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

/// Simulates a purchase log: `customers` customers acquired uniformly over
/// `first_day..=last_day`, buying by BG/NBD (in `unit`) until `last_day`, each purchase's
/// amount drawn by Gamma-Gamma. Customers are numbered 0..customers.
pub fn simulate_purchases<R: Rng + ?Sized>(
    params: &BgNbdParams,
    spend: &GammaGammaParams,
    customers: u32,
    (first_day, last_day): (i32, i32),
    unit: TimeUnit,
    rng: &mut R,
) -> Vec<Purchase> {
    let (Some(draws), Ok(rates)) = (Draws::new(params), Gamma::new(spend.q, 1.0 / spend.gamma))
    else {
        return Vec::new();
    };
    let mut log = Vec::new();
    for customer in 0..customers {
        let start = rng.random_range(first_day..=last_day);
        let nu = rates.sample(rng);
        let Ok(amounts) = Gamma::new(spend.p, 1.0 / nu) else {
            continue;
        };
        let amount = |rng: &mut R| (amounts.sample(rng) * 100.0).round() / 100.0;
        log.push(Purchase {
            customer,
            day: start,
            amount: amount(rng),
        });
        let age = f64::from(last_day - start) / unit.days();
        let mut repeats = Vec::new();
        draws.walk(age, rng, |t| repeats.push(t));
        for t in repeats {
            let day = start + (t * unit.days()).floor() as i32;
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
            if !(t <= age) {
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
