//! The voice of the customer read and written through the API and by staff, on both backends:
//! an answer recorded for a customer and checked like the page's form, the scores and lists it
//! feeds, the recovery report's rows, interviews found by text and tag, and a theme named by staff.

use rapport::domain::EventKind;
use rapport::domain::survey::NpsCategory;
use rapport::import::{FileOptions, TransactionColumns, import_transactions};
use rapport::voice::analysis::{GroupBy, summarise};

use crate::api::TestServer;
use crate::contract;
use crate::helpers::{TestDb, ext};
use crate::voice_links::{DAY, feedback_of, setup};

contract!(
    the_api_records_a_checked_answer_as_feedback_and_only_admins_change_surveys,
    interviews_are_on_the_timeline_and_found_by_text_and_tag,
    a_theme_named_by_staff_gathers_its_terms_in_every_report_after,
);

async fn the_api_records_a_checked_answer_as_feedback_and_only_admins_change_surveys(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let server = TestServer::start(db).await;
    let answer = |answers: serde_json::Value| serde_json::json!({"customer_id": "C", "answers": answers});
    let path = "/api/v1/surveys/nps/responses";
    let (status, body) = server.post(path, &answer(serde_json::json!({"score": 11}))).await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("answers.score")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'11' is not a score from 0 to 10"),
        "{body}"
    );
    for (bad, field) in [
        (serde_json::json!({"score": {"x": 1}}), "answers.score"),
        (serde_json::json!({"score": [9, 10]}), "answers.score"),
        (
            serde_json::json!({"score": 9, "comment": "x".repeat(100_000)}),
            "answers.comment",
        ),
    ] {
        let (status, body) = server.post(path, &answer(bad)).await;
        assert_eq!(
            (status.as_u16(), body["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    for (body, field) in [
        (
            serde_json::json!({"customer_id": "", "answers": {"score": 9}}),
            "customer_id",
        ),
        (
            serde_json::json!({"customer_id": "C", "answers": {"score": 9}, "event_key": "a\u{7}b"}),
            "event_key",
        ),
        (
            serde_json::json!({"customer_id": "C", "answers": {"score": 9}, "occurred_at": "yesterday-ish"}),
            "occurred_at",
        ),
    ] {
        let (status, answer) = server.post(path, &body).await;
        assert_eq!(
            (status.as_u16(), answer["error"]["field"].as_str()),
            (422, Some(field)),
            "{answer}"
        );
    }
    let (status, body) = server
        .post(path, &answer(serde_json::json!({"score": 9, "mood": "ok"})))
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("answers.mood")),
        "{body}"
    );
    let (status, body) = server
        .post(
            "/api/v1/surveys/none/responses",
            &answer(serde_json::json!({"score": 9})),
        )
        .await;
    assert_eq!(status.as_u16(), 404, "{body}");
    let cleo = db.store.customer(&ext("C")).await.unwrap().unwrap();
    assert!(
        feedback_of(&db.store.events_of(cleo.id).await.unwrap()).is_empty(),
        "nothing stored"
    );

    let (status, body) = server
        .post(
            path,
            &answer(serde_json::json!({"score": 4, "comment": "Slow reply by phone"})),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{body}");
    assert_eq!(
        (
            &body["kind"],
            &body["survey"],
            &body["score"],
            &body["category"],
            &body["comment"]
        ),
        (
            &serde_json::json!("feedback"),
            &serde_json::json!("nps"),
            &serde_json::json!(4),
            &serde_json::json!("detractor"),
            &serde_json::json!("Slow reply by phone")
        )
    );
    assert_eq!(
        body["answers"],
        serde_json::json!({"score": 4, "comment": "Slow reply by phone"})
    );
    let cleo = db.store.customer(&ext("C")).await.unwrap().unwrap();
    assert_eq!(cleo.state.nps_category, Some(NpsCategory::Detractor));

    // Staff answer; only admins define surveys.
    let file = serde_json::json!({"toml": "[[survey]]\nname = \"quick\"\nkind = \"csat\"\n"});
    let (status, _) = server.post("/api/v1/surveys", &file).await;
    assert_eq!(status.as_u16(), 403, "staff cannot change surveys");
    let (status, listed) = server.get("/api/v1/surveys").await;
    assert_eq!(status.as_u16(), 200);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ces", "csat", "nps"]);
    let (status, sends) = server.get("/api/v1/surveys/nps/sends").await;
    assert_eq!((status.as_u16(), sends), (200, serde_json::json!([])));

    // The answer counts in the scores by stage.
    let responses = db.store.responses(Some("nps")).await.unwrap();
    let rows = summarise(&responses, GroupBy::Stage, chrono_tz::UTC);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].group, "customer");
    let nps = rows[0].nps.unwrap();
    assert_eq!((nps.n, nps.detractors, nps.score.unwrap().value), (1, 1, -100.0));

    // Ben answered unhappily eight days ago and has bought since: unhappy but active.
    let eight_days_ago = rapport::webhooks::wire::timestamp(now - 8 * DAY);
    let ben = serde_json::json!({"customer_id": "B", "answers": {"score": 2}, "occurred_at": eight_days_ago});
    assert_eq!(server.post(path, &ben).await.0.as_u16(), 201);
    let day = rapport::domain::state::format_day((now - DAY).div_euclid(DAY));
    import_transactions(
        &db.store,
        &FileOptions::csv(db.file(
            "later.csv",
            &format!("customer_id,date,amount,order_id\nB,{day},10,9\n"),
        )),
        &TransactionColumns::default(),
        None,
    )
    .await
    .unwrap();
    let lists = db.store.voice_behaviour(0.5, 10).await.unwrap();
    let active: Vec<&str> = lists.active_detractors.iter().map(|r| r.customer_id.as_str()).collect();
    assert_eq!(active, ["B"], "Cleo has not bought since her answer and is not scored");
    assert!(lists.fading_promoters.is_empty(), "no promoters yet");

    // The recovery report's rows: Ben contacted by phone the day after, Cleo not at all.
    let call = rapport::domain::NewEvent {
        key: "call-ben".into(),
        occurred_at: now - 7 * DAY,
        kind: EventKind::Interaction {
            channel: "phone".into(),
            note: "sorry about the wait".into(),
        },
    };
    let mut ingest = rapport::ingest::Ingest::begin(&db.store, "test").await.unwrap();
    ingest.push(&ext("B"), call).await.unwrap();
    ingest.finish().await.unwrap();
    let rows = db.store.recovery(2 * DAY, 90 * DAY).await.unwrap();
    let seen: Vec<(i64, Option<i64>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.answered_at, r.contacted_at, r.bought_at))
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        (
            now - 8 * DAY,
            Some(now - 7 * DAY),
            Some(rapport::domain::state::midnight(
                chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap()
            ))
        )
    );
    assert_eq!((seen[1].1, seen[1].2), (None, None));
    let report = rapport::voice::recovery::recovery_report(&rows, 2 * DAY, 90 * DAY, now);
    assert_eq!((report.detractors, report.contacted_within_sla), (2, 1));
}

async fn interviews_are_on_the_timeline_and_found_by_text_and_tag(db: &TestDb) {
    use rapport::voice::interviews::{InterviewInput, log_interview};
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let interview = |needs: &str, tags: &[&str]| {
        InterviewInput {
            needs: Some(needs.to_owned()),
            fears: Some("100% sure it will be stolen_".to_owned()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            by: "sam@shop.example".to_owned(),
            ..InterviewInput::default()
        }
        .check()
        .unwrap()
    };
    log_interview(
        &db.store,
        &ext("A"),
        interview("A Cargo bike", &["Family"]),
        "i1".into(),
        now - 60,
    )
    .await
    .unwrap();
    log_interview(
        &db.store,
        &ext("B"),
        interview("a city bike", &["commute"]),
        "i2".into(),
        now,
    )
    .await
    .unwrap();
    let missing = log_interview(&db.store, &ext("Z"), interview("x", &[]), "i3".into(), now).await;
    assert!(missing.unwrap_err().to_string().contains("no customer 'Z'"));
    let found = |text: Option<&'static str>, tag: Option<&'static str>| {
        let store = db.store.clone();
        async move {
            let hits = store.interviews(text, tag, 10).await.unwrap();
            hits.into_iter().map(|(customer, _)| customer).collect::<Vec<_>>()
        }
    };
    assert_eq!(found(None, None).await, ["B", "A"], "newest first");
    assert_eq!(found(Some("cargo"), None).await, ["A"], "any case");
    assert_eq!(found(None, Some("family")).await, ["A"]);
    assert_eq!(found(Some("100%"), None).await.len(), 2, "a typed % is a percent sign");
    assert!(found(Some("x_y"), None).await.is_empty(), "a typed _ is an underscore");
    assert!(found(Some("bike"), Some("fam")).await.is_empty(), "a tag matches whole");
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    let events = db.store.events_of(ana.id).await.unwrap();
    let described: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Interview { .. }))
        .map(|e| e.kind.describe())
        .collect();
    assert_eq!(
        described,
        ["interview by sam@shop.example; needs: A Cargo bike; fears: 100% sure it will be stolen_; tags: family"]
    );
}

async fn a_theme_named_by_staff_gathers_its_terms_in_every_report_after(db: &TestDb) {
    use rapport::voice::analysis::{name_theme, theme_rules, themes};
    use rapport::voice::themes::ThemeOptions;
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let server = TestServer::start(db).await;
    let comments = [
        ("A", 2, "The delivery was late again"),
        ("B", 3, "Shipping took two weeks"),
        ("C", 1, "Late parcel, no apology"),
        ("A", 10, "Friendly staff, great advice"),
    ];
    for (i, (customer, score, comment)) in comments.iter().enumerate() {
        let body = serde_json::json!({
            "customer_id": customer, "answers": {"score": score, "comment": comment}, "event_key": format!("c{i}")
        });
        assert_eq!(
            server.post("/api/v1/surveys/nps/responses", &body).await.0.as_u16(),
            201
        );
    }
    let wrong = name_theme(&db.store, "Delivery", &["late".into(), " ".into()], now).await;
    assert!(wrong.is_err(), "an empty term is refused");
    assert!(
        theme_rules(&db.store).await.unwrap().named.is_empty(),
        "and nothing stored"
    );
    let terms: Vec<String> = ["late", "delivery"].iter().map(|t| (*t).to_owned()).collect();
    name_theme(&db.store, "delivery", &terms[..1], now).await.unwrap();
    let mut all = terms.clone();
    all.push("shipping".into());
    name_theme(&db.store, "Delivery", &all, now).await.unwrap();
    let rules = theme_rules(&db.store).await.unwrap();
    assert_eq!(rules.named.len(), 1, "a name differing in case replaces the old one");
    let responses = db.store.responses(Some("nps")).await.unwrap();
    let options = ThemeOptions {
        min_count: 1,
        ..ThemeOptions::default()
    };
    let report = themes(&responses, &[], &rules, &options).unwrap();
    let delivery = report.theme("Delivery").expect("the named theme");
    assert_eq!(
        (delivery.count, delivery.by_category.detractors),
        (3, 3),
        "{delivery:?}"
    );
    assert!(report.theme("late").is_none(), "its terms are not themes of their own");
    assert!(db.store.remove_theme_name("Delivery").await.unwrap());
}
