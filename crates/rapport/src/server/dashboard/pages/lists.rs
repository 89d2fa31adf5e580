//! The customer list (filters, order, pages) and the at-risk list: one page of a projection
//! each, read through an index.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::customer::{mailto, tel};
use super::{Layout, PAGE, PageError};
use crate::domain::Stage;
use crate::server::AppState;
use crate::server::auth::random_token;
use crate::server::dashboard::format::{Locale, amount, grouped, money, percent, url_encode};
use crate::server::dashboard::session::SignedIn;
use crate::server::lists::{decode_cursor, encode_cursor, parse_segment};
use crate::store::{CustomerListItem, CustomerQuery, CustomerSort, VALUE_AT_RISK_DEFINITION, value_at_risk};

/// The most matches a list counts for its footer: past it the footer says "more than", so a
/// broad filter over a million customers is not counted on every page (counting 10,000 matches
/// of a search took 60 ms on SQLite, 1,000 a tenth of it).
const COUNT_AT_MOST: u64 = 1_000;

/// A link: where it goes and what it says.
pub struct Link {
    href: String,
    text: String,
}

/// A customer in a list, ready to print.
pub struct Row {
    href: String,
    id: String,
    name: String,
    email: Option<Link>,
    phone: Option<Link>,
    stage: String,
    purchases: String,
    spend: String,
    p_alive: String,
    clv: String,
    at_risk: String,
    segment: String,
    last_purchase: String,
    explanation: String,
}

impl Row {
    fn new(item: &CustomerListItem, locale: &Locale) -> Self {
        let c = &item.customer;
        let score = item.score.as_ref();
        let dash = || "–".to_owned();
        Self {
            href: customer_path(&c.external_id),
            id: c.external_id.clone(),
            name: c.name.clone().unwrap_or_default(),
            email: c.email.as_ref().map(|e| Link {
                href: mailto(e),
                text: e.clone(),
            }),
            phone: c.phone.as_ref().map(|p| Link {
                href: tel(p),
                text: p.clone(),
            }),
            stage: c.state.stage.map_or_else(dash, |s| s.to_string()),
            purchases: grouped(c.state.purchase_count),
            // The header names the currency: one per cell made the at-risk table wider than a laptop.
            spend: money(c.state.total_spend_cents),
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
            last_purchase: locale.opt_day(c.state.last_purchase_at),
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
    csv: String,
    matching: String,
    /// The currency of the amount columns, named in their headers.
    currency: String,
}

const SORTS: [(&str, &str, CustomerSort); 6] = [
    ("id", "Customer id", CustomerSort::Id),
    ("clv", "12-month value, highest first", CustomerSort::Clv),
    ("p_alive", "P(alive), lowest first", CustomerSort::PAlive),
    (
        "last_purchase",
        "Last purchase, latest first",
        CustomerSort::LastPurchase,
    ),
    ("spend", "Total spend, highest first", CustomerSort::Spend),
    ("orders", "Purchases, most first", CustomerSort::Orders),
];

/// The customer list's filters as given (trimmed, empty ones dropped) and as a store query.
pub(super) struct Filters {
    q: Option<String>,
    stage: Option<String>,
    segment: Option<String>,
    sort_name: String,
    stage_value: Option<Stage>,
    segment_value: Option<rapport_models::Segment>,
    /// The query the filters make, without a limit or cursor.
    pub(super) query: CustomerQuery,
}

impl Filters {
    /// Reads the list's parameters; 400 with a sentence when one is not a stage, segment or order.
    pub(super) fn parse(params: &ListParams) -> Result<Self, PageError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let (q, stage, segment) = (given(&params.q), given(&params.stage), given(&params.segment));
        let bad = |e: String| PageError::new(StatusCode::BAD_REQUEST, e);
        if let Some(raw) = &q {
            crate::domain::rules::search(raw).map_err(|e| bad(format!("The search is not usable: {}.", e.0)))?;
        }
        let stage_value: Option<Stage> = stage
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: crate::domain::ParseError| bad(e.0))?;
        let segment_value = segment.as_deref().map(parse_segment).transpose()?;
        let sort_name = given(&params.sort).unwrap_or_else(|| "id".to_owned());
        let sort = SORTS
            .iter()
            .find(|(name, _, _)| *name == sort_name)
            .map(|(_, _, s)| *s)
            .ok_or_else(|| {
                bad(format!(
                    "'{sort_name}' is not an order: use id, clv, p_alive, last_purchase, spend or orders"
                ))
            })?;
        let query = CustomerQuery {
            stage: stage_value,
            segment: segment_value,
            search: q.clone(),
            sort,
            ..CustomerQuery::default()
        };
        Ok(Self {
            q,
            stage,
            segment,
            sort_name,
            stage_value,
            segment_value,
            query,
        })
    }

    /// `path` with these filters and, when given, a cursor.
    fn url(&self, path: &str, cursor: Option<&str>) -> String {
        let mut url = format!("{path}?sort={}", url_encode(&self.sort_name));
        for (key, value) in [("q", &self.q), ("stage", &self.stage), ("segment", &self.segment)] {
            if let Some(value) = value {
                url.push_str(&format!("&{key}={}", url_encode(value)));
            }
        }
        if let Some(cursor) = cursor {
            url.push_str(&format!("&after={cursor}"));
        }
        url
    }
}

/// `GET /customers`: search, filter by stage and segment, sort, a page at a time.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn customers(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<ListParams>,
) -> Result<CustomersPage, PageError> {
    let filters = Filters::parse(&params)?;
    let ((rows, next_cursor), total) = tokio::try_join!(
        page_of(&state, filters.query.clone(), params.after.as_deref()),
        count(&state, &filters.query)
    )?;
    let matching = matching(total, rows.len());
    Ok(CustomersPage {
        layout: Layout::new(&signed_in, "customers"),
        q: filters.q.clone().unwrap_or_default(),
        stages: Stage::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: s.as_str(),
                selected: filters.stage_value == Some(*s),
            })
            .collect(),
        segments: rapport_models::Segment::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: s.label(),
                selected: filters.segment_value == Some(*s),
            })
            .collect(),
        sorts: SORTS
            .iter()
            .map(|(value, label, s)| Choice {
                value: (*value).to_owned(),
                label,
                selected: *s == filters.query.sort,
            })
            .collect(),
        rows,
        next: next_cursor.as_deref().map(|c| filters.url("/customers", Some(c))),
        first: params.after.is_some().then(|| filters.url("/customers", None)),
        csv: filters.url("/customers.csv", None),
        matching,
        currency: state.dashboard.locale.currency.as_str().to_owned(),
    })
}

/// Counts the list's matches up to one past `COUNT_AT_MOST`. Pages run it beside the page's own
/// query, on another connection: the footer then costs no time of its own.
async fn count(state: &AppState, query: &CustomerQuery) -> Result<u64, PageError> {
    Ok(state.store.count_customers(query, COUNT_AT_MOST + 1).await?)
}

/// "50 of 60 customers": the rows on this page of how many match (counted up to `COUNT_AT_MOST`).
fn matching(total: u64, shown: usize) -> String {
    let noun = if total == 1 { "customer" } else { "customers" };
    if total > COUNT_AT_MOST {
        format!(
            "{} of more than {} {noun}",
            grouped(shown as i64),
            grouped(COUNT_AT_MOST as i64)
        )
    } else {
        format!("{} of {} {noun}", grouped(shown as i64), grouped(total as i64))
    }
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
    let locale = &state.dashboard.locale;
    Ok((items.iter().map(|item| Row::new(item, locale)).collect(), next))
}

/// The at-risk page.
#[derive(Template, WebTemplate)]
#[template(path = "at_risk.html")]
pub struct AtRiskPage {
    layout: Layout,
    rows: Vec<Row>,
    next: Option<String>,
    first: bool,
    matching: String,
    can_write: bool,
    /// This page's cursor, for the "mark contacted" forms to come back to.
    after: String,
    form_key: String,
    contacted: Option<String>,
    definition: &'static str,
    /// The at-risk threshold, said on the page.
    threshold: f64,
    /// The currency of the amount columns, named in their headers.
    currency: String,
}

/// `?after=` of a list page, and `?contacted=` after a customer was marked contacted.
#[derive(Debug, Deserialize)]
pub struct AfterParam {
    after: Option<String>,
    contacted: Option<String>,
}

/// The at-risk list's query, without a limit or cursor.
pub(super) fn at_risk_query(state: &AppState) -> CustomerQuery {
    CustomerQuery {
        at_risk_below: Some(state.settings.scoring.at_risk_threshold),
        sort: CustomerSort::Risk,
        ..CustomerQuery::default()
    }
}

/// `GET /at-risk`: clients and partners with P(alive) below the threshold, most expected value
/// lost first.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn at_risk(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(params): Query<AfterParam>,
) -> Result<AtRiskPage, PageError> {
    let query = at_risk_query(&state);
    let ((rows, next), total) = tokio::try_join!(
        page_of(&state, query.clone(), params.after.as_deref()),
        count(&state, &query)
    )?;
    let matching = matching(total, rows.len());
    Ok(AtRiskPage {
        layout: Layout::new(&signed_in, "at-risk"),
        rows,
        next: next.map(|cursor| format!("/at-risk?after={cursor}")),
        first: params.after.is_some(),
        matching,
        can_write: signed_in.session.user.role >= crate::domain::Role::Staff,
        after: params.after.unwrap_or_default(),
        form_key: random_token(12),
        contacted: params.contacted.filter(|id| !id.is_empty()),
        definition: VALUE_AT_RISK_DEFINITION,
        threshold: state.settings.scoring.at_risk_threshold,
        currency: state.dashboard.locale.currency.as_str().to_owned(),
    })
}
