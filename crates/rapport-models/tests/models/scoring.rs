use rapport_models::{
    ClvOptions, CustomerModel, CustomerSummary, FitOptions, Histories, Segment, TimeUnit, evaluate_holdout, explain,
    fit_bgnbd, rfm_scores, score_customers, summarize,
};

use crate::fixtures::{cdnow_options, cdnow_purchases, day_number};
use crate::predictions::{BGNBD, SPEND};

#[test]
fn holdout_predictions_track_the_cdnow_holdout_period() {
    let options = cdnow_options(Some(day_number(1998, 6, 30)));
    let customers = summarize(&cdnow_purchases(), &options);
    let fit = fit_bgnbd(&Histories::from_summaries(&customers).unwrap(), &FitOptions::default()).unwrap();
    let report = evaluate_holdout(&fit.params, &customers, options.holdout_length(), 7);
    assert_eq!(report.holdout_length, 39.0);
    assert_eq!(report.groups.len(), 8);
    assert_eq!(report.groups.iter().map(|g| g.customers).sum::<u64>(), 2357);
    // 1882 actual repeat purchase days; BG/NBD forecasts about 1653 of them.
    assert_eq!(report.actual_total, 1882.0);
    let ratio = report.predicted_total / report.actual_total;
    assert!(
        (0.85..1.0).contains(&ratio),
        "predicted {} actual {}",
        report.predicted_total,
        report.actual_total
    );
    assert!(report.groups[7].or_more && !report.groups[0].or_more);
}

#[test]
fn batch_scores_agree_with_single_customer_predictions() {
    let customers = summarize(&cdnow_purchases(), &cdnow_options(None));
    let options = ClvOptions::default();
    let scores = score_customers(&BGNBD, Some(&SPEND), &customers, &options);
    assert_eq!(scores.len(), customers.len());
    let mut medians = (0, 0);
    for (c, s) in customers.iter().zip(&scores).step_by(97) {
        let h = c.history();
        assert_eq!(s.customer, c.customer);
        assert_eq!(s.p_alive, BGNBD.p_alive(&h));
        let median = BGNBD.median_time_to_next_purchase(&h);
        match (s.median_time_to_next_purchase, median) {
            (Some(batch), Some(single)) => {
                assert!((batch - single).abs() < 1e-12 * single.max(1.0), "{batch} vs {single}");
                medians.0 += 1;
            }
            (None, None) => medians.1 += 1,
            other => panic!("median of customer {}: {other:?}", c.customer),
        }
        let expected = BGNBD.expected_purchases(&h, 12.0 * 4.345);
        assert!((s.expected_purchases - expected).abs() < 1e-12 * expected.max(1.0));
        let value = rapport_models::clv(&BGNBD, &h, s.expected_spend, &options);
        assert!((s.clv - value).abs() < 1e-9 * value.max(1.0));
    }
    assert!(
        medians.0 > 0 && medians.1 > 0,
        "both kinds of median checked: {medians:?}"
    );
}

fn customer(frequency: u32, recency: f64, age: f64) -> CustomerSummary {
    let spend = 20.0 * f64::from(frequency + 1);
    CustomerSummary {
        customer: 1,
        frequency,
        recency,
        age,
        monetary: 20.0,
        total_spend: spend,
        holdout_frequency: 0,
    }
}

#[test]
fn segments_follow_the_recency_frequency_grid() {
    assert_eq!(Segment::from_scores(5, 5), Segment::Champions);
    assert_eq!(Segment::from_scores(4, 4), Segment::Loyal);
    assert_eq!(Segment::from_scores(5, 2), Segment::PotentialLoyalist);
    assert_eq!(Segment::from_scores(5, 1), Segment::New);
    assert_eq!(Segment::from_scores(4, 1), Segment::Promising);
    assert_eq!(Segment::from_scores(3, 3), Segment::NeedsAttention);
    assert_eq!(Segment::from_scores(3, 2), Segment::AboutToSleep);
    assert_eq!(Segment::from_scores(2, 4), Segment::AtRisk);
    assert_eq!(Segment::from_scores(1, 5), Segment::CannotLose);
    assert_eq!(Segment::from_scores(2, 2), Segment::Hibernating);
    assert_eq!(Segment::from_scores(1, 1), Segment::Lost);
    let names: Vec<String> = Segment::ALL.iter().map(|s| serde_json::to_string(s).unwrap()).collect();
    assert!(names.contains(&"\"needs_attention\"".to_string()));
    assert_eq!(Segment::CannotLose.label(), "Cannot lose");
}

#[test]
fn rfm_scores_rank_recent_frequent_big_spenders_highest() {
    let mut customers: Vec<CustomerSummary> = (0..10).map(|i| customer(i, f64::from(i), 20.0)).collect();
    customers[9].total_spend = 10_000.0;
    let scores = rfm_scores(&customers);
    assert_eq!((scores[0].recency, scores[0].frequency), (1, 1));
    assert_eq!((scores[9].recency, scores[9].frequency, scores[9].monetary), (5, 5, 5));
    assert_eq!(scores[9].segment, Segment::Champions);
    assert_eq!(scores[0].segment, Segment::Lost);
}

#[test]
fn explanations_are_one_plain_sentence() {
    let options = ClvOptions::default();
    let explain_one = |c: CustomerSummary, options: &ClvOptions| {
        let score = score_customers(&BGNBD, Some(&SPEND), &[c], options)[0];
        explain(&c, &score, options)
    };
    let regular = explain_one(customer(7, 28.0, 39.0), &options);
    assert!(
        regular.starts_with("bought 8 times, usually every 4 weeks; nothing for 11 weeks: P(alive) 0."),
        "{regular}"
    );
    let once = explain_one(customer(0, 0.0, 12.0), &options);
    assert!(once.starts_with("bought once, 12 weeks ago: P(alive) 1.00"), "{once}");
    let days = ClvOptions {
        unit: TimeUnit::Day,
        ..options
    };
    let daily = explain_one(customer(1, 1.0, 2.0), &days);
    assert!(
        daily.starts_with("bought twice, 1 day apart; nothing for 1 day: P(alive)"),
        "{daily}"
    );
    for sentence in [regular, once, daily] {
        // One sentence: no line break, no full stop followed by another clause.
        assert!(!sentence.contains('\n') && !sentence.contains(". "), "{sentence}");
        assert!(!sentence.ends_with('.'), "{sentence}");
    }
}

#[test]
#[ignore = "prints sample explanations for a person to read"]
fn print_sample_explanations() {
    let customers = summarize(&cdnow_purchases(), &cdnow_options(None));
    for unit in [TimeUnit::Week, TimeUnit::Day] {
        let options = ClvOptions {
            unit,
            ..ClvOptions::default()
        };
        let mut customers = customers.clone();
        if unit == TimeUnit::Day {
            customers.iter_mut().for_each(|c| {
                c.recency *= 7.0;
                c.age *= 7.0;
            });
        }
        let fit = fit_bgnbd(&Histories::from_summaries(&customers).unwrap(), &FitOptions::default()).unwrap();
        let scores = score_customers(&fit.params, Some(&SPEND), &customers, &options);
        for i in [0, 1, 2, 3, 10, 17, 25, 100, 1000, 2000] {
            println!("{}", explain(&customers[i], &scores[i], &options));
        }
    }
}
