//! The pages: overview, customers, one customer (with its note and interaction forms), at risk.
//! Each reads one page of a projection through an index, never the whole table; the overview
//! reads figures computed in the background (`stats`).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::STYLESHEET_PATH;
use super::format::{amount, day, grouped, minute, money, opt_day, percent, ratio, url_encode};
use super::session::SignedIn;
use crate::analysis::ScoreRow;
use crate::domain::{EventKind, ExternalId, NewEvent, Role, Stage, StoredEvent};
use crate::server::AppState;
use crate::server::api::customers::{decode_cursor, encode_cursor, parse_segment};
use crate::server::auth::random_token;
use crate::server::error::ApiError;
use crate::server::writer::Incoming;
use crate::store::{CustomerListItem, CustomerQuery, CustomerRecord, CustomerSort, StoreError, value_at_risk};

/// Customers per list page.
const PAGE: u32 = 50;
/// Timeline events a customer page shows (newest first).
const TIMELINE: usize = 100;
/// Longest note or interaction text accepted.
const MAX_TEXT: usize = 2_000;

/// What every signed-in page shares: who is signed in, the logout form's token, the current page.
pub struct Layout {
    /// The stylesheet's path.
    pub stylesheet: &'static str,
    /// The user's e-mail address.
    pub email: String,
    /// The user's role.
    pub role: Role,
    /// The session's CSRF token, for every form on the page.
    pub csrf: String,
    /// `overview`, `customers` or `at-risk`: the navigation marks it.
    pub active: &'static str,
}

impl Layout {
    /// The layout for a signed-in user on page `active`.
    pub fn new(signed_in: &SignedIn, active: &'static str) -> Self {
        let session = &signed_in.session;
        Self {
            stylesheet: STYLESHEET_PATH,
            email: session.user.email.clone(),
            role: session.user.role,
            csrf: session.csrf_token.clone(),
            active,
        }
    }
}

/// An error as a page: the status and a sentence for a person.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

/// The error page.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    stylesheet: &'static str,
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 500: the cause goes to the log under a reference the page shows.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::internal(cause).into()
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::new(error.status, error.message)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            stylesheet: STYLESHEET_PATH,
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        (self.status, page).into_response()
    }
}

/// A figure on the overview: a label, the value, a line below, and where it leads.
pub struct Tile {
    label: &'static str,
    value: String,
    note: String,
    link: Option<&'static str>,
}

/// The overview page.
#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    layout: Layout,
    tiles: Vec<Tile>,
    charts: Option<Charts>,
    taken_at: String,
    problem: Option<String>,
}

/// The overview's charts, SVG.
pub struct Charts {
    funnel: String,
    revenue: String,
    buyers: String,
}

/// `GET /`: the overview.
pub async fn overview(State(state): State<AppState>, signed_in: SignedIn) -> OverviewPage {
    let mut page = OverviewPage {
        layout: Layout::new(&signed_in, "overview"),
        tiles: Vec::new(),
        charts: None,
        taken_at: String::new(),
        problem: None,
    };
    match state.dashboard.stats.get(&state.store).await {
        Ok(Some(snapshot)) => {
            page.tiles = tiles(&snapshot.figures);
            if let Some(days) = &snapshot.second_sale {
                page.tiles.insert(
                    3,
                    Tile {
                        label: "Days to the second sale",
                        value: format!("{:.0}", days.median),
                        note: format!(
                            "median over {} clients; half within {:.0} to {:.0} days",
                            grouped(days.count as i64),
                            days.p25,
                            days.p75
                        ),
                        link: None,
                    },
                );
            }
            page.taken_at = minute(snapshot.taken_at);
            page.charts = Some(Charts {
                funnel: snapshot.funnel_chart.clone(),
                revenue: snapshot.revenue_chart.clone(),
                buyers: snapshot.buyers_chart.clone(),
            });
        }
        Ok(None) => {}
        Err(failure) => page.problem = Some(failure),
    }
    page
}

fn tiles(f: &crate::store::DashboardFigures) -> Vec<Tile> {
    let as_of = f
        .last_purchase_at
        .map_or_else(|| "no purchases yet".to_owned(), |at| format!("to {}", day(at)));
    let scored = if f.scored == 0 {
        "not scored yet: run `rapport fit`, then `rapport score`".to_owned()
    } else {
        format!("of {} scored", grouped(f.scored))
    };
    vec![
        Tile {
            label: "Customers",
            value: grouped(f.customers),
            note: format!("{} bought at least once", grouped(f.buyers)),
            link: Some("/customers"),
        },
        Tile {
            label: "Active customers",
            value: grouped(f.likely_active),
            note: format!("P(alive) above 0.5, {scored}"),
            link: None,
        },
        Tile {
            label: "Repeat-purchase rate",
            value: ratio(f.repeat_buyers, f.buyers),
            note: format!(
                "{} of {} buyers came back on another day",
                grouped(f.repeat_buyers),
                grouped(f.buyers)
            ),
            link: None,
        },
        Tile {
            label: "Revenue, last 30 days",
            value: money(f.revenue_30d_cents),
            note: as_of.clone(),
            link: None,
        },
        Tile {
            label: "Revenue, last 365 days",
            value: money(f.revenue_365d_cents),
            note: as_of,
            link: None,
        },
        Tile {
            label: "Predicted revenue, next 12 months",
            value: amount(f.predicted_revenue_12m),
            note: "sum of every customer's 12-month lifetime value".to_owned(),
            link: None,
        },
        Tile {
            label: "At-risk clients",
            value: grouped(f.at_risk),
            note: "clients and partners with P(alive) below 0.5".to_owned(),
            link: Some("/at-risk"),
        },
    ]
}

/// A customer in a list, ready to print.
pub struct Row {
    href: String,
    id: String,
    name: String,
    stage: String,
    p_alive: String,
    clv: String,
    at_risk: String,
    segment: String,
    last_purchase: String,
    explanation: String,
}

impl Row {
    fn new(item: &CustomerListItem) -> Self {
        let c = &item.customer;
        let score = item.score.as_ref();
        let dash = || "–".to_owned();
        Self {
            href: customer_path(&c.external_id),
            id: c.external_id.clone(),
            name: c.name.clone().unwrap_or_default(),
            stage: c.state.stage.map_or_else(dash, |s| s.to_string()),
            p_alive: score.map_or_else(dash, |s| match item.previous_p_alive {
                // Shown only when it moved: "41 % (was 62 %)" says the customer is slipping.
                Some(before) if (before - s.p_alive).abs() >= 0.005 => {
                    format!("{} (was {})", percent(s.p_alive), percent(before))
                }
                _ => percent(s.p_alive),
            }),
            clv: score.map_or_else(dash, |s| amount(s.clv_12m)),
            at_risk: score.map_or_else(dash, |s| amount(value_at_risk(s))),
            segment: score.map_or_else(dash, |s| s.segment.label().to_owned()),
            last_purchase: opt_day(c.state.last_purchase_at),
            explanation: score.map_or_else(String::new, |s| s.explanation.clone()),
        }
    }
}

fn customer_path(external_id: &str) -> String {
    format!("/customers/{}", url_encode(external_id))
}

/// A choice in a filter.
pub struct Choice {
    value: String,
    label: &'static str,
    selected: bool,
}

/// Filters, order and page of the customer list, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    stage: Option<String>,
    segment: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

/// The customer list page.
#[derive(Template, WebTemplate)]
#[template(path = "customers.html")]
pub struct CustomersPage {
    layout: Layout,
    q: String,
    stages: Vec<Choice>,
    segments: Vec<Choice>,
    sorts: Vec<Choice>,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
}

const SORTS: [(&str, &str, CustomerSort); 4] = [
    ("id", "Customer id", CustomerSort::Id),
    ("clv", "12-month value, highest first", CustomerSort::Clv),
    ("p_alive", "P(alive), lowest first", CustomerSort::PAlive),
    (
        "last_purchase",
        "Last purchase, latest first",
        CustomerSort::LastPurchase,
    ),
];

/// `GET /customers`: search, filter by stage and segment, sort, a page at a time.
pub async fn customers(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<ListParams>,
) -> Result<CustomersPage, PageError> {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (q, stage, segment, sort) = (
        given(&params.q),
        given(&params.stage),
        given(&params.segment),
        given(&params.sort),
    );
    let bad = |e: String| PageError::new(StatusCode::BAD_REQUEST, e);
    let stage_value: Option<Stage> = stage
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: crate::domain::ParseError| bad(e.0))?;
    let segment_value = segment.as_deref().map(parse_segment).transpose()?;
    let sort_name = sort.unwrap_or_else(|| "id".to_owned());
    let sort_value = SORTS
        .iter()
        .find(|(name, _, _)| *name == sort_name)
        .map(|(_, _, s)| *s)
        .ok_or_else(|| {
            bad(format!(
                "'{sort_name}' is not an order: use id, clv, p_alive or last_purchase"
            ))
        })?;
    let query = CustomerQuery {
        stage: stage_value,
        segment: segment_value,
        search: q.clone(),
        sort: sort_value,
        ..CustomerQuery::default()
    };
    let (rows, next_cursor) = page_of(&state, query, params.after.as_deref()).await?;
    let filters = |cursor: Option<&str>| {
        let mut url = format!("/customers?sort={}", url_encode(&sort_name));
        for (key, value) in [("q", &q), ("stage", &stage), ("segment", &segment)] {
            if let Some(value) = value {
                url.push_str(&format!("&{key}={}", url_encode(value)));
            }
        }
        if let Some(cursor) = cursor {
            url.push_str(&format!("&after={cursor}"));
        }
        url
    };
    Ok(CustomersPage {
        layout: Layout::new(&signed_in, "customers"),
        q: q.clone().unwrap_or_default(),
        stages: Stage::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: s.as_str(),
                selected: stage_value == Some(*s),
            })
            .collect(),
        segments: rapport_models::Segment::ALL
            .iter()
            .map(|s| Choice {
                value: segment_name(*s),
                label: s.label(),
                selected: segment_value == Some(*s),
            })
            .collect(),
        sorts: SORTS
            .iter()
            .map(|(value, label, s)| Choice {
                value: (*value).to_owned(),
                label,
                selected: *s == sort_value,
            })
            .collect(),
        rows,
        next: next_cursor.as_deref().map(|c| filters(Some(c))),
        first: params.after.is_some().then(|| filters(None)),
    })
}

fn segment_name(segment: rapport_models::Segment) -> String {
    serde_json::to_value(segment)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One page of `query` after the cursor `after`, and the cursor of the next page when there is one.
async fn page_of(
    state: &AppState,
    mut query: CustomerQuery,
    after: Option<&str>,
) -> Result<(Vec<Row>, Option<String>), PageError> {
    query.after = after.filter(|a| !a.is_empty()).map(decode_cursor).transpose()?;
    query.limit = PAGE + 1;
    let mut items = state.store.query_customers(&query).await?;
    let more = items.len() > PAGE as usize;
    items.truncate(PAGE as usize);
    let next = more
        .then(|| items.last().map(|last| encode_cursor(last.cursor(query.sort))))
        .flatten();
    Ok((items.iter().map(Row::new).collect(), next))
}

/// The at-risk page.
#[derive(Template, WebTemplate)]
#[template(path = "at_risk.html")]
pub struct AtRiskPage {
    layout: Layout,
    rows: Vec<Row>,
    next: Option<String>,
    first: bool,
}

/// `?after=` of a list page.
#[derive(Debug, Deserialize)]
pub struct AfterParam {
    after: Option<String>,
}

/// `GET /at-risk`: clients and partners with P(alive) below 0.5, most expected value lost first.
pub async fn at_risk(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<AfterParam>,
) -> Result<AtRiskPage, PageError> {
    let query = CustomerQuery {
        at_risk: true,
        sort: CustomerSort::Risk,
        ..CustomerQuery::default()
    };
    let (rows, next) = page_of(&state, query, params.after.as_deref()).await?;
    Ok(AtRiskPage {
        layout: Layout::new(&signed_in, "at-risk"),
        rows,
        next: next.map(|cursor| format!("/at-risk?after={cursor}")),
        first: params.after.is_some(),
    })
}

/// An event on a customer's page.
pub struct Entry {
    when: String,
    kind: &'static str,
    text: String,
}

impl Entry {
    fn new(event: &StoredEvent) -> Self {
        Self {
            when: minute(event.occurred_at),
            kind: kind_label(&event.kind),
            text: event.kind.describe(),
        }
    }
}

fn kind_label(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Purchase { .. } => "purchase",
        EventKind::Interaction { .. } => "interaction",
        EventKind::StageChange { .. } => "stage change",
        EventKind::Note { .. } => "note",
        EventKind::Referral { .. } => "referral",
    }
}

/// A labelled value on a customer's page.
pub struct Fact {
    label: String,
    value: String,
}

fn fact(label: impl Into<String>, value: impl Into<String>) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

/// One customer's page.
#[derive(Template, WebTemplate)]
#[template(path = "customer.html")]
pub struct CustomerPage {
    layout: Layout,
    id: String,
    path: String,
    title: String,
    stage: String,
    profile: Vec<Fact>,
    figures: Vec<Fact>,
    scores: Vec<Fact>,
    explanation: Option<String>,
    stage_history: Vec<Entry>,
    notes: Vec<Entry>,
    timeline: Vec<Entry>,
    older: usize,
    can_write: bool,
    form_key: String,
    saved: Option<&'static str>,
}

/// `?saved=` after a form was stored.
#[derive(Debug, Deserialize)]
pub struct SavedParam {
    saved: Option<String>,
}

/// `GET /customers/{id}`: profile, stage history, scores and why, notes, the timeline, and for
/// staff the forms that add a note or log an interaction.
pub async fn customer(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Query(params): Query<SavedParam>,
) -> Result<CustomerPage, PageError> {
    let customer = find(&state, &id).await?;
    let score = state.store.score(customer.id).await?;
    let events = state.store.events_of(customer.id).await?;
    // The log's order is the order things were recorded (stage changes come after the purchases
    // that earned them, imports after the fact): the page shows when they happened.
    let mut by_time: Vec<&StoredEvent> = events.iter().collect();
    by_time.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
    let newest_first = by_time.into_iter();
    let stage_history = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StageChange { .. }))
        .map(Entry::new)
        .collect();
    let notes = newest_first
        .clone()
        .filter(|e| matches!(e.kind, EventKind::Note { .. }))
        .map(Entry::new)
        .collect();
    let timeline: Vec<Entry> = newest_first.take(TIMELINE).map(Entry::new).collect();
    Ok(CustomerPage {
        can_write: signed_in.session.user.role >= Role::Staff,
        layout: Layout::new(&signed_in, "customers"),
        path: customer_path(&customer.external_id),
        title: customer.name.clone().unwrap_or_else(|| customer.external_id.clone()),
        stage: customer.state.stage.map_or_else(|| "–".to_owned(), |s| s.to_string()),
        profile: profile(&customer),
        figures: figures(&customer),
        explanation: score.as_ref().map(|s| s.explanation.clone()),
        scores: score.as_ref().map(scores).unwrap_or_default(),
        stage_history,
        notes,
        older: events.len().saturating_sub(timeline.len()),
        timeline,
        form_key: random_token(16),
        saved: match params.saved.as_deref() {
            Some("note") => Some("Note saved."),
            Some("interaction") => Some("Interaction logged."),
            _ => None,
        },
        id: customer.external_id,
    })
}

async fn find(state: &AppState, id: &str) -> Result<CustomerRecord, PageError> {
    let external = ExternalId::parse(id).map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.0))?;
    state.store.customer(&external).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            format!("There is no customer with id '{external}'."),
        )
    })
}

fn profile(c: &CustomerRecord) -> Vec<Fact> {
    let mut facts = vec![fact("Id", c.external_id.clone())];
    for (label, value) in [("Name", &c.name), ("E-mail", &c.email), ("Phone", &c.phone)] {
        if let Some(value) = value {
            facts.push(fact(label, value.clone()));
        }
    }
    for (key, value) in &c.attributes {
        facts.push(fact(
            key.clone(),
            value.as_str().map_or_else(|| value.to_string(), str::to_owned),
        ));
    }
    facts.push(fact("Known since", day(c.created_at)));
    facts
}

fn figures(c: &CustomerRecord) -> Vec<Fact> {
    let s = &c.state;
    vec![
        fact(
            "Highest stage reached",
            s.max_stage.map_or_else(|| "–".to_owned(), |s| s.to_string()),
        ),
        fact("Purchases", grouped(s.purchase_count)),
        fact("Total spend", money(s.total_spend_cents)),
        fact("First purchase", opt_day(s.first_purchase_at)),
        fact("Second sale", opt_day(s.second_purchase_at)),
        fact("Last purchase", opt_day(s.last_purchase_at)),
        fact("Interactions", grouped(s.interaction_count)),
        fact("Referrals", grouped(s.referral_count)),
    ]
}

fn scores(s: &ScoreRow) -> Vec<Fact> {
    let mut facts = vec![
        fact("P(alive)", percent(s.p_alive)),
        fact(
            "Expected purchases, 90 days",
            format!("{:.1}", s.expected_purchases_90d),
        ),
        fact(
            "Expected purchases, 365 days",
            format!("{:.1}", s.expected_purchases_365d),
        ),
        fact("Expected spend per purchase", amount(s.expected_spend)),
        fact("12-month value (CLV)", amount(s.clv_12m)),
        fact("Expected value lost", amount(value_at_risk(s))),
        fact("RFM segment", s.segment.label()),
        fact(
            "RFM scores (R, F, M)",
            format!("{}, {}, {}", s.rfm_recency, s.rfm_frequency, s.rfm_monetary),
        ),
    ];
    if let Some(days) = s.expected_days_to_next_purchase {
        facts.push(fact("Next purchase expected in", format!("{days:.0} days")));
    }
    facts
}

/// A note as the form posts it.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    text: String,
}

/// An interaction as the form posts it.
#[derive(Debug, Deserialize)]
pub struct InteractionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    note: String,
}

/// `POST /customers/{id}/notes` (staff): appends a note through the API's event writer.
pub async fn add_note(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let text = required("note", &form.text)?;
    let kind = EventKind::Note {
        text: format!("{text} ({})", signed_in.session.user.email),
    };
    append(&state, &id, &form.key, kind, "note").await
}

/// `POST /customers/{id}/interactions` (staff): logs a call, visit or message.
pub async fn log_interaction(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<InteractionForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let channel = required("channel", &form.channel)?;
    let note = required("what was said or done", &form.note)?;
    let kind = EventKind::Interaction {
        channel,
        note: format!("{note} ({})", signed_in.session.user.email),
    };
    append(&state, &id, &form.key, kind, "interaction").await
}

fn required(field: &str, value: &str) -> Result<String, PageError> {
    let value = value.trim();
    let unprocessable = |m: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    if value.is_empty() {
        return Err(unprocessable(format!(
            "The {field} is empty. Go back and write something."
        )));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(unprocessable(format!(
            "The {field} is longer than {MAX_TEXT} characters."
        )));
    }
    Ok(value.to_owned())
}

/// Writes one event through the API's group-commit writer. The form's key (made when the page
/// was drawn) is the event's idempotency key, so a form sent twice stores one event.
async fn append(state: &AppState, id: &str, key: &str, kind: EventKind, saved: &str) -> Result<Redirect, PageError> {
    let customer = find(state, id).await?;
    let key = if !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        key.to_owned()
    } else {
        random_token(16)
    };
    let event = NewEvent {
        key: format!("dashboard:{key}"),
        occurred_at: chrono::Utc::now().timestamp(),
        kind,
    };
    let incoming = Incoming {
        customer: customer.external_id.clone(),
        event,
    };
    state.writer.write(vec![incoming]).await.map_err(PageError::internal)?;
    Ok(Redirect::to(&format!(
        "{}?saved={saved}#notes",
        customer_path(&customer.external_id)
    )))
}
