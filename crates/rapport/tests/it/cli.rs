//! The `rapport` binary end to end, as a person or a script would run it.

use std::process::{Command, Output};

fn rapport(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env("RAPPORT_DATABASE_URL", db)
        .args(args)
        .output()
        .expect("run rapport")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cli.db").display())
}

#[test]
fn an_impossible_date_on_line_3_fails_naming_line_column_and_value_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(&file, "customer_id,date,amount\na,2024-01-01,1.00\nb,1997-13-45,2.00\n").unwrap();
    let good = dir.path().join("g.csv");
    std::fs::write(&good, "customer_id,date,amount\nz,2024-01-01,1.00\n").unwrap();
    assert!(
        rapport(&db, &["import", "transactions", good.to_str().unwrap()])
            .status
            .success()
    );
    let before = text(&rapport(&db, &["funnel", "--json"]).stdout);

    let out = rapport(&db, &["import", "transactions", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("'date'") && stderr.contains("1997-13-45"),
        "{stderr}"
    );
    assert_eq!(text(&rapport(&db, &["funnel", "--json"]).stdout), before);
}

#[test]
fn import_and_funnel_print_stable_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(
        &file,
        "customer_id,date,amount\na,2024-01-01,1.00\na,2024-02-01,2.00\nb,2024-01-03,3.00\n",
    )
    .unwrap();
    let out = rapport(&db, &["import", "transactions", file.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["rows", "stored", "duplicates", "customers_created", "seconds"] {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    assert_eq!(report["stored"], 3);

    let funnel: serde_json::Value = serde_json::from_slice(&rapport(&db, &["funnel", "--json"]).stdout).unwrap();
    assert_eq!(funnel["total_customers"], 2);
    assert_eq!(funnel["stages"]["client"], 1);
    assert_eq!(funnel["stages"]["customer"], 1);
}

#[test]
fn customers_show_tells_the_stage_history_and_an_unknown_id_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let file = dir.path().join("t.csv");
    std::fs::write(&file, "customer_id,date,amount\na,2024-01-01,1.00\na,2024-02-01,2.00\n").unwrap();
    rapport(&db, &["import", "transactions", file.to_str().unwrap()]);
    let shown = text(&rapport(&db, &["customers", "show", "a"]).stdout);
    assert!(
        shown.contains("stage: client") && shown.contains("second purchase on 2024-02-01"),
        "{shown}"
    );
    let missing = rapport(&db, &["customers", "show", "nobody"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no customer with id 'nobody'"));
}

#[test]
fn an_unknown_database_scheme_is_refused_with_the_accepted_ones() {
    let out = rapport("mysql://localhost/x", &["funnel"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown database scheme 'mysql'") && stderr.contains("sqlite://"),
        "{stderr}"
    );
}

#[test]
fn the_demo_writes_a_business_with_every_kind_of_customer() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let out = rapport(
        &db,
        &[
            "demo",
            "--customers",
            "400",
            "--seed",
            "3",
            "--end",
            "2026-06-30",
            "--no-serve",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let funnel: serde_json::Value = serde_json::from_slice(&rapport(&db, &["funnel", "--json"]).stdout).unwrap();
    assert_eq!(funnel["total_customers"], 400);
    for stage in ["suspect", "prospect", "customer", "client"] {
        assert!(funnel["stages"][stage].as_u64().unwrap() > 0, "no {stage} in {funnel}");
    }
}
