//! The store contract: every test here runs on SQLite and, when configured, on PostgreSQL.

use rapport::domain::calendar::Calendar;
use rapport::domain::funnel::funnel;
use rapport::domain::{EventKind, NewEvent, Stage};
use rapport::import::{
    CustomerColumns, Delimiter, FileOptions, ImportError, TransactionColumns, import_customers, import_transactions,
};
use rapport::ingest::Ingest;
use rapport::projection::rebuild;
use rapport::store::{BulkKeys, CustomerFilter, CustomerRecord, StoreError};

use crate::contract;
use crate::helpers::{TestDb, fixture};

const PURCHASES: &str = "customer_id,date,amount,order_id\n\
    c1,2024-01-05,10.00,A1\n\
    c1,2024-01-05,5.50,A2\n\
    c2,2024-01-06,20.00,A3\n\
    c1,2024-02-01,7.25,A4\n";

contract!(
    importing_the_same_file_twice_stores_it_once,
    a_bad_row_fails_the_whole_import_and_stores_nothing,
    skip_invalid_stores_the_good_rows_and_writes_rejects,
    rows_without_order_ids_are_idempotent_by_content,
    stages_follow_behaviour_and_manual_changes_are_recorded,
    rebuild_recomputes_identical_states,
    cdnow_master_imports_all_rows_once_and_rebuilds_to_the_same_funnel,
    customer_lists_create_then_update_profiles,
    a_missing_column_is_named_with_the_header_found,
    fits_and_scores_are_stored_and_read_back,
    an_order_repeated_within_one_file_counts_once,
    dashboard_figures_add_up_customers_purchases_and_scores,
    two_writers_creating_one_customer_both_succeed_and_it_exists_once,
    a_bulk_load_restores_what_it_set_aside_and_finds_its_new_customers,
    later_ingests_fold_their_events_into_stored_states_as_a_rebuild_would,
    events_an_ingest_remembers_equal_the_stored_ones,
    a_bulk_load_with_deferred_keys_restores_the_key_and_equals_a_rebuild,
    a_key_repeated_in_a_deferred_bulk_load_fails_it_whole_and_a_checked_one_skips_it,
    a_file_large_enough_to_load_in_bulk_stores_a_repeated_order_once,
);

async fn all_customers(db: &TestDb) -> Vec<CustomerRecord> {
    db.store
        .list_customers(&CustomerFilter {
            limit: u32::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn importing_the_same_file_twice_stores_it_once(db: &TestDb) {
    let options = FileOptions::csv(db.file("p.csv", PURCHASES));
    let columns = TransactionColumns::default();
    let first = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!(
        (first.rows, first.stored, first.duplicates, first.customers_created),
        (4, 4, 0, 2)
    );
    let events = db.store.event_count().await.unwrap();

    let second = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!(
        (second.rows, second.stored, second.duplicates, second.customers_created),
        (4, 0, 4, 0)
    );
    assert_eq!(second.stage_changes, 0);
    assert_eq!(db.store.event_count().await.unwrap(), events);
}

async fn a_bad_row_fails_the_whole_import_and_stores_nothing(db: &TestDb) {
    let good = FileOptions::csv(db.file("good.csv", PURCHASES));
    import_transactions(&db.store, &good, &TransactionColumns::default(), None)
        .await
        .unwrap();
    let before = (all_customers(db).await, db.store.event_count().await.unwrap());

    let bad = "customer_id,date,amount\nc9,2024-03-01,1.00\nc1,1997-13-45,2.00\nc10,2024-03-02,3.00\n";
    let options = FileOptions::csv(db.file("bad.csv", bad));
    let error = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap_err();
    let ImportError::Row(row) = &error else {
        panic!("expected a row error, got {error}")
    };
    assert_eq!(
        (row.line, row.row, row.column.as_str(), row.value.as_str()),
        (3, 2, "date", "1997-13-45")
    );
    let message = error.to_string();
    assert!(
        message.contains("bad.csv") && message.contains("line 3") && message.contains("1997-13-45"),
        "{message}"
    );
    assert_eq!((all_customers(db).await, db.store.event_count().await.unwrap()), before);
}

async fn skip_invalid_stores_the_good_rows_and_writes_rejects(db: &TestDb) {
    let text = "customer_id;date;amount\nc1;2024-01-01;abc\nc1;2024-01-02;12,5\nc2;2024-01-03;4.00\n";
    let mut options = FileOptions::csv(db.file("semi.csv", text));
    options.delimiter = Delimiter::Byte(b';');
    options.skip_invalid = true;
    let report = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    assert_eq!((report.rows, report.stored, report.rejected), (3, 1, 2));
    let rejects = std::fs::read_to_string(options.rejects_path()).unwrap();
    assert_eq!(rejects.lines().count(), 3, "{rejects}");
    assert!(rejects.contains("'abc' is not an amount"), "{rejects}");
}

async fn rows_without_order_ids_are_idempotent_by_content(db: &TestDb) {
    // Two identical purchases on one day are two purchases, in this file and in a later one.
    let text = " 00001 19970101  1   11.77\r\n 00001 19970101  1   11.77\r\n 00002 19970102  2   5.00\r\n";
    let mut options = FileOptions::csv(db.file("cd.txt", text));
    options.delimiter = Delimiter::Whitespace;
    options.columns = Some(vec![
        "customer_id".into(),
        "date".into(),
        "quantity".into(),
        "amount".into(),
    ]);
    options.date_format = Some("%Y%m%d".into());
    let columns = TransactionColumns::default();
    let first = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!((first.stored, first.duplicates), (3, 0));
    let again = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 3));
}

async fn stages_follow_behaviour_and_manual_changes_are_recorded(db: &TestDb) {
    let customers = db.file("c.csv", "customer_id,name,email\nann,Ann Lee,ann@example.com\n");
    import_customers(&db.store, &FileOptions::csv(customers), &CustomerColumns::default())
        .await
        .unwrap();
    assert_eq!(stage_of(db, "ann").await, Stage::Suspect);

    let day = |d: i64| 1_700_000_000 + d * 86_400;
    push(
        db,
        "ann",
        "i1",
        day(0),
        EventKind::Interaction {
            channel: "phone".into(),
            note: "hello".into(),
        },
    )
    .await;
    assert_eq!(stage_of(db, "ann").await, Stage::Prospect);
    push(db, "ann", "p1", day(1), purchase(1000)).await;
    assert_eq!(stage_of(db, "ann").await, Stage::Customer);
    push(db, "ann", "p2", day(1) + 60, purchase(500)).await;
    assert_eq!(
        stage_of(db, "ann").await,
        Stage::Customer,
        "same day is not the second sale"
    );
    push(db, "ann", "p3", day(9), purchase(700)).await;
    assert_eq!(stage_of(db, "ann").await, Stage::Client);

    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest
        .set_stage(&crate::helpers::ext("ann"), Stage::Customer, "disputed order".into())
        .await
        .unwrap();
    ingest.finish().await.unwrap();
    push(
        db,
        "ann",
        "n1",
        day(10),
        EventKind::Note {
            text: "called back".into(),
        },
    )
    .await;
    assert_eq!(
        stage_of(db, "ann").await,
        Stage::Customer,
        "a note does not undo a manual change"
    );
    push(db, "ann", "p4", day(20), purchase(900)).await;
    assert_eq!(
        stage_of(db, "ann").await,
        Stage::Client,
        "new behaviour earns the stage again"
    );

    let ann = db
        .store
        .customer(&rapport::domain::ExternalId::parse("ann").unwrap())
        .await
        .unwrap()
        .unwrap();
    let history: Vec<(Option<Stage>, Stage)> = db
        .store
        .events_of(ann.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StageChange { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    use Stage::*;
    let expected = [
        (None, Suspect),
        (Some(Suspect), Prospect),
        (Some(Prospect), Customer),
        (Some(Customer), Client),
        (Some(Client), Customer),
        (Some(Customer), Client),
    ];
    assert_eq!(history, expected);
    assert_eq!(
        (
            ann.state.purchase_count,
            ann.state.total_spend_cents,
            ann.state.max_stage
        ),
        (4, 3100, Some(Client))
    );
}

async fn rebuild_recomputes_identical_states(db: &TestDb) {
    let options = FileOptions::csv(db.file("p.csv", PURCHASES));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    push(
        db,
        "c3",
        "i1",
        1_700_000_000,
        EventKind::Interaction {
            channel: "visit".into(),
            note: String::new(),
        },
    )
    .await;
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest
        .set_stage(&crate::helpers::ext("c2"), Stage::Partner, "brought a friend".into())
        .await
        .unwrap();
    ingest.finish().await.unwrap();
    let before = all_customers(db).await;

    let report = rebuild(&db.store).await.unwrap();
    assert_eq!(report.customers, 3);
    assert_eq!(all_customers(db).await, before);
}

async fn cdnow_master_imports_all_rows_once_and_rebuilds_to_the_same_funnel(db: &TestDb) {
    let mut options = FileOptions::csv(fixture("CDNOW_master.txt"));
    options.delimiter = Delimiter::Whitespace;
    options.columns = Some(["customer_id", "date", "quantity", "amount"].map(String::from).to_vec());
    options.date_format = Some("%Y%m%d".into());
    let columns = TransactionColumns::default();
    let first = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!(
        (first.rows, first.stored, first.customers_created),
        (69_659, 69_659, 23_570)
    );
    let second = import_transactions(&db.store, &options, &columns, None).await.unwrap();
    assert_eq!((second.stored, second.duplicates), (0, 69_659));

    let before = funnel(&db.store.funnel_rows().await.unwrap());
    assert_eq!(before.total_customers, 23_570);
    assert_eq!(
        before.as_of.as_deref(),
        Some("1998-06-30"),
        "the last purchase in the data"
    );
    assert_eq!(before.stages[&Stage::Customer] + before.stages[&Stage::Client], 23_570);
    rebuild(&db.store).await.unwrap();
    assert_eq!(funnel(&db.store.funnel_rows().await.unwrap()), before);
}

async fn customer_lists_create_then_update_profiles(db: &TestDb) {
    let text = "customer_id,name,email,city\nk1,Kim,kim@example.com,Ghent\nk2,Lou,,Porto\n";
    let options = FileOptions::csv(db.file("c.csv", text));
    let first = import_customers(&db.store, &options, &CustomerColumns::default())
        .await
        .unwrap();
    assert_eq!(
        (first.rows, first.customers_created, first.customers_updated),
        (2, 2, 0)
    );
    let changed = FileOptions::csv(db.file(
        "c2.csv",
        "customer_id,name,email,city\nk1,Kim Park,kim@example.com,Lyon\n",
    ));
    let second = import_customers(&db.store, &changed, &CustomerColumns::default())
        .await
        .unwrap();
    assert_eq!((second.customers_created, second.customers_updated), (0, 1));
    let kim = db
        .store
        .customer(&rapport::domain::ExternalId::parse("k1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kim.name.as_deref(), kim.attributes["city"].as_str()),
        (Some("Kim Park"), Some("Lyon"))
    );

    let bad = FileOptions::csv(db.file("c3.csv", "customer_id,email\nk3,not-an-address\n"));
    let error = import_customers(&db.store, &bad, &CustomerColumns::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("line 2") && error.contains("email") && error.contains("not-an-address"),
        "{error}"
    );
    assert_eq!(all_customers(db).await.len(), 2);
}

async fn a_missing_column_is_named_with_the_header_found(db: &TestDb) {
    let options = FileOptions::csv(db.file("x.csv", "client,when,total\na,2024-01-01,1\n"));
    let error = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("'customer_id'")
            && message.contains("client, when, total")
            && message.contains("--customer-col"),
        "{message}"
    );
    let empty = FileOptions::csv(db.file("empty.csv", ""));
    let error = import_transactions(&db.store, &empty, &TransactionColumns::default(), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

fn purchase(cents: i64) -> EventKind {
    EventKind::Purchase {
        amount: rapport::domain::Money(cents),
        currency: Default::default(),
        order_id: None,
        quantity: None,
    }
}

async fn push(db: &TestDb, customer: &str, key: &str, at: i64, kind: EventKind) {
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest
        .push(
            &crate::helpers::ext(customer),
            NewEvent {
                key: key.into(),
                occurred_at: at,
                kind,
            },
        )
        .await
        .unwrap();
    ingest.finish().await.unwrap();
}

async fn later_ingests_fold_their_events_into_stored_states_as_a_rebuild_would(db: &TestDb) {
    const DAY: i64 = 86_400;
    let t0 = 1_700_000_000;
    push(db, "old", "o1", t0 + 10 * DAY, purchase(1_000)).await;
    push(db, "old", "o1", t0 + 10 * DAY, purchase(1_000)).await;
    // Earlier than every stored purchase, then the same day as the first, then a repeat, an
    // interaction and a stage set by hand, spread over ingests and within one.
    push(db, "old", "o2", t0 + 3 * DAY, purchase(250)).await;
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    let ext = crate::helpers::ext;
    for (key, at, kind) in [
        ("o3", t0 + 3 * DAY + 60, purchase(75)),
        ("o1", t0 + 10 * DAY, purchase(1_000)),
        (
            "i1",
            t0 + DAY,
            EventKind::Interaction {
                channel: "call".into(),
                note: String::new(),
            },
        ),
        ("o4", t0 + 20 * DAY, purchase(500)),
    ] {
        let event = NewEvent {
            key: key.into(),
            occurred_at: at,
            kind,
        };
        ingest.push(&ext("old"), event).await.unwrap();
    }
    ingest
        .push(
            &ext("new"),
            NewEvent {
                key: "n1".into(),
                occurred_at: t0,
                kind: purchase(10),
            },
        )
        .await
        .unwrap();
    ingest.finish().await.unwrap();
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest
        .set_stage(&ext("old"), Stage::Partner, "brought a friend".into())
        .await
        .unwrap();
    ingest.finish().await.unwrap();
    push(db, "old", "o5", t0 + 30 * DAY, purchase(5)).await;

    let states = all_customers(db).await;
    let old = states.iter().find(|c| c.external_id == "old").unwrap();
    assert_eq!(old.state.purchase_count, 5, "o1 counted once");
    assert_eq!(old.state.total_spend_cents, 1_830);
    assert_eq!(old.state.first_purchase_at, Some(t0 + 3 * DAY));
    assert_eq!(old.state.second_purchase_at, Some(t0 + 10 * DAY));
    assert_eq!(old.state.first_interaction_at, Some(t0 + DAY));
    assert_eq!(
        old.state.stage,
        Some(Stage::Partner),
        "a later purchase does not undo a stage set by hand"
    );
    rebuild(&db.store).await.unwrap();
    assert_eq!(all_customers(db).await, states, "the states equal a rebuild");
}

async fn events_an_ingest_remembers_equal_the_stored_ones(db: &TestDb) {
    let ext = crate::helpers::ext;
    push(db, "a", "before", 1_700_000_000, purchase(100)).await;
    let events = [
        (
            "a",
            "order:A7",
            EventKind::Purchase {
                amount: rapport::domain::Money(1_250),
                currency: Default::default(),
                order_id: Some("A7".into()),
                quantity: None,
            },
        ),
        (
            "b",
            "k2",
            EventKind::Purchase {
                amount: rapport::domain::Money(99),
                currency: Default::default(),
                order_id: None,
                quantity: Some(3),
            },
        ),
        (
            "a",
            "k3",
            EventKind::Interaction {
                channel: "call".into(),
                note: "asked about sizes".into(),
            },
        ),
        (
            "c",
            "k4",
            EventKind::Note {
                text: "prefers e-mail".into(),
            },
        ),
    ];
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest.remember_stored();
    for (i, (customer, key, kind)) in events.iter().enumerate() {
        let event = NewEvent {
            key: (*key).into(),
            occurred_at: 1_700_100_000 + i as i64,
            kind: kind.clone(),
        };
        ingest.push(&ext(customer), event).await.unwrap();
    }
    let keys: Vec<String> = events.iter().map(|(_, key, _)| (*key).to_owned()).collect();
    let mut answered = ingest.stored_events(&keys).await.unwrap();
    ingest.finish().await.unwrap();
    let mut reader = Ingest::begin(&db.store, "test").await.unwrap();
    let mut read = reader.stored_events(&keys).await.unwrap();
    answered.sort_by_key(|e| e.id);
    read.sort_by_key(|e| e.id);
    assert_eq!(read.len(), 4);
    assert_eq!(answered, read, "what the ingest remembered is what the log holds");
}

async fn stage_of(db: &TestDb, customer: &str) -> Stage {
    let id = rapport::domain::ExternalId::parse(customer).unwrap();
    db.store.customer(&id).await.unwrap().unwrap().state.stage.unwrap()
}

async fn fits_and_scores_are_stored_and_read_back(db: &TestDb) {
    use rapport::radar::analysis::{AnalysisOptions, analyze};
    let options = crate::helpers::cdnow_sample();
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();

    let (log, _) = rapport::radar::stored_log(&db.store).await.unwrap();
    assert_eq!(log.purchases.len(), 6_919);
    let analysis = analyze(
        log,
        &AnalysisOptions {
            calibration_end: chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap(),
            holdout_end: None,
            unit: rapport_models::TimeUnit::Week,
            model: rapport::radar::analysis::ModelChoice::Only(rapport_models::ModelKind::BgNbd),
            rows: rapport::radar::analysis::Rows::All,
        },
    )
    .unwrap();
    assert!(
        (analysis.log_likelihood.unwrap() + 9582.4).abs() < 0.1,
        "{:?}",
        analysis.log_likelihood
    );

    let record = rapport::store::FitRecord {
        id: 0,
        created_at: 1,
        model: analysis.model.into(),
        time_unit: "week".into(),
        calibration_end: "1997-09-30".into(),
        summary: serde_json::to_value(&analysis).unwrap(),
        log_likelihood: analysis.log_likelihood.unwrap(),
        customers: analysis.customers as i64,
    };
    let version = db.store.save_fit(&record).await.unwrap();
    assert_eq!(
        db.store.latest_fit().await.unwrap(),
        Some(rapport::store::FitRecord { id: version, ..record })
    );

    let mut tx = db.store.begin().await.unwrap();
    tx.save_scores(version, 2, &analysis.rows).await.unwrap();
    tx.commit().await.unwrap();
    let row = &analysis.rows[0];
    let customer = db
        .store
        .customer(&rapport::domain::ExternalId::parse(&row.customer_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.store.score(customer.id).await.unwrap().as_ref(), Some(row));
}

async fn an_order_repeated_within_one_file_counts_once(db: &TestDb) {
    let text =
        "customer_id,date,amount,order_id\nn1,2024-01-05,10.00,X1\nn1,2024-01-05,10.00,X1\nn1,2024-03-01,4.00,X2\n";
    let options = FileOptions::csv(db.file("dup.csv", text));
    let report = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    assert_eq!((report.stored, report.duplicates), (2, 1));
    let n1 = db
        .store
        .customer(&rapport::domain::ExternalId::parse("n1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n1.state.purchase_count, n1.state.total_spend_cents, n1.state.stage),
        (2, 1400, Some(Stage::Client))
    );
    let before = all_customers(db).await;
    rebuild(&db.store).await.unwrap();
    assert_eq!(all_customers(db).await, before);
}

fn score(customer: &str, p_alive: f64, clv_12m: f64) -> rapport::radar::analysis::ScoreRow {
    rapport::radar::analysis::ScoreRow {
        customer_id: customer.into(),
        frequency: 1,
        recency: 1.0,
        age: 2.0,
        monetary_value: 10.0,
        p_alive,
        expected_purchases_90d: 0.5,
        expected_purchases_365d: 1.0,
        expected_spend: 10.0,
        clv_12m,
        rfm_recency: 3,
        rfm_frequency: 3,
        rfm_monetary: 3,
        segment: rapport_models::Segment::NeedsAttention,
        expected_days_to_next_purchase: None,
        explanation: format!("{customer} is explained"),
    }
}

async fn dashboard_figures_add_up_customers_purchases_and_scores(db: &TestDb) {
    use rapport::store::{CustomerQuery, CustomerSort, MonthFigures};
    let csv = "customer_id,date,amount,order_id\n\
        c1,2024-01-05,10.00,A1\nc1,2024-01-05,5.50,A2\nc2,2024-01-06,20.00,A3\nc1,2024-02-01,7.25,A4\n\
        c3,2023-06-01,100.00,A5\nc3,2022-01-01,1.00,A6\n";
    let options = FileOptions::csv(db.file("p.csv", csv));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();

    // Noon on the day of the last purchase, in UTC.
    let utc = Calendar {
        time_zone: chrono_tz::Tz::UTC,
        now: 1_706_745_600 + 43_200,
    };
    let f = db.store.dashboard_figures(&utc, 0.5).await.unwrap();
    assert_eq!((f.customers, f.buyers, f.repeat_buyers), (3, 3, 2));
    assert_eq!(f.last_purchase_at, Some(1_706_745_600), "2024-02-01");
    // 30 days to 2024-02-01 start on 2024-01-03; 365 days on 2023-02-02.
    assert_eq!((f.revenue_30d_cents, f.revenue_365d_cents), (4_275, 14_275));
    assert_eq!((f.scored, f.likely_active, f.at_risk, f.scored_at), (0, 0, 0, None));
    let month = |month: &str, purchases, revenue_cents, buyers, new_buyers| MonthFigures {
        month: month.into(),
        purchases,
        revenue_cents,
        buyers,
        new_buyers,
    };
    assert_eq!(
        f.months,
        [
            month("2022-01", 1, 100, 1, 1),
            month("2023-06", 1, 10_000, 1, 0),
            month("2024-01", 3, 3_550, 2, 2),
            month("2024-02", 1, 725, 1, 0),
        ]
    );
    // In New York the purchases at midnight UTC were made the evening before: 2024-02-01's
    // belongs to January, 2023-06-01's to May, 2022-01-01's (a first purchase) to December 2021.
    let new_york = Calendar {
        time_zone: "America/New_York".parse().unwrap(),
        ..utc
    };
    let local = db.store.dashboard_figures(&new_york, 0.5).await.unwrap();
    assert_eq!(
        local.months,
        [
            month("2021-12", 1, 100, 1, 1),
            month("2023-05", 1, 10_000, 1, 0),
            month("2024-01", 4, 4_275, 2, 2),
        ]
    );
    // 300 days later the last 30 days hold nothing: windows end today, not at the last purchase.
    let later = Calendar {
        now: utc.now + 300 * 86_400,
        ..utc
    };
    let old = db.store.dashboard_figures(&later, 0.5).await.unwrap();
    assert_eq!((old.revenue_30d_cents, old.revenue_365d_cents), (0, 4_275));

    let fit = rapport::store::FitRecord {
        id: 0,
        created_at: 1,
        model: "bgnbd".into(),
        time_unit: "week".into(),
        calibration_end: "2024-02-01".into(),
        summary: serde_json::json!({}),
        log_likelihood: -1.0,
        customers: 3,
    };
    let version = db.store.save_fit(&fit).await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let rows = [score("c1", 0.3, 50.0), score("c2", 0.9, 10.0), score("c3", 0.2, 5.0)];
    tx.save_scores(version, 7, &rows).await.unwrap();
    tx.commit().await.unwrap();

    let f = db.store.dashboard_figures(&utc, 0.5).await.unwrap();
    assert_eq!((f.scored, f.likely_active, f.at_risk, f.scored_at), (3, 1, 2, Some(7)));
    assert!((f.predicted_revenue_12m - 65.0).abs() < 1e-9);
    // c2 is a customer (one purchase day), so not on the list. c1 and c3 would each bring at most
    // their two purchases of 10 if still active (the cap of the value at risk), and c3 is the
    // likelier gone, so it stands to lose more.
    let query = CustomerQuery {
        at_risk_below: Some(0.5),
        sort: CustomerSort::Risk,
        limit: 10,
        ..CustomerQuery::default()
    };
    let listed = db.store.query_customers(&query).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|i| i.customer.external_id.as_str()).collect();
    assert_eq!(ids, ["c3", "c1"]);
    let rest = CustomerQuery {
        after: Some(listed[0].cursor(CustomerSort::Risk)),
        ..query
    };
    let ids: Vec<String> = db
        .store
        .query_customers(&rest)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.customer.external_id)
        .collect();
    assert_eq!(ids, ["c1"]);
}

/// Two writers (replicas, on PostgreSQL) meet a customer neither has seen: the first creates it
/// and has not committed when the second wants to create it too. The second waits, finds it and
/// treats it as existing: both writes land, the customer exists once, and its state counts both
/// purchases. (SQLite lets one writer in at a time, so there the second simply starts later.)
async fn two_writers_creating_one_customer_both_succeed_and_it_exists_once(db: &TestDb) {
    let day = 86_400;
    let new_event = |key: &str, at: i64| NewEvent {
        key: key.into(),
        occurred_at: at,
        kind: purchase(1000),
    };
    let mut first = Ingest::begin(&db.store, "test").await.unwrap();
    first
        .push(&crate::helpers::ext("race"), new_event("race-1", 100 * day))
        .await
        .unwrap();
    // Flushes: the customer row now exists in the first writer's open transaction.
    first.stored_events(&["race-1".into()]).await.unwrap();

    let store = db.store.clone();
    let second = tokio::spawn(async move {
        let mut second = Ingest::begin(&store, "test").await.unwrap();
        let profile = rapport::store::NewCustomer {
            name: Some("Second Writer".into()),
            ..rapport::store::NewCustomer::new(crate::helpers::ext("race"), 0)
        };
        let (created, updated) = second.upsert_profiles(vec![profile]).await.unwrap();
        second
            .push(&crate::helpers::ext("race"), new_event("race-2", 130 * day))
            .await
            .unwrap();
        (created, updated, second.finish().await.unwrap())
    });
    // Let the second writer reach the point where it waits for the first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let first = first.finish().await.unwrap();
    let (created, updated, second) = second.await.unwrap();

    assert_eq!(first.customers_created, 1);
    assert_eq!((created, updated, second.customers_created), (0, 1, 0));
    assert_eq!(first.stored + second.stored, 2);
    let customers = all_customers(db).await;
    assert_eq!(customers.len(), 1, "one customer, not two");
    let customer = &customers[0];
    assert_eq!(
        customer.name.as_deref(),
        Some("Second Writer"),
        "the later profile is kept"
    );
    assert_eq!(customer.state.purchase_count, 2, "both purchases folded into the state");
    assert_eq!(
        customer.state.stage,
        Some(Stage::Client),
        "the second purchase made a client"
    );
}

/// The schema objects a bulk load may set aside, as the database lists them: SQLite's whole
/// schema, PostgreSQL's index definitions.
async fn schema(db: &TestDb) -> Vec<(String, String, Option<String>)> {
    use sqlx::Connection as _;
    if !db.url.starts_with("sqlite") {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        return sqlx::query_as(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY tablename, indexname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
    }
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query_as("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

async fn a_bulk_load_restores_what_it_set_aside_and_finds_its_new_customers(db: &TestDb) {
    use rapport::store::{CustomerQuery, CustomerSort, NewCustomer};
    let ext = crate::helpers::ext;
    let before = schema(db).await;
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest.bulk_load().await.unwrap();
    let profile = NewCustomer {
        name: Some("Zed Quarry".into()),
        ..NewCustomer::new(ext("bulk-1"), 0)
    };
    ingest.upsert_profiles(vec![profile]).await.unwrap();
    for (i, cents) in [(1, 500), (2, 2_000), (3, 900), (1, 700)].into_iter().enumerate() {
        let event = NewEvent {
            key: format!("bulk-order-{i}"),
            occurred_at: 1_700_000_000 + i as i64 * 86_400,
            kind: purchase(cents.1),
        };
        ingest.push(&ext(&format!("bulk-{}", cents.0)), event).await.unwrap();
    }
    ingest.finish().await.unwrap();
    assert_eq!(schema(db).await, before, "every index and trigger is back as it was");
    let found = db
        .store
        .query_customers(&CustomerQuery {
            search: Some("quarr".into()),
            limit: 10,
            ..CustomerQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|c| c.customer.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["bulk-1"],
        "the search index holds the customers the bulk load created"
    );
    let by_spend = db
        .store
        .query_customers(&CustomerQuery {
            sort: CustomerSort::Spend,
            limit: 10,
            ..CustomerQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = by_spend.iter().map(|c| c.customer.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["bulk-2", "bulk-1", "bulk-3"],
        "sorted by spend through the restored index"
    );
    let states = all_customers(db).await;
    rebuild(&db.store).await.unwrap();
    assert_eq!(all_customers(db).await, states, "the states equal a rebuild");
}

/// The orders of a small shop, keyed by order: (customer, order key, cents, day).
const BULK_ORDERS: [(&str, &str, i64, i64); 5] = [
    ("deferred-1", "deferred-order-1", 1_000, 0),
    ("deferred-2", "deferred-order-2", 2_500, 1),
    ("deferred-1", "deferred-order-3", 700, 9),
    ("deferred-3", "deferred-order-4", 4_000, 12),
    ("deferred-2", "deferred-order-5", 300, 40),
];

/// Begins an ingest announcing a load large enough to set indexes aside, checking keys as `keys`
/// says, and pushes `orders`.
async fn bulk_load(db: &TestDb, orders: &[(&str, &str, i64, i64)], keys: BulkKeys) -> Ingest {
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    ingest.refuse_conflicts();
    ingest.expect(1_000_000, keys).await.unwrap();
    for (customer, key, cents, day) in orders {
        let event = NewEvent {
            key: (*key).to_owned(),
            occurred_at: 1_700_000_000 + day * 86_400,
            kind: purchase(*cents),
        };
        ingest.push(&crate::helpers::ext(customer), event).await.unwrap();
    }
    ingest
}

async fn a_bulk_load_with_deferred_keys_restores_the_key_and_equals_a_rebuild(db: &TestDb) {
    let before = schema(db).await;
    let report = bulk_load(db, &BULK_ORDERS, BulkKeys::Deferred)
        .await
        .finish()
        .await
        .unwrap();
    assert_eq!((report.stored, report.duplicates, report.customers_created), (5, 0, 3));
    assert_eq!(schema(db).await, before, "the event key's index is back as it was");
    let states = all_customers(db).await;
    rebuild(&db.store).await.unwrap();
    assert_eq!(all_customers(db).await, states, "the states equal a rebuild");
    // The key is enforced again: the same orders once more, checked, are all repeats.
    let again = bulk_load(db, &BULK_ORDERS, BulkKeys::Checked)
        .await
        .finish()
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 5));
}

async fn a_key_repeated_in_a_deferred_bulk_load_fails_it_whole_and_a_checked_one_skips_it(db: &TestDb) {
    let before = schema(db).await;
    let mut orders = BULK_ORDERS.to_vec();
    orders.push(BULK_ORDERS[1]);
    let deferred = bulk_load(db, &orders, BulkKeys::Deferred).await.finish().await;
    if db.url.starts_with("sqlite") {
        // SQLite checks keys as it appends, whatever the caller allows.
        let report = deferred.unwrap();
        assert_eq!((report.stored, report.duplicates), (5, 1));
        return;
    }
    assert!(
        matches!(deferred, Err(StoreError::RepeatedKeys)),
        "PostgreSQL finds the repeat when it restores the key: {deferred:?}"
    );
    assert!(all_customers(db).await.is_empty(), "nothing was stored");
    assert_eq!(schema(db).await, before, "every index is as it was");
    let checked = bulk_load(db, &orders, BulkKeys::Checked).await.finish().await.unwrap();
    assert_eq!(
        (checked.stored, checked.duplicates),
        (5, 1),
        "the checked load skips the repeat"
    );
}

async fn a_file_large_enough_to_load_in_bulk_stores_a_repeated_order_once(db: &TestDb) {
    // An import judges a file's rows by its size: a wide note column makes 3,000 rows weigh what
    // half a million plain ones do, enough for a bulk load (on PostgreSQL with keys deferred,
    // which the repeated order then fails, so the file is read again with each key checked).
    let note = "n".repeat(8_192);
    let mut text = String::from("customer_id,date,amount,order_id,note\n");
    for i in 0..3_000 {
        text.push_str(&format!(
            "w{},2024-01-{:02},{}.00,W{i},{note}\n",
            i % 700,
            1 + i % 28,
            1 + i % 90
        ));
    }
    text.push_str(&format!("w1,2024-01-02,2.00,W1,{note}\n"));
    let options = FileOptions::csv(db.file("wide.csv", &text));
    let report = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    assert_eq!((report.rows, report.stored, report.duplicates), (3_001, 3_000, 1));
    assert_eq!(report.customers_created, 700);
    let before = all_customers(db).await;
    rebuild(&db.store).await.unwrap();
    assert_eq!(all_customers(db).await, before, "the states equal a rebuild");
}
