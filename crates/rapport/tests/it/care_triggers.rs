//! The triggers that recur and the webhook action: a yearly anniversary of the first purchase
//! (29 February on the 28th), a cron schedule in the business's time zone with missed firings
//! past expiry counted, and `plan.fired` written to the webhook outbox with the occurrence.

use rapport::care::email::RunSettings;
use rapport::care::plan_file::parse_plans;
use rapport::care::run_due;
use rapport::domain::webhook::{EventType, WebhookSecret};
use rapport::import::{FileOptions, TransactionColumns, import_transactions};
use rapport::store::{DeliveryPage, NewSubscription};

use crate::contract;
use crate::helpers::TestDb;

contract!(
    an_anniversary_comes_every_year_and_29_february_falls_on_the_28th,
    a_schedule_fires_for_the_stages_it_names_and_counts_firings_missed_past_expiry,
    a_webhook_plan_writes_plan_fired_for_each_occurrence_it_acts_on,
);

const DAY: i64 = 86_400;

/// Unix seconds of a UTC date and hour.
fn at(date: &str, hour: u32) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

async fn import(db: &TestDb, rows: &str) {
    let text = format!("customer_id,date,amount,order_id\n{rows}");
    let options = FileOptions::csv(db.file("purchases.csv", &text));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .expect("import");
}

async fn apply(db: &TestDb, text: &str, now: i64) {
    let specs = parse_plans("plans.toml", text).expect("the plan file reads");
    db.store.apply_plans(&specs, now).await.expect("apply");
}

async fn titles(db: &TestDb) -> Vec<(String, String)> {
    let mut tasks: Vec<(String, String)> = db
        .store
        .open_tasks(100)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.customer, t.title))
        .collect();
    tasks.sort();
    tasks
}

async fn an_anniversary_comes_every_year_and_29_february_falls_on_the_28th(db: &TestDb) {
    import(db, "A,2023-02-28,10,1\nB,2024-02-29,10,2\nB,2024-06-01,10,3\n").await;
    let plan = r#"
[[plan]]
name = "anniversary"
trigger = { anniversary = "first_purchase" }
action = { task = "Wish {first_name} a happy anniversary", due_in = "1d" }
holdout = 0.0
"#;
    apply(db, plan, at("2025-02-20", 0)).await;
    let settings = RunSettings::default();
    assert_eq!(run_due(&db.store, &settings, at("2025-02-27", 0)).await.unwrap().due, 0);
    let report = run_due(&db.store, &settings, at("2025-03-01", 0)).await.unwrap();
    assert_eq!(
        report.tasks_created, 2,
        "A's second and B's first, both on 28 February: {report:?}"
    );
    let tasks = db.store.open_tasks(10).await.unwrap();
    assert!(
        tasks
            .iter()
            .all(|t| t.why.as_deref().is_some_and(|w| w.contains("first bought on"))),
        "{tasks:?}"
    );
    assert_eq!(
        run_due(&db.store, &settings, at("2025-03-02", 0)).await.unwrap().due,
        0,
        "once a year"
    );
    assert_eq!(run_due(&db.store, &settings, at("2026-02-27", 0)).await.unwrap().due, 0);
    let next = run_due(&db.store, &settings, at("2026-03-01", 0)).await.unwrap();
    assert_eq!(
        next.tasks_created, 2,
        "the next year's, planned when the last ran: {next:?}"
    );
    let plan = db.store.plan("anniversary").await.unwrap().unwrap();
    assert_eq!((plan.occurrences.done, plan.occurrences.pending), (4, 2));
}

async fn a_schedule_fires_for_the_stages_it_names_and_counts_firings_missed_past_expiry(db: &TestDb) {
    // A and B bought twice (clients), C once (a customer).
    import(
        db,
        "A,2024-10-01,10,1\nA,2024-11-01,10,2\nB,2024-10-05,10,3\nB,2024-12-05,10,4\nC,2024-12-01,10,5\n",
    )
    .await;
    let plan = r#"
[[plan]]
name = "monthly clients"
trigger = { schedule = "0 9 1 * *" }   # the first of every month at 9:00
when = { stage = "client" }
action = { task = "Monthly call with {first_name}", due_in = "2d" }
holdout = 0.0
"#;
    apply(db, plan, at("2025-01-15", 0)).await;
    let settings = RunSettings {
        time_zone: chrono_tz::Europe::Berlin,
        ..Default::default()
    };
    assert_eq!(run_due(&db.store, &settings, at("2025-01-31", 0)).await.unwrap().due, 0);
    // Down through February: its firing (1 February, 9:00 in Berlin) is past the 7-day expiry
    // on 2 March; March's is due.
    let report = run_due(&db.store, &settings, at("2025-03-02", 0)).await.unwrap();
    assert_eq!((report.due, report.tasks_created), (2, 2), "{report:?}");
    let occurrences = db.store.plan("monthly clients").await.unwrap().unwrap().occurrences;
    assert_eq!(
        occurrences.expired, 2,
        "February's two clients, counted: {occurrences:?}"
    );
    assert_eq!(
        titles(db).await,
        [
            ("A".to_owned(), "Monthly call with A".to_owned()),
            ("B".to_owned(), "Monthly call with B".to_owned())
        ]
    );
    let tasks = db.store.open_tasks(10).await.unwrap();
    // 9:00 in Berlin is 8:00 UTC in winter; the task is due two days after it ran.
    assert_eq!(tasks[0].due_at, at("2025-03-02", 0) + 2 * DAY);
    let planned: i64 = occurrences.done + occurrences.pending;
    assert_eq!(planned, 2);
    assert_eq!(
        run_due(&db.store, &settings, at("2025-03-02", 1)).await.unwrap().due,
        0,
        "a firing once"
    );
    let april = run_due(&db.store, &settings, at("2025-04-01", 7)).await.unwrap();
    assert_eq!(
        april.due, 2,
        "April's, at 9:00 in Berlin (7:00 UTC, summer time): {april:?}"
    );
    let before = run_due(&db.store, &settings, at("2025-05-01", 6)).await.unwrap();
    assert_eq!(before.due, 0, "May's has not come at 8:00 in Berlin");
}

async fn a_webhook_plan_writes_plan_fired_for_each_occurrence_it_acts_on(db: &TestDb) {
    let subscription = db
        .store
        .create_webhook(&NewSubscription {
            url: "https://hooks.example.com/rapport".into(),
            event_types: vec![EventType::PlanFired],
            secret: WebhookSecret::generate(),
            description: None,
            created_at: at("2025-01-01", 0),
        })
        .await
        .unwrap();
    import(db, "A,2025-01-01,10,1\nB,2025-01-02,10,2\n").await;
    let plan = r#"
[[plan]]
name = "coupon"
trigger = { after = "first_purchase", offset = "1d" }
action = { webhook = "plan.fired" }
holdout = 0.0
"#;
    apply(db, plan, at("2025-01-01", 12)).await;
    let report = run_due(&db.store, &RunSettings::default(), at("2025-01-04", 0))
        .await
        .unwrap();
    assert_eq!(
        (report.due, report.webhooks_queued, report.tasks_created),
        (2, 2, 0),
        "{report:?}"
    );
    let deliveries = db
        .store
        .webhook_deliveries(DeliveryPage {
            subscription,
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 2);
    let mut customers: Vec<String> = deliveries
        .iter()
        .map(|d| {
            assert_eq!(d.event_type, EventType::PlanFired);
            let body: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
            assert_eq!(body["type"], "plan.fired", "{body}");
            assert_eq!(body["data"]["plan"], "coupon");
            assert_eq!(body["data"]["cause"], "first_purchase");
            body["data"]["customer_id"].as_str().unwrap().to_owned()
        })
        .collect();
    customers.sort();
    assert_eq!(customers, ["A", "B"]);
    assert_eq!(
        run_due(&db.store, &RunSettings::default(), at("2025-01-05", 0))
            .await
            .unwrap()
            .due,
        0
    );
}
