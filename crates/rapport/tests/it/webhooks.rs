//! Signed webhooks end to end, on both backends: real receivers on loopback verify each signature
//! as the Standard Webhooks specification says, with the secret alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rapport::domain::webhook::target::Targets;
use rapport::domain::webhook::{EventType, RetrySchedule, WebhookSecret};
use rapport::domain::{Currency, EventKind, Money, NewEvent, Role};
use rapport::ingest::Ingest;
use rapport::store::{Claim, DeliveryPage, DeliveryRecord, DeliveryStatus, NewSubscription, Store};
use rapport::webhooks::{Worker, WorkerSettings};
use serde_json::{Value, json};

use crate::contract;
use crate::helpers::TestDb;

contract!(
    deliveries_are_signed_and_a_repeated_event_announces_nothing,
    a_receiver_that_fails_twice_gets_the_message_on_the_third_attempt,
    a_receiver_that_never_answers_2xx_is_given_up_after_the_schedule,
    a_delivery_enqueued_before_a_restart_arrives_after_it,
    a_lapsed_claim_is_taken_over_and_concurrent_claims_never_share_a_delivery,
    clients_whose_p_alive_crosses_below_the_threshold_are_announced_at_risk,
    the_api_manages_subscriptions_and_announces_posted_events,
    subscriptions_to_non_public_or_credentialed_urls_are_refused_by_default,
    a_host_name_resolving_to_loopback_is_refused_at_delivery_without_connecting,
    credentials_in_a_stored_url_are_never_shown,
);

/// What a receiver got: the message and whether its signature held.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The `webhook-id` header.
    pub(crate) id: String,
    /// The message, parsed.
    pub(crate) body: Value,
    /// The signature held, with a fresh timestamp.
    pub(crate) verified: bool,
}

struct ReceiverState {
    key: Mutex<Vec<u8>>,
    fail_first: usize,
    calls: Mutex<usize>,
    received: Mutex<Vec<Received>>,
}

/// An HTTP server on loopback that checks signatures with the secret and answers 500 to its
/// first `fail_first` calls.
pub(crate) struct Receiver {
    /// Where it listens.
    pub(crate) url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    /// Listening on a free loopback port, checking signatures with `secret` (`whsec_...`).
    pub(crate) async fn start(secret: &str, fail_first: usize) -> Self {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let state = Arc::new(ReceiverState {
            key: Mutex::new(key),
            fail_first,
            calls: Mutex::new(0),
            received: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    fn calls(&self) -> usize {
        *self.state.calls.lock().unwrap()
    }

    /// Waits until `count` messages arrived (failing the test after 20 s).
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} messages, got {:?}", self.received());
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let key = state.key.lock().unwrap().clone();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let verified = fresh && signatures.split(' ').any(|s| s == expected);
    let call = {
        let mut calls = state.calls.lock().unwrap();
        *calls += 1;
        *calls
    };
    if call <= state.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    state.received.lock().unwrap().push(Received {
        id,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        verified,
    });
    StatusCode::NO_CONTENT
}

/// A worker that polls every 50 ms and retries on this schedule of milliseconds.
pub(crate) fn fast_worker(store: &Arc<dyn Store>, schedule_ms: &[u64]) -> Worker {
    let settings = WorkerSettings {
        schedule: RetrySchedule(schedule_ms.iter().map(|ms| Duration::from_millis(*ms)).collect()),
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        batch: 8,
        // The tests' receivers listen on loopback.
        targets: Targets::Any,
    };
    Worker::start(store.clone(), settings).unwrap()
}

/// Subscribes `url` to `types`, signed with `secret`; returns the subscription's id.
pub(crate) async fn subscribe(store: &Arc<dyn Store>, url: &str, types: &[EventType], secret: &WebhookSecret) -> i64 {
    store
        .create_webhook(&NewSubscription {
            url: url.to_owned(),
            event_types: types.to_vec(),
            secret: secret.clone(),
            description: None,
            created_at: chrono::Utc::now().timestamp(),
        })
        .await
        .unwrap()
}

async fn deliveries(store: &Arc<dyn Store>, subscription: i64) -> Vec<DeliveryRecord> {
    let page = DeliveryPage {
        subscription,
        before: None,
        limit: 500,
    };
    store.webhook_deliveries(page).await.unwrap()
}

/// Waits until every delivery of the subscription has left `pending` (failing after 20 s).
async fn settled(store: &Arc<dyn Store>, subscription: i64) -> Vec<DeliveryRecord> {
    for _ in 0..400 {
        let all = deliveries(store, subscription).await;
        if !all.is_empty() && all.iter().all(|d| d.status != DeliveryStatus::Pending) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries still pending: {:?}", deliveries(store, subscription).await);
}

async fn buy(store: &Arc<dyn Store>, customer: &str, order: &str, day: &str, cents: i64) {
    let at = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    let event = NewEvent {
        key: format!("order:{order}"),
        occurred_at: rapport::domain::state::midnight(at),
        kind: EventKind::Purchase {
            amount: Money(cents),
            currency: Currency::parse("EUR").unwrap(),
            order_id: Some(order.to_owned()),
            quantity: None,
        },
    };
    let mut ingest = Ingest::begin(store, "a test").await.unwrap();
    ingest.push(&crate::helpers::ext(customer), event).await.unwrap();
    ingest.finish().await.unwrap();
}

fn types_of(received: &[Received]) -> Vec<String> {
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r.body["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.sort();
    types
}

async fn deliveries_are_signed_and_a_repeated_event_announces_nothing(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), 0).await;
    let id = subscribe(&db.store, &receiver.url, &EventType::ALL, &secret).await;
    let worker = fast_worker(&db.store, &[100]);

    buy(&db.store, "c1", "A1", "2024-01-05", 1_990).await;
    let got = receiver.wait_for(3).await;

    assert_eq!(
        types_of(&got),
        ["customer.created", "customer.stage_changed", "event.created"]
    );
    assert!(got.iter().all(|r| r.verified), "{got:?}");
    assert!(got.iter().all(|r| r.id.starts_with("msg_")), "{got:?}");
    let event = got.iter().find(|r| r.body["type"] == "event.created").unwrap();
    assert_eq!(event.body["data"]["customer_id"], "c1");
    assert_eq!(event.body["data"]["kind"], "purchase");
    assert_eq!(event.body["data"]["amount"], "19.90");
    let stage = got.iter().find(|r| r.body["type"] == "customer.stage_changed").unwrap();
    assert_eq!(stage.body["data"]["to_stage"], "customer");
    let created = got.iter().find(|r| r.body["type"] == "customer.created").unwrap();
    assert_eq!(created.body["data"]["id"], "c1");

    buy(&db.store, "c1", "A1", "2024-01-05", 1_990).await;
    worker.stop().await;
    let all = deliveries(&db.store, id).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.iter()
            .all(|d| d.status == DeliveryStatus::Delivered && d.attempts.len() == 1)
    );
    assert_eq!(all[0].attempts[0].http_status, Some(204));
}

async fn a_receiver_that_fails_twice_gets_the_message_on_the_third_attempt(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), 2).await;
    let id = subscribe(&db.store, &receiver.url, &[EventType::EventCreated], &secret).await;
    let worker = fast_worker(&db.store, &[200, 400, 10_000]);

    buy(&db.store, "c1", "A1", "2024-01-05", 1_000).await;
    let got = receiver.wait_for(1).await;
    let all = settled(&db.store, id).await;
    worker.stop().await;

    assert!(got[0].verified);
    assert_eq!(receiver.calls(), 3);
    let delivery = &all[0];
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(
        delivery.message_id, got[0].id,
        "every attempt carries the same webhook-id"
    );
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|a| a.http_status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(204)]);
    assert!(delivery.attempts[0].error.as_deref().unwrap().contains("500"));
    let gaps: Vec<i64> = delivery
        .attempts
        .windows(2)
        .map(|w| w[1].attempted_ms - w[0].attempted_ms)
        .collect();
    assert!(gaps[0] >= 200 && gaps[1] >= 400, "waits follow the schedule: {gaps:?}");
}

async fn a_receiver_that_never_answers_2xx_is_given_up_after_the_schedule(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), usize::MAX).await;
    let id = subscribe(&db.store, &receiver.url, &[EventType::CustomerCreated], &secret).await;
    // Nothing listens on the second: the connection is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let refused = subscribe(&db.store, &nowhere, &[EventType::CustomerCreated], &secret).await;
    let worker = fast_worker(&db.store, &[50, 50]);

    buy(&db.store, "c1", "A1", "2024-01-05", 1_000).await;
    let all = settled(&db.store, id).await;
    let unreachable = settled(&db.store, refused).await;
    worker.stop().await;

    assert_eq!(all[0].status, DeliveryStatus::Failed);
    assert_eq!(all[0].attempts.len(), 3);
    assert_eq!(receiver.calls(), 3);
    assert_eq!(unreachable[0].status, DeliveryStatus::Failed);
    let attempt = &unreachable[0].attempts[0];
    assert_eq!(attempt.http_status, None);
    assert!(!attempt.error.as_deref().unwrap_or_default().is_empty());
}

async fn a_delivery_enqueued_before_a_restart_arrives_after_it(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), 0).await;
    subscribe(&db.store, &receiver.url, &[EventType::EventCreated], &secret).await;
    let before = fast_worker(&db.store, &[100]);
    before.stop().await;

    buy(&db.store, "c1", "A1", "2024-01-05", 1_000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.calls(), 0, "no worker ran");

    let reopened = rapport::store::open(&db.url).await.unwrap();
    let after = fast_worker(&reopened, &[100]);
    let got = receiver.wait_for(1).await;
    after.stop().await;
    assert!(got[0].verified);
    assert_eq!(got[0].body["data"]["order_id"], "A1");
}

async fn a_lapsed_claim_is_taken_over_and_concurrent_claims_never_share_a_delivery(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), 0).await;
    subscribe(&db.store, &receiver.url, &[EventType::EventCreated], &secret).await;
    for n in 0..10 {
        buy(&db.store, &format!("c{n}"), &format!("A{n}"), "2024-01-05", 1_000).await;
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let claim = |by: &str| Claim {
        by: by.to_owned(),
        now_ms,
        until_ms: now_ms + 300,
        limit: 6,
    };
    let (a, b) = (claim("a"), claim("b"));
    let (first, second) = tokio::join!(
        db.store.claim_webhook_deliveries(&a),
        db.store.claim_webhook_deliveries(&b)
    );
    let mut ids: Vec<i64> = first.unwrap().iter().chain(&second.unwrap()).map(|d| d.id).collect();
    assert_eq!(ids.len(), 10, "6 and 4, in some order");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "no delivery claimed twice");
    assert!(db.store.claim_webhook_deliveries(&claim("c")).await.unwrap().is_empty());

    // Both claimers "crash"; once their claims lapse a worker delivers everything.
    let worker = fast_worker(&db.store, &[100]);
    let got = receiver.wait_for(10).await;
    worker.stop().await;
    assert!(chrono::Utc::now().timestamp_millis() >= now_ms + 300);
    assert_eq!(got.len(), 10);
}

async fn clients_whose_p_alive_crosses_below_the_threshold_are_announced_at_risk(db: &TestDb) {
    use rapport::radar::{FitSettings, ScoreSettings, fit_store, score_store};
    let options = crate::helpers::cdnow_sample();
    rapport::import::import_transactions(&db.store, &options, &Default::default(), None)
        .await
        .unwrap();
    let settings = FitSettings {
        calibration_end: None,
        unit: rapport_models::TimeUnit::Week,
        model: rapport::radar::analysis::ModelChoice::Only(rapport_models::ModelKind::BgNbd),
    };
    fit_store(&db.store, settings).await.unwrap();
    let as_of = |date: &str| ScoreSettings {
        as_of: Some(date.parse().unwrap()),
        ..Default::default()
    };
    score_store(&db.store, as_of("1998-06-30")).await.unwrap();
    let secret = WebhookSecret::generate();
    let id = subscribe(
        &db.store,
        "http://127.0.0.1:9/hook",
        &[EventType::CustomerAtRisk],
        &secret,
    )
    .await;
    // A purchase a year after the data's end: everyone else has been silent a year longer.
    buy(&db.store, "newcomer", "LATE", "1999-06-30", 1_000).await;

    score_store(&db.store, as_of("1999-06-30")).await.unwrap();
    let announced = deliveries(&db.store, id).await;
    assert!(!announced.is_empty());
    for delivery in &announced {
        let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
        let data = &payload["data"];
        assert_eq!(payload["type"], "customer.at_risk");
        let (now, before) = (
            data["p_alive"].as_f64().unwrap(),
            data["previous_p_alive"].as_f64().unwrap(),
        );
        assert!(now < 0.5 && before >= 0.5, "{data}");
        assert!(
            ["client", "partner"].contains(&data["stage"].as_str().unwrap()),
            "{data}"
        );
        assert_eq!(data["threshold"], 0.5);
    }

    score_store(&db.store, as_of("1999-06-30")).await.unwrap();
    assert_eq!(
        deliveries(&db.store, id).await.len(),
        announced.len(),
        "a customer already below is not announced again"
    );
}

/// The API served on loopback, called with a key.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// The API allowing private webhook targets, as the tests' loopback receivers need.
    async fn start(store: &Arc<dyn Store>) -> Self {
        Self::start_with(store, Targets::Any).await
    }

    async fn start_with(store: &Arc<dyn Store>, targets: Targets) -> Self {
        let mut state = rapport::server::AppState::new(store.clone());
        state.webhook_targets = targets;
        let base = format!("http://{}/api/v1", crate::helpers::spawn_app(state).await);
        Self {
            http: reqwest::Client::new(),
            base,
        }
    }

    /// The status and JSON body (null when there is none) of a call.
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn key(store: &Arc<dyn Store>, role: Role) -> String {
    rapport::server::auth::create_key(store, role.as_str(), role)
        .await
        .unwrap()
        .key
}

async fn the_api_manages_subscriptions_and_announces_posted_events(db: &TestDb) {
    let api = Api::start(&db.store).await;
    let (admin, viewer) = (key(&db.store, Role::Admin).await, key(&db.store, Role::Viewer).await);

    let ftp = json!({"url": "ftp://example.com/x", "event_types": ["event.created"]});
    assert_eq!(api.call("POST", "/webhooks", &admin, Some(ftp)).await.0, 422);
    let unknown = json!({"url": "http://example.com/x", "event_types": ["event.deleted"]});
    let (status, error) = api.call("POST", "/webhooks", &admin, Some(unknown)).await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("event_types")));
    assert_eq!(api.call("GET", "/webhooks", &viewer, None).await.0, 403);

    // The secret is made by the server and shown once; the receiver needs nothing else.
    let receiver = Receiver::start("whsec_", 0).await;
    let body = json!({"url": receiver.url, "event_types": ["event.created"], "description": "shop"});
    let (status, created) = api.call("POST", "/webhooks", &admin, Some(body)).await;
    assert_eq!(status, 201);
    let secret = created["secret"].as_str().unwrap();
    *receiver.state.key.lock().unwrap() = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = api.call("GET", "/webhooks", &admin, None).await;
    assert_eq!(listed[0]["id"], id);
    assert!(listed[0].get("secret").is_none(), "lists never show the secret");

    let worker = fast_worker(&db.store, &[100]);
    let event = json!({"customer_id": "c1", "kind": "purchase", "amount": "12.50", "order_id": "W1"});
    assert_eq!(api.call("POST", "/events", &admin, Some(event)).await.0, 201);
    let got = receiver.wait_for(1).await;
    assert!(got[0].verified, "{got:?}");
    assert_eq!(got[0].body["type"], "event.created");
    assert_eq!(got[0].body["data"]["order_id"], "W1");
    assert_eq!(got[0].body["data"]["amount"], "12.50");
    settled(&db.store, id).await;
    worker.stop().await;

    let path = format!("/webhooks/{id}/deliveries");
    let (_, listed) = api.call("GET", &path, &admin, None).await;
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["message_id"], got[0].id.as_str());
    assert_eq!(listed[0]["attempts"][0]["http_status"], 204);

    let resend = format!("{path}/{}/resend", listed[0]["id"]);
    assert_eq!(api.call("POST", &resend, &admin, None).await.0, 202);
    assert_eq!(
        api.call("DELETE", &format!("/webhooks/{id}"), &admin, None).await.0,
        204
    );
    assert_eq!(api.call("GET", &format!("/webhooks/{id}"), &admin, None).await.0, 404);
    assert_eq!(api.call("GET", &path, &admin, None).await.0, 404);
}

async fn subscriptions_to_non_public_or_credentialed_urls_are_refused_by_default(db: &TestDb) {
    let api = Api::start_with(&db.store, Targets::default()).await;
    let admin = key(&db.store, Role::Admin).await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.0.10/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ] {
        let body = json!({"url": url, "event_types": ["event.created"]});
        let (status, error) = api.call("POST", "/webhooks", &admin, Some(body)).await;
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!("url")),
            "{url}: {error}"
        );
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("--allow-private-webhooks"), "{message}");
    }
    let body = json!({"url": "https://user:pass@hooks.example.com/x", "event_types": ["event.created"]});
    let (status, error) = api.call("POST", "/webhooks", &admin, Some(body)).await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("url")), "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("webhook-signature")
    );
    let (_, listed) = api.call("GET", "/webhooks", &admin, None).await;
    assert_eq!(listed, json!([]), "nothing was stored");

    let public = json!({"url": "https://hooks.example.com/x", "event_types": ["event.created"]});
    assert_eq!(api.call("POST", "/webhooks", &admin, Some(public)).await.0, 201);
}

async fn a_host_name_resolving_to_loopback_is_refused_at_delivery_without_connecting(db: &TestDb) {
    let secret = WebhookSecret::generate();
    let receiver = Receiver::start(secret.expose(), 0).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    // Written straight into the store, as subscriptions made before the check may be.
    let named = subscribe(&db.store, &by_name, &[EventType::EventCreated], &secret).await;
    let literal = subscribe(&db.store, &receiver.url, &[EventType::EventCreated], &secret).await;
    let settings = WorkerSettings {
        schedule: RetrySchedule(Vec::new()),
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        batch: 8,
        ..WorkerSettings::default()
    };
    let worker = Worker::start(db.store.clone(), settings).unwrap();

    buy(&db.store, "c1", "A1", "2024-01-05", 1_000).await;
    let named = settled(&db.store, named).await;
    let literal = settled(&db.store, literal).await;
    worker.stop().await;

    assert_eq!(receiver.calls(), 0, "nothing reached the receiver");
    for delivery in [&named[0], &literal[0]] {
        assert_eq!(delivery.status, DeliveryStatus::Failed);
        let attempt = &delivery.attempts[0];
        assert_eq!(attempt.http_status, None);
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(error.contains("not a public address"), "{error}");
    }
    let error = named[0].attempts[0].error.as_deref().unwrap();
    assert!(error.contains("localhost resolves to"), "{error}");
}

async fn credentials_in_a_stored_url_are_never_shown(db: &TestDb) {
    let api = Api::start(&db.store).await;
    let admin = key(&db.store, Role::Admin).await;
    let secret = WebhookSecret::generate();
    let id = subscribe(
        &db.store,
        "https://shop:hunter2@hooks.example.com/x",
        &[EventType::EventCreated],
        &secret,
    )
    .await;
    let (_, listed) = api.call("GET", "/webhooks", &admin, None).await;
    let (_, one) = api.call("GET", &format!("/webhooks/{id}"), &admin, None).await;
    for shown in [&listed[0], &one] {
        assert_eq!(shown["url"], "https://hooks.example.com/x", "{shown}");
    }
}
