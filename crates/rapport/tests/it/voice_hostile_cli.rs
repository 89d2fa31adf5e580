//! The voice commands tried as a careless user and an attacker would, through the binary:
//! `surveys send` with a bad customers file or filter, `voice did` with bad actions, bad action
//! numbers and periods (on both backends), and bad `[voice]` settings in `rapport.toml` or the
//! environment. Every refusal names the flag, file and line or setting, and nothing is stored.

use std::path::Path;
use std::process::Command;

use crate::contract;
use crate::helpers::TestDb;
use crate::voice_links::setup;

contract!(
    a_customers_file_with_a_bad_line_is_refused_by_file_and_line_and_sends_nothing,
    bad_send_filters_and_an_unknown_survey_are_refused_by_flag_and_send_nothing,
    bad_actions_are_refused_by_field_and_store_nothing_but_a_private_one_may_name_a_customer,
);

/// Runs `rapport --db URL ARGS` in the test's folder: whether it succeeded, its output and its
/// errors.
fn rapport(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    run(db.dir.path(), &db.url, &[], args)
}

fn run(dir: &Path, db: &str, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir)
        .env("RAPPORT_DATABASE_URL", db)
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

/// Fails unless no send, personal link or e-mail was written.
async fn assert_nothing_sent(db: &TestDb, after: &str) {
    assert!(db.store.sends(None).await.unwrap().is_empty(), "a send after {after}");
    let links = db.store.invitations_made(i64::MIN, i64::MAX).await.unwrap();
    assert!(links.is_empty(), "personal links after {after}");
    assert_eq!(
        db.store.count_mail().await.unwrap().queued,
        0,
        "mail queued after {after}"
    );
}

async fn a_customers_file_with_a_bad_line_is_refused_by_file_and_line_and_sends_nothing(db: &TestDb) {
    setup(db, chrono::Utc::now().timestamp()).await;
    let long = format!("A\n{}\n", "x".repeat(10_000));
    let cases = [
        (
            "control.txt",
            "A\nB\nC\u{1}D\n",
            "control.txt:3: customer id contains the control character U+0001",
        ),
        (
            "nul.txt",
            "A\n\nB\0\n",
            "nul.txt:3: customer id contains the control character U+0000",
        ),
        (
            "long.txt",
            long.as_str(),
            "long.txt:2: customer id is 10000 bytes long, the limit is 200",
        ),
        (
            "unknown.txt",
            "A\nK-404\n",
            "unknown.txt:2: there is no customer 'K-404': nothing was sent",
        ),
    ];
    for (name, text, says) in cases {
        let path = db.file(name, text);
        let (ok, _, err) = rapport(db, &["surveys", "send", "nps", "--customers", path.to_str().unwrap()]);
        assert!(!ok && err.contains(says), "{says}: {err:.300}");
        assert_nothing_sent(db, name).await;
    }
    let binary = db.dir.path().join("ids.bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x41, 0x00, 0xc3, 0x28, b'\n']).unwrap();
    let missing = db.dir.path().join("no-such-file.txt");
    for (path, says) in [
        (binary.as_path(), "valid UTF-8"),
        (missing.as_path(), "No such file"),
        (db.dir.path(), "directory"),
    ] {
        let shown = path.display().to_string();
        let (ok, _, err) = rapport(db, &["surveys", "send", "nps", "--customers", &shown]);
        assert!(!ok, "{shown}");
        assert!(
            err.contains(&format!("cannot read {shown}")) && err.contains(says),
            "{err}"
        );
        assert_nothing_sent(db, &shown).await;
    }
    // As a spreadsheet saves it: a byte-order mark, Windows line ends, a comment, a blank line in
    // the middle and padding. Each is read past, and only the named customers are sent to.
    let path = db.file("picked.txt", "\u{feff}A\r\n# picked by hand\r\n\r\n  B  \r\n");
    let (ok, out, err) = rapport(
        db,
        &[
            "surveys",
            "send",
            "nps",
            "--customers",
            path.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["matched"].as_u64(), report["invited"].as_u64()),
        (Some(2), Some(2)),
        "{out}"
    );
    assert_eq!(db.store.count_mail().await.unwrap().queued, 2);
}

async fn bad_send_filters_and_an_unknown_survey_are_refused_by_flag_and_send_nothing(db: &TestDb) {
    setup(db, chrono::Utc::now().timestamp()).await;
    let cases: [(&[&str], &str); 8] = [
        (
            &["nps", "--purchased-within", "0d"],
            "--purchased-within: '0d' matches nobody",
        ),
        (
            &["nps", "--purchased-within=-3d"],
            "--purchased-within: '-3d' is not a duration",
        ),
        (
            &["nps", "--purchased-within", "abc"],
            "--purchased-within: 'abc' is not a duration",
        ),
        (
            &["nps", "--purchased-within", "99999999999999999w"],
            "is longer than ten years",
        ),
        (&["nps", "--stage", "vip"], "invalid value 'vip' for '--stage <STAGE>'"),
        (&["nps", "--segment", "whales"], "--segment: 'whales' is not a segment"),
        (&["no such survey"], "there is no survey 'no such survey'"),
        (&["nps\u{1b}[2J", "--dry-run"], "there is no survey 'nps\\u{1b}[2J'"),
    ];
    for (args, says) in cases {
        let mut command = vec!["surveys", "send"];
        command.extend_from_slice(args);
        let (ok, _, err) = rapport(db, &command);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains('\u{1b}'), "{err}");
        assert_nothing_sent(db, &format!("{args:?}")).await;
    }
    // The same command with a sensible span sends: Ana and Ben bought ten days ago.
    let (ok, out, err) = rapport(db, &["surveys", "send", "nps", "--purchased-within", "30d", "--json"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["invited"].as_u64(), Some(2), "{out}");
}

async fn bad_actions_are_refused_by_field_and_store_nothing_but_a_private_one_may_name_a_customer(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let terms = vec!["late".to_owned(), "delivery".to_owned()];
    rapport::voice::analysis::name_theme(&db.store, "Delivery", &terms, now)
        .await
        .unwrap();
    let future = (chrono::Utc::now().date_naive() + chrono::Days::new(2)).to_string();
    let long = "x".repeat(10_000);
    let did = |theme: &str, said: &str, did: &str, on: Option<&str>| -> Vec<String> {
        let mut args = vec!["voice", "did", "--theme", theme, "--said", said, "--did", did];
        args.extend(on.map(|day| ["--on", day]).into_iter().flatten());
        args.into_iter().map(str::to_owned).collect()
    };
    let said = "parcels came late";
    let cases = [
        (
            did("Delivery", "late\u{1b}[2J", "d", None),
            "said contains the control character U+001B at character 5",
        ),
        (
            did("Delivery", &long, "d", None),
            "said is 10000 characters long, the limit is 1000",
        ),
        (did("Delivery", said, "  ", None), "did: write what the business did"),
        (
            did("Delivery", said, "d", Some("2026-02-30")),
            "done on: '2026-02-30' is not a date",
        ),
        (
            did("Delivery", said, "d", Some(&future)),
            "is in the future; record an action once it is done",
        ),
        (did("Parking", said, "d", None), "theme: there is no theme 'Parking'"),
        (
            did("Delivery", said, "we wrote to ana.lima@mail.example", None),
            "did: holds what looks like an e-mail address",
        ),
        (
            did("Delivery", said, "call us on +44 20 7946 0123", None),
            "did: holds what looks like a phone number",
        ),
    ];
    for (args, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = rapport(db, &args);
        assert!(!ok && err.contains(says), "{says}: {err:.300}");
        let stored = db.store.voice_actions(i64::MIN, i64::MAX, false, 10).await.unwrap();
        assert!(stored.is_empty(), "stored after {says}");
    }
    let (ok, out, err) = rapport(
        db,
        &[
            "voice",
            "did",
            "--theme",
            "delivery",
            "--said",
            "parcels came late",
            "--did",
            "we wrote to ana.lima@mail.example",
            "--private",
        ],
    );
    assert!(ok, "a private action may name a customer: {err}");
    assert!(out.contains("(private)"), "{out}");
    let stored = db.store.voice_actions(i64::MIN, i64::MAX, false, 10).await.unwrap();
    assert_eq!(
        (stored.len(), stored[0].public, stored[0].theme.as_str()),
        (1, false, "Delivery")
    );

    for (id, says) in [
        ("abc", "invalid value 'abc' for '<ID>'"),
        ("-1", "unexpected argument '-1'"),
        (
            "99999999999999999999",
            "invalid value '99999999999999999999' for '<ID>'",
        ),
    ] {
        let (ok, _, err) = rapport(db, &["voice", "remove-action", id]);
        assert!(!ok && err.contains(says), "{id}: {err}");
    }
    let (ok, _, err) = rapport(db, &["voice", "remove-action", "--", "-1"]);
    assert!(!ok && err.contains("there is no action -1"), "{err}");
    let left = db.store.voice_actions(i64::MIN, i64::MAX, false, 10).await.unwrap();
    assert_eq!(left.len(), 1, "the recorded action is still there");

    let long = "2026".repeat(3_000);
    for period in ["", "2026-Q0", "9999999999", "2026-00", "2026-Q3\u{7}", long.as_str()] {
        for command in ["report", "actions"] {
            let (ok, out, err) = rapport(db, &["voice", command, "--period", period]);
            assert!(!ok && out.is_empty(), "{command} {period:.20}");
            assert!(
                err.contains("--period: '") && err.contains("is not a period"),
                "{err:.300}"
            );
        }
    }
}

/// A folder with a SQLite database path in it and, when given, a `rapport.toml`.
fn folder(settings: Option<&str>) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = settings {
        std::fs::write(dir.path().join("rapport.toml"), text).unwrap();
    }
    let db = format!("sqlite://{}", dir.path().join("shop.db").display());
    (dir, db)
}

#[test]
fn bad_voice_settings_in_the_file_or_the_environment_stop_a_send_naming_the_setting() {
    let in_file = [
        ("link_days = 0", "voice.link_days': 0 is not allowed: use 1 or more"),
        (
            "reminder_days = 0",
            "voice.reminder_days': 0 is not allowed: use 1 or more",
        ),
        ("link_days = -3", "voice.link_days': invalid value"),
        ("reminders = -1", "voice.reminders': invalid value"),
        ("link_days = 1.5", "voice.link_days': invalid type: found float"),
        (
            "reminder_days = \"4\"",
            "voice.reminder_days': invalid type: found string",
        ),
        ("link_days = 99999999999", "voice.link_days': invalid value"),
        ("remind_days = 3", "voice.remind_days': unknown field"),
    ];
    for (line, says) in in_file {
        let (dir, db) = folder(Some(&format!("[voice]\n{line}\n")));
        let (ok, _, err) = run(dir.path(), &db, &[], &["surveys", "send", "nps"]);
        let file = dir.path().join("rapport.toml");
        assert!(
            !ok && err.contains(&format!("{}: setting '{says}", file.display())),
            "{line}: {err}"
        );
        assert!(
            !dir.path().join("shop.db").exists(),
            "{line}: nothing was opened or created"
        );
    }
    let in_environment = [
        ("RAPPORT_VOICE_LINK_DAYS", "0", "voice.link_days': 0 is not allowed"),
        (
            "RAPPORT_VOICE_REMINDER_DAYS",
            "0",
            "voice.reminder_days': 0 is not allowed",
        ),
        ("RAPPORT_VOICE_LINK_DAYS", "-3", "voice.link_days': invalid value"),
        ("RAPPORT_VOICE_LINK_DAYS", "1.5", "voice.link_days': invalid type"),
        ("RAPPORT_VOICE_LINK_DAYS", "", "voice.link_days': invalid type"),
        (
            "RAPPORT_VOICE_REMINDERS",
            "abc",
            "voice.reminders': invalid type: found string \"abc\"",
        ),
        ("RAPPORT_VOICE_REMINDERS", "-1", "voice.reminders': invalid value"),
    ];
    for (name, value, says) in in_environment {
        let (dir, db) = folder(None);
        let (ok, _, err) = run(dir.path(), &db, &[(name, value)], &["surveys", "send", "nps"]);
        let source = format!("environment variable {name}: setting '{says}");
        assert!(!ok && err.contains(&source), "{name}={value}: {err}");
        assert!(!dir.path().join("shop.db").exists());
    }
    // None is a fine number of reminders, from either source.
    let (dir, db) = folder(Some("[voice]\nreminders = 0\n"));
    let (ok, out, err) = run(dir.path(), &db, &[], &["config", "show"]);
    assert!(
        ok && out.contains("reminders = 0  # ") && out.contains("rapport.toml"),
        "{out}{err}"
    );
    let (ok, out, err) = run(
        dir.path(),
        &db,
        &[("RAPPORT_VOICE_REMINDERS", "0")],
        &["config", "show"],
    );
    assert!(
        ok && out.contains("reminders = 0  # environment variable RAPPORT_VOICE_REMINDERS"),
        "{out}{err}"
    );
}
