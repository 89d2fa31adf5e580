use rapport_models::{Histories, Purchase, SummaryOptions, TimeUnit, summarize};

use crate::fixtures::{cdnow_options, cdnow_purchases, cdnow_summaries, day_number, published_summary};

#[test]
fn cdnow_summary_reproduces_the_published_calibration_table() {
    let ours = cdnow_summaries();
    let published = published_summary();
    assert_eq!(ours.len(), published.len());
    for (mine, theirs) in ours.iter().zip(&published) {
        assert_eq!(mine.customer, theirs.id);
        assert_eq!(mine.frequency, theirs.history.frequency, "x of {}", theirs.id);
        assert!(
            (mine.recency - theirs.history.recency).abs() < 0.0051,
            "t_x of {}",
            theirs.id
        );
        assert!((mine.age - theirs.history.age).abs() < 0.0051, "T of {}", theirs.id);
        assert!((mine.monetary - theirs.zbar).abs() < 0.0051, "zbar of {}", theirs.id);
    }
}

#[test]
fn same_day_purchases_count_once_with_their_amounts_summed() {
    let log = [(0, 10, 5.0), (0, 10, 7.0), (0, 17, 3.0), (0, 17, 4.0), (0, 24, 1.0)];
    let purchases: Vec<Purchase> = log
        .iter()
        .map(|&(customer, day, amount)| Purchase { customer, day, amount })
        .collect();
    let options = SummaryOptions {
        calibration_end: 30,
        holdout_end: None,
        unit: TimeUnit::Day,
    };
    let s = summarize(&purchases, &options)[0];
    assert_eq!(s.frequency, 2);
    assert_eq!((s.recency, s.age), (14.0, 20.0));
    assert_eq!(s.monetary, 4.0);
    assert_eq!(s.total_spend, 20.0);
}

#[test]
fn late_first_buyers_are_left_out_and_holdout_days_are_counted() {
    let log = [
        (3, 5, 1.0),
        (3, 12, 1.0),
        (3, 12, 1.0),
        (3, 13, 1.0),
        (3, 40, 1.0),
        (9, 11, 2.0),
    ];
    let purchases: Vec<Purchase> = log
        .iter()
        .map(|&(customer, day, amount)| Purchase { customer, day, amount })
        .collect();
    let options = SummaryOptions {
        calibration_end: 10,
        holdout_end: Some(20),
        unit: TimeUnit::Day,
    };
    let all = summarize(&purchases, &options);
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].customer, all[0].frequency, all[0].holdout_frequency), (3, 0, 2));
    assert_eq!(all[0].monetary, 0.0);
}

#[test]
fn sparse_customer_indices_are_grouped_too() {
    let purchases = [
        Purchase {
            customer: 4_000_000_000,
            day: 1,
            amount: 1.0,
        },
        Purchase {
            customer: 7,
            day: 1,
            amount: 1.0,
        },
        Purchase {
            customer: 4_000_000_000,
            day: 8,
            amount: 2.0,
        },
    ];
    let options = SummaryOptions {
        calibration_end: 15,
        holdout_end: None,
        unit: TimeUnit::Week,
    };
    let all = summarize(&purchases, &options);
    assert_eq!(
        all.iter().map(|s| s.customer).collect::<Vec<_>>(),
        vec![7, 4_000_000_000]
    );
    assert_eq!((all[1].frequency, all[1].recency, all[1].age), (1, 1.0, 2.0));
}

#[test]
fn a_log_in_any_row_order_summarises_as_the_grouped_log_does() {
    let grouped = cdnow_purchases();
    let options = cdnow_options(Some(day_number(1998, 6, 30)));
    let expected = summarize(&grouped, &options);
    // Reversed: not grouped and days out of order (the sorting path). Stably sorted by customer
    // after reversing: grouped with each customer's days out of order (the in-place path sorting
    // a run). Sorted by date: each customer's days in order (the running path).
    let mut reversed = grouped.clone();
    reversed.reverse();
    let mut runs_backwards = reversed.clone();
    runs_backwards.sort_by_key(|p| p.customer);
    let mut by_date = grouped.clone();
    by_date.sort_by_key(|p| p.day);
    for log in [reversed, runs_backwards, by_date] {
        assert_same_summaries(&summarize(&log, &options), &expected);
    }
}

fn assert_same_summaries(got: &[rapport_models::CustomerSummary], expected: &[rapport_models::CustomerSummary]) {
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(
            (g.customer, g.frequency, g.recency, g.age, g.holdout_frequency),
            (e.customer, e.frequency, e.recency, e.age, e.holdout_frequency)
        );
        assert!((g.monetary - e.monetary).abs() < 1e-9 && (g.total_spend - e.total_spend).abs() < 1e-9);
    }
}

#[test]
fn summaries_group_into_the_same_distinct_histories_as_one_history_at_a_time() {
    let customers = cdnow_summaries();
    let grouped = Histories::from_summaries(&customers).unwrap();
    let one_by_one = Histories::new(customers.iter().map(|c| c.history())).unwrap();
    assert_eq!(grouped, one_by_one);
    assert!(grouped.rows().len() < customers.len());
    assert_eq!(grouped.customers(), customers.len() as f64);
}

#[test]
fn many_summaries_group_on_all_cores_into_the_rows_of_one_history_at_a_time() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(5);
    // Enough customers for one part per core; about half never came back, a few of those with
    // a recency anyway, and some recencies of -0.0, which must group with 0.0.
    let customers: Vec<rapport_models::CustomerSummary> = (0..150_000u32)
        .map(|customer| {
            let age = f64::from(rng.random_range(1..60u32)) / 7.0;
            let frequency = if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(1..30)
            };
            let recency = match (frequency, rng.random_range(0..100)) {
                (0, 0) => age / 2.0,
                (0, 1) => -0.0,
                (0, _) => 0.0,
                _ => f64::from(rng.random_range(0..=(age * 7.0) as u32)) / 7.0,
            };
            rapport_models::CustomerSummary {
                customer,
                frequency,
                recency,
                age,
                monetary: 0.0,
                total_spend: 0.0,
                holdout_frequency: 0,
            }
        })
        .collect();
    let grouped = Histories::from_summaries(&customers).unwrap();
    let one_by_one = Histories::new(customers.iter().map(|c| c.history())).unwrap();
    assert_eq!(grouped, one_by_one);
    assert_eq!(grouped.customers(), 150_000.0);
}

#[test]
fn a_large_log_sorted_by_date_summarises_on_all_cores_as_the_grouped_log_does() {
    // Twelve copies of CDNOW under other customer indices: 83,000 rows, enough for every core to
    // split a share of the log into blocks of customers.
    let mut grouped = Vec::new();
    for copy in 0..12u32 {
        grouped.extend(cdnow_purchases().into_iter().map(|p| Purchase {
            customer: p.customer + copy * 3_000,
            ..p
        }));
    }
    grouped.sort_by_key(|p| p.customer);
    let options = cdnow_options(Some(day_number(1998, 6, 30)));
    let expected = summarize(&grouped, &options);
    let mut by_date = grouped.clone();
    by_date.sort_by_key(|p| p.day);
    assert_same_summaries(&summarize(&by_date, &options), &expected);
}
