//! `/api/v1/customers`: list, search, read, create and update customers; their timeline and stage.

use crate::server::lists::{decode_cursor, encode_cursor, parse_segment};
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CustomerView, EventView};
use crate::domain::rules::{self, Lines};
use crate::domain::{Email, ExternalId, Stage};
use crate::ingest::Ingest;
use crate::server::AppState;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{CustomerQuery, CustomerSort, NewCustomer};

/// Most customers one page holds.
pub const MAX_LIMIT: u32 = 200;

/// Filters, order and page of a customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only customers at this stage.
    pub stage: Option<Stage>,
    /// Only customers in this RFM segment (e.g. `at_risk`, `champions`).
    pub segment: Option<String>,
    /// Only customers whose id, e-mail or name holds this anywhere, case-insensitive (one or two
    /// characters match the start only).
    pub q: Option<String>,
    /// Order: `id` (default), `clv` (highest first), `risk` (most value at risk first), `p_alive`
    /// (least likely active first), `last_purchase` (most recent first), `spend` (highest total
    /// spend first), `orders` (most purchases first).
    pub sort: Option<CustomerSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    /// The customers on this page.
    pub customers: Vec<CustomerView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List customers, filtered, searched and sorted, a page at a time.
#[utoipa::path(get, path = "/customers", tag = "customers", params(ListParams),
    responses((status = 200, body = CustomerPage), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<CustomerPage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be 1 to {MAX_LIMIT}, not {limit}"),
        ));
    }
    let sort = params.sort.unwrap_or_default();
    let query = CustomerQuery {
        stage: params.stage,
        segment: params.segment.as_deref().map(parse_segment).transpose()?,
        search: match params.q.as_deref() {
            Some(raw) => rules::search(raw).map_err(|e| ApiError::invalid("q", e.0))?,
            None => None,
        },
        sort,
        limit: limit + 1,
        after: params.cursor.as_deref().map(decode_cursor).transpose()?,
        ..CustomerQuery::default()
    };
    let mut items = state.store.query_customers(&query).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more.then(|| encode_cursor(items.last().expect("a full page").cursor(sort)));
    let customers = items
        .into_iter()
        .map(|item| CustomerView::new(item.customer, item.score))
        .collect();
    Ok(ApiJson(CustomerPage { customers, next_cursor }))
}

/// Finds a customer by the business's id, or answers 404.
pub async fn find(state: &AppState, id: &str) -> Result<crate::store::CustomerRecord, ApiError> {
    let external = ExternalId::parse(id).map_err(|e| ApiError::invalid("id", e.0))?;
    state
        .store
        .customer(&external)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{external}'")))
}

/// One customer with its scores.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The business's id for the customer")),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CustomerView>, ApiError> {
    let external = ExternalId::parse(&id).map_err(|e| ApiError::invalid("id", e.0))?;
    let item = state
        .store
        .customer_with_score(&external)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{external}'")))?;
    Ok(ApiJson(CustomerView::new(item.customer, item.score)))
}

/// A new customer's profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    /// The business's id for the customer (1 to 200 bytes, not only spaces).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub id: String,
    /// Full name.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// E-mail address.
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Phone number.
    #[schema(max_length = 50)]
    pub phone: Option<String>,
    /// Further fields, as a JSON object.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// E-mail consent, when the customer gave or refused it.
    pub email_consent: Option<bool>,
}

/// Changes to a profile: fields left out stay as they are; `null` clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Full name.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// E-mail address.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// Phone number.
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    /// Fields to set in the attributes (a `null` value removes that field).
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// E-mail consent given (`true`) or withdrawn (`false`): recorded as a consent event on the
    /// timeline when it changes.
    pub email_consent: Option<bool>,
}

/// Queues a consent event in `ingest` when `given` is not the customer's answer already.
async fn record_consent(
    ingest: &mut Ingest,
    customer: &ExternalId,
    current: Option<bool>,
    given: Option<bool>,
) -> Result<(), ApiError> {
    let Some(given) = given.filter(|g| current != Some(*g)) else {
        return Ok(());
    };
    let now = chrono::Utc::now().timestamp();
    let event = crate::care::email_consent_event(customer, given, "the API", now);
    ingest.push(customer, event).await?;
    Ok(())
}

/// Tells a field sent as `null` (Some(None)) from a field left out (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn clean(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(raw) => rules::text(field, &raw, max, Lines::One).map_err(|e| ApiError::invalid(field, e.0)),
        None => Ok(None),
    }
}

fn check_attributes(attributes: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    rules::attributes(attributes).map_err(|e| ApiError::invalid("attributes", e.0))
}

fn clean_email(value: Option<String>) -> Result<Option<Email>, ApiError> {
    clean("email", value, rules::MAX_EMAIL)?
        .map(|raw| Email::parse(&raw).map_err(|e| ApiError::invalid("email", e.0)))
        .transpose()
}

/// Create a customer (409 when the id exists).
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = NewCustomerBody,
    responses((status = 201, body = CustomerView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewCustomerBody>,
) -> Result<(StatusCode, ApiJson<CustomerView>), ApiError> {
    let external = ExternalId::parse(&body.id).map_err(|e| ApiError::invalid("id", e.0))?;
    let profile = NewCustomer {
        external_id: external.clone(),
        name: clean("name", body.name, rules::MAX_NAME)?,
        email: clean_email(body.email)?,
        phone: clean("phone", body.phone, rules::MAX_PHONE)?,
        attributes: body.attributes.unwrap_or_default(),
        created_at: chrono::Utc::now().timestamp(),
    };
    check_attributes(&profile.attributes)?;
    if state.store.customer(&external).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a customer with id '{external}' exists already"
        )));
    }
    let mut ingest = Ingest::begin(&state.store, "the API").await?;
    let (created, _) = ingest.upsert_profiles(vec![profile]).await?;
    if created == 0 {
        return Err(ApiError::conflict(format!(
            "a customer with id '{external}' exists already"
        )));
    }
    record_consent(&mut ingest, &external, None, body.email_consent).await?;
    ingest.finish().await?;
    let customer = find(&state, external.as_str()).await?;
    Ok((StatusCode::CREATED, ApiJson(CustomerView::new(customer, None))))
}

/// Update a customer's profile.
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", request_body = ProfilePatch,
    params(("id" = String, Path, description = "The business's id for the customer")),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<ApiJson<CustomerView>, ApiError> {
    let customer = find(&state, &id).await?;
    // Stored values passed these checks when they were written: read back, they parse again.
    let stored = |field: &str, e: crate::domain::ParseError| {
        ApiError::internal(format!(
            "the stored {field} of customer '{id}' no longer parses: {}",
            e.0
        ))
    };
    let mut profile = NewCustomer {
        external_id: ExternalId::parse(&customer.external_id).map_err(|e| stored("id", e))?,
        name: customer.name,
        email: customer
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| stored("e-mail address", e))?,
        phone: customer.phone,
        attributes: customer.attributes,
        created_at: customer.created_at,
    };
    if let Some(name) = patch.name {
        profile.name = clean("name", name, rules::MAX_NAME)?;
    }
    if let Some(email) = patch.email {
        profile.email = clean_email(email)?;
    }
    if let Some(phone) = patch.phone {
        profile.phone = clean("phone", phone, rules::MAX_PHONE)?;
    }
    for (field, value) in patch.attributes.unwrap_or_default() {
        if value.is_null() {
            profile.attributes.remove(&field);
        } else {
            profile.attributes.insert(field, value);
        }
    }
    check_attributes(&profile.attributes)?;
    let external = profile.external_id.clone();
    let mut ingest = Ingest::begin(&state.store, "the API").await?;
    ingest.upsert_profiles(vec![profile]).await?;
    record_consent(
        &mut ingest,
        &external,
        customer.state.email_consent,
        patch.email_consent,
    )
    .await?;
    ingest.finish().await?;
    let customer = find(&state, &id).await?;
    let score = state.store.score(customer.id).await?;
    Ok(ApiJson(CustomerView::new(customer, score)))
}

/// Paging through a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only events with a smaller id (the previous page's last id): newest first.
    pub before: Option<i64>,
}

/// A page of a customer's timeline, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    /// The events.
    pub events: Vec<EventView>,
    /// Pass as `before` for older events; absent when there are none.
    pub next_before: Option<i64>,
}

/// A customer's timeline: every event, newest first.
#[utoipa::path(get, path = "/customers/{id}/events", tag = "customers", params(("id" = String, Path, description = "The business's id for the customer"), TimelineParams),
    responses((status = 200, body = Timeline), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn timeline(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<TimelineParams>,
) -> Result<ApiJson<Timeline>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be 1 to 500, not {limit}"),
        ));
    }
    let customer = find(&state, &id).await?;
    let mut events = state.store.events_of(customer.id).await?;
    events.reverse();
    let before = params.before.unwrap_or(i64::MAX);
    let mut page: Vec<_> = events
        .into_iter()
        .filter(|e| e.id < before)
        .take(limit as usize + 1)
        .collect();
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next_before = if more { page.last().map(|e| e.id) } else { None };
    let events = page
        .into_iter()
        .map(|e| EventView::new(e, &customer.external_id))
        .collect();
    Ok(ApiJson(Timeline { events, next_before }))
}

/// A manual stage change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    /// The new stage.
    pub stage: Stage,
    /// Why (kept in the timeline).
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

/// The outcome of a stage change.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageResult {
    /// The stage before.
    pub from: Option<Stage>,
    /// The stage now.
    pub to: Stage,
    /// False when the customer was already at that stage.
    pub changed: bool,
}

/// Move a customer to a stage by hand (a demotion stands until new behaviour earns more).
#[utoipa::path(post, path = "/customers/{id}/stage", tag = "customers", request_body = StageBody,
    params(("id" = String, Path, description = "The business's id for the customer")),
    responses((status = 200, body = StageResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key = principal.key_id))]
pub async fn set_stage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StageBody>,
) -> Result<ApiJson<StageResult>, ApiError> {
    let reason = clean("reason", Some(body.reason), 500)?
        .ok_or_else(|| ApiError::invalid("reason", "say why the stage changes"))?;
    let customer = find(&state, &id).await?;
    let external = ExternalId::parse(&customer.external_id)
        .map_err(|e| ApiError::internal(format!("the stored id of customer '{id}' no longer parses: {}", e.0)))?;
    let mut ingest = Ingest::begin(&state.store, format!("API key '{}'", principal.name)).await?;
    let change = ingest
        .set_stage(
            &external,
            body.stage,
            format!("{reason} (API key '{}')", principal.name),
        )
        .await?;
    ingest.finish().await?;
    Ok(ApiJson(match change {
        Some(change) => StageResult {
            from: change.from,
            to: change.to,
            changed: true,
        },
        None => StageResult {
            from: Some(body.stage),
            to: body.stage,
            changed: false,
        },
    }))
}
