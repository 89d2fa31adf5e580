//! Care plans on both backends: planning from the history and from new events, the scheduler's
//! exactly-once runs (also two at once, on two connections to one database), catch-up and
//! expiry, versions, pausing; and the plan file through the binary.

use std::process::Command;

use rapport::care::email::RunSettings;
use rapport::care::plan_file::parse_plans;
use rapport::care::{complete_task, run_due};
use rapport::domain::EventKind;
use rapport::domain::plan::TaskOutcome;
use rapport::domain::plan::held_out;
use rapport::import::{FileOptions, TransactionColumns, import_transactions};
use rapport::store::{PlanChange, TaskDone, TaskQuery, open};

use crate::contract;
use crate::helpers::TestDb;

contract!(
    the_documented_plan_creates_one_task_per_purchase_outside_the_holdout_and_runs_once,
    events_stored_after_a_plan_are_planned_in_their_transaction,
    two_schedulers_at_once_run_every_occurrence_exactly_once,
    a_run_after_downtime_catches_up_within_expiry_and_records_the_rest_expired,
    an_edited_plan_keeps_its_history_and_a_new_trigger_replans,
    a_paused_plan_records_its_due_occurrences_as_skipped,
    a_completed_task_goes_on_the_timeline_once_and_the_agenda_filters,
    the_api_applies_plans_as_admin_and_staff_complete_tasks,
    the_second_order_ask_is_timed_by_the_business_and_says_why,
    an_overdue_client_is_asked_after_twice_their_usual_gap_unless_they_bought_again,
    a_scoring_that_puts_p_alive_below_the_threshold_plans_the_win_back,
    the_plan_report_compares_the_treated_with_the_hold_out,
    a_first_purchase_is_planned_or_counted_once_whatever_comes_after,
);

const PLAN: &str = r#"
[[plan]]
name = "two-year check-in"
trigger = { after = "purchase", offset = "730d" }   # every purchase, 730 days later
when = { stage = ["customer", "client", "partner"] }
action = { task = "Call {first_name}: how is it going, two years on?", due_in = "3d" }
holdout = 0.10
"#;

const DAY: i64 = 86_400;

/// 2024-01-01T00:00:00Z.
const JAN_2024: i64 = 1_704_067_200;

/// `customers` customers with one purchase each on 2024-01-01 to 2024-01-05, and every third a
/// second one on 2024-03-01 (outside the first run's reach).
fn purchases(customers: usize) -> String {
    let mut text = "customer_id,date,amount,order_id\n".to_owned();
    for i in 0..customers {
        text.push_str(&format!("C{i},2024-01-0{},10.00,A{i}\n", 1 + i % 5));
        if i % 3 == 0 {
            text.push_str(&format!("C{i},2024-03-01,12.50,B{i}\n"));
        }
    }
    text
}

async fn import(db: &TestDb, text: &str) {
    let options = FileOptions::csv(db.file("purchases.csv", text));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .expect("import");
}

async fn apply(db: &TestDb, text: &str, now: i64) -> Vec<PlanChange> {
    let specs = parse_plans("plans.toml", text).expect("the plan file reads");
    db.store.apply_plans(&specs, now).await.expect("apply")
}

async fn the_documented_plan_creates_one_task_per_purchase_outside_the_holdout_and_runs_once(db: &TestDb) {
    import(db, &purchases(300)).await;
    // Applied on 2025-12-30: the January purchases' check-ins fall due within days.
    let changes = apply(db, PLAN, JAN_2024 + 729 * DAY).await;
    assert_eq!(
        changes,
        vec![PlanChange::Created {
            name: "two-year check-in".into(),
            planned: 400,
            expired: 0
        }]
    );
    let plan = db.store.plan("two-year check-in").await.unwrap().unwrap();
    // A run two years and a week after the January purchases: every one of them is due.
    let now = JAN_2024 + 737 * DAY;
    let report = run_due(&db.store, &Default::default(), now).await.unwrap();
    let customer_ids = sqlx_ids(db).await;
    let expected_held = customer_ids.iter().filter(|&&id| held_out(plan.id, id, 0.10)).count() as u64;
    assert!(
        expected_held > 10 && expected_held < 60,
        "{expected_held} of 300 held out at 10 %"
    );
    assert_eq!(report.due, 300);
    assert_eq!(report.held_out, expected_held);
    assert_eq!(report.tasks_created, 300 - expected_held);
    assert_eq!(report.expired, 0);
    let tasks = db.store.open_tasks(10_000).await.unwrap();
    assert_eq!(tasks.len() as u64, report.tasks_created);
    assert!(
        tasks
            .iter()
            .all(|t| t.due_at == now + 3 * DAY && t.plan.as_deref() == Some("two-year check-in"))
    );
    let c7 = tasks.iter().find(|t| t.customer == "C7");
    if let Some(task) = c7 {
        assert_eq!(task.title, "Call C7: how is it going, two years on?");
    }
    // Running again at the same time finds nothing due and creates nothing.
    let again = run_due(&db.store, &Default::default(), now).await.unwrap();
    assert_eq!(again.due, 0);
    assert_eq!(db.store.open_tasks(10_000).await.unwrap().len(), tasks.len());
    let plan = db.store.plan("two-year check-in").await.unwrap().unwrap();
    assert_eq!(plan.occurrences.pending, 100, "the March purchases are still to come");
    assert_eq!(plan.occurrences.done + plan.occurrences.held_out, 300);
}

/// Every customer's id, from the store.
async fn sqlx_ids(db: &TestDb) -> Vec<i64> {
    let filter = rapport::store::CustomerFilter {
        limit: u32::MAX,
        ..Default::default()
    };
    db.store
        .list_customers(&filter)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.0)
        .collect()
}

async fn events_stored_after_a_plan_are_planned_in_their_transaction(db: &TestDb) {
    let plans = PLAN.replace("730d", "7d").replace("two-year check-in", "week check-in");
    let applied_at = JAN_2024 - DAY;
    assert_eq!(
        apply(db, &plans, applied_at).await,
        vec![PlanChange::Created {
            name: "week check-in".into(),
            planned: 0,
            expired: 0
        }]
    );
    // Imported now (the real clock): purchases of 2024 are long past the week's expiry, so they
    // are counted as expired when planned, not stored one by one.
    import(db, &purchases(30)).await;
    let plan = db.store.plan("week check-in").await.unwrap().unwrap();
    assert_eq!(plan.occurrences.pending, 0);
    assert_eq!(plan.occurrences.expired, 40);
    // A purchase of today is planned with it, due in a week; importing it again plans nothing more.
    let today = chrono::Utc::now().date_naive();
    let text = format!("customer_id,date,amount,order_id\nC1,{today},5.00,T1\n");
    import(db, &text).await;
    import(db, &text).await;
    let plan = db.store.plan("week check-in").await.unwrap().unwrap();
    assert_eq!(plan.occurrences.pending, 1);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        run_due(&db.store, &Default::default(), now).await.unwrap().due,
        0,
        "not due before a week"
    );
    let report = run_due(&db.store, &Default::default(), now + 8 * DAY).await.unwrap();
    assert_eq!(report.due, 1);
}

async fn two_schedulers_at_once_run_every_occurrence_exactly_once(db: &TestDb) {
    import(db, &purchases(3_000)).await;
    apply(
        db,
        &PLAN.replace("holdout = 0.10", "holdout = 0.0"),
        JAN_2024 + 729 * DAY,
    )
    .await;
    // A second store on the same database: another replica, or `run-due` from cron.
    let other = open(&db.url).await.expect("second connection");
    let now = JAN_2024 + 737 * DAY;
    let settings = RunSettings::default();
    let (a, b) = tokio::join!(run_due(&db.store, &settings, now), run_due(&other, &settings, now));
    let (a, b) = (a.expect("first run"), b.expect("second run"));
    assert_eq!(a.due + b.due, 3_000, "{a:?} {b:?}");
    assert_eq!(a.tasks_created + b.tasks_created, 3_000);
    assert_eq!(db.store.open_tasks(100_000).await.unwrap().len(), 3_000);
}

async fn a_run_after_downtime_catches_up_within_expiry_and_records_the_rest_expired(db: &TestDb) {
    import(db, &purchases(100)).await;
    let plans = PLAN.replace("holdout = 0.10", "holdout = 0.0\nexpire_after = \"3d\"");
    apply(db, &plans, JAN_2024 + 729 * DAY).await;
    // The scheduler was down until 2026-01-06: check-ins due 2026-01-03 and later (the purchases
    // of 2024-01-04 and -05) are caught up, the earlier ones are older than three days.
    let now = JAN_2024 + 735 * DAY + 3_600;
    let report = run_due(&db.store, &Default::default(), now).await.unwrap();
    assert_eq!(report.due, 100);
    assert_eq!(report.tasks_created, 40);
    assert_eq!(report.expired, 60);
    assert_eq!(
        report.skipped.get("expired"),
        Some(&60),
        "among the skipped, with its reason"
    );
    let plan = db.store.plan("two-year check-in").await.unwrap().unwrap();
    assert_eq!(plan.occurrences.expired, 60);
}

async fn an_edited_plan_keeps_its_history_and_a_new_trigger_replans(db: &TestDb) {
    import(db, &purchases(50)).await;
    let at = JAN_2024 + 729 * DAY;
    apply(db, PLAN, at).await;
    assert_eq!(
        apply(db, PLAN, at).await,
        vec![PlanChange::Unchanged {
            name: "two-year check-in".into()
        }]
    );
    let reworded = PLAN.replace("how is it going", "how are things");
    assert_eq!(
        apply(db, &reworded, at).await,
        vec![PlanChange::Updated {
            name: "two-year check-in".into(),
            from: 1,
            to: 2,
            replanned: false,
            planned: 0,
            withdrawn: 0
        }]
    );
    let report = run_due(&db.store, &Default::default(), JAN_2024 + 737 * DAY)
        .await
        .unwrap();
    let tasks = db.store.open_tasks(1_000).await.unwrap();
    assert!(
        tasks.iter().all(|t| t.title.contains("how are things")),
        "the version in force acts"
    );
    assert_eq!(report.due, 50);
    // A new offset withdraws the pending March check-ins and plans them again a day later; the
    // January ones, run already, are not planned twice.
    let sooner = reworded.replace("730d", "731d");
    let change = apply(db, &sooner, at).await;
    assert_eq!(
        change,
        vec![PlanChange::Updated {
            name: "two-year check-in".into(),
            from: 2,
            to: 3,
            replanned: true,
            planned: 17,
            withdrawn: 17
        }]
    );
    let plan = db.store.plan("two-year check-in").await.unwrap().unwrap();
    assert_eq!(plan.version, 3);
    assert_eq!(
        plan.occurrences.pending, 17,
        "only the causes not yet run are planned again"
    );
    assert_eq!(plan.occurrences.done + plan.occurrences.held_out, 50);
    // What each version did: the first ran nothing, the second the 50 January check-ins.
    let history = db.store.plan_history(plan.id).await.unwrap();
    let ran: Vec<(i64, i64)> = history
        .iter()
        .map(|v| (v.version, v.occurrences.done + v.occurrences.held_out))
        .collect();
    assert_eq!(ran, [(1, 0), (2, 50), (3, 0)]);
    assert!(
        history[0].spec.action != history[1].spec.action,
        "each version as it was written"
    );
    assert_eq!(history[2].spec.trigger.to_string(), "731d after every purchase");
}

async fn a_paused_plan_records_its_due_occurrences_as_skipped(db: &TestDb) {
    import(db, &purchases(20)).await;
    apply(db, PLAN, JAN_2024 + 729 * DAY).await;
    let now = JAN_2024 + 737 * DAY;
    assert!(db.store.set_plan_paused("two-year check-in", true, now).await.unwrap());
    assert!(!db.store.set_plan_paused("no such plan", true, now).await.unwrap());
    let report = run_due(&db.store, &Default::default(), now).await.unwrap();
    assert_eq!(report.skipped.get("paused"), Some(&20));
    assert_eq!(report.tasks_created, 0);
    assert!(db.store.open_tasks(100).await.unwrap().is_empty());
    db.store.set_plan_paused("two-year check-in", false, now).await.unwrap();
    assert_eq!(
        run_due(&db.store, &Default::default(), now).await.unwrap().due,
        0,
        "skipped occurrences are not run again"
    );
}

#[test]
fn a_plan_file_with_an_error_applies_nothing_and_names_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let good = PLAN.replace("two-year check-in", "first");
    let bad = PLAN.replace("730d", "730 days");
    let file = dir.path().join("plans.toml");
    std::fs::write(&file, format!("{good}{bad}")).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let applied = run(&["plans", "apply", file.to_str().unwrap()]);
    assert!(!applied.status.success());
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(
        stderr.contains("plans.toml:11: trigger.offset: '730 days' is not a duration"),
        "{stderr}"
    );
    let listed = run(&["plans", "list", "--json"]);
    assert!(listed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "[]",
        "nothing was applied"
    );
    std::fs::write(&file, &good).unwrap();
    let applied = run(&["plans", "apply", file.to_str().unwrap()]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    assert_eq!(
        String::from_utf8_lossy(&applied.stdout).trim(),
        "created 'first': 0 occurrences planned from the history"
    );
    let ran = run(&["run-due", "--now", "2026-01-08", "--json"]);
    assert!(ran.status.success());
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert_eq!(report["due"], 0);
}

#[cfg(unix)]
#[test]
fn rapport_serve_runs_due_plans_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let plans = dir.path().join("plans.toml");
    let thanks = "[[plan]]\nname = \"thanks\"\ntrigger = { after = \"first_purchase\", offset = \"0m\" }\n\
                  action = { task = \"Thank {first_name}\" }\nholdout = 0.0\n";
    std::fs::write(&plans, thanks).unwrap();
    run(&["plans", "apply", plans.to_str().unwrap()]);
    let purchases = dir.path().join("p.csv");
    let today = chrono::Utc::now().date_naive();
    std::fs::write(&purchases, format!("customer_id,date,amount\nAna,{today},10.00\n")).unwrap();
    run(&["import", "transactions", purchases.to_str().unwrap()]);

    let (mut server, _) = crate::helpers::serve_binary(
        &db,
        &[("RAPPORT_CARE_RUN_EVERY_SECONDS", "1")],
        std::process::Stdio::null(),
    );
    let mut done = 0;
    for _ in 0..100 {
        let plan: serde_json::Value = serde_json::from_slice(&run(&["plans", "show", "thanks", "--json"])).unwrap();
        done = plan["occurrences"]["done"].as_i64().unwrap();
        if done > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();
    assert_eq!(done, 1, "the server ran the due thank-you");
}

async fn a_completed_task_goes_on_the_timeline_once_and_the_agenda_filters(db: &TestDb) {
    import(db, &purchases(10)).await;
    apply(
        db,
        &PLAN.replace("holdout = 0.10", "holdout = 0.0"),
        JAN_2024 + 729 * DAY,
    )
    .await;
    let now = JAN_2024 + 737 * DAY;
    run_due(&db.store, &Default::default(), now).await.unwrap();
    let all = TaskQuery {
        limit: 100,
        ..Default::default()
    };
    let agenda = db.store.agenda(&all).await.unwrap();
    assert_eq!(agenda.len(), 10);
    let first = agenda
        .iter()
        .find(|item| item.task.customer == "C1")
        .expect("C1's task");
    assert_eq!((first.orders, first.total_spend_cents), (1, 1_000));
    assert_eq!(first.stage, Some(rapport::domain::Stage::Customer));
    assert_eq!(first.task.title, "Call C1: how is it going, two years on?");

    let id = first.task.id;
    let done = TaskDone {
        id,
        outcome: TaskOutcome::ProblemFound,
        note: Some("the strap broke"),
        by: "ana@shop.example",
        at: now,
    };
    let task = complete_task(&db.store, &done).await.unwrap();
    assert_eq!(task.outcome, Some(TaskOutcome::ProblemFound));
    assert_eq!(task.completed_by.as_deref(), Some("ana@shop.example"));
    let again = complete_task(&db.store, &done).await.unwrap_err();
    assert!(
        again.to_string().contains("was done already (problem found)"),
        "{again}"
    );
    let missing = complete_task(&db.store, &TaskDone { id: 99_999, ..done })
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("there is no task 99999"), "{missing}");
    let customer = db
        .store
        .customer(&crate::helpers::ext(&task.customer))
        .await
        .unwrap()
        .unwrap();
    let events = db.store.events_of(customer.id).await.unwrap();
    let interactions: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Interaction { channel, note } => Some((channel.as_str(), note.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        interactions,
        vec![(
            "task",
            "Call C1: how is it going, two years on?: problem found. the strap broke"
        )]
    );
    assert_eq!(customer.state.interaction_count, 1);
    assert_eq!(
        db.store.agenda(&all).await.unwrap().len(),
        9,
        "a done task leaves the agenda"
    );

    let second = db.store.agenda(&all).await.unwrap()[0].task.id;
    assert!(db.store.snooze_task(second, now + 10 * DAY).await.unwrap());
    assert!(db.store.reassign_task(second, Some("bo@shop.example")).await.unwrap());
    assert!(
        !db.store.snooze_task(id, now).await.unwrap(),
        "a done task cannot be snoozed"
    );
    let soon = TaskQuery {
        due_before: Some(now + 5 * DAY),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(db.store.agenda(&soon).await.unwrap().len(), 8);
    let bo = TaskQuery {
        assignee: Some("bo@shop.example".into()),
        limit: 100,
        ..Default::default()
    };
    let theirs = db.store.agenda(&bo).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].task.due_at, now + 10 * DAY);
}

async fn the_api_applies_plans_as_admin_and_staff_complete_tasks(db: &TestDb) {
    use serde_json::json;

    let server = crate::api::TestServer::start(db).await;
    let today = chrono::Utc::now().date_naive();
    let text = format!("customer_id,date,amount\nAna,{today},10.00\n");
    import(db, &text).await;
    let toml = "[[plan]]\nname = \"thanks\"\ntrigger = { after = \"first_purchase\", offset = \"0m\" }\n\
                action = { task = \"Thank {first_name}\", due_in = \"1d\" }\nholdout = 0.0\n";
    // Staff may not change plans; a bad file is a 422 naming its line and field.
    let (status, _) = server.post("/api/v1/plans", &json!({"toml": toml})).await;
    assert_eq!(status, 403);
    let admin = |path: &str, body: serde_json::Value| {
        server
            .client
            .post(server.url(path))
            .bearer_auth(&server.admin)
            .json(&body)
            .send()
    };
    let bad = admin("/api/v1/plans", json!({"toml": toml.replace("0m", "soon")}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("toml:3: trigger.offset: 'soon' is not a duration"),
        "{body}"
    );
    let applied: serde_json::Value = admin("/api/v1/plans", json!({"toml": toml}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        applied,
        json!([{"change": "created", "name": "thanks", "version": 1, "planned": 1}])
    );
    let (status, plan) = server.get("/api/v1/plans/thanks").await;
    assert_eq!(status, 200);
    assert_eq!(plan["occurrences"]["pending"], 1);
    assert_eq!(server.get("/api/v1/plans/nope").await.0, 404);

    run_due(&db.store, &Default::default(), chrono::Utc::now().timestamp())
        .await
        .unwrap();
    let (status, tasks) = server.get("/api/v1/tasks?due=all").await;
    assert_eq!(status, 200);
    assert_eq!(tasks[0]["task"]["title"], "Thank Ana");
    assert_eq!(tasks[0]["stage"], "customer");
    assert_eq!(tasks[0]["total_spent"], "10.00");
    let id = tasks[0]["task"]["id"].as_i64().unwrap();
    assert_eq!(server.get("/api/v1/tasks?due=later").await.0, 400);
    // Careless and hostile values are refused, naming the field, and change nothing.
    let refused = [
        ("snooze", json!({"for": ""}), "for"),
        ("snooze", json!({"for": "99999w"}), "for"),
        ("reassign", json!({"assignee": "bo@shop.example\nBcc: x"}), "assignee"),
        ("reassign", json!({"assignee": "b".repeat(201)}), "assignee"),
        (
            "complete",
            json!({"outcome": "reached", "note": "n".repeat(2_001)}),
            "note",
        ),
        ("complete", json!({"outcome": "reached", "note": "\u{1b}[2J"}), "note"),
    ];
    for (action, body, field) in refused {
        let (status, error) = server.post(&format!("/api/v1/tasks/{id}/{action}"), &body).await;
        assert_eq!(status, 422, "{action} {body}: {error}");
        assert_eq!(error["error"]["field"], field, "{error}");
    }
    let (status, unknown) = server
        .post(&format!("/api/v1/tasks/{id}/complete"), &json!({"outcome": "maybe"}))
        .await;
    assert_eq!(status, 422, "{unknown}");
    let (_, still) = server.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(
        (still["status"].as_str(), still["assignee"].as_str()),
        (Some("open"), None)
    );
    let (status, snoozed) = server
        .post(&format!("/api/v1/tasks/{id}/snooze"), &json!({"for": "2d"}))
        .await;
    assert_eq!(status, 200, "{snoozed}");
    let (status, done) = server
        .post(
            &format!("/api/v1/tasks/{id}/complete"),
            &json!({"outcome": "reached", "note": "loves it"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["outcome"], "reached");
    let (status, again) = server
        .post(&format!("/api/v1/tasks/{id}/complete"), &json!({"outcome": "reached"}))
        .await;
    assert_eq!(status, 409, "{again}");
    let (_, timeline) = server.get("/api/v1/customers/Ana/events").await;
    assert!(
        timeline.to_string().contains("Thank Ana: reached. loves it"),
        "{timeline}"
    );
}

/// 2025-06-01T00:00:00Z.
const JUNE_2025: i64 = 1_748_736_000;

fn day(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .date_naive()
        .to_string()
}

async fn the_second_order_ask_is_timed_by_the_business_and_says_why(db: &TestDb) {
    // Twenty customers came back after 10 to 29 days; ten bought once, on 2025-06-01.
    let mut text = "customer_id,date,amount,order_id\n".to_owned();
    for i in 0..20 {
        text.push_str(&format!("R{i},2025-01-01,10.00,R{i}a\n"));
        text.push_str(&format!(
            "R{i},{},10.00,R{i}b\n",
            day(JAN_2024 + 366 * DAY + (10 + i) * DAY)
        ));
    }
    for i in 0..10 {
        text.push_str(&format!("O{i},2025-06-01,10.00,O{i}a\n"));
    }
    import(db, &text).await;
    let plan = "[[plan]]\nname = \"second-order\"\ntrigger = { second_order = \"data\" }\n\
                action = { task = \"Ask {first_name} for a second order\" }\nholdout = 0.0\n";
    let changes = apply(db, plan, JUNE_2025).await;
    assert_eq!(
        changes,
        vec![PlanChange::Created {
            name: "second-order".into(),
            planned: 10,
            expired: 0
        }]
    );
    // O0 comes back on its own before the ask.
    import(db, "customer_id,date,amount,order_id\nO0,2025-06-10,10.00,O0b\n").await;
    // The 40th percentile of 10..29 days is day 17 (the 8th of 20, rank 1 + 40 % of 19).
    let before = run_due(&db.store, &Default::default(), JUNE_2025 + 17 * DAY - 3_600)
        .await
        .unwrap();
    assert_eq!(before.due, 0, "not due before the business's day 17");
    let report = run_due(&db.store, &Default::default(), JUNE_2025 + 17 * DAY + 3_600)
        .await
        .unwrap();
    assert_eq!(report.tasks_created, 9);
    assert_eq!(report.skipped.get("no longer due"), Some(&1));
    let tasks = db.store.open_tasks(100).await.unwrap();
    let o1 = tasks.iter().find(|t| t.customer == "O1").unwrap();
    assert_eq!(
        o1.why.as_deref(),
        Some("40 % of your customers who came back did so within 17 days; O1 bought 17 days ago")
    );
}

async fn an_overdue_client_is_asked_after_twice_their_usual_gap_unless_they_bought_again(db: &TestDb) {
    // Two clients buying every ten days until 2025-06-21; B buys again on 2025-07-01.
    let mut text = "customer_id,date,amount,order_id\n".to_owned();
    for (customer, days) in [("A", [0, 10, 20]), ("B", [0, 10, 20])] {
        for d in days {
            text.push_str(&format!(
                "{customer},{},10.00,{customer}{d}\n",
                day(JUNE_2025 + d * DAY)
            ));
        }
    }
    import(db, &text).await;
    let plan = "[[plan]]\nname = \"win-back\"\ntrigger = { overdue = 2.0 }\n\
                action = { task = \"Win back {first_name}\" }\nholdout = 0.0\nexpire_after = \"30d\"\n";
    apply(db, plan, JUNE_2025 + 20 * DAY).await;
    import(
        db,
        &format!(
            "customer_id,date,amount,order_id\nB,{},10.00,B30\n",
            day(JUNE_2025 + 30 * DAY)
        ),
    )
    .await;
    // Due 2 x 10 days after the last purchase: day 40.
    assert_eq!(
        run_due(&db.store, &Default::default(), JUNE_2025 + 39 * DAY)
            .await
            .unwrap()
            .due,
        0
    );
    let report = run_due(&db.store, &Default::default(), JUNE_2025 + 41 * DAY)
        .await
        .unwrap();
    assert_eq!(report.tasks_created, 1);
    assert_eq!(
        report.skipped.get("no longer due"),
        Some(&1),
        "B bought again: {report:?}"
    );
    let tasks = db.store.open_tasks(100).await.unwrap();
    assert_eq!(tasks[0].customer, "A");
    assert_eq!(
        tasks[0].why.as_deref(),
        Some("A usually buys every 10 days; the last purchase was 21 days ago (2 times that is the plan's limit)")
    );
}

async fn a_scoring_that_puts_p_alive_below_the_threshold_plans_the_win_back(db: &TestDb) {
    let end = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
    crate::helpers::load_demo(db, 400, 7, end).await;
    let plan = "[[plan]]\nname = \"slipping\"\ntrigger = { p_alive_below = 0.5 }\n\
                action = { task = \"Call {first_name}: P(alive) {p_alive}\" }\nholdout = 0.0\n";
    apply(db, plan, chrono::Utc::now().timestamp()).await;
    let fit = rapport::radar::FitSettings {
        calibration_end: None,
        unit: rapport_models::TimeUnit::Week,
        model: rapport::radar::analysis::ModelChoice::Only(rapport_models::ModelKind::BgNbd),
    };
    rapport::radar::fit_store(&db.store, fit).await.unwrap();
    let score = |as_of| rapport::radar::ScoreSettings {
        as_of: Some(as_of),
        ..Default::default()
    };
    let (_, first) = rapport::radar::score_store_rows(&db.store, score(end)).await.unwrap();
    let later = end + chrono::Days::new(365);
    let (_, second) = rapport::radar::score_store_rows(&db.store, score(later)).await.unwrap();
    let before: std::collections::HashMap<&str, f64> =
        first.iter().map(|r| (r.customer_id.as_str(), r.p_alive)).collect();
    let crossed = second
        .iter()
        .filter(|r| before[r.customer_id.as_str()] >= 0.5 && r.p_alive < 0.5)
        .count() as u64;
    assert!(
        crossed > 10,
        "a year without purchases moves some below one half: {crossed}"
    );
    let report = run_due(&db.store, &Default::default(), chrono::Utc::now().timestamp())
        .await
        .unwrap();
    assert_eq!(report.tasks_created, crossed);
    let tasks = db.store.open_tasks(1_000).await.unwrap();
    assert!(
        tasks[0].why.as_deref().unwrap().contains("below 50 %"),
        "{:?}",
        tasks[0].why
    );
}

async fn the_plan_report_compares_the_treated_with_the_hold_out(db: &TestDb) {
    import(db, &purchases(400)).await;
    let plans = PLAN.replace("holdout = 0.10", "holdout = 0.5");
    apply(db, &plans, JAN_2024 + 729 * DAY).await;
    let enrolled_at = JAN_2024 + 737 * DAY;
    run_due(&db.store, &Default::default(), enrolled_at).await.unwrap();
    let plan = db.store.plan("two-year check-in").await.unwrap().unwrap();
    // Every treated customer with an even number comes back within a month, every fourth held-out one.
    let mut text = "customer_id,date,amount,order_id\n".to_owned();
    let ids = sqlx_ids(db).await;
    let filter = rapport::store::CustomerFilter {
        limit: 1_000,
        ..Default::default()
    };
    let customers = db.store.list_customers(&filter).await.unwrap();
    let (mut treated, mut held, mut treated_back, mut held_back) = (0u64, 0u64, 0u64, 0u64);
    for (i, c) in customers.iter().enumerate() {
        let out = held_out(plan.id, c.id.0, 0.5);
        let back = if out { i % 4 == 0 } else { i % 2 == 0 };
        if out {
            held += 1;
            held_back += u64::from(back);
        } else {
            treated += 1;
            treated_back += u64::from(back);
        }
        if back {
            text.push_str(&format!("{},2026-02-01,20.00,X{i}\n", c.external_id));
        }
    }
    assert_eq!(ids.len(), 400);
    import(db, &text).await;
    let enrolled = db.store.plan_enrolments(plan.id).await.unwrap();
    let report = rapport::domain::plan_report::plan_report("two-year check-in", &enrolled, enrolled_at + 100 * DAY);
    assert_eq!((report.treated, report.held_out), (treated, held));
    let r = report.repeat_90d;
    assert_eq!((r.treated_customers, r.held_out_customers), (treated, held));
    assert!((r.treated - treated_back as f64 / treated as f64).abs() < 1e-12);
    assert!((r.held_out - held_back as f64 / held as f64).abs() < 1e-12);
    assert!(r.ci95[0] > 0.0, "a clear difference: {r:?}");
    assert!((report.revenue_90d.treated - 20.0 * treated_back as f64 / treated as f64).abs() < 1e-9);
    assert_eq!(report.repeat_365d.treated_customers, 0, "a year has not passed");
    assert!(
        report.sentence.contains("the care makes a difference"),
        "{}",
        report.sentence
    );
}

async fn a_first_purchase_is_planned_or_counted_once_whatever_comes_after(db: &TestDb) {
    let plans = PLAN
        .replace(
            "{ after = \"purchase\", offset = \"730d\" }",
            "{ after = \"first_purchase\", offset = \"1d\" }",
        )
        .replace("two-year check-in", "thank-you");
    apply(db, &plans, JAN_2024 - DAY).await;
    // Thirty first purchases of 2024, ten of them with a second: long past the week's expiry today.
    import(db, &purchases(30)).await;
    let counted = db.store.plan("thank-you").await.unwrap().unwrap().occurrences.expired;
    assert_eq!(counted, 30, "one first purchase each");
    // Later purchases, and an older one that moves C2's first purchase, count nothing again except
    // C2's new first purchase.
    import(
        db,
        "customer_id,date,amount,order_id\nC1,2024-06-01,5.00,L1\nC2,2023-12-01,5.00,L2\n",
    )
    .await;
    let plan = db.store.plan("thank-you").await.unwrap().unwrap();
    assert_eq!(plan.occurrences.expired, 31);
    assert_eq!(plan.occurrences.pending, 0);
}

#[tokio::test]
async fn admins_apply_pause_and_resume_plans_from_the_dashboard_and_others_cannot() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    for (email, role) in [
        ("admin@example.com", rapport::domain::Role::Admin),
        ("staff@example.com", rapport::domain::Role::Staff),
    ] {
        rapport::server::accounts::create_user(&db.store, email, role, crate::web::PASSWORD)
            .await
            .unwrap();
    }
    let mut admin = crate::web::Client::new(&db);
    admin.login("admin@example.com", crate::web::PASSWORD).await;
    let page = admin.get("/plans").await;
    assert!(page.body.contains("Apply a plan file"), "{}", page.body);
    let csrf = crate::web::field(&page.body, "csrf");

    let bad = PLAN.replace("730d", "730 days");
    let refused = admin.post("/plans", &[("csrf", &csrf), ("toml", &bad)]).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("the form:4: trigger.offset: &#39;730 days&#39; is not a duration"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Nothing was applied."));
    assert!(db.store.plans().await.unwrap().is_empty());

    let applied = admin.post("/plans", &[("csrf", &csrf), ("toml", PLAN)]).await;
    assert_eq!(applied.status, 303);
    let shown = admin.get(applied.location()).await;
    assert!(
        shown.body.contains("created &#39;two-year check-in&#39;"),
        "{}",
        shown.body
    );
    let plan_page = admin.get("/plans/two-year%20check-in").await;
    assert!(plan_page.body.contains("Pause: skip its due occurrences"));
    let paused = admin.post("/plans/two-year%20check-in/pause", &[("csrf", &csrf)]).await;
    assert_eq!(paused.status, 303);
    assert!(db.store.plan("two-year check-in").await.unwrap().unwrap().paused);
    admin
        .post("/plans/two-year%20check-in/resume", &[("csrf", &csrf)])
        .await;
    assert!(!db.store.plan("two-year check-in").await.unwrap().unwrap().paused);

    let mut staff = crate::web::Client::new(&db);
    staff.login("staff@example.com", crate::web::PASSWORD).await;
    let page = staff.get("/plans").await;
    assert!(!page.body.contains("Apply a plan file"), "staff see no form");
    let csrf = crate::web::field(&page.body, "csrf");
    let denied = staff.post("/plans/two-year%20check-in/pause", &[("csrf", &csrf)]).await;
    assert_eq!(denied.status, 403);
    assert!(!db.store.plan("two-year check-in").await.unwrap().unwrap().paused);
}
