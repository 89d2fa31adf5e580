//! Times the hot paths on simulated data: `cargo run --release --example timing -- 1000000`.
//!
//! `--repeat N` runs every stage N times and reports the fastest, for busy machines;
//! pin to one core (`taskset -c 1`) to time the single-threaded path.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rapport_models::simulate::{SimulationPlan, simulate_purchases};
use rapport_models::{
    BgNbdParams, ClvOptions, FitOptions, GammaGammaParams, Histories, SpendData, SummaryOptions, TimeUnit, fit_bgnbd,
    fit_gamma_gamma, fit_mbgnbd, fit_pareto_nbd, rfm_scores, score_customers, summarize,
};

/// Runs `f` `repeats` times (at least once), prints the fastest time and returns the last result.
fn timed<T>(label: &str, repeats: u32, mut f: impl FnMut() -> T) -> T {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeats.max(1) {
        drop(out.take());
        let start = Instant::now();
        out = Some(f());
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
    }
    println!("{label:<40} {best:>9.1} ms");
    out.expect("ran at least once")
}

fn main() {
    let customers: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let args: Vec<String> = std::env::args().collect();
    let with_pareto = args.iter().any(|a| a == "--pareto");
    let repeat = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let spend = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    let mut rng = StdRng::seed_from_u64(1);
    // CDNOW's shape: customers acquired over 12 weeks, a 78-week log, calibration 52 weeks.
    let plan = SimulationPlan {
        customers,
        acquisition_start: 0,
        acquisition_end: 83,
        end_day: 546,
        unit: TimeUnit::Week,
    };
    let log = timed("simulate purchase log", 1, || {
        simulate_purchases(&truth, &spend, &plan, &mut rng)
    });
    println!("{} customers, {} purchase rows", customers, log.len());
    let options = SummaryOptions {
        calibration_end: 364,
        holdout_end: Some(546),
        unit: TimeUnit::Week,
    };
    let summaries = timed("summarize", repeat, || summarize(&log, &options));
    let mut by_date = log.clone();
    by_date.sort_by_key(|p| p.day);
    timed("summarize (log sorted by date)", repeat, || {
        summarize(&by_date, &options)
    });
    drop(by_date);
    let data = timed("group histories", repeat, || {
        Histories::from_summaries(&summaries).unwrap()
    });
    println!("{} distinct (x, t_x, T) rows", data.rows().len());
    let fit_options = FitOptions::default();
    let bg = timed("fit BG/NBD", repeat, || fit_bgnbd(&data, &fit_options).unwrap());
    println!(
        "  {:?} ll {:.1} iterations {}",
        bg.params, bg.log_likelihood, bg.iterations
    );
    let mbg = timed("fit MBG/NBD", repeat, || fit_mbgnbd(&data, &fit_options).unwrap());
    println!("  {:?} ll {:.1}", mbg.params, mbg.log_likelihood);
    let spend_data = timed("spend data", repeat, || SpendData::from_summaries(&summaries).unwrap());
    let gg = timed("fit Gamma-Gamma", repeat, || {
        fit_gamma_gamma(&spend_data, &fit_options).unwrap()
    });
    println!("  {:?} iterations {}", gg.params, gg.iterations);
    let clv_options = ClvOptions {
        unit: TimeUnit::Week,
        months: 12,
        monthly_discount_rate: 0.01,
    };
    let scores = timed("score: P(alive), 12-month CLV, next buy", repeat, || {
        score_customers(&bg.params, Some(&gg.params), &summaries, &clv_options)
    });
    let total: f64 = scores.iter().map(|s| s.clv).sum();
    println!("  total 12-month CLV {total:.0}");
    timed("RFM scores and segments", repeat, || rfm_scores(&summaries));
    if with_pareto {
        let p = timed("fit Pareto/NBD", repeat, || {
            fit_pareto_nbd(&data, &fit_options).unwrap()
        });
        println!("  {:?} ll {:.1}", p.params, p.log_likelihood);
    }
}
