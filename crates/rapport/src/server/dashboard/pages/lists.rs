//! The customer list (filters, order, pages) and the at-risk list: one page of a projection
//! each, read through an index.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{Layout, PAGE, PageError};
use crate::domain::Stage;
use crate::server::AppState;
use crate::server::api::customers::{decode_cursor, encode_cursor, parse_segment};
use crate::server::dashboard::format::{amount, opt_day, percent, url_encode};
use crate::server::dashboard::session::SignedIn;
use crate::store::{CustomerListItem, CustomerQuery, CustomerSort, value_at_risk};

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

pub(super) fn customer_path(external_id: &str) -> String {
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
