//! Writes a synthetic shop export for benchmarks: `customer_id,date,amount,order_id`, sorted by date,
//! order ids rising with time, as shop systems export them; or grouped by customer (`customer`:
//! each customer's purchases together, customers in order of their ids, as a per-customer report
//! exports them). Ids are codes such as `C0000873`, or `email` addresses such as
//! `c0000873@example.com` (longer than the 15 bytes an id keeps in place).
//!
//! Usage: `cargo run --release --example generate_purchases -- OUT.csv [ROWS] [CUSTOMERS] [SEED]
//! [date|customer] [code|email]`

use std::io::{BufWriter, Write};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .expect("usage: generate_purchases OUT.csv [ROWS] [CUSTOMERS] [SEED]");
    let rows: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let customers: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let by_customer = match args.get(5).map(String::as_str) {
        None | Some("date") => false,
        Some("customer") => true,
        Some(other) => panic!("order '{other}': use date or customer"),
    };
    let email = match args.get(6).map(String::as_str) {
        None | Some("code") => false,
        Some("email") => true,
        Some(other) => panic!("ids '{other}': use code or email"),
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let days = 730u32;
    // Every customer buys at least once; the other rows go to customers in proportion to a skewed rate.
    let mut purchases: Vec<(u32, u32, u32)> = Vec::with_capacity(rows as usize);
    let first: Vec<u32> = (0..customers).map(|_| rng.random_range(0..days)).collect();
    for (c, day) in first.iter().enumerate() {
        purchases.push((*day, c as u32, rng.random_range(500..20_000)));
    }
    while (purchases.len() as u64) < rows {
        let c = (rng.random::<f64>().powi(2) * f64::from(customers)) as u32;
        let day = rng.random_range(first[c as usize]..days);
        purchases.push((day, c, rng.random_range(500..20_000)));
    }
    purchases.sort_unstable();
    // Order ids rise with time either way; grouping keeps each customer's purchases in date order.
    let mut purchases: Vec<(u32, u32, u32, usize)> = purchases
        .into_iter()
        .enumerate()
        .map(|(n, (day, c, cents))| (day, c, cents, n + 1))
        .collect();
    if by_customer {
        purchases.sort_by_key(|p| p.1);
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    writeln!(w, "customer_id,date,amount,order_id")?;
    let epoch = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
    let mut last_day = u32::MAX;
    let mut date = String::new();
    for (day, c, cents, order) in &purchases {
        if *day != last_day {
            last_day = *day;
            date = (epoch + chrono::Days::new(u64::from(*day))).to_string();
        }
        let (letter, domain) = if email { ('c', "@example.com") } else { ('C', "") };
        writeln!(
            w,
            "{letter}{c:07}{domain},{date},{}.{:02},O{order:09}",
            cents / 100,
            cents % 100
        )?;
    }
    w.flush()
}
