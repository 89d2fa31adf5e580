//! `rapport config show` and settings reaching the commands: the binary end to end.

use std::process::Command;

fn rapport(dir: &tempfile::TempDir, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .env_remove("RAPPORT_DATABASE_URL")
        .env(
            "RAPPORT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("shop.db").display()),
        )
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run rapport");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn config_show_prints_each_setting_with_its_source_and_hides_passwords() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rapport.toml"),
        "[business]\ntime_zone = \"Europe/Berlin\"\n\n[scoring]\nat_risk_threshold = 0.4\n",
    )
    .unwrap();
    let (ok, out, err) = rapport(&dir, &[("RAPPORT_CURRENCY", "EUR")], &["config", "show"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("time_zone = \"Europe/Berlin\"  # ") && out.contains("rapport.toml"),
        "{out}"
    );
    assert!(
        out.contains("currency = \"EUR\"  # environment variable RAPPORT_CURRENCY"),
        "{out}"
    );
    assert!(out.contains("at_risk_threshold = 0.4"), "{out}");
    assert!(out.contains("session_hours = 12  # default"), "{out}");

    let (ok, out, _) = rapport(
        &dir,
        &[],
        &[
            "--db",
            "postgres://rapport:hunter2@db.internal/shop",
            "config",
            "show",
            "--json",
        ],
    );
    assert!(ok);
    assert!(!out.contains("hunter2"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["database"]["url"], "postgres://rapport:***@db.internal/shop");
}

#[test]
fn a_bad_setting_stops_every_command_naming_the_file_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rapport.toml"), "[server]\nsesion_hours = 3\n").unwrap();
    let (ok, _, err) = rapport(&dir, &[], &["customers", "list"]);
    assert!(!ok);
    assert!(
        err.contains("rapport.toml") && err.contains("sesion_hours"),
        "names the file and the unknown setting: {err}"
    );
    assert!(!dir.path().join("shop.db").exists(), "nothing was opened or created");
}

#[test]
fn a_password_in_an_unusable_database_url_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = rapport(
        &dir,
        &[],
        &["--db", "mysql://admin:hunter2@db/shop", "customers", "list"],
    );
    assert!(!ok);
    assert!(err.contains("mysql") && !err.contains("hunter2"), "{err}");
}

#[test]
fn the_business_time_zone_places_an_import_s_dates_at_local_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, "customer_id,date,amount\nny-1,2024-02-01,10.00\n").unwrap();
    let zone = [("RAPPORT_TIME_ZONE", "America/New_York")];
    let (ok, _, err) = rapport(&dir, &zone, &["import", "transactions", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, err) = rapport(&dir, &zone, &["customers", "show", "ny-1", "--json"]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        shown["customer"]["state"]["first_purchase_at"], "2024-02-01T05:00:00Z",
        "midnight in New York: {out}"
    );
}
