use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rapport_models::simulate::simulate_bgnbd_histories;
use rapport_models::{
    BgNbdParams, ClvOptions, CustomerModel, FitOptions, Histories, History, MbgNbdParams, ParetoNbdParams, TimeUnit,
    clv, fit_bgnbd,
};

use crate::predictions::{BGNBD, SPEND};

#[test]
fn bgnbd_parameters_are_recovered_from_simulated_customers() {
    let truth = BgNbdParams {
        r: 0.5,
        alpha: 5.0,
        a: 0.7,
        b: 2.5,
    };
    let mut rng = StdRng::seed_from_u64(7);
    let ages: Vec<f64> = (0..40_000).map(|i| 26.0 + f64::from(i % 27)).collect();
    let histories = simulate_bgnbd_histories(&truth, &ages, &mut rng);
    let fit = fit_bgnbd(&Histories::new(histories).unwrap(), &FitOptions::default()).unwrap();
    let (p, se) = (fit.params, fit.std_errors);
    for (name, got, want, err) in [
        ("r", p.r, truth.r, se.r),
        ("alpha", p.alpha, truth.alpha, se.alpha),
        ("a", p.a, truth.a, se.a),
        ("b", p.b, truth.b, se.b),
    ] {
        assert!((got - want).abs() < 4.0 * err, "{name}: {got} ± {err}, truth {want}");
    }
}

fn models() -> Vec<Box<dyn CustomerModel>> {
    vec![
        Box::new(BGNBD),
        Box::new(MbgNbdParams {
            r: 0.525,
            alpha: 6.183,
            a: 0.891,
            b: 1.614,
        }),
        Box::new(ParetoNbdParams {
            r: 0.553,
            alpha: 10.578,
            s: 0.606,
            beta: 11.667,
        }),
    ]
}

proptest! {
    #[test]
    fn p_alive_is_a_probability_that_falls_as_the_silence_grows(
        x in 0u32..60, tx in 0.0f64..100.0, gap in 0.0f64..100.0, more in 0.1f64..50.0,
    ) {
        let tx = if x == 0 { 0.0 } else { tx };
        for model in models() {
            let near = model.p_alive(&History { frequency: x, recency: tx, age: tx + gap });
            let far = model.p_alive(&History { frequency: x, recency: tx, age: tx + gap + more });
            prop_assert!((0.0..=1.0).contains(&near) && (0.0..=1.0).contains(&far));
            prop_assert!(far <= near + 1e-12, "{near} then {far}");
        }
    }

    #[test]
    fn expected_purchases_grow_with_the_horizon(
        x in 0u32..40, tx in 0.0f64..50.0, gap in 0.0f64..50.0, t in 0.1f64..100.0, more in 0.1f64..100.0,
    ) {
        let h = History { frequency: x, recency: if x == 0 { 0.0 } else { tx }, age: tx + gap };
        for model in models() {
            let short = model.expected_purchases(&h, t);
            let long = model.expected_purchases(&h, t + more);
            prop_assert!(short >= 0.0 && long >= short, "{short} then {long}");
            prop_assert!(model.expected_purchases_new(t + more) >= model.expected_purchases_new(t));
        }
    }

    #[test]
    fn clv_grows_with_spend_and_falls_with_the_discount_rate(
        x in 1u32..30, tx in 1.0f64..30.0, gap in 0.0f64..30.0, spend in 1.0f64..500.0, rate in 0.0f64..0.2,
    ) {
        let h = History { frequency: x, recency: tx, age: tx + gap };
        let options = ClvOptions { unit: TimeUnit::Week, months: 12, monthly_discount_rate: rate };
        let dearer = ClvOptions { monthly_discount_rate: rate + 0.05, ..options };
        let base = clv(&BGNBD, &h, SPEND.expected_spend(x, spend), &options);
        prop_assert!(clv(&BGNBD, &h, SPEND.expected_spend(x, spend * 1.5), &options) > base);
        prop_assert!(clv(&BGNBD, &h, SPEND.expected_spend(x, spend), &dearer) < base);
    }
}

proptest! {
    #[test]
    fn rfm_scores_are_the_share_of_customers_strictly_worse_in_fifths(
        rows in prop::collection::vec((0u32..6, 0u32..20, 1u32..50), 1..60),
    ) {
        let customers: Vec<rapport_models::CustomerSummary> = rows
            .iter()
            .map(|&(x, silence, spend)| rapport_models::CustomerSummary {
                customer: 0,
                frequency: x,
                recency: 10.0,
                age: 10.0 + f64::from(silence),
                monetary: 0.0,
                total_spend: f64::from(spend * (x + 1)),
                holdout_frequency: 0,
            })
            .collect();
        let scores = rapport_models::rfm_scores(&customers);
        let n = rows.len();
        let score = |worse: usize| (1 + 5 * worse / n).min(5) as u8;
        for (i, &(x, silence, spend)) in rows.iter().enumerate() {
            let f_worse = rows.iter().filter(|r| r.0 < x).count();
            let r_worse = rows.iter().filter(|r| r.1 > silence).count();
            let m_worse = rows.iter().filter(|r| r.2 < spend).count();
            prop_assert_eq!(scores[i].frequency, score(f_worse));
            prop_assert_eq!(scores[i].recency, score(r_worse));
            prop_assert_eq!(scores[i].monetary, score(m_worse));
        }
    }
}
