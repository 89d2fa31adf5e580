//! The HTTP API as a client sees it, against a server on a random port, on both backends: every
//! route's authentication and roles, validation errors, idempotency and pagination.

use std::net::SocketAddr;

use rapport::domain::Role;
use rapport::server::AppState;
use rapport::server::auth::create_key;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract;
use crate::helpers::TestDb;

/// A server on a random loopback port with one key per role.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub viewer: String,
    pub staff: String,
    pub admin: String,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_on(db, db.store.clone()).await
    }

    /// A server on its own connection to the test database, as another replica would be.
    pub async fn replica(db: &TestDb) -> Self {
        let store = rapport::store::open(&db.url).await.expect("open the database again");
        Self::start_on(db, store).await
    }

    async fn start_on(db: &TestDb, store: std::sync::Arc<dyn rapport::store::Store>) -> Self {
        let address: SocketAddr = crate::helpers::spawn_app(AppState::new(store)).await;
        let key = |role| {
            let store = db.store.clone();
            async move { create_key(&store, &format!("{role} key"), role).await.expect("key").key }
        };
        Self {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            viewer: key(Role::Viewer).await,
            staff: key(Role::Staff).await,
            admin: key(Role::Admin).await,
        }
    }

    pub fn key(&self, role: Role) -> &str {
        match role {
            Role::Viewer => &self.viewer,
            Role::Staff => &self.staff,
            Role::Admin => &self.admin,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.staff)
            .send()
            .await
            .expect("GET");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.staff)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `method path` with the `Authorization` header given (none: without one), answered as it came.
    pub async fn send(&self, method: Method, path: &str, authorization: Option<String>) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.expect("a request")
    }
}

/// The `Authorization` header of a key: `Bearer KEY`.
fn bearer(key: &str) -> Option<String> {
    Some(format!("Bearer {key}"))
}

fn purchase(customer: &str, amount: &str, order: Option<&str>, at: &str) -> Value {
    let mut event = json!({"customer_id": customer, "kind": "purchase", "amount": amount, "occurred_at": at});
    if let Some(order) = order {
        event["order_id"] = order.into();
    }
    event
}

contract!(
    every_route_needs_a_key_and_its_role,
    validation_errors_name_the_field,
    events_are_idempotent,
    customer_lists_page_without_gaps,
    customers_are_created_and_updated,
    models_are_fitted_and_customers_scored_over_the_api,
    two_replicas_writing_one_customer_lose_nothing,
    api_answers_send_the_security_headers_and_are_never_cached,
    unknown_api_routes_and_methods_answer_with_the_error_body,
    the_bearer_scheme_is_accepted_in_any_case,
    a_repeat_by_event_key_alone_is_not_marked_as_an_idempotent_replay,
    a_key_revoked_through_the_store_stops_working_on_a_running_server_within_a_second,
);

/// The `$ref` values anywhere in a JSON document.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// Every operation in the OpenAPI document (generated from the router's own routes): 401
/// without a key or with a wrong one, 403 for each role below the one it needs, neither for that role.
async fn every_route_needs_a_key_and_its_role(db: &TestDb) {
    let server = TestServer::start(db).await;
    let document: Value = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Every reference resolves: a schema used only by a query parameter is not collected by itself.
    let mut references = Vec::new();
    collect_refs(&document, &mut references);
    for reference in &references {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{reference} is not in the document"
        );
    }
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            // A number no key or customer has: DELETE /keys/{id} must not revoke the keys the test uses.
            let concrete = path.replace("{id}", "999999");
            let needed = rapport::server::auth::required_role(&method, path);
            let send = |key: Option<&str>| {
                let mut request = server
                    .client
                    .request(method.clone(), server.url(&concrete))
                    .header("content-type", "application/json")
                    .body("{}");
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                request.send()
            };
            let status = send(None).await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
            let status = send(Some("rk_not-a-key")).await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with a wrong key");
            for role in Role::ALL {
                let status = send(Some(server.key(role))).await.unwrap().status();
                if role < needed {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role}");
                } else {
                    assert!(
                        status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                        "{method} {path} as {role}: {status}"
                    );
                }
            }
            operations += 1;
        }
    }
    assert!(operations >= 13, "the document lists {operations} operations");
    assert!(paths.contains_key("/api/v1/events/batch") && paths.contains_key("/api/v1/customers/{id}"));
    // The only doors without a key.
    for open in ["/healthz", "/readyz"] {
        let status = server.client.get(server.url(open)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{open}");
    }
    let metrics = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(&server.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("rapport_http_requests_total{"), "{text}");
}

async fn validation_errors_name_the_field(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (status, body) = server
        .post("/api/v1/events", &purchase("C1", "12,5x", None, "2026-01-02"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["field"], "amount");
    assert!(body["error"]["message"].as_str().unwrap().contains("12,5x"), "{body}");

    let (status, body) = server
        .post(
            "/api/v1/events",
            &json!({"customer_id": "C1", "kind": "purchase", "amount": "1", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("colour"), "{body}");

    let (status, body) = server
        .post("/api/v1/events", &purchase("C1", "5", None, "yesterday"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "occurred_at");

    let (status, body) = server
        .post("/api/v1/events", &json!({"customer_id": "C1", "kind": "note"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "text");

    let response = server
        .client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&server.staff)
        .header("content-type", "application/json")
        .body("{\"customer_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let response = server
        .client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&server.staff)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // One bad event in a batch: the error points at it and nothing of the batch is stored.
    let before = db.store.event_count().await.unwrap();
    let batch = json!({"events": [purchase("C1", "5", None, "2026-01-02"), purchase("C2", "-3", None, "2026-01-02")]});
    let (status, body) = server.post("/api/v1/events/batch", &batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "events[1].amount", "{body}");
    assert_eq!(db.store.event_count().await.unwrap(), before);

    let too_many: Vec<Value> = (0..10_001)
        .map(|i| purchase(&format!("C{i}"), "1", None, "2026-01-02"))
        .collect();
    let (status, body) = server
        .post("/api/v1/events/batch", &json!({ "events": too_many }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "events");

    let (status, body) = server.get("/api/v1/customers?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "limit");
    let (status, body) = server.get("/api/v1/customers?sort=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_query");
    let (status, body) = server.get("/api/v1/customers/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

async fn events_are_idempotent(db: &TestDb) {
    let server = TestServer::start(db).await;
    let event = purchase("C1", "19.90", Some("A-1"), "2026-03-01T10:00:00Z");
    let (status, first) = server.post("/api/v1/events", &event).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["event_key"], "order:A-1");
    assert_eq!(first["amount"], "19.90");
    let (status, again) = server.post("/api/v1/events", &event).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "a repeat answers with the original event");
    let events = db.store.event_count().await.unwrap();

    // Without an order id or event key, the Idempotency-Key header makes a retry safe.
    let note = json!({"customer_id": "C1", "kind": "note", "text": "asked about sizes"});
    let send = |body: Value| {
        server
            .client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&server.staff)
            .header("Idempotency-Key", "retry-1")
            .json(&body)
            .send()
    };
    let first = send(note.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.unwrap();
    let second = send(note.clone()).await.unwrap();
    assert_eq!(
        second.status(),
        StatusCode::CREATED,
        "the original status is given again"
    );
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.text().await.unwrap(), first_body);
    assert_eq!(
        db.store.event_count().await.unwrap(),
        events + 1,
        "the note is stored once"
    );
    let other = send(json!({"customer_id": "C1", "kind": "note", "text": "something else"}))
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "one key, two different requests"
    );

    // A batch repeating stored keys reports them as duplicates and stores only the new one.
    let batch = json!({"events": [event, purchase("C2", "5.00", Some("A-2"), "2026-03-02")]});
    let (status, body) = server.post("/api/v1/events/batch", &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created"], 1);
    assert_eq!(body["duplicates"], 1);
    assert_eq!(body["results"][0]["status"], "duplicate");
    assert_eq!(body["results"][1]["status"], "created");
    // The same order id for another customer is not a repeat: the event is refused.
    let (status, body) = server
        .post("/api/v1/events", &purchase("C9", "19.90", Some("A-1"), "2026-03-01"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "event_key");
    let (_, c2) = server.get("/api/v1/customers/C2").await;
    assert_eq!(c2["stage"], "customer", "the write path moved the stage: {c2}");
    assert_eq!(c2["total_spend"], "5.00");
}

async fn customer_lists_page_without_gaps(db: &TestDb) {
    let server = TestServer::start(db).await;
    let events: Vec<Value> = (0..25)
        .map(|i| purchase(&format!("P{i:02}"), "10", None, &format!("2026-02-{:02}", i + 1)))
        .collect();
    let (status, _) = server.post("/api/v1/events/batch", &json!({ "events": events })).await;
    assert_eq!(status, StatusCode::OK);
    for sort in ["id", "last_purchase", "spend", "orders"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/customers?limit=10&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = server.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            seen.extend(
                page["customers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{sort}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25, "{sort}: every customer once: {seen:?}");
        if sort == "last_purchase" {
            assert_eq!(seen.first().map(String::as_str), Some("P24"), "most recent first");
        }
    }
    let (_, page) = server.get("/api/v1/customers?q=P1&limit=50").await;
    let ids: Vec<&str> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 10, "P10..P19: {ids:?}");
    let (_, page) = server.get("/api/v1/customers?q=p24").await;
    assert_eq!(
        page["customers"][0]["id"], "P24",
        "three characters or more: anywhere, any case"
    );
    let (_, document) = server.get("/api/openapi.json").await;
    let sorts = document["components"]["schemas"]["CustomerSort"]["enum"].to_string();
    assert!(sorts.contains("\"spend\"") && sorts.contains("\"orders\""), "{sorts}");
    let (_, page) = server.get("/api/v1/customers?stage=client").await;
    assert!(page["customers"].as_array().unwrap().is_empty());
    let (status, body) = server.get("/api/v1/customers?cursor=bm9wZQ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "cursor");
}

async fn customers_are_created_and_updated(db: &TestDb) {
    let server = TestServer::start(db).await;
    let body = json!({"id": "K1", "name": "Ada Byron", "email": "ada@example.com", "attributes": {"city": "London"}});
    let (status, created) = server.post("/api/v1/customers", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["stage"], "suspect");
    let (status, conflict) = server.post("/api/v1/customers", &body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["error"]["code"], "conflict");
    let (status, bad) = server
        .post("/api/v1/customers", &json!({"id": "K2", "email": "not-an-address"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["error"]["field"], "email");

    let response = server
        .client
        .patch(server.url("/api/v1/customers/K1"))
        .bearer_auth(&server.staff)
        .json(&json!({"phone": "+44 1", "name": null, "attributes": {"city": null, "tier": "gold"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["phone"], "+44 1");
    assert_eq!(updated["name"], Value::Null);
    assert_eq!(updated["email"], "ada@example.com", "fields left out stay");
    assert_eq!(updated["attributes"], json!({"tier": "gold"}));

    let (status, change) = server
        .post(
            "/api/v1/customers/K1/stage",
            &json!({"stage": "prospect", "reason": "called us"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(change["to"], "prospect");
    let (_, timeline) = server.get("/api/v1/customers/K1/events").await;
    let first = &timeline["events"][0];
    assert_eq!(first["kind"], "stage_change", "newest first: {timeline}");
    assert!(first["reason"].as_str().unwrap().contains("called us"));
}

async fn models_are_fitted_and_customers_scored_over_the_api(db: &TestDb) {
    use rapport::import::{TransactionColumns, import_transactions};
    let server = TestServer::start(db).await;
    let (status, body) = server.get("/api/v1/models/current").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = server.post("/api/v1/models/scores", &json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    import_transactions(
        &db.store,
        &crate::helpers::cdnow_sample(),
        &TransactionColumns::default(),
        None,
    )
    .await
    .unwrap();
    // One at-risk threshold: a request may repeat the setting, never change it.
    let (status, body) = server
        .post(
            "/api/v1/models/fits",
            &json!({"model": "bgnbd", "calibration_end": "1997-09-30", "at_risk_threshold": 0.3}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "at_risk_threshold", "{body}");
    let (status, body) = server
        .post(
            "/api/v1/models/fits",
            &json!({"model": "bgnbd", "calibration_end": "1997-09-30", "at_risk_threshold": 0.5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The paper's BG/NBD parameters on the CDNOW sample (Fader, Hardie and Lee 2005).
    let r = body["model"]["params"]["r"].as_f64().unwrap();
    assert!((r - 0.243).abs() < 0.243 * 0.005, "r = {r}");
    assert_eq!(body["scoring"]["customers"], 2357);
    let (status, current) = server.get("/api/v1/models/current").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["version"], body["model"]["version"]);

    let (status, page) = server.get("/api/v1/customers?sort=clv&limit=3").await;
    assert_eq!(status, StatusCode::OK);
    let top = page["customers"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let clv = |c: &Value| c["score"]["clv_12m"].as_f64().unwrap();
    assert!(
        clv(&top[0]) >= clv(&top[1]) && clv(&top[1]) >= clv(&top[2]),
        "highest CLV first"
    );
    assert!(
        !top[0]["score"]["explanation"].as_str().unwrap().is_empty(),
        "every score has its explanation"
    );
    let (status, risky) = server.get("/api/v1/customers?sort=risk&limit=2&segment=at_risk").await;
    assert_eq!(status, StatusCode::OK, "{risky}");
    for customer in risky["customers"].as_array().unwrap() {
        assert_eq!(customer["score"]["segment"], "at_risk");
    }
    let (status, again) = server.post("/api/v1/models/scores", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["customers"], 2357);
}

/// Two servers on one database (replicas) append purchases of the same customers at the same time:
/// every purchase ends up in each customer's state, none lost to the other replica's write.
async fn two_replicas_writing_one_customer_lose_nothing(db: &TestDb) {
    let (a, b) = (TestServer::start(db).await, TestServer::replica(db).await);
    let send = |server: &TestServer, i: usize| {
        let body = purchase(&format!("R{}", i % 3), "1.00", Some(&format!("rep-{i}")), "2026-01-05");
        let request = server
            .client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&server.staff)
            .json(&body);
        async move { request.send().await.expect("send").status() }
    };
    let requests = (0..120).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        send(server, i)
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    let mut total = 0;
    for id in ["R0", "R1", "R2"] {
        let (_, customer) = a.get(&format!("/api/v1/customers/{id}")).await;
        assert_eq!(customer["purchase_count"], 40, "{customer}");
        total += customer["purchase_count"].as_i64().unwrap();
    }
    assert_eq!(total, 120);
}

async fn api_answers_send_the_security_headers_and_are_never_cached(db: &TestDb) {
    let server = TestServer::start(db).await;
    let event = purchase("C1", "19.90", Some("A-1"), "2026-03-01T10:00:00Z");
    let requests = [
        ("POST", "/api/v1/events", Some(&server.staff)),
        ("GET", "/api/v1/customers", Some(&server.viewer)),
        ("GET", "/api/v1/customers/C1", Some(&server.viewer)),
        ("GET", "/api/v1/customers/C1/timeline", Some(&server.viewer)),
        ("GET", "/api/v1/customers/NOPE", Some(&server.viewer)),
        ("GET", "/api/v1/keys", Some(&server.admin)),
        ("GET", "/api/v1/keys", Some(&server.viewer)),
        ("GET", "/api/v1/customers", None),
        ("GET", "/api/v1/nope", None),
        ("GET", "/api/openapi.json", None),
        ("GET", "/healthz", None),
        ("GET", "/metrics", Some(&server.viewer)),
    ];
    for (method, path, key) in requests {
        let mut request = server.client.request(method.parse().unwrap(), server.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if method == "POST" {
            request = request.json(&event);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers();
        let what = format!("{method} {path} ({})", response.status());
        assert_eq!(
            headers["content-security-policy"],
            rapport::server::headers::PAGE_POLICY,
            "{what}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{what}");
        assert_eq!(headers["cache-control"], "no-store", "{what}");
    }
}

async fn unknown_api_routes_and_methods_answer_with_the_error_body(db: &TestDb) {
    let server = TestServer::start(db).await;
    for path in ["/api/v1/nope", "/api/v1", "/api/v1/", "/api/v1/customers/C1/nope"] {
        let response = server.send(Method::GET, path, bearer(&server.staff)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let response = server
        .send(Method::PUT, "/api/v1/customers", bearer(&server.staff))
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
}

async fn the_bearer_scheme_is_accepted_in_any_case(db: &TestDb) {
    let server = TestServer::start(db).await;
    for (scheme, expected) in [
        ("Bearer", StatusCode::OK),
        ("bearer", StatusCode::OK),
        ("BEARER", StatusCode::OK),
        ("Basic", StatusCode::UNAUTHORIZED),
    ] {
        let authorization = Some(format!("{scheme} {}", server.viewer));
        let response = server.send(Method::GET, "/api/v1/customers", authorization).await;
        assert_eq!(response.status(), expected, "{scheme}");
    }
}

async fn a_repeat_by_event_key_alone_is_not_marked_as_an_idempotent_replay(db: &TestDb) {
    let server = TestServer::start(db).await;
    let event = purchase("C1", "19.90", Some("A-1"), "2026-03-01T10:00:00Z");
    let send = || {
        server
            .client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&server.staff)
            .json(&event)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), StatusCode::CREATED);
    let repeat = send().await.unwrap();
    assert_eq!(repeat.status(), StatusCode::OK, "the stored event is given back");
    assert!(
        !repeat.headers().contains_key("idempotent-replayed"),
        "no Idempotency-Key was sent, so none was replayed"
    );
}

async fn a_key_revoked_through_the_store_stops_working_on_a_running_server_within_a_second(db: &TestDb) {
    // A replica on its own connection: it learns of the revocation only through the database.
    let server = TestServer::replica(db).await;
    let customers = |key: &str| server.send(Method::GET, "/api/v1/customers", bearer(key));
    let cached = customers(&server.viewer).await;
    assert_eq!(cached.status(), StatusCode::OK, "the key is cached now");
    let keys = db.store.api_keys().await.unwrap();
    let viewer = keys.iter().find(|k| k.role == Role::Viewer).unwrap();

    // What `rapport keys revoke` does.
    assert!(
        db.store
            .revoke_api_key(viewer.id, chrono::Utc::now().timestamp())
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    let revoked = customers(&server.viewer).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    let other = customers(&server.staff).await;
    assert_eq!(other.status(), StatusCode::OK, "other keys keep working");
}
