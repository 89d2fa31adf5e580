//! A realistic synthetic business for `rapport demo`: profiles, purchases from a buy-till-you-die
//! process, spend from a gamma mixture, and some conversations (here); the staff who do the care
//! plans' tasks and the customers who respond to care (people.rs); the customers answering the
//! surveys the plans send (voice.rs) in their own words (comments.rs); the history played a day
//! at a time with the plans running (history.rs); the staff reporting back what they did about
//! the complaints heard (report_back.rs). Deterministic for a seed and end date.

mod comments;
mod history;
mod people;
mod report_back;
mod voice;

pub use history::{Played, play};
pub use people::{Completion, care_response, staff_completion};
pub use voice::DEMO_PLANS;

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use crate::domain::state::midnight;
use crate::domain::{Currency, Email, EventKind, ExternalId, Money, NewEvent};
use crate::store::NewCustomer;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Number of customers.
    pub customers: u32,
    /// Random seed: the same seed and end date give the same business.
    pub seed: u64,
    /// The last day of the generated history.
    pub end: NaiveDate,
    /// Length of the history in days.
    pub days: i64,
}

/// The generated business: profiles and, per customer, their events.
#[derive(Debug, Clone, Default)]
pub struct DemoData {
    /// One profile per customer.
    pub profiles: Vec<NewCustomer>,
    /// Events with the external id of their customer.
    pub events: Vec<(ExternalId, NewEvent)>,
}

const FIRST: [&str; 24] = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Leo", "Maya", "Noah",
    "Olivia", "Paul", "Quinn", "Rosa", "Samir", "Tara", "Uma", "Victor", "Wendy", "Yusuf",
];
const LAST: [&str; 20] = [
    "Adler", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Kowalski",
    "Lopez", "Meyer", "Novak", "Okafor", "Peters", "Rossi", "Silva", "Tanaka", "Weber",
];
const CITIES: [&str; 6] = ["Lyon", "Leeds", "Porto", "Graz", "Ghent", "Turin"];
const CHANNELS: [&str; 4] = ["phone", "email", "visit", "chat"];
const NOTES: [&str; 6] = [
    "asked about delivery times",
    "wanted advice on a gift",
    "complained about a late parcel",
    "praised the packaging",
    "asked for a product in another size",
    "enquired about the loyalty card",
];

/// Generates the demo business.
pub fn generate(config: &DemoConfig) -> DemoData {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (start, end) = bounds(config);
    let mut data = DemoData::default();
    // Heterogeneity as in BG/NBD: purchase rates from a gamma, drop-out chances from a beta.
    let rate = Gamma::new(1.3, 1.0 / 45.0).expect("valid gamma");
    let dropout = Beta::new(0.9, 3.0).expect("valid beta");
    for i in 1..=config.customers {
        let ext = ExternalId::parse(&format!("D{i:05}")).expect("demo ids are D and five digits");
        data.profiles.push(profile(&mut rng, &ext, i, start));
        let kind: f64 = rng.random();
        if kind < 0.72 {
            let (lambda, p) = (rate.sample(&mut rng), dropout.sample(&mut rng));
            buyer(&mut rng, &ext, start, end, lambda, p, &mut data.events);
        }
        if (0.72..0.87).contains(&kind) || rng.random_bool(0.25) {
            conversations(&mut rng, &ext, start, end, &mut data.events);
        }
    }
    data
}

/// The history's first and last second (Unix seconds): `days` days ending with the end date.
fn bounds(config: &DemoConfig) -> (i64, i64) {
    let end = midnight(config.end) + 86_399;
    (end - config.days * 86_400, end)
}

fn profile(rng: &mut StdRng, ext: &ExternalId, i: u32, start: i64) -> NewCustomer {
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let mut attributes = serde_json::Map::new();
    attributes.insert("city".into(), CITIES[rng.random_range(0..CITIES.len())].into());
    let email = format!("{}.{}{i}@example.com", first.to_lowercase(), last.to_lowercase());
    NewCustomer {
        external_id: ext.clone(),
        name: Some(format!("{first} {last}")),
        email: Some(Email::parse(&email).expect("demo addresses are plain ASCII names at example.com")),
        phone: Some(format!("+44 20 7946 {:04}", i % 10_000)),
        attributes,
        created_at: start,
    }
}

/// Purchases from first order until the customer drops out or the history ends.
fn buyer(
    rng: &mut StdRng,
    ext: &ExternalId,
    start: i64,
    end: i64,
    lambda: f64,
    p: f64,
    out: &mut Vec<(ExternalId, NewEvent)>,
) {
    // Acquisition is spread over the history, a little heavier towards the start.
    let offset = rng.random::<f64>().powf(1.3) * ((end - start) as f64 - 86_400.0 * 7.0);
    let mut t = start + offset as i64;
    let gap = Exp::new(lambda).expect("positive rate");
    let big_spender = rng.random_bool(0.2);
    let mean_spend: f64 = if big_spender {
        Gamma::new(3.0, 60.0).expect("valid").sample(rng)
    } else {
        Gamma::new(4.0, 12.0).expect("valid").sample(rng)
    };
    let spend: Gamma<f64> = Gamma::new(6.0, mean_spend.max(5.0) / 6.0).expect("valid");
    let mut n = 0;
    while t <= end {
        n += 1;
        let at = t - t % 86_400 + rng.random_range(8..20) * 3_600 + rng.random_range(0..3_600);
        let amount = Money((spend.sample(rng) * 100.0).round().max(100.0) as i64);
        let kind = EventKind::Purchase {
            amount,
            currency: Currency::parse("EUR").expect("valid code"),
            order_id: Some(format!("{ext}-{n}")),
            quantity: Some(rng.random_range(1..5)),
        };
        out.push((
            ext.clone(),
            NewEvent {
                key: format!("order:{ext}-{n}"),
                occurred_at: at,
                kind,
            },
        ));
        if rng.random_bool(p) {
            break;
        }
        t += (gap.sample(rng) * 86_400.0).max(86_400.0) as i64;
    }
}

fn conversations(rng: &mut StdRng, ext: &ExternalId, start: i64, end: i64, out: &mut Vec<(ExternalId, NewEvent)>) {
    for n in 0..rng.random_range(1..4) {
        let at = rng.random_range(start..end);
        let kind = EventKind::Interaction {
            channel: CHANNELS[rng.random_range(0..CHANNELS.len())].to_owned(),
            note: NOTES[rng.random_range(0..NOTES.len())].to_owned(),
        };
        out.push((
            ext.clone(),
            NewEvent {
                key: format!("demo:{ext}:interaction:{n}"),
                occurred_at: at,
                kind,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> DemoConfig {
        DemoConfig {
            customers: 500,
            seed,
            end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            days: 730,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_business() {
        let (a, b) = (generate(&config(7)), generate(&config(7)));
        assert_eq!(a.events, b.events);
        assert_ne!(generate(&config(8)).events, a.events);
    }

    #[test]
    fn the_business_has_one_time_buyers_repeat_buyers_and_silent_customers() {
        let data = generate(&config(1));
        let mut purchases = std::collections::HashMap::<&str, usize>::new();
        for (ext, e) in &data.events {
            if matches!(e.kind, EventKind::Purchase { .. }) {
                *purchases.entry(ext.as_str()).or_default() += 1;
            }
        }
        let once = purchases.values().filter(|n| **n == 1).count();
        let repeat = purchases.values().filter(|n| **n > 1).count();
        assert!(once > 50 && repeat > 50, "once {once}, repeat {repeat}");
        assert!(purchases.len() < 450, "some customers never buy");
        let end = midnight(config(1).end) + 86_399;
        assert!(data.events.iter().all(|(_, e)| e.occurred_at <= end));
    }
}
