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

/// Sets up `setup`'s customers and plans and runs what is due: one message, Ana's thank-you, is
/// queued, its links leading to `public_url`. Returns the run's time.
pub(crate) async fn one_plan_email(db: &TestDb, public_url: &str) -> i64 {
    setup(db).await;
    let mut settings = RunSettings::default();
    settings.mail.public_url = public_url.to_owned();
    let now = JAN_2024 + 3 * DAY;
    assert_eq!(run_due(&db.store, &settings, now).await.unwrap().emails_queued, 1);
    now
}

/// The unsubscribe link in a delivered message's text part.
pub(crate) fn unsubscribe_link(raw: &[u8]) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a MIME message");
    let text = parsed.body_text(0).expect("a text part");
    text.lines()
        .find_map(|line| line.strip_prefix("Unsubscribe with one click: "))
        .expect("the text part ends with the unsubscribe link")
        .trim()
        .to_owned()
}

/// An `aiosmtpd` process on loopback writing what it receives into a maildir, stopped when dropped.
pub(crate) struct Aiosmtpd {
    child: std::process::Child,
    maildir: std::path::PathBuf,
}

impl Aiosmtpd {
    /// Listening on `port`, keeping its mail under `dir`.
    pub(crate) async fn start(binary: &std::path::Path, dir: &std::path::Path, port: u16) -> Self {
        let maildir = dir.join("maildir");
        let mut child = std::process::Command::new(binary)
            .args([
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { child, maildir };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on port {port}");
    }

    /// The messages received so far, raw.
    pub(crate) fn received(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries.map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect()
    }
}

impl Aiosmtpd {
    /// What arrived once `count` messages did (or after 5 s).
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Vec<u8>> {
        let mut received = Vec::new();
        for _ in 0..100 {
            received = self.received();
            if received.len() >= count {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        received
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_smtp_server_process_down_then_up_gets_a_plan_email_once_and_its_link_unsubscribes() {
    let Some(binary) = crate::browser::find(&["aiosmtpd"]) else {
        eprintln!(
            "\nSKIPPED: the SMTP server process test (install aiosmtpd, e.g. `apt-get install -y python3-aiosmtpd`; .ci/run does)\n"
        );
        return;
    };
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    let address = spawn_app(rapport::server::AppState::new(db.store.clone())).await;
    let now = one_plan_email(&db, &format!("http://{address}")).await;
    // The server is down at first: the connection is refused, and the message waits its minute.
    let port = crate::mail::free_port();
    let delivery = crate::mail::settings(port, 8);
    let refused = rapport::mail::deliver_due(&db.store, &delivery, now).await.unwrap();
    assert_eq!((refused.sent, refused.retrying), (0, 1), "{refused:?}");
    let server = Aiosmtpd::start(&binary, db.dir.path(), port).await;
    let report = rapport::mail::deliver_due(&db.store, &delivery, now + 61)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let again = rapport::mail::deliver_due(&db.store, &delivery, now + 3_600)
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "sent once");
    let received = server.wait_for(1).await;
    assert_eq!(received.len(), 1, "the message arrives once");
    let parsed = mail_parser::MessageParser::default().parse(&received[0]).unwrap();
    assert_eq!(parsed.subject(), Some("Thank you, Ana"));
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    assert!(parsed.body_text(0).unwrap().starts_with("Hello Ana,"));
    assert!(parsed.body_html(0).unwrap().contains("<p>Hello Ana,</p>"));
    let link = unsubscribe_link(&received[0]);
    assert_eq!(
        parsed.header_raw("List-Unsubscribe").map(str::trim),
        Some(format!("<{link}>").as_str())
    );
    let answer = reqwest::Client::new().post(&link).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let ana = db.store.customer(&ext("A")).await.unwrap().unwrap();
    assert_eq!(ana.state.email_consent, Some(false));
}

#[tokio::test]
async fn the_outbox_page_warns_without_smtp_and_staff_record_consent_on_the_customer_page() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    one_plan_email(&db, "https://shop.example.com").await;
    rapport::server::accounts::create_user(
        &db.store,
        "staff@example.com",
        rapport::domain::Role::Staff,
        crate::web::PASSWORD,
    )
    .await
    .unwrap();
    let mut web = crate::web::Client::new(&db);
    web.login("staff@example.com", crate::web::PASSWORD).await;
    let outbox = web.get("/mail").await;
    assert_eq!(outbox.status, 200);
    assert!(
        outbox
            .body
            .contains("No SMTP server is set, so nothing is sent: 1 message waits here"),
        "{}",
        outbox.body
    );
    assert!(outbox.body.contains("Thank you, Ana") && outbox.body.contains("thank-you mail"));
    let id = db
        .store
        .mail_messages(MailPage {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()[0]
        .id;
    let message = web.get(&format!("/mail/{id}")).await;
    assert!(message.body.contains("Not tried yet."), "{}", message.body);
    assert_eq!(web.get("/mail/999999").await.status, 404);

    // Dan never answered: staff record his consent from his page.
    let page = web.get("/customers/D").await;
    assert!(page.body.contains("never given: no plan e-mails"), "{}", page.body);
    let csrf = crate::web::field(&page.body, "csrf");
    let saved = web
        .post(
            "/customers/D/consent",
            &[("csrf", &csrf), ("key", "consent-k1"), ("given", "yes")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = web.get("/customers/D").await;
    assert!(
        page.body.contains("E-mail consent recorded.") || page.body.contains("given on"),
        "{}",
        page.body
    );
    let dan = db.store.customer(&ext("D")).await.unwrap().unwrap();
    assert_eq!(dan.state.email_consent, Some(true));
    let bad = web
        .post(
            "/customers/D/consent",
            &[("csrf", &csrf), ("key", "consent-k2"), ("given", "maybe")],
        )
        .await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn bad_consent_values_and_unsubscribe_tokens_are_refused_by_name_and_store_nothing() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await.unwrap();
    // A customer list: a value that is neither yes nor no fails the file, naming line, column and
    // value, and stores no customer and no answer.
    let long = "y".repeat(10_000);
    for bad in ["maybe", "yes please", long.as_str(), "<script>"] {
        let text = format!("customer_id,email,email_consent\nA,a@example.com,yes\nB,b@example.com,{bad}\n");
        let options = FileOptions::csv(db.file("bad.csv", &text));
        let error = import_customers(&db.store, &options, &CustomerColumns::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 3") && error.contains("email_consent") && error.contains("yes or no"),
            "{bad:.20}: {error}"
        );
        assert!(db.store.customer(&ext("A")).await.unwrap().is_none(), "nothing stored");
    }
    // The API: consent is a boolean; anything else is named, and the customer stays as they were.
    let server = TestServer::start(&db).await;
    let (status, _) = server
        .post(
            "/api/v1/customers",
            &serde_json::json!({"id": "K1", "email": "k@example.com"}),
        )
        .await;
    assert_eq!(status.as_u16(), 201);
    for bad in [
        serde_json::json!("yes"),
        serde_json::json!(1),
        serde_json::json!({"given": true}),
    ] {
        let answer = server
            .client
            .patch(server.url("/api/v1/customers/K1"))
            .bearer_auth(&server.staff)
            .json(&serde_json::json!({"email_consent": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 422, "{bad}");
        let body = answer.text().await.unwrap();
        assert!(body.contains("email_consent"), "{bad}: {body}");
    }
    let (status, body) = server
        .post(
            "/api/v1/events",
            &serde_json::json!({"customer_id": "K1", "kind": "consent", "channel": "email"}),
        )
        .await;
    assert_eq!(status.as_u16(), 422);
    assert!(body.to_string().contains("needs 'given'"), "{body}");
    let k1 = db.store.customer(&ext("K1")).await.unwrap().unwrap();
    assert_eq!(k1.state.email_consent, None, "no answer recorded");
    // Unsubscribe tokens: empty-ish, huge, malformed, malicious: the same page, nothing changed.
    let huge = "A".repeat(5_000);
    for token in ["x", huge.as_str(), "%00%01", "..%2F..%2Fetc%2Fpasswd", "%3Cscript%3E"] {
        let answer = server
            .client
            .post(server.url(&format!("/u/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 404, "{token:.20}");
        assert!(answer.text().await.unwrap().contains("This link does not work"));
    }
    assert_eq!(
        db.store
            .customer(&ext("K1"))
            .await
            .unwrap()
            .unwrap()
            .state
            .email_consent,
        None
    );
}
