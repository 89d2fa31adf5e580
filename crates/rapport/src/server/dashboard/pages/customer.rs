//! One customer's page, with its timeline, scores and the forms that add notes and interactions.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use serde::Deserialize;

use super::lists::customer_path;
use super::{Layout, MAX_TEXT, PageError, TIMELINE};
use crate::domain::rules::{self, Lines};
use crate::domain::{EventKind, ExternalId, NewEvent, Role, StoredEvent};
use crate::radar::analysis::ScoreRow;
use crate::server::AppState;
use crate::server::auth::random_token;
use crate::server::dashboard::format::{Locale, grouped, percent};
use crate::server::dashboard::session::SignedIn;
use crate::server::writer::Incoming;
use crate::store::{CustomerRecord, VALUE_AT_RISK_DEFINITION, value_at_risk};

/// An event on a customer's page.
pub struct Entry {
    when: String,
    kind: &'static str,
    text: String,
}

impl Entry {
    fn new(event: &StoredEvent, locale: &Locale) -> Self {
        Self {
            when: locale.minute(event.occurred_at),
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
        EventKind::Consent { .. } => "consent",
        EventKind::Feedback { .. } => "feedback",
        EventKind::Interview { .. } => "interview",
    }
}

/// A labelled value on a customer's page, a link when it leads somewhere.
pub struct Fact {
    label: String,
    value: String,
    href: Option<String>,
    help: Option<&'static str>,
}

fn fact(label: impl Into<String>, value: impl Into<String>) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
        href: None,
        help: None,
    }
}

/// A `mailto:` link for an e-mail address.
pub(super) fn mailto(email: &str) -> String {
    format!("mailto:{email}")
}

/// A `tel:` link for a phone number as people write it: digits and a leading `+` only.
pub(super) fn tel(phone: &str) -> String {
    let digits: String = phone
        .chars()
        .enumerate()
        .filter(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '+'))
        .map(|(_, c)| c)
        .collect();
    format!("tel:{digits}")
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
    no_purchases: bool,
    stage_history: Vec<Entry>,
    notes: Vec<Entry>,
    timeline: Vec<Entry>,
    older: usize,
    can_write: bool,
    consent_given: bool,
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
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn customer(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Query(params): Query<SavedParam>,
) -> Result<CustomerPage, PageError> {
    let customer = find(&state, &id).await?;
    let score = state.store.score(customer.id).await?;
    let events = state.store.events_of(customer.id).await?;
    let locale = &state.dashboard.locale;
    // The log's order is the order things were recorded (stage changes come after the purchases
    // that earned them, imports after the fact): the page shows when they happened.
    let mut by_time: Vec<&StoredEvent> = events.iter().collect();
    by_time.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
    let newest_first = by_time.into_iter();
    let stage_history = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StageChange { .. }))
        .map(|e| Entry::new(e, locale))
        .collect();
    let notes = newest_first
        .clone()
        .filter(|e| matches!(e.kind, EventKind::Note { .. }))
        .map(|e| Entry::new(e, locale))
        .collect();
    let timeline: Vec<Entry> = newest_first.take(TIMELINE).map(|e| Entry::new(e, locale)).collect();
    Ok(CustomerPage {
        can_write: signed_in.session.user.role >= Role::Staff,
        layout: Layout::new(&signed_in, "customers"),
        path: customer_path(&customer.external_id),
        title: customer.name.clone().unwrap_or_else(|| customer.external_id.clone()),
        stage: customer.state.stage.map_or_else(|| "–".to_owned(), |s| s.to_string()),
        consent_given: customer.state.email_consent == Some(true),
        profile: profile(&customer, locale),
        figures: figures(&customer, &events, locale),
        explanation: score.as_ref().map(|s| s.explanation.clone()),
        no_purchases: customer.state.purchase_count == 0,
        scores: score.as_ref().map(|s| scores(s, locale)).unwrap_or_default(),
        stage_history,
        notes,
        older: events.len().saturating_sub(timeline.len()),
        timeline,
        form_key: random_token(16),
        saved: match params.saved.as_deref() {
            Some("note") => Some("Note saved."),
            Some("interaction") => Some("Interaction logged."),
            Some("consent") => Some("E-mail consent recorded."),
            Some("interview") => Some("Interview logged."),
            _ => None,
        },
        id: customer.external_id,
    })
}

pub(super) async fn find(state: &AppState, id: &str) -> Result<CustomerRecord, PageError> {
    let external = ExternalId::parse(id).map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.0))?;
    state.store.customer(&external).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            format!("There is no customer with id '{external}'."),
        )
    })
}

fn profile(c: &CustomerRecord, locale: &Locale) -> Vec<Fact> {
    let mut facts = vec![fact("Id", c.external_id.clone())];
    if let Some(name) = &c.name {
        facts.push(fact("Name", name.clone()));
    }
    if let Some(email) = &c.email {
        facts.push(Fact {
            href: Some(mailto(email)),
            ..fact("E-mail", email.clone())
        });
    }
    if let Some(phone) = &c.phone {
        facts.push(Fact {
            href: Some(tel(phone)),
            ..fact("Phone", phone.clone())
        });
    }
    for (key, value) in &c.attributes {
        facts.push(fact(
            key.clone(),
            value.as_str().map_or_else(|| value.to_string(), str::to_owned),
        ));
    }
    facts.push(fact("Known since", locale.day(c.created_at)));
    let consent = match (c.state.email_consent, c.state.email_consent_at) {
        (Some(true), Some(at)) => format!("given on {}", locale.day(at)),
        (Some(false), Some(at)) => format!("withdrawn on {}: no plan e-mails", locale.day(at)),
        _ => "never given: no plan e-mails".to_owned(),
    };
    facts.push(fact("E-mail consent", consent));
    facts
}

/// The currencies of a customer's purchases other than the business's, in order of first sight.
fn foreign_currencies<'a>(events: &'a [StoredEvent], locale: &Locale) -> Vec<&'a str> {
    let mut found: Vec<&str> = Vec::new();
    for event in events {
        if let EventKind::Purchase { currency, .. } = &event.kind
            && *currency != locale.currency
            && !found.contains(&currency.as_str())
        {
            found.push(currency.as_str());
        }
    }
    found
}

fn figures(c: &CustomerRecord, events: &[StoredEvent], locale: &Locale) -> Vec<Fact> {
    let s = &c.state;
    let foreign = foreign_currencies(events, locale);
    // Totals add cents as stored: with purchases in several currencies the sum is not money in
    // any one of them, and the page says so instead of converting at a rate it does not know.
    let total = if foreign.is_empty() {
        locale.money(s.total_spend_cents)
    } else {
        format!(
            "{} (adds amounts in {} and {} as they are, without conversion)",
            crate::server::dashboard::format::money(s.total_spend_cents),
            locale.currency.as_str(),
            foreign.join(", ")
        )
    };
    vec![
        fact(
            "Highest stage reached",
            s.max_stage.map_or_else(|| "–".to_owned(), |s| s.to_string()),
        ),
        fact("Purchases", grouped(s.purchase_count)),
        fact("Total spend", total),
        fact("First purchase", locale.opt_day(s.first_purchase_at)),
        fact("Second sale", locale.opt_day(s.second_purchase_at)),
        fact("Last purchase", locale.opt_day(s.last_purchase_at)),
        fact("Interactions", grouped(s.interaction_count)),
        fact("Referrals", grouped(s.referral_count)),
    ]
}

fn scores(s: &ScoreRow, locale: &Locale) -> Vec<Fact> {
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
        fact("Expected spend per purchase", locale.amount(s.expected_spend)),
        fact("12-month value (CLV)", locale.amount(s.clv_12m)),
        Fact {
            help: Some(VALUE_AT_RISK_DEFINITION),
            ..fact("Value at risk", locale.amount(value_at_risk(s)))
        },
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
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn add_note(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let text = required("note", &form.text, MAX_TEXT, Lines::Many)?;
    let kind = EventKind::Note {
        text: format!("{text} ({})", signed_in.session.user.email),
    };
    append(&state, &id, &form.key, kind, "note").await
}

/// `POST /customers/{id}/interactions` (staff): logs a call, visit or message.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn log_interaction(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<InteractionForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let channel = required("channel", &form.channel, rules::MAX_CHANNEL, Lines::One)?;
    let note = required("what was said or done", &form.note, MAX_TEXT, Lines::Many)?;
    let kind = EventKind::Interaction {
        channel,
        note: format!("{note} ({})", signed_in.session.user.email),
    };
    append(&state, &id, &form.key, kind, "interaction").await
}

/// The consent form: `yes` records consent given, `no` withdrawn.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    given: String,
}

/// `POST /customers/{id}/consent` (staff): records the customer's e-mail consent, given or
/// withdrawn, as a consent event naming who recorded it.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn set_consent(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<ConsentForm>,
) -> Result<Redirect, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.require(Role::Staff)?;
    let given = match form.given.as_str() {
        "yes" => true,
        "no" => false,
        other => {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "'{}' is not an answer: the form sends yes or no.",
                    rules::excerpt(other)
                ),
            ));
        }
    };
    let kind = EventKind::Consent {
        channel: "email".to_owned(),
        given,
        reason: format!("recorded on the dashboard by {}", signed_in.session.user.email),
    };
    append(&state, &id, &form.key, kind, "consent").await
}

fn required(field: &str, value: &str, max: usize, lines: Lines) -> Result<String, PageError> {
    let unprocessable = |m: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    match rules::text(field, value, max, lines) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Err(unprocessable(format!(
            "The {field} is empty. Go back and write something."
        ))),
        Err(e) => Err(unprocessable(format!("The {}. Go back and change it.", e.0))),
    }
}

/// Writes one event and sends the browser back to the customer's page, saying what was saved.
pub(super) async fn append(
    state: &AppState,
    id: &str,
    key: &str,
    kind: EventKind,
    saved: &str,
) -> Result<Redirect, PageError> {
    let customer = find(state, id).await?;
    write_event(state, &customer, key, kind).await?;
    Ok(Redirect::to(&format!(
        "{}?saved={saved}#notes",
        customer_path(&customer.external_id)
    )))
}

/// Writes one event through the API's group-commit writer. The form's key (made when the page
/// was drawn) is the event's idempotency key, so a form sent twice stores one event.
pub(super) async fn write_event(
    state: &AppState,
    customer: &CustomerRecord,
    key: &str,
    kind: EventKind,
) -> Result<(), PageError> {
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
    // The stored id passed its checks when it was written: read back, it parses again.
    let external = crate::domain::ExternalId::parse(&customer.external_id).map_err(|e| {
        PageError::internal(format!(
            "the stored id of customer {} no longer parses: {}",
            customer.id, e.0
        ))
    })?;
    let incoming = Incoming {
        customer: external,
        event,
    };
    let outcomes = state.writer.write(vec![incoming]).await.map_err(PageError::internal)?;
    if outcomes.iter().any(|o| o.conflict) {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "This form was sent before with other text. Open the customer's page again to write a new one.".to_owned(),
        ));
    }
    Ok(())
}
