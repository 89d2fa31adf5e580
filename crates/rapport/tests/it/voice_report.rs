//! The report back on both backends: a quarter against the one before (scores, the change's
//! interval, themes with how often they came up before), the "you said, we did" actions staff
//! record from the dashboard (checked: a known theme, no personal data on a public one), the
//! public `/you-said` page, the voice page; and through the binary, the report as Markdown and
//! HTML and bad periods and themes refused by name.

use std::process::Command;

use rapport::voice::actions::ActionInput;
use rapport::voice::analysis::name_theme;
use rapport::voice::report::{Period, load, theme_choices};
use rapport::voice::report_view::{ReportView, markdown, standalone_html};

use crate::api::TestServer;
use crate::contract;
use crate::helpers::TestDb;
use crate::voice_links::setup;

contract!(
    a_quarter_is_reported_against_the_one_before_with_what_the_business_did,
    interview_notes_and_comments_tagged_by_hand_count_in_the_themes,
);

/// Answers (customer, score, comment, day): four of the second quarter, five of the third.
const ANSWERS: [(&str, i64, &str, &str); 9] = [
    ("A", 2, "The delivery was late", "2026-05-04"),
    ("B", 3, "Late delivery, again", "2026-05-11"),
    ("C", 7, "Fine", "2026-05-12"),
    ("A", 10, "Friendly staff", "2026-06-01"),
    ("A", 2, "Delivery was late <script>alert(1)</script>", "2026-07-06"),
    ("B", 3, "The delivery took two weeks", "2026-07-20"),
    ("C", 9, "Friendly staff", "2026-08-03"),
    ("A", 10, "Staff were friendly", "2026-09-01"),
    ("C", 10, "Friendly staff, lovely shop", "2026-09-28"),
];

async fn a_quarter_is_reported_against_the_one_before_with_what_the_business_did(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let server = TestServer::start(db).await;
    for (i, (customer, score, comment, day)) in ANSWERS.iter().enumerate() {
        let body = serde_json::json!({
            "customer_id": customer, "answers": {"score": score, "comment": comment},
            "occurred_at": format!("{day}T12:00:00Z"), "event_key": format!("r{i}")
        });
        let (status, reply) = server.post("/api/v1/surveys/nps/responses", &body).await;
        assert_eq!(status.as_u16(), 201, "{reply}");
    }
    let terms: Vec<String> = ["late", "delivery"].iter().map(|t| (*t).to_owned()).collect();
    name_theme(&db.store, "Delivery", &terms, now).await.unwrap();

    // Staff record actions: the theme as the themes list it, whatever its case.
    let themes = theme_choices(&db.store, Default::default(), now).await.unwrap();
    assert_eq!(themes[0], "Delivery", "named themes first: {themes:?}");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let action = |said: &str, did: &str, day: &str, public: bool| ActionInput {
        theme: "delivery".into(),
        said: said.into(),
        did: did.into(),
        done_on: day.into(),
        public,
        by: "sam@shop.example".into(),
    };
    for (said, did, day, public) in [
        ("parcels came late", "we changed courier", "2026-08-20", true),
        (
            "parcels came late",
            "we called everyone who waited",
            "2026-09-01",
            false,
        ),
        ("the spring sale sold out", "we restocked", "2026-05-20", true),
    ] {
        let checked = action(said, did, day, public).check(&themes, today).unwrap();
        assert_eq!(checked.theme, "Delivery");
        db.store.add_voice_action(&checked, now).await.unwrap();
    }

    let zone = chrono_tz::Tz::UTC;
    let settings = rapport::config::Settings::default();
    let report = load(&db.store, &settings, Period::parse("2026-Q3", zone).unwrap())
        .await
        .unwrap();
    assert_eq!((report.answers, report.comments), (5, 5));
    let q3 = Period::parse("2026-Q3", zone).unwrap();
    let between = db.store.responses_between(q3.from, q3.until).await.unwrap();
    let days: Vec<i64> = between.iter().map(|r| r.answered_at).collect();
    assert!(days.len() == 5 && days.iter().all(|at| q3.contains(*at)), "{days:?}");
    assert_eq!(report.previous.label, "2026-Q2");
    let nps = &report.scores[0];
    // Q3: three promoters and two detractors of five, +20; Q2: a promoter, a passive and two
    // detractors of four, -25. The change, +45, with both quarters' variances.
    let now_score = nps.now.as_ref().unwrap().nps.unwrap().score.unwrap().value;
    let before = nps.before.as_ref().unwrap().nps.unwrap().score.unwrap().value;
    assert_eq!((now_score.round(), before.round()), (20.0, -25.0));
    let change = nps.change.unwrap();
    assert!((change.value - 45.0).abs() < 1e-9 && change.low < 45.0 && change.high > 45.0);
    let delivery = report
        .themes
        .iter()
        .find(|t| t.label == "Delivery")
        .expect("the named theme is reported");
    assert_eq!(
        (delivery.count, delivery.before.map(|b| b.0)),
        (2, Some(2)),
        "{delivery:?}"
    );
    assert_eq!(report.actions.len(), 2, "only the quarter's actions");
    let months: Vec<&str> = report.months.iter().map(|m| m.group.as_str()).collect();
    assert_eq!(months, ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]);

    let view = ReportView::new(&report);
    let text = markdown(&view);
    assert!(text.starts_with("# What our customers told us: 2026-Q3"), "{text}");
    assert!(text.contains("| NPS | 5 | NPS +20"), "{text}");
    assert!(text.contains("+45 points"), "{text}");
    assert!(
        text.contains("we changed courier") && text.contains("we called everyone who waited. (not public)"),
        "{text}"
    );
    assert!(!text.contains("restocked"), "another quarter's action");
    assert!(
        text.contains("&lt;script&gt;") && !text.contains("<script>"),
        "a comment's markup is escaped: {text}"
    );
    let html = standalone_html(&view);
    assert!(html.contains("<h1>What our customers told us: 2026-Q3</h1>"));
    assert!(
        html.contains("&#60;script&#62;") && !html.contains("<script>"),
        "{html}"
    );

    // The public page: public actions only, no customer's name or words.
    let page = reqwest::get(server.url("/you-said")).await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("we changed courier") && page.contains("we restocked"),
        "{page}"
    );
    assert!(!page.contains("we called everyone"), "a private action is not listed");
    for private in ["Ana", "Lima", "ana@example.com", "Delivery was late"] {
        assert!(!page.contains(private), "{private} on the public page");
    }
}

async fn interview_notes_and_comments_tagged_by_hand_count_in_the_themes(db: &TestDb) {
    use rapport::voice::analysis::{TagError, comment_id, tag_comment, theme_rules, themes};
    use rapport::voice::themes::ThemeOptions;
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let server = TestServer::start(db).await;
    for (i, (customer, score, comment)) in [("A", 2, "Rude support"), ("B", 10, "Lovely shop")].iter().enumerate() {
        let body = serde_json::json!({
            "customer_id": customer, "answers": {"score": score, "comment": comment}, "event_key": format!("t{i}")
        });
        assert_eq!(
            server.post("/api/v1/surveys/nps/responses", &body).await.0.as_u16(),
            201
        );
    }
    // Ana, a detractor, says the same in an interview: her notes count with her category.
    let interview = rapport::voice::interviews::InterviewInput {
        fears: Some("rude support on the phone again".into()),
        by: "sam@shop.example".into(),
        ..Default::default()
    }
    .check()
    .unwrap();
    rapport::voice::interviews::log_interview(&db.store, &crate::helpers::ext("A"), interview, "i1".into(), now)
        .await
        .unwrap();
    let responses = db.store.responses(None).await.unwrap();
    let notes = db.store.interview_notes().await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].category, Some(rapport::domain::survey::NpsCategory::Detractor));
    let options = ThemeOptions {
        min_count: 1,
        ..ThemeOptions::default()
    };
    let report = themes(&responses, &notes, &theme_rules(&db.store).await.unwrap(), &options).unwrap();
    let rude = report
        .theme("rude support")
        .expect("a phrase of the answer and the interview");
    assert_eq!((rude.count, rude.by_category.detractors), (2, 2), "{rude:?}");

    // "Lovely shop" put in a named theme whose words it does not use.
    name_theme(&db.store, "Atmosphere", &["ambience".to_owned()], now)
        .await
        .unwrap();
    let lovely = responses
        .iter()
        .find(|r| r.comment.as_deref() == Some("Lovely shop"))
        .unwrap();
    let id = comment_id(lovely);
    assert_eq!(
        id,
        lovely.event_id.unwrap(),
        "known by its event, which a rebuild keeps"
    );
    assert!(matches!(
        tag_comment(&db.store, id, "no such theme", "sam", now).await,
        Err(TagError::NoTheme(_))
    ));
    for absent in [999_999, 0, -1, i64::MIN, i64::MAX] {
        assert!(
            matches!(
                tag_comment(&db.store, absent, "atmosphere", "sam", now).await,
                Err(TagError::NoComment(n)) if n == absent
            ),
            "{absent}"
        );
    }
    assert!(db.store.theme_tags().await.unwrap().is_empty(), "nothing stored");
    assert_eq!(
        tag_comment(&db.store, id, "atmosphere", "sam", now).await.unwrap(),
        "Atmosphere"
    );
    tag_comment(&db.store, id, "ATMOSPHERE", "sam", now).await.unwrap();
    assert_eq!(db.store.theme_tags().await.unwrap().len(), 1, "tagged once");
    rapport::projection::rebuild(&db.store).await.unwrap();
    let responses = db.store.responses(None).await.unwrap();
    let report = themes(&responses, &notes, &theme_rules(&db.store).await.unwrap(), &options).unwrap();
    let atmosphere = report.theme("Atmosphere").expect("the named theme");
    assert_eq!(
        (atmosphere.count, atmosphere.by_category.promoters),
        (1, 1),
        "the tag outlives a rebuild"
    );
    // Unnamed, its tag waits unused: the themes still read.
    assert!(db.store.remove_theme_name("Atmosphere").await.unwrap());
    let rules = theme_rules(&db.store).await.unwrap();
    assert!(themes(&responses, &notes, &rules, &options).is_ok() && rules.tags.is_empty());
    assert!(db.store.untag_comment(id, "atmosphere").await.unwrap());
    assert!(!db.store.untag_comment(id, "atmosphere").await.unwrap());
}

#[tokio::test]
async fn staff_record_and_remove_actions_on_the_report_page_and_bad_ones_are_refused_by_field() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    setup(&db, now).await;
    let terms = vec!["late".to_owned(), "delivery".to_owned()];
    name_theme(&db.store, "Delivery", &terms, now).await.unwrap();
    users(&db, &[rapport::domain::Role::Viewer, rapport::domain::Role::Staff]).await;
    let mut web = crate::web::Client::new(&db);
    web.login("staff@shop.example", crate::web::PASSWORD).await;
    let page = web.get("/voice/report").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<option value=\"Delivery\">"), "{}", page.body);
    let csrf = crate::web::field(&page.body, "csrf");
    let today = chrono::Utc::now().date_naive().to_string();
    let post = |theme: &'static str, said: &'static str, day: String, public: bool| {
        let mut fields = vec![
            ("theme", theme.to_owned()),
            ("said", said.to_owned()),
            ("did", "we changed courier".to_owned()),
            ("done_on", day),
        ];
        if public {
            fields.push(("public", "yes".to_owned()));
        }
        fields
    };
    for (fields, problem) in [
        (
            post("Parking", "late parcels", today.clone(), true),
            "theme: there is no theme &#39;Parking&#39;",
        ),
        (
            post("Delivery", "Ana (ana@example.com) waited", today.clone(), true),
            "said: holds what looks like an e-mail address",
        ),
        (
            post("Delivery", "late parcels", "2999-01-01".into(), true),
            "is in the future",
        ),
        (
            post("Delivery", "late parcels", "yesterday".into(), true),
            "&#39;yesterday&#39; is not a date",
        ),
        (
            post("Delivery", "", today.clone(), true),
            "said: write what customers said",
        ),
    ] {
        let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("csrf", &csrf));
        let refused = web.post("/voice/actions", &form).await;
        assert_eq!(refused.status, 422, "{form:?}");
        assert!(refused.body.contains(problem), "{problem}: {}", refused.body);
    }
    assert!(
        db.store
            .voice_actions(i64::MIN, i64::MAX, false, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    let fields = post("delivery", "Ana (ana@example.com) waited", today.clone(), false);
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("csrf", &csrf));
    let saved = web.post("/voice/actions", &form).await;
    assert_eq!(
        saved.status, 303,
        "a private action may name the customer: {}",
        saved.body
    );
    let page = web.get(saved.location()).await;
    assert!(page.body.contains("Action saved.") && page.body.contains("we changed courier"));
    let actions = db.store.voice_actions(i64::MIN, i64::MAX, false, 10).await.unwrap();
    assert_eq!(
        (actions.len(), actions[0].theme.as_str(), actions[0].public),
        (1, "Delivery", false)
    );
    assert_eq!(actions[0].recorded_by, "staff@shop.example");
    let id = actions[0].id.to_string();
    let period = crate::web::field(&page.body, "period");
    let removed = web
        .post(
            &format!("/voice/actions/{id}/remove"),
            &[("csrf", &csrf), ("period", &period)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let again = web
        .post(
            &format!("/voice/actions/{id}/remove"),
            &[("csrf", &csrf), ("period", &period)],
        )
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(web.get("/voice/report?period=2026-Q5").await.status, 400);

    // A viewer reads the report but has no form, and cannot post one.
    let mut viewer = web.sibling();
    viewer.login("viewer@shop.example", crate::web::PASSWORD).await;
    let page = viewer.get("/voice/report").await;
    assert!(page.status == 200 && !page.body.contains("Record what you did"));
    let csrf = crate::web::field(&page.body, "csrf");
    let fields = post("Delivery", "late parcels", today, true);
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("csrf", &csrf));
    assert_eq!(viewer.post("/voice/actions", &form).await.status, 403);

    // The voice page: computed in the background, then shown.
    let mut shown = String::new();
    for _ in 0..100 {
        let page = web.get("/voice").await;
        assert_eq!(page.status, 200);
        if !page.body.contains("being computed") {
            shown = page.body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(shown.contains("No answers yet"), "{shown}");
}

#[test]
fn the_report_command_writes_markdown_or_html_and_refuses_a_bad_period_or_theme() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let report = run(&["voice", "report", "--period", "2026-Q3"]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let text = String::from_utf8(report.stdout).unwrap();
    assert!(text.starts_with("# What our customers told us: 2026-Q3"), "{text}");
    assert!(text.contains("No answers in this period"));
    let html = run(&["voice", "report", "--period", "2026-07", "--format", "html"]);
    assert!(String::from_utf8(html.stdout).unwrap().starts_with("<!doctype html>"));
    for bad in ["2026-Q5", "Q3", "2026-13", "26", "2026-Q3; drop table"] {
        let refused = run(&["voice", "report", "--period", bad]);
        assert!(!refused.status.success());
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(
            error.contains("--period") && error.contains("is not a period"),
            "{bad}: {error}"
        );
    }
    let did = run(&["voice", "did", "--theme", "parking", "--said", "s", "--did", "d"]);
    assert!(!did.status.success());
    let error = String::from_utf8_lossy(&did.stderr);
    assert!(error.contains("there is no theme 'parking'"), "{error}");
    let none = run(&["voice", "actions"]);
    assert!(String::from_utf8_lossy(&none.stdout).contains("no actions recorded"));
    let missing = run(&["voice", "remove-action", "7"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no action 7"));
    let none = run(&["voice", "comments", "--search", "late"]);
    assert!(String::from_utf8_lossy(&none.stdout).contains("no comments found"));
    let tag = run(&["voice", "tag", "-4", "Delivery"]);
    assert!(String::from_utf8_lossy(&tag.stderr).contains("there is no named theme 'Delivery'"));

    // The comments' language is a setting, checked when read.
    let with_language = |language: &str| {
        Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("--db")
            .arg(&db)
            .args(["voice", "themes"])
            .env("RAPPORT_VOICE_LANGUAGE", language)
            .output()
            .unwrap()
    };
    assert!(with_language("fr").status.success());
    let refused = with_language("klingon");
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains("voice.language") && error.contains("supported: ar, da"),
        "{error}"
    );
}

#[tokio::test]
async fn admins_apply_surveys_on_the_surveys_page_and_staff_see_links_and_sends() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    setup(&db, now).await;
    users(&db, &[rapport::domain::Role::Staff, rapport::domain::Role::Admin]).await;
    let mut admin = crate::web::Client::new(&db);
    admin.login("admin@shop.example", crate::web::PASSWORD).await;
    let page = admin.get("/surveys").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("nps") && page.body.contains("/s/") && page.body.contains("<svg"));
    assert!(
        page.body
            .contains("0 (Not at all likely) to 10 (Extremely likely), required")
    );
    let csrf = crate::web::field(&page.body, "csrf");
    let bad = "[[survey]]\nname = \"delivery\"\nkind = \"custom\"\ntitle = \"Delivery\"\n\n[[survey.question]]\nkey = \"speed\"\ntext = \"How fast?\"\nscale = [5, 1]\n";
    let refused = admin.post("/surveys", &[("csrf", &csrf), ("toml", bad)]).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("the form") && refused.body.contains("Nothing was applied."),
        "{}",
        refused.body
    );
    assert!(db.store.survey("delivery").await.unwrap().is_none());
    let empty = admin.post("/surveys", &[("csrf", &csrf), ("toml", "# nothing")]).await;
    assert_eq!(empty.status, 422);
    let good = bad.replace("scale = [5, 1]", "scale = [1, 5]");
    let applied = admin.post("/surveys", &[("csrf", &csrf), ("toml", &good)]).await;
    assert_eq!(applied.status, 303, "{}", applied.body);
    let page = admin.get(applied.location()).await;
    assert!(
        page.body.contains("delivery") && page.body.contains("How fast? 1 to 5"),
        "{}",
        page.body
    );
    assert_eq!(db.store.survey("delivery").await.unwrap().unwrap().version, 1);

    // Staff read it all but apply nothing.
    let mut staff = admin.sibling();
    staff.login("staff@shop.example", crate::web::PASSWORD).await;
    let page = staff.get("/surveys").await;
    assert!(page.status == 200 && !page.body.contains("Apply a survey file"));
    let csrf = crate::web::field(&page.body, "csrf");
    assert_eq!(
        staff.post("/surveys", &[("csrf", &csrf), ("toml", &good)]).await.status,
        403
    );
}

#[tokio::test]
async fn staff_find_comments_and_tag_them_into_a_named_theme_from_the_dashboard() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    setup(&db, now).await;
    let server = TestServer::start(&db).await;
    for (i, (customer, score, comment)) in [("A", 4, "Could not park anywhere"), ("B", 9, "Lovely shop")]
        .iter()
        .enumerate()
    {
        let body = serde_json::json!({
            "customer_id": customer, "answers": {"score": score, "comment": comment}, "event_key": format!("p{i}")
        });
        assert_eq!(
            server.post("/api/v1/surveys/nps/responses", &body).await.0.as_u16(),
            201
        );
    }
    name_theme(&db.store, "Access", &["wheelchair".to_owned()], now)
        .await
        .unwrap();
    users(&db, &[rapport::domain::Role::Viewer, rapport::domain::Role::Staff]).await;
    let mut web = crate::web::Client::new(&db);
    web.login("staff@shop.example", crate::web::PASSWORD).await;
    let page = web.get("/voice/comments?search=PARK").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Could not park anywhere") && !page.body.contains("Lovely shop"));
    let csrf = crate::web::field(&page.body, "csrf");
    let park = db
        .store
        .responses(None)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.comment.as_deref() == Some("Could not park anywhere"))
        .unwrap();
    let id = rapport::voice::analysis::comment_id(&park).to_string();
    assert!(
        page.body.contains(&format!("/voice/comments/{id}/tag")),
        "{}",
        page.body
    );
    let unknown = tag_form(&mut web, &format!("/voice/comments/{id}/tag"), "Prices", &csrf).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("there is no named theme"), "{}", unknown.body);
    let missing = tag_form(&mut web, "/voice/comments/987654/tag", "Access", &csrf).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("there is no comment 987654"));
    assert!(db.store.theme_tags().await.unwrap().is_empty(), "nothing stored");
    let tagged = tag_form(&mut web, &format!("/voice/comments/{id}/tag"), "Access", &csrf).await;
    assert_eq!(tagged.status, 303, "{}", tagged.body);
    assert_eq!(tagged.location(), "/voice/comments?search=park");
    let page = web.get("/voice/comments?search=park").await;
    assert!(page.body.contains("Untag Access"), "{}", page.body);
    let rules = rapport::voice::analysis::theme_rules(&db.store).await.unwrap();
    let responses = db.store.responses(None).await.unwrap();
    let options = rapport::voice::themes::ThemeOptions {
        min_count: 1,
        ..Default::default()
    };
    let report = rapport::voice::analysis::themes(&responses, &[], &rules, &options).unwrap();
    assert_eq!(
        report.theme("Access").unwrap().count,
        1,
        "the tag counts it, though it never says wheelchair"
    );
    let untagged = tag_form(&mut web, &format!("/voice/comments/{id}/untag"), "Access", &csrf).await;
    assert_eq!(untagged.status, 303);
    let again = tag_form(&mut web, &format!("/voice/comments/{id}/untag"), "Access", &csrf).await;
    assert_eq!(again.status, 404);

    // A viewer searches but tags nothing.
    let mut viewer = web.sibling();
    viewer.login("viewer@shop.example", crate::web::PASSWORD).await;
    let page = viewer.get("/voice/comments").await;
    assert!(page.status == 200 && !page.body.contains("/tag\""));
    let csrf = crate::web::field(&page.body, "csrf");
    let refused = viewer
        .post(
            &format!("/voice/comments/{id}/tag"),
            &[("csrf", &csrf), ("theme", "Access")],
        )
        .await;
    assert_eq!(refused.status, 403);
}

/// Sends a comment's tag or untag form for `theme`, from the search "park".
async fn tag_form(web: &mut crate::web::Client, path: &str, theme: &str, csrf: &str) -> crate::web::Reply {
    web.post(path, &[("csrf", csrf), ("theme", theme), ("search", "park")])
        .await
}

/// Dashboard users `ROLE@shop.example`, one of each role, with the tests' password.
async fn users(db: &TestDb, roles: &[rapport::domain::Role]) {
    for role in roles {
        let email = format!("{}@shop.example", role.as_str());
        rapport::server::accounts::create_user(&db.store, &email, *role, crate::web::PASSWORD)
            .await
            .unwrap();
    }
}
