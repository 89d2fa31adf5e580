//! The voice of the customer on both backends: surveys applied from files, versioned, the built-in
//! ones written; and through the binary, a survey file with a problem applying nothing.

use std::process::Command;

use rapport::domain::survey::{SurveyKind, SurveySpec};
use rapport::store::SurveyChange;
use rapport::voice::survey_file::parse_surveys;

use crate::contract;
use crate::helpers::TestDb;

contract!(surveys_are_applied_by_name_and_an_edit_keeps_the_version_it_replaced);

const FILE: &str = r#"
[[survey]]
name = "delivery"
kind = "custom"
title = "How was your delivery?"

[[survey.question]]
key = "speed"
text = "How fast did it arrive?"
scale = [1, 5]
required = true

[[survey]]
name = "after-sales nps"
kind = "nps"
"#;

async fn surveys_are_applied_by_name_and_an_edit_keeps_the_version_it_replaced(db: &TestDb) {
    let specs = parse_surveys("s.toml", FILE).unwrap();
    let changes = db.store.apply_surveys(&specs, 1_000).await.unwrap();
    assert_eq!(
        changes,
        [
            SurveyChange::Created {
                name: "delivery".into()
            },
            SurveyChange::Created {
                name: "after-sales nps".into()
            }
        ]
    );
    let again = db.store.apply_surveys(&specs, 2_000).await.unwrap();
    assert!(
        again.iter().all(|c| matches!(c, SurveyChange::Unchanged { .. })),
        "{again:?}"
    );
    let edited = parse_surveys("s.toml", &FILE.replace("How was your delivery?", "Your delivery")).unwrap();
    let changes = db.store.apply_surveys(&edited[..1], 3_000).await.unwrap();
    assert_eq!(
        changes,
        [SurveyChange::Updated {
            name: "delivery".into(),
            from: 1,
            to: 2
        }]
    );
    let delivery = db.store.survey("delivery").await.unwrap().unwrap();
    assert_eq!((delivery.version, delivery.spec.title.as_str()), (2, "Your delivery"));
    assert_eq!((delivery.created_at, delivery.updated_at), (1_000, 3_000));
    let first = db.store.survey_version(delivery.id, 1).await.unwrap().unwrap();
    assert_eq!(
        first.title, "How was your delivery?",
        "the version a response answered stays readable"
    );
    assert_eq!(db.store.survey_version(delivery.id, 3).await.unwrap(), None);

    let built_in = db.store.apply_surveys(&SurveySpec::built_in(), 4_000).await.unwrap();
    assert_eq!(built_in.len(), 3);
    let names: Vec<String> = db
        .store
        .surveys()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.spec.name)
        .collect();
    assert_eq!(names, ["after-sales nps", "ces", "csat", "delivery", "nps"]);
    let nps = db.store.survey("nps").await.unwrap().unwrap();
    assert_eq!(nps.spec.kind, SurveyKind::Nps);
    assert_eq!(db.store.survey("no such survey").await.unwrap(), None);
}

#[test]
fn the_surveys_commands_init_list_show_and_a_file_with_a_problem_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let init = run(&["surveys", "init"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    assert_eq!(
        String::from_utf8_lossy(&init.stdout),
        "created 'nps'\ncreated 'csat'\ncreated 'ces'\n"
    );
    let show = run(&["surveys", "show", "nps"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(
            "1. [score] How likely is it that you would recommend {business} to a friend or colleague? \
                       (0 (Not at all likely) to 10 (Extremely likely), required)"
        ),
        "{text}"
    );
    let file = dir.path().join("s.toml");
    std::fs::write(&file, FILE.replace("scale = [1, 5]", "scale = [1, 50]")).unwrap();
    let applied = run(&["surveys", "apply", file.to_str().unwrap()]);
    assert!(!applied.status.success());
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(
        stderr.contains("s.toml:10: question.scale: [1, 50] is not a scale"),
        "{stderr}"
    );
    let listed = run(&["surveys", "list", "--json"]);
    let surveys: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(surveys.as_array().unwrap().len(), 3, "the bad file added nothing");
    let missing = run(&["surveys", "show", "delivery"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no survey is named 'delivery'"));

    // Sending and reading answers from the command line.
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, "# customers\nK-404\n").unwrap();
    let unknown = run(&["surveys", "send", "nps", "--customers", ids.to_str().unwrap()]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("ids.txt:2: there is no customer 'K-404': nothing was sent"),
        "{stderr}"
    );
    let dry = run(&["surveys", "send", "nps", "--stage", "client", "--dry-run"]);
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout),
        "nps: 0 matched, would e-mail 0 personal link(s)\n"
    );
    let voice = run(&["voice", "--by", "stage"]);
    assert!(String::from_utf8_lossy(&voice.stdout).starts_with("no answers yet"));
    let wrong = run(&["voice", "--by", "fortnight"]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("use month, week, stage, segment, survey or plan"));
    let link = run(&["surveys", "link", "nps"]);
    let url = String::from_utf8_lossy(&link.stdout).trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:7878/s/"), "{url}");
    let svg = dir.path().join("nps.svg");
    let qr = run(&["surveys", "qr", "nps", "--out", svg.to_str().unwrap()]);
    assert!(qr.status.success(), "{}", String::from_utf8_lossy(&qr.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let themes = run(&["voice", "themes"]);
    assert!(themes.status.success(), "{}", String::from_utf8_lossy(&themes.stderr));
    assert!(String::from_utf8_lossy(&themes.stdout).starts_with("0 comments"));
}
