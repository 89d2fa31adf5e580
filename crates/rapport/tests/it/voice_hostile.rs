//! The voice of the customer tried as a careless user and an attacker would, on both backends:
//! the interview form on a customer's page, the report back's action forms, the public
//! `/you-said` page under a flood, and `[voice] reminders = 0` read from a settings file. Every
//! refusal names what is wrong and stores nothing. The command line's side is in
//! voice_hostile_cli.rs.

use rapport::care::email::RunSettings;
use rapport::care::run_due;
use rapport::config::{Settings, Sources};
use rapport::domain::{EventKind, Role, StoredEvent};
use rapport::store::{Audience, NewVoiceAction};
use rapport::voice::send::send_survey;

use crate::contract;
use crate::helpers::{TestDb, ext};
use crate::voice_links::{DAY, setup};
use crate::web::{Client, PASSWORD, field};

contract!(
    the_interview_form_stores_a_good_interview_once_and_refuses_the_rest_storing_nothing,
    forged_action_posts_a_bad_action_id_and_a_bad_period_are_refused_and_change_nothing,
    the_you_said_page_hides_private_actions_and_slows_a_flooding_address,
    reminders_set_to_zero_in_the_settings_file_send_no_reminder,
);

/// The customers, purchases and surveys of `setup`, with a staff member and a viewer.
async fn shop(db: &TestDb, now: i64) {
    setup(db, now).await;
    for role in [Role::Staff, Role::Viewer] {
        let email = format!("{}@shop.example", role.as_str());
        rapport::server::accounts::create_user(&db.store, &email, role, PASSWORD)
            .await
            .unwrap();
    }
}

async fn signed_in(db: &TestDb, email: &str) -> Client {
    let mut client = Client::new(db);
    assert_eq!(client.login(email, PASSWORD).await.status, 303, "{email} signs in");
    client
}

/// The interview form's idempotency key, as the customer page drew it.
fn interview_key(html: &str) -> String {
    let marker = "name=\"key\" value=\"";
    html.match_indices(marker)
        .map(|(at, _)| html[at + marker.len()..].split('"').next().unwrap_or_default())
        .find(|key| key.starts_with("interview-"))
        .expect("the interview form")
        .to_owned()
}

async fn interviews_of(db: &TestDb, customer: &str) -> Vec<StoredEvent> {
    let customer = db.store.customer(&ext(customer)).await.unwrap().unwrap();
    let events = db.store.events_of(customer.id).await.unwrap();
    events
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Interview { .. }))
        .collect()
}

async fn the_interview_form_stores_a_good_interview_once_and_refuses_the_rest_storing_nothing(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    shop(db, now).await;
    let events_before = db.store.event_count().await.unwrap();
    let mut staff = signed_in(db, "staff@shop.example").await;
    let page = staff.get("/customers/A").await;
    assert_eq!(page.status, 200);
    let (csrf, key) = (field(&page.body, "csrf"), interview_key(&page.body));
    let path = "/customers/A/interviews";

    let long = "x".repeat(10_000);
    let thirteen: Vec<String> = (1..=13).map(|i| format!("tag{i}")).collect();
    let thirteen = thirteen.join(",");
    let long_tag = format!("fine,{}", "t".repeat(41));
    let refused: [(&[(&str, &str)], &str); 6] = [
        (
            &[("needs", ""), ("notes", "   ")],
            "needs at least one of needs, desires, fears or notes",
        ),
        (
            &[("fears", "they\u{7}worry")],
            "fears contains the control character U+0007 at character 5",
        ),
        (
            &[("desires", long.as_str())],
            "desires is 10000 characters long, the limit is 4000",
        ),
        (
            &[("notes", "n"), ("tags", thirteen.as_str())],
            "at most 12 tags, not 13",
        ),
        (
            &[("notes", "n"), ("tags", long_tag.as_str())],
            "tag is 41 characters long, the limit is 40",
        ),
        (
            &[("needs", "a\u{1b}[2Jbike")],
            "needs contains the control character U+001B",
        ),
    ];
    for (fields, says) in refused {
        let mut form = fields.to_vec();
        form.extend([("csrf", csrf.as_str()), ("key", key.as_str())]);
        let reply = staff.post(path, &form).await;
        assert_eq!(reply.status, 422, "{says}");
        assert!(
            reply.body.contains("The interview was not saved") && reply.body.contains(says),
            "{says}: {}",
            reply.body
        );
    }
    let good = [("needs", "a bike for commuting"), ("key", key.as_str())];
    for (form, status, says) in [
        (vec![good[0], good[1]], 403, "security token is missing"),
        (
            vec![good[0], good[1], ("csrf", "forged")],
            403,
            "security token is missing",
        ),
    ] {
        let reply = staff.post(path, &form).await;
        assert!(reply.status == status && reply.body.contains(says), "{}", reply.body);
    }
    let unknown = staff
        .post(
            "/customers/K-404/interviews",
            &[good[0], good[1], ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body.contains("There is no customer with id &#39;K-404&#39;"),
        "{}",
        unknown.body
    );
    let bad_id = staff
        .post(
            "/customers/A%00B/interviews",
            &[good[0], good[1], ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(bad_id.status, 400, "an id with a control character: {}", bad_id.body);
    let mut viewer = signed_in(db, "viewer@shop.example").await;
    let viewer_csrf = field(&viewer.get("/customers/A").await.body, "csrf");
    let reply = viewer
        .post(path, &[good[0], good[1], ("csrf", viewer_csrf.as_str())])
        .await;
    assert_eq!(reply.status, 403);
    assert!(
        reply.body.contains("may look but not change anything"),
        "{}",
        reply.body
    );
    assert!(interviews_of(db, "A").await.is_empty(), "nothing refused was stored");
    assert_eq!(db.store.event_count().await.unwrap(), events_before);

    // Twelve tags and the trailing comma a hurried typist leaves: the blank one does not count.
    let twelve: Vec<String> = (1..=12).map(|i| format!("Tag{i}")).collect();
    let tags = format!("{},", twelve.join(", "));
    let form = [
        good[0],
        ("tags", tags.as_str()),
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
    ];
    for _ in 0..2 {
        let saved = staff.post(path, &form).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(saved.location(), "/customers/A?saved=interview#notes");
    }
    let stored = interviews_of(db, "A").await;
    assert_eq!(stored.len(), 1, "the same form sent twice is stored once");
    let EventKind::Interview { needs, tags, by, .. } = &stored[0].kind else {
        unreachable!("filtered to interviews")
    };
    assert_eq!(
        (needs.as_deref(), by.as_str()),
        (Some("a bike for commuting"), "staff@shop.example")
    );
    assert_eq!(tags.len(), 12);
    assert_eq!(tags[0], "tag1", "kept in lower case");
    let page = staff.get("/customers/A?saved=interview").await;
    assert!(page.body.contains("Interview logged."), "{}", page.body);
    assert!(
        page.body.contains(
            "<span class=\"kind\">interview</span> interview by staff@shop.example; needs: a bike for commuting"
        ),
        "on the timeline: {}",
        page.body
    );
}

async fn forged_action_posts_a_bad_action_id_and_a_bad_period_are_refused_and_change_nothing(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    shop(db, now).await;
    let terms = vec!["late".to_owned(), "delivery".to_owned()];
    rapport::voice::analysis::name_theme(&db.store, "Delivery", &terms, now)
        .await
        .unwrap();
    let kept = action(db, "we changed courier", true, now).await;
    let mut staff = signed_in(db, "staff@shop.example").await;
    let page = staff.get("/voice/report").await;
    assert_eq!(page.status, 200);
    let csrf = field(&page.body, "csrf");
    let today = chrono::Utc::now().date_naive().to_string();
    let form = [
        ("theme", "Delivery"),
        ("said", "parcels came late"),
        ("did", "we hired a second driver"),
        ("done_on", today.as_str()),
        ("public", "yes"),
    ];
    for csrf in [None, Some("forged")] {
        let mut fields = form.to_vec();
        fields.extend(csrf.map(|c| ("csrf", c)));
        let reply = staff.post("/voice/actions", &fields).await;
        assert_eq!(reply.status, 403, "{csrf:?}");
        assert!(reply.body.contains("security token"), "{}", reply.body);
    }
    for id in ["abc", "1.5", "99999999999999999999"] {
        let reply = staff
            .post(
                &format!("/voice/actions/{id}/remove"),
                &[("csrf", &csrf), ("period", "2026-Q3")],
            )
            .await;
        assert_eq!(reply.status, 400, "{id}: {}", reply.body);
    }
    let missing = staff
        .post("/voice/actions/-1/remove", &[("csrf", &csrf), ("period", "2026-Q3")])
        .await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("There is no action -1"), "{}", missing.body);
    let forged = staff
        .post(&format!("/voice/actions/{kept}/remove"), &[("period", "2026-Q3")])
        .await;
    assert_eq!(forged.status, 403, "a remove without the token");
    let actions = db.store.voice_actions(i64::MIN, i64::MAX, false, 10).await.unwrap();
    let ids: Vec<i64> = actions.iter().map(|a| a.id).collect();
    assert_eq!(ids, [kept], "nothing added, nothing removed");

    let long = "2026".repeat(3_000);
    for (query, shows) in [
        ("%00", "&#39;\\u{0}&#39; is not a period"),
        ("2026-Q0", "&#39;2026-Q0&#39; is not a period"),
        ("9999999999", "&#39;9999999999&#39; is not a period"),
        ("2026-00", "&#39;2026-00&#39; is not a period"),
        ("%E2%80%AE2026", "is not a period"),
        (long.as_str(), "… (12000 bytes in all)&#39; is not a period"),
    ] {
        let reply = staff.get(&format!("/voice/report?period={query}")).await;
        assert_eq!(reply.status, 400, "{query:.20}");
        assert!(reply.body.contains(shows), "{shows}: {:.300}", reply.body);
        assert!(
            reply.body.len() < 3_000,
            "a long period is quoted in part, not echoed whole"
        );
    }
}

/// Records an action on the theme "Delivery" done yesterday, as the checks would pass it.
async fn action(db: &TestDb, did: &str, public: bool, now: i64) -> i64 {
    let checked = NewVoiceAction {
        theme: "Delivery".into(),
        said: "parcels came late".into(),
        did: did.into(),
        done_at: rapport::voice::actions::day_seconds(chrono::Utc::now().date_naive() - chrono::Days::new(1)),
        public,
        by: "staff@shop.example".into(),
    };
    db.store.add_voice_action(&checked, now).await.unwrap()
}

async fn the_you_said_page_hides_private_actions_and_slows_a_flooding_address(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    shop(db, now).await;
    action(db, "we changed courier", true, now).await;
    action(db, "we phoned Ana Lima on 0171 555 0199", false, now).await;
    let mut visitor = Client::new(db).sibling_at("203.0.113.9:40000");
    let page = visitor.get("/you-said").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("we changed courier"), "{}", page.body);
    for private in ["phoned", "Ana Lima", "0171"] {
        assert!(!page.body.contains(private), "{private} on the public page");
    }
    // 120 pages a minute from one address: 119 more pass, the next is slowed.
    for n in 2..=120 {
        assert_eq!(visitor.get("/you-said").await.status, 200, "request {n}");
    }
    let slowed = visitor.get("/you-said").await;
    assert_eq!(slowed.status, 429);
    assert!(
        slowed.body.contains("Too many tries from your network"),
        "{}",
        slowed.body
    );
    // The limit counts the address, not the connection, and covers every public page.
    let mut same_address = visitor.sibling_at("203.0.113.9:40001");
    assert_eq!(
        same_address.get("/you-said").await.status,
        429,
        "another port of the address"
    );
    assert_eq!(same_address.get("/u/anything").await.status, 429, "another public page");
    let mut neighbour = visitor.sibling_at("203.0.113.10:40000");
    assert_eq!(neighbour.get("/you-said").await.status, 200, "another address goes on");

    // A shop whose counter's QR code is answered from its own network raises the forms' limit.
    let mut settings = Settings::default();
    settings.server.public_forms_per_minute = 3;
    let mut counter = Client::with_settings(db, &settings).sibling_at("198.51.100.7:1000");
    for n in 1..=3 {
        assert_eq!(
            counter.post("/u/forged", &[]).await.status,
            404,
            "form {n}: a bad link, not slowed"
        );
    }
    assert_eq!(
        counter.post("/u/forged", &[]).await.status,
        429,
        "the fourth form of the minute"
    );
}

async fn reminders_set_to_zero_in_the_settings_file_send_no_reminder(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    setup(db, now).await;
    let file = db.file("rapport.toml", "[voice]\nreminders = 0\nreminder_days = 2\n");
    let sources = Sources {
        file: Some(file),
        ..Sources::default()
    };
    let loaded = Settings::load_from(&sources, |_| None).expect("reminders = 0 is allowed");
    assert_eq!(loaded.settings.voice.reminders, 0);
    let none = RunSettings::from_settings(&loaded.settings);
    let sent = send_survey(&db.store, &none, "nps", Audience::default(), "test", false, now)
        .await
        .unwrap();
    assert_eq!(sent.invited, 2, "Ana and Ben; Cleo did not consent");
    let later = run_due(&db.store, &none, now + 10 * DAY).await.unwrap();
    assert_eq!(later.reminders_sent, 0, "{later:?}");
    assert_eq!(db.store.count_mail().await.unwrap().queued, 2, "the invitations alone");
    // The same moment with one reminder allowed does remind: the day was late enough.
    let one = RunSettings {
        voice: rapport::config::VoiceSettings {
            reminders: 1,
            ..loaded.settings.voice.clone()
        },
        ..none
    };
    let reminded = run_due(&db.store, &one, now + 10 * DAY).await.unwrap();
    assert_eq!(reminded.reminders_sent, 2, "{reminded:?}");
    assert_eq!(db.store.count_mail().await.unwrap().queued, 4);
}
