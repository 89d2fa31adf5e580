use rapport_models::{
    BgBbParams, BgNbdParams, ClvOptions, CustomerModel, GammaGammaParams, History, MbgNbdParams, ParetoNbdParams,
    TimeUnit, clv,
};

const LIFETIMES: &str = include_str!("../fixtures/predictions_lifetimes.csv");

pub const BGNBD: BgNbdParams = BgNbdParams {
    r: 0.243,
    alpha: 4.414,
    a: 0.793,
    b: 2.426,
};
const MBGNBD: MbgNbdParams = MbgNbdParams {
    r: 0.525,
    alpha: 6.183,
    a: 0.891,
    b: 1.614,
};
const PARETO: ParetoNbdParams = ParetoNbdParams {
    r: 0.553,
    alpha: 10.578,
    s: 0.606,
    beta: 11.667,
};
const BGBB: BgBbParams = BgBbParams {
    alpha: 1.204,
    beta: 0.750,
    gamma: 0.657,
    delta: 2.783,
};
pub const SPEND: GammaGammaParams = GammaGammaParams {
    p: 6.25,
    q: 3.74,
    gamma: 15.44,
};

/// One row of predictions_lifetimes.csv.
struct Reference<'a> {
    model: &'a str,
    quantity: &'a str,
    x: f64,
    tx: f64,
    age: f64,
    t: f64,
    value: f64,
}

fn references() -> impl Iterator<Item = Reference<'static>> {
    LIFETIMES.lines().skip(1).map(|line| {
        let c: Vec<&str> = line.split(',').collect();
        let n = |i: usize| c[i].parse::<f64>().unwrap();
        Reference {
            model: c[0],
            quantity: c[1],
            x: n(2),
            tx: n(3),
            age: n(4),
            t: n(5),
            value: n(6),
        }
    })
}

fn ours(model: &dyn CustomerModel, r: &Reference) -> f64 {
    let h = History {
        frequency: r.x as u32,
        recency: r.tx,
        age: r.age,
    };
    match r.quantity {
        "p_alive" => model.p_alive(&h),
        "expected" => model.expected_purchases(&h, r.t),
        "expected_new" => model.expected_purchases_new(r.t),
        "prob_n_new" if r.model == "mbgnbd" => MBGNBD.prob_n_purchases_new(r.x as u32, r.t),
        "prob_n_new" => BGNBD.prob_n_purchases_new(r.x as u32, r.t),
        "expected_spend" => SPEND.expected_spend(r.x as u32, r.tx),
        "clv_gg_12m" => {
            let options = ClvOptions {
                unit: TimeUnit::Week,
                months: 12,
                monthly_discount_rate: 0.01,
            };
            clv(&BGNBD, &h, SPEND.expected_spend(h.frequency, r.t), &options)
        }
        other => panic!("unknown quantity {other}"),
    }
}

#[test]
fn predictions_match_the_lifetimes_package_at_the_published_parameters() {
    let mut checked = 0;
    for r in references() {
        let model: &dyn CustomerModel = match r.model {
            "bgnbd" | "gamma_gamma" => &BGNBD,
            "mbgnbd" => &MBGNBD,
            "pareto_nbd" => &PARETO,
            "bgbb" => &BGBB,
            other => panic!("unknown model {other}"),
        };
        let got = ours(model, &r);
        let err = (got - r.value).abs() / r.value.abs().max(1e-12);
        assert!(
            err < 1e-7,
            "{} {} {:?}: got {got}, lifetimes {}",
            r.model,
            r.quantity,
            (r.x, r.tx, r.age, r.t),
            r.value
        );
        checked += 1;
    }
    assert_eq!(checked, 116);
}

#[test]
fn median_time_to_next_purchase_is_where_the_chance_of_buying_again_reaches_one_half() {
    let active = History {
        frequency: 10,
        recency: 35.0,
        age: 38.86,
    };
    let t = BGNBD.median_time_to_next_purchase(&active).unwrap();
    let p = BGNBD.p_alive(&active);
    let shape = BGNBD.r + 10.0;
    let none = ((BGNBD.alpha + 38.86) / (BGNBD.alpha + 38.86 + t)).powf(shape);
    assert!((p * (1.0 - none) - 0.5).abs() < 1e-12);
    let gone = History {
        frequency: 3,
        recency: 2.0,
        age: 30.0,
    };
    assert!(BGNBD.p_alive(&gone) < 0.5);
    assert_eq!(BGNBD.median_time_to_next_purchase(&gone), None);
}

#[test]
fn conditional_purchase_count_probabilities_sum_to_one_and_to_the_expected_purchases() {
    let histories = [
        History {
            frequency: 0,
            recency: 0.0,
            age: 38.86,
        },
        History {
            frequency: 2,
            recency: 30.43,
            age: 38.86,
        },
        History {
            frequency: 10,
            recency: 35.0,
            age: 38.86,
        },
    ];
    for h in histories {
        for t in [4.0, 39.0] {
            let bg: Vec<f64> = (0..400).map(|n| BGNBD.prob_n_purchases(&h, n, t)).collect();
            let mbg: Vec<f64> = (0..400).map(|n| MBGNBD.prob_n_purchases(&h, n, t)).collect();
            for (probs, expected) in [
                (bg, BGNBD.expected_purchases(&h, t)),
                (mbg, MBGNBD.expected_purchases(&h, t)),
            ] {
                let total: f64 = probs.iter().sum();
                let mean: f64 = probs.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
                assert!((total - 1.0).abs() < 1e-9, "{h:?} t {t}: total {total}");
                assert!(
                    (mean - expected).abs() < 1e-6 * expected.max(1.0),
                    "{h:?}: {mean} vs {expected}"
                );
            }
        }
    }
    let new = History {
        frequency: 0,
        recency: 0.0,
        age: 0.0,
    };
    assert!((BGNBD.prob_n_purchases(&new, 3, 39.0) - BGNBD.prob_n_purchases_new(3, 39.0)).abs() < 1e-15);
}

#[test]
fn expectations_are_continuous_where_the_formula_divides_by_a_minus_one() {
    let h = History {
        frequency: 3,
        recency: 20.0,
        age: 38.0,
    };
    let at = |a: f64| BgNbdParams { a, ..BGNBD };
    let exact = at(1.0).expected_purchases(&h, 26.0);
    let near = at(1.0 + 1e-3).expected_purchases(&h, 26.0);
    assert!(
        exact.is_finite() && (exact - near).abs() < 1e-2 * near,
        "{exact} vs {near}"
    );
    let new = at(1.0).expected_purchases_new(26.0);
    assert!((new - at(0.999).expected_purchases_new(26.0)).abs() < 1e-2 * new);
}
