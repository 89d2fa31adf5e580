//! The scheduler as separate processes: two `rapport run-due` started together, `rapport run-due`
//! killed with SIGKILL while it runs and started again, and two `rapport serve` replicas on one
//! PostgreSQL. Each time every occurrence is run exactly once: none lost, none doubled.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rapport::care::plan_file::parse_plans;
use rapport::import::{FileOptions, TransactionColumns, import_transactions};

use crate::contract;
use crate::helpers::TestDb;

contract!(
    two_run_due_processes_started_together_run_each_occurrence_once,
    run_due_killed_mid_run_and_run_again_neither_loses_nor_doubles,
);

const DAY: i64 = 86_400;

/// One purchase on `day` for each of `customers` customers.
async fn import(db: &TestDb, customers: usize, day: chrono::NaiveDate) {
    let mut text = "customer_id,date,amount,order_id\n".to_owned();
    for i in 0..customers {
        text.push_str(&format!("P{i},{day},10.00,O{i}\n"));
    }
    let options = FileOptions::csv(db.file("purchases.csv", &text));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .expect("import");
}

/// A plan acting for everyone (no hold-out) the day after each purchase, applied at `now`.
async fn apply(db: &TestDb, now: i64) {
    let plan = r#"
[[plan]]
name = "next day"
trigger = { after = "purchase", offset = "1d" }
action = { task = "Call {first_name}", due_in = "1d" }
holdout = 0.0
"#;
    let specs = parse_plans("plans.toml", plan).unwrap();
    db.store.apply_plans(&specs, now).await.unwrap();
}

fn run_due(db: &TestDb, now: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
    command
        .env("RAPPORT_DATABASE_URL", &db.url)
        .env_remove("RAPPORT_LOG")
        .args(["run-due", "--now", now, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Every occurrence of the plan done once, each with its one task.
async fn assert_each_ran_once(db: &TestDb, customers: usize) {
    let plan = db.store.plan("next day").await.unwrap().unwrap();
    let o = plan.occurrences;
    assert_eq!(
        (o.pending, o.done, o.skipped, o.expired),
        (0, customers as i64, 0, 0),
        "{o:?}"
    );
    assert_eq!(
        db.store.open_tasks(1_000_000).await.unwrap().len(),
        customers,
        "one task each"
    );
}

async fn two_run_due_processes_started_together_run_each_occurrence_once(db: &TestDb) {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    import(db, 4_000, day).await;
    apply(db, day.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()).await;
    let a = run_due(db, "2025-03-03").spawn().unwrap();
    let b = run_due(db, "2025-03-03").spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let due = |out: &std::process::Output| -> u64 {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["due"].as_u64().unwrap()
    };
    assert_eq!(due(&a) + due(&b), 4_000, "the two runs shared the work");
    assert_each_ran_once(db, 4_000).await;
}

async fn run_due_killed_mid_run_and_run_again_neither_loses_nor_doubles(db: &TestDb) {
    let customers = 12_000;
    let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    import(db, customers, day).await;
    apply(db, day.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()).await;
    // Killed at moments spread over a run (a run takes a second or more here), each kill leaving
    // whatever its open transaction held unsettled; the next run takes it up.
    let mut interrupted = 0;
    for delay_ms in [150, 400, 700, 1_000] {
        let mut child = run_due(db, "2025-03-03").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        interrupted += u32::from(!finished);
    }
    let pending = db.store.plan("next day").await.unwrap().unwrap().occurrences.pending;
    eprintln!("killed {interrupted} runs mid-way; {pending} occurrences left for the next run");
    let last = run_due(db, "2025-03-03").output().unwrap();
    assert!(last.status.success(), "{}", String::from_utf8_lossy(&last.stderr));
    assert_each_ran_once(db, customers).await;
}

/// Two `rapport serve` replicas on one PostgreSQL, their schedulers running every second on the
/// wall clock: every occurrence due today runs once between them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_replicas_on_one_postgresql_run_each_occurrence_once() {
    let Some(db) = TestDb::new(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let customers = 3_000;
    let now = chrono::Utc::now();
    import(&db, customers, (now - chrono::Duration::days(2)).date_naive()).await;
    apply(&db, now.timestamp() - DAY).await;
    let envs = [("RAPPORT_CARE_RUN_EVERY_SECONDS", "1")];
    let (mut a, _) = crate::helpers::serve_binary(&db.url, &envs, Stdio::null());
    let (mut b, _) = crate::helpers::serve_binary(&db.url, &envs, Stdio::null());
    let started = Instant::now();
    loop {
        let pending = db.store.plan("next day").await.unwrap().unwrap().occurrences.pending;
        if pending == 0 || started.elapsed() > Duration::from_secs(90) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for server in [&mut a, &mut b] {
        let _ = server.kill();
        let _ = server.wait();
    }
    assert_each_ran_once(&db, customers).await;
}
