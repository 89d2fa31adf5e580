//! Care plans that e-mail: consent from the customer list and the API, the contact cap across
//! plans, the message as queued and as an SMTP server receives it, and the unsubscribe link
//! followed over HTTP.

use rapport::care::email::RunSettings;
use rapport::care::plan_file::parse_plans;
use rapport::care::run_due;
use rapport::domain::EventKind;
use rapport::import::{CustomerColumns, FileOptions, TransactionColumns, import_customers, import_transactions};
use rapport::store::MailPage;

use crate::api::TestServer;
use crate::contract;
use crate::helpers::{TestDb, ext, spawn_app};

contract!(
    plan_emails_go_once_to_customers_who_consented_within_the_contact_cap,
    the_unsubscribe_link_withdraws_consent_once_and_a_forged_one_reveals_nothing,
    the_api_records_consent_as_an_event_on_the_timeline,
);

const DAY: i64 = 86_400;
/// 2024-01-01T00:00:00Z.
const JAN_2024: i64 = 1_704_067_200;

/// Two e-mail plans a day apart after every purchase, so the second meets the contact cap.
const PLANS: &str = r#"
[[plan]]
name = "thank-you mail"
trigger = { after = "purchase", offset = "1d" }
holdout = 0.0

[plan.action]
email = "Thank you, {first_name|friend}"
text = """
Hello {first_name|there},

thank you for your order of {last_purchase}.
"""

[[plan]]
name = "tips mail"
trigger = { after = "purchase", offset = "2d" }
holdout = 0.0

[plan.action]
email = "Three tips for your purchase"
text = "Hello {first_name|there}, here are three tips."
html = "<p>Hello <b>{first_name|there}</b>, here are three tips.</p>"
"#;

/// Ana and Ben consented (Ben withdrew later in the file's second import), Cleo said no, Dan
/// never answered, Eve consented without an address.
const CUSTOMERS: &str = "customer_id,name,email,email_consent\n\
    A,Ana Lima,ana@example.com,yes\n\
    B,Ben Ode,ben@example.com,yes\n\
    C,Cleo Park,cleo@example.com,no\n\
    D,Dan Roe,dan@example.com,\n\
    E,Eve Ng,,opt-in\n";

async fn setup(db: &TestDb) {
    let options = FileOptions::csv(db.file("customers.csv", CUSTOMERS));
    let report = import_customers(&db.store, &options, &CustomerColumns::default())
        .await
        .expect("customer import");
    assert_eq!(report.consents_recorded, 4);
    let again = import_customers(&db.store, &options, &CustomerColumns::default())
        .await
        .expect("the same list again");
    assert_eq!(
        again.consents_recorded, 0,
        "answers already recorded are not recorded again"
    );
    let withdrawn = FileOptions::csv(db.file("later.csv", "customer_id,email_consent\nB,no\n"));
    import_customers(&db.store, &withdrawn, &CustomerColumns::default())
        .await
        .expect("a later list");
    let purchases = "customer_id,date,amount,order_id\nA,2024-01-01,10,1\nB,2024-01-01,10,2\nC,2024-01-01,10,3\n\
        D,2024-01-01,10,4\nE,2024-01-01,10,5\n";
    let options = FileOptions::csv(db.file("purchases.csv", purchases));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .expect("purchases");
    let specs = parse_plans("plans.toml", PLANS).expect("the plans read");
    db.store.apply_plans(&specs, JAN_2024).await.expect("apply");
}

async fn plan_emails_go_once_to_customers_who_consented_within_the_contact_cap(db: &TestDb) {
    setup(db).await;
    let settings = RunSettings::default();
    let report = run_due(&db.store, &settings, JAN_2024 + 3 * DAY).await.unwrap();
    assert_eq!(report.due, 10);
    assert_eq!(report.emails_queued, 1, "{report:?}");
    assert_eq!(report.tasks_created, 0);
    // Ben withdrew, Cleo said no, Dan never answered, Eve has no address: twice each.
    assert_eq!(report.skipped.get("consent"), Some(&8), "{report:?}");
    assert_eq!(
        report.skipped.get("cap"),
        Some(&1),
        "Ana's second mail within 3 days: {report:?}"
    );
    let again = run_due(&db.store, &settings, JAN_2024 + 10 * DAY).await.unwrap();
    assert_eq!(again.due, 0, "a capped message is recorded, not sent later");

    let listed = db
        .store
        .mail_messages(MailPage {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let mail = &listed[0];
    assert_eq!(
        (mail.to.as_str(), mail.subject.as_str()),
        ("ana@example.com", "Thank you, Ana")
    );
    let plan = db.store.plan("thank-you mail").await.unwrap().unwrap();
    assert_eq!(mail.plan_id, Some(plan.id));
    let tips = db.store.plan("tips mail").await.unwrap().unwrap();
    assert_eq!((tips.occurrences.skipped, tips.occurrences.done), (5, 0));
}

async fn the_unsubscribe_link_withdraws_consent_once_and_a_forged_one_reveals_nothing(db: &TestDb) {
    setup(db).await;
    let settings = RunSettings::default();
    run_due(&db.store, &settings, JAN_2024 + 3 * DAY).await.unwrap();
    let body: String = queued_text_body(db).await;
    let link = body
        .lines()
        .find_map(|l| l.strip_prefix("Unsubscribe with one click: "))
        .expect("the text part has the link")
        .to_owned();
    let path = link
        .strip_prefix(&settings.mail.public_url)
        .expect("the link starts with the public URL");
    let address = spawn_app(rapport::server::AppState::new(db.store.clone())).await;
    let client = reqwest::Client::new();
    let url = format!("http://{address}{path}");

    let visit = client.get(&url).send().await.unwrap();
    assert_eq!(visit.status(), 200);
    let page = visit.text().await.unwrap();
    assert!(page.contains("<button type=\"submit\">Unsubscribe</button>"), "{page}");
    assert!(
        !page.contains("Ana") && !page.contains("ana@"),
        "the page shows nothing about the customer"
    );
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.email_consent, Some(true), "a visit alone changes nothing");

    // A mail client's one-click POST (RFC 8058).
    let done = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("no more e-mails"));
    let twice = client.post(&url).send().await.unwrap().text().await.unwrap();
    assert!(twice.contains("already unsubscribed"), "{twice}");
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.email_consent, Some(false));
    let events = db.store.events_of(ana.id).await.unwrap();
    let withdrawals: Vec<&String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Consent {
                given: false, reason, ..
            } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        withdrawals,
        ["unsubscribe link in an e-mail"],
        "one event on the timeline"
    );

    let mut forged = path.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let refused = client.post(format!("http://{address}{forged}")).send().await.unwrap();
    assert_eq!(refused.status(), 404);
    let text = refused.text().await.unwrap();
    assert!(text.contains("This link does not work"), "{text}");
    let garbage = client.get(format!("http://{address}/u/..%2F")).send().await.unwrap();
    assert_eq!(garbage.status(), 404);

    // A later plan mails nobody: Ana has withdrawn like the others.
    let later = PLANS
        .split("[[plan]]")
        .nth(1)
        .unwrap()
        .replace("thank-you mail", "later mail")
        .replace("\"1d\"", "\"40d\"");
    let specs = parse_plans("later.toml", &format!("[[plan]]{later}")).unwrap();
    db.store.apply_plans(&specs, JAN_2024 + 35 * DAY).await.unwrap();
    let report = run_due(&db.store, &settings, JAN_2024 + 42 * DAY).await.unwrap();
    assert_eq!(
        (report.emails_queued, report.skipped.get("consent")),
        (0, Some(&5)),
        "{report:?}"
    );
}

async fn queued_text_body(db: &TestDb) -> String {
    let claim = rapport::store::Claim {
        by: "test".into(),
        now_ms: (JAN_2024 + 3 * DAY) * 1000,
        until_ms: (JAN_2024 + 4 * DAY) * 1000,
        limit: 10,
    };
    let mut claimed = db.store.claim_mail(&claim).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let mail = claimed.remove(0);
    let headers: Vec<&str> = mail.headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(headers, ["List-Unsubscribe", "List-Unsubscribe-Post"]);
    assert!(mail.html_body.contains("<p>Hello Ana,<br>") || mail.html_body.contains("<p>Hello Ana,</p>"));
    mail.text_body
}

async fn the_api_records_consent_as_an_event_on_the_timeline(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (status, created) = server
        .post(
            "/api/v1/customers",
            &serde_json::json!({"id": "K1", "email": "k@example.com", "email_consent": true}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &created["email_consent"]),
        (201, &serde_json::json!(true)),
        "{created}"
    );
    for _ in 0..2 {
        let patched: serde_json::Value = server
            .client
            .patch(server.url("/api/v1/customers/K1"))
            .bearer_auth(&server.staff)
            .json(&serde_json::json!({"email_consent": false}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(patched["email_consent"], false, "{patched}");
    }
    let event =
        |channel: &str| serde_json::json!({"customer_id": "K1", "kind": "consent", "channel": channel, "given": true});
    let (status, body) = server.post("/api/v1/events", &event("email")).await;
    assert_eq!(status.as_u16(), 201, "{body}");
    let (status, body) = server.post("/api/v1/events", &event("sms")).await;
    assert_eq!(status.as_u16(), 422);
    assert!(body.to_string().contains("'email' only"), "{body}");
    let (_, timeline) = server.get("/api/v1/customers/K1/events").await;
    let consents: Vec<(bool, String)> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "consent")
        .map(|e| (e["given"].as_bool().unwrap(), e["reason"].as_str().unwrap().to_owned()))
        .collect();
    // Newest first: the event API's, the one PATCH that changed it (the second changed nothing),
    // the creation's.
    assert_eq!(
        consents,
        [
            (true, "sent through the API".to_owned()),
            (false, "the API".to_owned()),
            (true, "the API".to_owned())
        ]
    );
}
