//! The voice page: what customers said, as NPS month by month (chart and table, each month with
//! its interval), CSAT and CES, scores by stage, segment, survey and plan, the last year's themes
//! with a quote each, voice against behaviour, and whether closing the loop works. All of it is
//! computed in the background (`stats::Background`) from every answer, so a view costs nothing
//! however many there are.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::Layout;
use crate::server::AppState;
use crate::server::dashboard::charts;
use crate::server::dashboard::format::url_encode;
use crate::server::dashboard::session::SignedIn;
use crate::store::{BehaviourRow, Store, StoreError};
use crate::voice::analysis::{GroupBy, VoiceRow, summarise, theme_rules, themes};
use crate::voice::recovery::{RecoveryReport, recovery_report};
use crate::voice::report::score_text;
use crate::voice::themes::{ThemeOptions, ThemeReport};

/// Customers on each voice-against-behaviour list.
const LIST: u32 = 10;
/// Themes shown on each side.
const THEMES: usize = 5;
/// The detractor follow-up's SLA and the repeat-purchase window the page reports on.
const SLA: i64 = 2 * 86_400;
const WINDOW: i64 = 90 * 86_400;

/// The voice page's figures at one moment.
pub struct VoiceFigures {
    answers: usize,
    months: Vec<VoiceRow>,
    nps_chart: String,
    groups: Vec<(&'static str, Vec<VoiceRow>)>,
    themes: ThemeReport,
    fading: Vec<BehaviourRow>,
    active: Vec<BehaviourRow>,
    recovery: RecoveryReport,
    taken_at: i64,
}

/// Computes the voice page's figures.
pub async fn compute(
    store: Arc<dyn Store>,
    settings: Arc<crate::config::Settings>,
) -> Result<VoiceFigures, StoreError> {
    let (zone, language) = (settings.business.time_zone, settings.voice.language);
    let at_risk_threshold = settings.scoring.at_risk_threshold;
    let now = chrono::Utc::now().timestamp();
    let responses = store.responses(None).await?;
    let year_ago = now - 365 * 86_400;
    let mut notes = store.interview_notes().await?;
    notes.retain(|n| n.occurred_at >= year_ago);
    let rules = theme_rules(&store).await?;
    let lists = store.voice_behaviour(at_risk_threshold, LIST).await?;
    let recovery = store.recovery(SLA, WINDOW).await?;
    tokio::task::spawn_blocking(move || {
        let months = summarise(&responses, GroupBy::Month, zone);
        let nps: Vec<(String, crate::voice::stats::Interval)> = months
            .iter()
            .filter_map(|row| Some((row.group.clone(), row.nps?.score?)))
            .collect();
        let year: Vec<_> = responses
            .iter()
            .filter(|r| r.answered_at >= year_ago)
            .cloned()
            .collect();
        let options = ThemeOptions {
            language,
            ..ThemeOptions::default()
        };
        let themes = themes(&year, &notes, &rules, &options)
            .map_err(|e| StoreError::Corrupt(format!("the named themes do not read: {e}")))?;
        Ok(VoiceFigures {
            answers: responses.len(),
            nps_chart: charts::nps(&nps),
            groups: vec![
                ("stage", summarise(&responses, GroupBy::Stage, zone)),
                ("segment", summarise(&responses, GroupBy::Segment, zone)),
                ("survey", summarise(&responses, GroupBy::Survey, zone)),
                ("plan", summarise(&responses, GroupBy::Plan, zone)),
            ],
            months,
            themes,
            fading: lists.fading_promoters,
            active: lists.active_detractors,
            recovery: recovery_report(&recovery, SLA, WINDOW, now),
            taken_at: now,
        })
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("computing the voice page failed: {e}")))?
}

/// A row of a scores table.
pub struct ScoreRow {
    group: String,
    kind: String,
    answers: u64,
    score: String,
}

impl From<&VoiceRow> for ScoreRow {
    fn from(row: &VoiceRow) -> Self {
        ScoreRow {
            group: row.group.clone(),
            kind: row.kind.as_str().to_uppercase(),
            answers: row.n(),
            score: score_text(row),
        }
    }
}

/// A theme as the page lists it.
pub struct ThemeRow {
    label: String,
    count: u32,
    nps: String,
    quote: Option<String>,
}

/// A customer on a voice-against-behaviour list.
pub struct PersonRow {
    id: String,
    path: String,
    name: String,
    answered: String,
    p_alive: String,
    orders: i64,
    last_purchase: String,
}

/// `GET /voice`.
#[derive(Template, WebTemplate)]
#[template(path = "voice.html")]
pub struct VoicePage {
    layout: Layout,
    problem: Option<String>,
    taken_at: String,
    answers: usize,
    nps_chart: String,
    months: Vec<ScoreRow>,
    groups: Vec<(&'static str, Vec<ScoreRow>)>,
    detractor_themes: Vec<ThemeRow>,
    promoter_themes: Vec<ThemeRow>,
    lists: Vec<(&'static str, Vec<PersonRow>)>,
    recovery: Vec<(String, String)>,
    computing: bool,
}

/// `GET /voice`: what customers said, from the latest figures.
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn voice(State(state): State<AppState>, signed_in: SignedIn) -> VoicePage {
    let mut page = VoicePage {
        layout: Layout::new(&signed_in, "voice"),
        problem: None,
        taken_at: String::new(),
        answers: 0,
        nps_chart: String::new(),
        months: Vec::new(),
        groups: Vec::new(),
        detractor_themes: Vec::new(),
        promoter_themes: Vec::new(),
        lists: Vec::new(),
        recovery: Vec::new(),
        computing: false,
    };
    let (store, settings) = (state.store.clone(), state.settings.clone());
    let figures = state
        .dashboard
        .voice
        .get("the voice page's figures", move || compute(store, settings))
        .await;
    match figures {
        Ok(Some(figures)) => fill(&mut page, &figures, &state),
        Ok(None) => page.computing = true,
        Err(problem) => page.problem = Some(problem),
    }
    page
}

fn fill(page: &mut VoicePage, f: &VoiceFigures, state: &AppState) {
    let locale = &state.dashboard.locale;
    page.taken_at = locale.minute(f.taken_at);
    page.answers = f.answers;
    page.nps_chart = f.nps_chart.clone();
    page.months = f.months.iter().rev().map(ScoreRow::from).collect();
    page.groups = f
        .groups
        .iter()
        .map(|(by, rows)| (*by, rows.iter().map(ScoreRow::from).collect()))
        .collect();
    let theme = |t: &crate::voice::themes::Theme| ThemeRow {
        label: t.label.clone(),
        count: t.count,
        nps: t.nps.map_or("-".to_owned(), |n| format!("{n:+.0}")),
        quote: t.quotes.first().map(|q| q.text.clone()),
    };
    page.detractor_themes = f.themes.detractor_themes().take(THEMES).map(theme).collect();
    page.promoter_themes = f.themes.promoter_themes().take(THEMES).map(theme).collect();
    let person = |row: &BehaviourRow| PersonRow {
        path: format!("/customers/{}", url_encode(&row.customer_id)),
        id: row.customer_id.clone(),
        name: row.name.clone().unwrap_or_default(),
        answered: locale.day(row.nps_at),
        p_alive: match (row.p_alive, row.previous_p_alive) {
            (Some(now), Some(before)) => format!("{:.0} % (was {:.0} %)", now * 100.0, before * 100.0),
            (Some(now), None) => format!("{:.0} %", now * 100.0),
            _ => "not scored".to_owned(),
        },
        orders: row.purchase_count,
        last_purchase: locale.opt_day(row.last_purchase_at),
    };
    page.lists = vec![
        (
            "Happy but fading: promoters whose P(alive) is falling",
            f.fading.iter().map(person).collect(),
        ),
        (
            "Unhappy but active: detractors who still buy",
            f.active.iter().map(person).collect(),
        ),
    ];
    page.recovery = recovery_lines(&f.recovery);
}

/// The recovery report as label and value lines.
fn recovery_lines(r: &RecoveryReport) -> Vec<(String, String)> {
    let share = |i: Option<crate::voice::stats::Interval>| {
        i.map_or("-".to_owned(), |i| {
            format!("{:.0} % (95 % CI {:.0} to {:.0})", i.value, i.low, i.high)
        })
    };
    let mut lines = vec![
        ("Detractor answers".to_owned(), r.detractors.to_string()),
        (
            format!("Contacted within {} days", r.sla_days),
            format!("{} ({})", r.contacted_within_sla, share(r.within_sla_share)),
        ),
        ("Contacted later".to_owned(), r.contacted_late.to_string()),
        (
            "Asked again after the contact, and moved up".to_owned(),
            format!("{} of {} ({})", r.moved_up, r.resurveyed, share(r.moved_up_share)),
        ),
    ];
    for (label, g) in [
        ("contacted in time", &r.contacted),
        ("not contacted in time", &r.not_contacted),
    ] {
        lines.push((
            format!("Bought again within {} days, {label}", r.window_days),
            format!("{} of {} ({})", g.bought, g.n, share(g.rate)),
        ));
    }
    if let Some(points) = r.difference_points {
        lines.push(("Difference".to_owned(), format!("{points:+.1} points")));
    }
    lines
}
