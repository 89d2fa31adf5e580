//! `/api/v1/webhooks` (admin): subscriptions, and their deliveries with every attempt.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::webhook::target::{self, Targets};
use crate::domain::webhook::{EventType, WebhookSecret};
use crate::server::AppState;
use crate::server::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{AttemptRecord, DeliveryPage, DeliveryRecord, DeliveryStatus, NewSubscription, SubscriptionRecord};

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: an http or https URL of a public host, without a user name or
    /// password (private addresses only when the server allows them).
    pub url: String,
    /// What to send: `customer.created`, `customer.stage_changed`, `event.created`, `customer.at_risk`.
    pub event_types: Vec<String>,
    /// The signing secret (`whsec_` and the base64 of 24 to 64 bytes); one is made when left out.
    pub secret: Option<String>,
    /// What the subscription is for.
    pub description: Option<String>,
}

/// A subscription as lists show it: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// The subscription's number.
    pub id: i64,
    /// Where deliveries go (without any user name or password).
    pub url: String,
    /// What is sent.
    pub event_types: Vec<EventType>,
    /// What the subscription is for.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: String,
}

/// A new subscription, with its signing secret: shown here once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// Verify each delivery's `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// When it was made (RFC 3339 with milliseconds).
    pub attempted_at: String,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// A message's delivery to the subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery's number.
    pub id: i64,
    /// The message's id: the `webhook-id` header.
    pub message_id: String,
    /// What the message announces.
    pub event_type: EventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<String>,
    /// When the message was written.
    pub created_at: String,
    /// The body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptView>,
}

/// Which deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// At most this many, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Only deliveries with a smaller number: the last `id` of the page before.
    pub before: Option<i64>,
}

fn millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<SubscriptionRecord> for WebhookView {
    fn from(record: SubscriptionRecord) -> Self {
        let s = record.subscription;
        Self {
            id: record.id,
            url: target::redact(&s.url),
            event_types: s.event_types,
            description: s.description,
            created_at: super::timestamp(s.created_at),
        }
    }
}

impl From<AttemptRecord> for AttemptView {
    fn from(a: AttemptRecord) -> Self {
        Self {
            attempted_at: millis(a.attempted_ms),
            http_status: a.http_status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        Self {
            id: d.id,
            message_id: d.message_id,
            event_type: d.event_type,
            status: d.status,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| millis(d.next_attempt_ms)),
            created_at: super::timestamp(d.created_at),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
        }
    }
}

/// The subscription to create, checked: a URL the server may deliver to (`target::parse_url`),
/// known event types, a valid secret.
fn parse(body: NewWebhook, targets: Targets) -> Result<NewSubscription, ApiError> {
    let url = target::parse_url(&body.url, targets).map_err(|e| ApiError::invalid("url", e.0))?;
    let mut event_types = body
        .event_types
        .iter()
        .map(|raw| raw.parse::<EventType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::invalid("event_types", e.0))?;
    event_types.sort_unstable();
    event_types.dedup();
    if event_types.is_empty() {
        return Err(ApiError::invalid("event_types", "name at least one event type"));
    }
    let secret = match body.secret.as_deref() {
        Some(raw) => WebhookSecret::parse(raw).map_err(|e| ApiError::invalid("secret", e.0))?,
        None => WebhookSecret::generate(),
    };
    let description = body.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::invalid(
            "description",
            "description is longer than 200 characters",
        ));
    }
    Ok(NewSubscription {
        url: url.to_string(),
        event_types,
        secret,
        description,
        created_at: chrono::Utc::now().timestamp(),
    })
}

/// Subscribe a URL to event types; the answer holds the signing secret, which is not shown again.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, ApiJson<CreatedWebhook>), ApiError> {
    let subscription = parse(body, state.webhook_targets)?;
    let id = state.store.create_webhook(&subscription).await?;
    let secret = subscription.secret.expose().to_owned();
    let webhook = WebhookView::from(SubscriptionRecord { id, subscription });
    Ok((StatusCode::CREATED, ApiJson(CreatedWebhook { webhook, secret })))
}

/// Every subscription, oldest first.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", responses((status = 200, body = Vec<WebhookView>)))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<ApiJson<Vec<WebhookView>>, ApiError> {
    let webhooks = state.store.webhooks().await?;
    Ok(ApiJson(webhooks.into_iter().map(WebhookView::from).collect()))
}

async fn find(state: &AppState, id: i64) -> Result<SubscriptionRecord, ApiError> {
    state
        .store
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription number {id}")))
}

/// One subscription.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's number")),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(subscription = id))]
pub async fn get(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<ApiJson<WebhookView>, ApiError> {
    Ok(ApiJson(find(&state, id).await?.into()))
}

/// Delete a subscription: nothing more is sent to it, pending deliveries are cancelled (they and
/// their attempts stay in the database).
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(subscription = id))]
pub async fn delete(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    if !state.store.delete_webhook(id, chrono::Utc::now().timestamp()).await? {
        return Err(ApiError::not_found(format!("no webhook subscription number {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription's deliveries, newest first, each with every attempt made.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's number"), DeliveryParams),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(subscription = id))]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<ApiJson<Vec<DeliveryView>>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit is 1 to 500"));
    }
    find(&state, id).await?;
    let page = DeliveryPage {
        subscription: id,
        before: params.before,
        limit,
    };
    let deliveries = state.store.webhook_deliveries(page).await?;
    Ok(ApiJson(deliveries.into_iter().map(DeliveryView::from).collect()))
}

/// Send a delivery again now (after it was delivered, failed or cancelled).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery_id}/resend", tag = "webhooks",
    params(("id" = i64, Path, description = "The subscription's number"),
        ("delivery_id" = i64, Path, description = "The delivery's number")),
    responses((status = 202), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(subscription = id, delivery))]
pub async fn resend(
    State(state): State<AppState>,
    ApiPath((id, delivery)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    if !state.store.redeliver_webhook(id, delivery, now_ms).await? {
        return Err(ApiError::not_found(format!(
            "subscription {id} has no delivery {delivery} that is not pending"
        )));
    }
    state.store.outbox_signal().notify_one();
    Ok(StatusCode::ACCEPTED)
}
