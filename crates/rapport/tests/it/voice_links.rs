//! Surveys sent and answered on both backends: a plan's survey action e-mails a personal link,
//! the page behind it answered over HTTP (refused answers store nothing, a changed answer is a new
//! event and the latest counts), tampered, expired and mismatched links refused, a rebuild keeps
//! the responses, reminders go once, and `surveys send` skips whom it must.

use std::collections::BTreeMap;

use rapport::care::email::RunSettings;
use rapport::care::plan_file::parse_plans;
use rapport::care::run_due;
use rapport::domain::EventKind;
use rapport::domain::survey::{NpsCategory, SurveySpec};
use rapport::domain::webhook::EventType;
use rapport::import::{CustomerColumns, FileOptions, TransactionColumns, import_customers, import_transactions};
use rapport::store::Audience;
use rapport::voice::invite::{LinkFields, SURVEY_LINK};
use rapport::voice::send::send_survey;

use crate::contract;
use crate::helpers::{TestDb, ext, spawn_app};

contract!(
    a_plan_sends_a_survey_whose_link_is_answered_changed_and_refused_when_it_should_be,
    a_send_by_hand_skips_customers_without_consent_and_those_already_invited,
    hostile_answers_and_tokens_store_nothing_and_a_flood_is_slowed,
);

pub(crate) const DAY: i64 = 86_400;

const PLAN: &str = r#"
[[plan]]
name = "nps after purchase"
trigger = { after = "purchase", offset = "7d" }
holdout = 0.0
action = { survey = "nps" }

[[plan]]
name = "call detractors"
trigger = { after = "detractor", offset = "0d" }
holdout = 0.0
action = { task = "Call {first_name} about their answer", due_in = "2d" }
"#;

/// Ana and Ben consented, Cleo did not; each bought ten days ago.
pub(crate) async fn setup(db: &TestDb, now: i64) {
    let customers = "customer_id,name,email,email_consent\n\
        A,Ana Lima,ana@example.com,yes\nB,Ben Ode,ben@example.com,yes\nC,Cleo Park,cleo@example.com,no\n";
    import_customers(
        &db.store,
        &FileOptions::csv(db.file("customers.csv", customers)),
        &CustomerColumns::default(),
    )
    .await
    .expect("customers");
    let day = rapport::domain::state::format_day((now - 10 * DAY).div_euclid(DAY));
    let purchases = format!("customer_id,date,amount,order_id\nA,{day},10,1\nB,{day},10,2\nC,{day},10,3\n");
    import_transactions(
        &db.store,
        &FileOptions::csv(db.file("purchases.csv", &purchases)),
        &TransactionColumns::default(),
        None,
    )
    .await
    .expect("purchases");
    db.store
        .apply_surveys(&SurveySpec::built_in(), now - 20 * DAY)
        .await
        .unwrap();
}

/// The survey link in the e-mail to `to` (every queued message is claimed to read it), as a path
/// on the server.
async fn link_to(db: &TestDb, settings: &RunSettings, now: i64, to: &str) -> String {
    let claim = rapport::store::Claim {
        by: "test".into(),
        now_ms: now * 1000,
        until_ms: (now + DAY) * 1000,
        limit: 50,
    };
    let claimed = db.store.claim_mail(&claim).await.unwrap();
    let mail = claimed.iter().find(|m| m.to.as_str() == to).expect("a message to them");
    let url = mail
        .text_body
        .lines()
        .find_map(|l| l.strip_prefix("Answer here: "))
        .expect("the text part has the survey link");
    url.strip_prefix(&settings.mail.public_url)
        .expect("the public URL")
        .to_owned()
}

pub(crate) fn feedback_of(events: &[rapport::domain::StoredEvent]) -> Vec<(Option<i64>, Option<NpsCategory>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Feedback { score, category, .. } => Some((*score, *category)),
            _ => None,
        })
        .collect()
}

async fn a_plan_sends_a_survey_whose_link_is_answered_changed_and_refused_when_it_should_be(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let specs = parse_plans("plans.toml", PLAN).expect("the plan reads");
    db.store.apply_plans(&specs, now - 20 * DAY).await.unwrap();
    let settings = RunSettings::default();
    let report = run_due(&db.store, &settings, now).await.unwrap();
    assert_eq!((report.surveys_sent, report.emails_queued), (2, 2), "{report:?}");
    assert_eq!(report.skipped.get("consent"), Some(&1), "Cleo said no: {report:?}");

    let path = link_to(db, &settings, now, "ana@example.com").await;
    let hook = db
        .store
        .create_webhook(&rapport::store::NewSubscription {
            url: "https://hooks.example.com/rapport".into(),
            event_types: vec![EventType::SurveyResponded, EventType::FeedbackDetractor],
            secret: rapport::domain::webhook::WebhookSecret::generate(),
            description: None,
            created_at: now,
        })
        .await
        .unwrap();
    let address = spawn_app(rapport::server::AppState::new(db.store.clone())).await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}{path}");
    let form = |pairs: &[(&str, &str)]| {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k, v);
        }
        body.finish()
    };
    let post = |body: String| {
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let page = client.get(format!("{url}?score=3")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Hello Ana,"), "{html}");
    assert!(
        !html.contains("Lima") && !html.contains("ana@"),
        "no more than the first name"
    );
    assert!(
        html.contains("value=\"3\" checked"),
        "the e-mail's number is chosen: {html}"
    );
    assert!(html.contains("<legend>How likely is it that you would recommend"));

    // Refused answers: the page says what is wrong, nothing is stored.
    let wrong = post(form(&[("score", "11")])).await.unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("&#39;11&#39; is not a score from 0 to 10.")
    );
    let missing = post(form(&[("comment", "no score")])).await.unwrap();
    assert_eq!(missing.status(), 422);
    let missing = missing.text().await.unwrap();
    assert!(missing.contains("This question needs an answer."), "{missing}");
    assert!(
        missing.contains("no score</textarea>"),
        "what was typed is kept: {missing}"
    );
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert!(feedback_of(&db.store.events_of(ana.id).await.unwrap()).is_empty());

    let saved = post(form(&[("score", "3"), ("comment", "Late parcel, twice.")]))
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .contains("Thank you: your answer helps us do better.")
    );
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.nps_category, Some(NpsCategory::Detractor));
    let page = rapport::store::DeliveryPage {
        subscription: hook,
        before: None,
        limit: 10,
    };
    let mut queued = db.store.webhook_deliveries(page).await.unwrap();
    queued.sort_by_key(|d| d.id);
    let types: Vec<EventType> = queued.iter().map(|d| d.event_type).collect();
    assert_eq!(types, [EventType::FeedbackDetractor, EventType::SurveyResponded]);
    let message: serde_json::Value = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(
        (
            &message["data"]["customer_id"],
            &message["data"]["score"],
            &message["data"]["comment"]
        ),
        (
            &serde_json::json!("A"),
            &serde_json::json!(3),
            &serde_json::json!("Late parcel, twice.")
        ),
        "{message}"
    );
    // The loop closes: a task due within two days, saying what was answered and the figures.
    let closed = run_due(&db.store, &settings, now + 60).await.unwrap();
    assert_eq!(closed.tasks_created, 1, "{closed:?}");
    let tasks = db.store.open_tasks(10).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].customer.as_str(), tasks[0].title.as_str(), tasks[0].due_at),
        ("A", "Call Ana about their answer", now + 60 + 2 * DAY)
    );
    let why = tasks[0].why.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("Ana answered nps with 3 (a detractor) on ")
            && why.contains(": \u{201c}Late parcel, twice.\u{201d}. Ana has bought 1 time, 10.00 in all"),
        "{why}"
    );
    let sends = db.store.sends(Some("nps")).await.unwrap();
    assert_eq!(
        (sends.len(), sends[0].invited, sends[0].responded),
        (1, 2, 1),
        "{sends:?}"
    );
    assert_eq!(sends[0].label, "plan 'nps after purchase'");

    // Answered: the page says so and takes a change, a new event that counts.
    let again = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(again.contains("You answered on"), "{again}");
    assert!(again.contains("value=\"3\" checked") && again.contains("Late parcel, twice.</textarea>"));
    let changed = post(form(&[("score", "9"), ("comment", "Sorted out quickly.")]))
        .await
        .unwrap();
    assert!(changed.text().await.unwrap().contains("replaces the earlier one"));
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.nps_category, Some(NpsCategory::Promoter));
    let events = db.store.events_of(ana.id).await.unwrap();
    assert_eq!(
        feedback_of(&events),
        [
            (Some(3), Some(NpsCategory::Detractor)),
            (Some(9), Some(NpsCategory::Promoter))
        ]
    );
    let token = path.trim_start_matches("/s/");
    let key = db.store.link_key(SURVEY_LINK, now).await.unwrap();
    let fields = LinkFields::verify(&key, token).expect("a link Rapport signed");
    let latest = db.store.invitation_response(fields.invitation).await.unwrap().unwrap();
    assert_eq!(
        (latest.score, latest.comment.as_deref()),
        (Some(9), Some("Sorted out quickly."))
    );

    // A rebuild makes the responses again from the log: the latest still counts.
    rapport::projection::rebuild(&db.store).await.unwrap();
    let latest = db.store.invitation_response(fields.invitation).await.unwrap().unwrap();
    assert_eq!(latest.score, Some(9));
    assert_eq!(db.store.sends(None).await.unwrap()[0].responded, 1);
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.nps_category, Some(NpsCategory::Promoter));

    // Links that do not work store nothing and reveal nothing.
    let mut bytes = token.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("http://{address}/s/{}", String::from_utf8(bytes).unwrap());
    let expired = LinkFields {
        expires_at: now - 1,
        ..fields.clone()
    };
    let other_survey = LinkFields {
        survey: "csat".into(),
        ..fields.clone()
    };
    for (link, status, says) in [
        (tampered, 404, "This link does not work."),
        (
            format!("http://{address}/s/{}", expired.sign(&key)),
            410,
            "This survey link has expired",
        ),
        (
            format!("http://{address}/s/{}", other_survey.sign(&key)),
            404,
            "This link does not work.",
        ),
    ] {
        let answer = client
            .post(&link)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("score", "0")]))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{link}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(says), "{page}");
        assert!(!page.contains("Ana") && !page.contains("recommend"), "{page}");
    }
    let events = db.store.events_of(ana.id).await.unwrap();
    assert_eq!(feedback_of(&events).len(), 2, "nothing stored by refused links");

    // The anonymous link: anyone answers, as nobody in particular; a personal token is not one.
    let public = db
        .store
        .link_key(rapport::voice::invite::SURVEY_PUBLIC, now)
        .await
        .unwrap();
    let anonymous = format!(
        "http://{address}/s/{}",
        rapport::voice::invite::public_token(&public, "csat")
    );
    let page = client.get(&anonymous).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Your answer is anonymous") && !page.contains("Hello"),
        "{page}"
    );
    let answered = client
        .post(&anonymous)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("score", "5"), ("comment", "Quick and kind.")]))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let csat = db.store.responses(Some("csat")).await.unwrap();
    assert_eq!(csat.len(), 1);
    assert_eq!(
        (csat[0].score, csat[0].stage.as_deref()),
        (Some(5), None),
        "no customer"
    );

    // Ben has not answered: one reminder after four days, then no more.
    let reminded = run_due(&db.store, &settings, now + 4 * DAY).await.unwrap();
    assert_eq!(reminded.reminders_sent, 1, "{reminded:?}");
    let later = run_due(&db.store, &settings, now + 12 * DAY).await.unwrap();
    assert_eq!(later.reminders_sent, 0, "at most one reminder: {later:?}");
    assert_eq!(db.store.sends(None).await.unwrap()[0].reminders, 1);
}

async fn a_send_by_hand_skips_customers_without_consent_and_those_already_invited(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let settings = RunSettings::default();
    let everyone = || Audience::default();
    let dry = send_survey(&db.store, &settings, "csat", everyone(), "test", true, now)
        .await
        .unwrap();
    assert_eq!((dry.matched, dry.invited, dry.send_id), (3, 2, None), "{dry:?}");
    assert!(
        db.store.sends(None).await.unwrap().is_empty(),
        "a dry run writes nothing"
    );
    let sent = send_survey(&db.store, &settings, "csat", everyone(), "test", false, now)
        .await
        .unwrap();
    assert_eq!(sent.invited, 2);
    assert_eq!(sent.skipped, BTreeMap::from([("consent".to_owned(), 1)]));
    let again = send_survey(&db.store, &settings, "csat", everyone(), "test", false, now + 60)
        .await
        .unwrap();
    assert_eq!(again.invited, 0);
    assert_eq!(again.skipped.get("already invited"), Some(&2), "{again:?}");
    let ben = db.store.customer(&ext("B")).await.unwrap().unwrap();
    let only = [ben.id];
    let just_ben = Audience {
        only: Some(&only),
        ..Audience::default()
    };
    let nps = send_survey(&db.store, &settings, "nps", just_ben, "test", false, now + 4 * DAY)
        .await
        .unwrap();
    assert_eq!((nps.matched, nps.invited), (1, 1), "{nps:?}");
    let missing = send_survey(&db.store, &settings, "no such", everyone(), "test", false, now).await;
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("there is no survey 'no such'")
    );
}

async fn hostile_answers_and_tokens_store_nothing_and_a_flood_is_slowed(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let key = db.store.link_key(SURVEY_LINK, now).await.unwrap();
    let send = send_survey(
        &db.store,
        &RunSettings::default(),
        "nps",
        Audience::default(),
        "test",
        false,
        now,
    )
    .await
    .unwrap();
    assert_eq!(send.invited, 2);
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    let invitation = db.store.invitations_made(now, now + 1).await.unwrap();
    let invitation = invitation.iter().find(|i| i.customer_id == ana.id).unwrap();
    let token = LinkFields {
        invitation: invitation.id,
        survey: "nps".into(),
        customer: ana.id,
        expires_at: invitation.expires_at,
    }
    .sign(&key);
    let address = spawn_app(rapport::server::AppState::new(db.store.clone())).await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}/s/{token}");
    let post = |body: String| {
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let junk: String = (0..5_000).map(|i| format!("k{i}=v&")).collect();
    let cases = [
        (format!("{junk}score=abc"), "&#39;abc&#39; is not a score"),
        ("score=%D9%A3".to_owned(), "is not a score from 0 to 10"),
        ("score=3&score=4".to_owned(), "Choose one score."),
        (
            format!("score=3&comment={}", "x".repeat(2_001)),
            "characters long, the limit is 2000",
        ),
        ("score=3&comment=a%00b".to_owned(), "control character"),
    ];
    for (body, says) in &cases {
        let answer = post(body.clone()).await.unwrap();
        assert_eq!(answer.status(), 422, "{says}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(says), "{says}: {page}");
    }
    let long = format!("http://{address}/s/{}", "A".repeat(600));
    assert_eq!(client.get(&long).send().await.unwrap().status(), 404);
    let unsubscribe = format!(
        "http://{address}/s/{}",
        rapport::care::email::MailContext {
            public_url: String::new(),
            business: String::new(),
        }
        .unsubscribe_url(
            &db.store.link_key(rapport::care::email::UNSUBSCRIBE, now).await.unwrap(),
            ana.id,
            1
        )
        .trim_start_matches("/u/")
    );
    assert_eq!(
        client.get(&unsubscribe).send().await.unwrap().status(),
        404,
        "an unsubscribe token opens no survey"
    );
    assert!(
        feedback_of(&db.store.events_of(ana.id).await.unwrap()).is_empty(),
        "nothing stored"
    );
    // Twenty answers a minute from one address (five were sent above); the next waits.
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(post("score=9".to_owned()).await.unwrap().status().as_u16());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let slowed = post("score=9".to_owned()).await.unwrap();
    assert_eq!(slowed.status(), 429);
    assert!(slowed.text().await.unwrap().contains("Please wait a minute"));
}
