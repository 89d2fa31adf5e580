//! Scores a shop owner can trust (issue 14): a model the data cannot identify is refused in plain
//! words, the business's own gaps score a small shop, and no row says two contradicting things.

use rapport::domain::{EventKind, Money, NewEvent};
use rapport::import::TransactionColumns;
use rapport::radar::analysis::{Analysis, AnalysisOptions, ModelChoice, PurchaseLog, Rows, ScoreRow, analyze};
use rapport::radar::{FitSettings, ScoreSettings, fit_store, score_store_rows};
use rapport_models::{ModelKind, Segment, TimeUnit};

use crate::contract;
use crate::helpers::{TestDb, cdnow_sample, load_demo};

contract!(
    a_sixty_customer_shop_is_refused_by_bgnbd_in_plain_words_and_the_gaps_rule_scores_everyone,
    no_customer_of_the_demo_has_a_segment_that_contradicts_p_alive,
    fit_on_the_database_and_analyze_on_the_file_choose_the_same_model_with_the_same_parameters,
);

const DAY: i64 = 86_400;

/// A small shop: 60 customers, 43 of whom came back, every 20 to 60 days.
async fn small_shop(db: &TestDb) {
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
    let start = rapport::domain::state::midnight(start);
    let mut ingest = rapport::ingest::Ingest::begin(&db.store, "test").await.unwrap();
    for c in 0..60i64 {
        let visits = if c < 43 { 2 + c % 4 } else { 1 };
        for v in 0..visits {
            let at = start + (c * 3 + v * (20 + (c % 5) * 10)) * DAY;
            let event = NewEvent {
                key: format!("order:{c}-{v}"),
                occurred_at: at,
                kind: EventKind::Purchase {
                    amount: Money(1_000 + c * 37),
                    currency: Default::default(),
                    order_id: Some(format!("{c}-{v}")),
                    quantity: None,
                },
            };
            ingest
                .push(&crate::helpers::ext(&format!("s{c:02}")), event)
                .await
                .unwrap();
        }
    }
    ingest.finish().await.unwrap();
}

fn settings(model: ModelChoice) -> FitSettings {
    FitSettings {
        calibration_end: None,
        unit: TimeUnit::Week,
        model,
    }
}

/// The contradictions issue 14 saw: gone-looking segments that are surely active, and champions
/// that are likely gone.
fn assert_consistent(rows: &[ScoreRow]) {
    for row in rows {
        let gone = matches!(row.segment, Segment::Lost | Segment::Hibernating);
        assert!(
            !(gone && row.p_alive > 0.9),
            "{} is {:?} at P(alive) {}",
            row.customer_id,
            row.segment,
            row.p_alive
        );
        assert!(
            !(row.segment == Segment::Champions && row.p_alive < 0.5),
            "{} is a champion at P(alive) {}",
            row.customer_id,
            row.p_alive
        );
    }
}

async fn a_sixty_customer_shop_is_refused_by_bgnbd_in_plain_words_and_the_gaps_rule_scores_everyone(db: &TestDb) {
    small_shop(db).await;
    let (analysis, _) = fit_store(&db.store, settings(ModelChoice::Only(ModelKind::BgNbd)))
        .await
        .unwrap();
    assert_eq!(analysis.model, "gaps");
    assert_eq!(
        analysis.choice.refused,
        vec![
            "60 customers and 43 repeat buyers are too few to fit BG/NBD: a model needs about 300 customers and 100 repeat buyers"
        ]
    );
    let scoring = ScoreSettings {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 1),
        ..Default::default()
    };
    let (report, rows) = score_store_rows(&db.store, scoring).await.unwrap();
    assert_eq!((report.customers, report.model), (60, "gaps"));
    assert_eq!(rows.len(), 60, "every customer with a purchase gets a score");
    for row in &rows {
        assert!((0.0..=1.0).contains(&row.p_alive), "{row:?}");
        assert!(row.explanation.contains("this shop's own gaps"), "{}", row.explanation);
    }
    assert_consistent(&rows);
    // A one-time buyer silent for months is judged by everyone's gaps, not held certainly active.
    let one_timer = rows.iter().find(|r| r.customer_id == "s59").unwrap();
    assert!(one_timer.p_alive < 0.5, "{one_timer:?}");
}

async fn no_customer_of_the_demo_has_a_segment_that_contradicts_p_alive(db: &TestDb) {
    load_demo(db, 1_500, 11, chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()).await;
    let (analysis, _) = fit_store(&db.store, settings(ModelChoice::Auto)).await.unwrap();
    let scoring = ScoreSettings {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 30),
        ..Default::default()
    };
    let (_, rows) = score_store_rows(&db.store, scoring).await.unwrap();
    assert!(rows.len() > 1_000, "{} scored with {}", rows.len(), analysis.model);
    assert_consistent(&rows);
}

async fn fit_on_the_database_and_analyze_on_the_file_choose_the_same_model_with_the_same_parameters(db: &TestDb) {
    let options = cdnow_sample();
    rapport::import::import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    let calibration_end = chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let mut fit = settings(ModelChoice::Auto);
    fit.calibration_end = Some(calibration_end);
    let (stored, _) = fit_store(&db.store, fit).await.unwrap();
    let on_file = analyze_cdnow(ModelChoice::Auto, calibration_end);
    assert_eq!(stored.model, on_file.model);
    assert_eq!(stored.choice.reason, on_file.choice.reason);
    for (name, value) in on_file.params.as_object().unwrap() {
        let (a, b) = (value.as_f64().unwrap(), stored.params[name].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "{name}: {a} on the file, {b} stored"
        );
    }
}

fn analyze_cdnow(model: ModelChoice, calibration_end: chrono::NaiveDate) -> Analysis {
    let log = PurchaseLog::read(&cdnow_sample(), &TransactionColumns::default()).unwrap();
    let options = AnalysisOptions {
        calibration_end,
        holdout_end: None,
        unit: TimeUnit::Week,
        model,
        rows: Rows::All,
    };
    analyze(log, &options).unwrap()
}

#[test]
fn on_cdnow_the_chosen_model_lets_one_time_buyers_fade_and_no_segment_contradicts_p_alive() {
    let analysis = analyze_cdnow(ModelChoice::Auto, chrono::NaiveDate::from_ymd_opt(1998, 6, 30).unwrap());
    assert!(["mbgnbd", "pareto-nbd"].contains(&analysis.model), "{}", analysis.model);
    assert!(analysis.choice.refused.is_empty(), "{:?}", analysis.choice.refused);
    assert_consistent(&analysis.rows);
    let one_timers: Vec<&ScoreRow> = analysis.rows.iter().filter(|r| r.frequency == 0).collect();
    assert!(one_timers.iter().all(|r| r.p_alive < 1.0));
    let longest_silent = one_timers.iter().max_by(|a, b| a.age.total_cmp(&b.age)).unwrap();
    let newest = one_timers.iter().min_by(|a, b| a.age.total_cmp(&b.age)).unwrap();
    assert!(longest_silent.p_alive < newest.p_alive, "{longest_silent:?} {newest:?}");
}

#[test]
fn on_cdnow_bgnbd_asked_for_by_name_gives_the_published_parameters() {
    let analysis = analyze_cdnow(
        ModelChoice::Only(ModelKind::BgNbd),
        chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap(),
    );
    assert_eq!(analysis.model, "bgnbd");
    assert!((analysis.params["r"].as_f64().unwrap() - 0.243).abs() < 0.001);
    assert_consistent(&analysis.rows);
}

#[test]
fn scores_written_as_they_are_made_equal_the_rows_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    let end = chrono::NaiveDate::from_ymd_opt(1998, 6, 30).unwrap();
    let held = analyze_cdnow(ModelChoice::Auto, end);
    let log = PurchaseLog::read(&cdnow_sample(), &TransactionColumns::default()).unwrap();
    let options = AnalysisOptions {
        calibration_end: end,
        holdout_end: None,
        unit: TimeUnit::Week,
        model: ModelChoice::Auto,
        rows: Rows::Write(path.clone()),
    };
    let written = analyze(log, &options).unwrap();
    assert!(written.rows.is_empty(), "nothing held in memory");
    let mut expected = csv::Writer::from_writer(Vec::new());
    for row in &held.rows {
        expected.serialize(row).unwrap();
    }
    let expected = String::from_utf8(expected.into_inner().unwrap()).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(file.lines().count(), 2_357 + 1, "a header and a row per customer");
    assert_eq!(file, expected);
}
