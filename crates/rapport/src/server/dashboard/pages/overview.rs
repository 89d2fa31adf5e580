//! The overview: figures computed in the background (`stats`), as tiles and charts.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::Layout;
use crate::server::AppState;
use crate::server::dashboard::format::{Locale, grouped, ratio};
use crate::server::dashboard::session::SignedIn;

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
#[tracing::instrument(skip_all, fields(user = signed_in.session.user.id))]
pub async fn overview(State(state): State<AppState>, signed_in: SignedIn) -> OverviewPage {
    let mut page = OverviewPage {
        layout: Layout::new(&signed_in, "overview"),
        tiles: Vec::new(),
        charts: None,
        taken_at: String::new(),
        problem: None,
    };
    let locale = &state.dashboard.locale;
    match state.dashboard.stats.get_figures(&state.store, state.reading()).await {
        Ok(Some(snapshot)) => {
            page.tiles = tiles(
                &snapshot.figures,
                locale,
                snapshot.taken_at,
                state.settings.scoring.at_risk_threshold,
            );
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
            page.taken_at = locale.minute(snapshot.taken_at);
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

/// The tiles, windows ending on `now`'s day.
fn tiles(f: &crate::store::DashboardFigures, locale: &Locale, now: i64, at_risk_threshold: f64) -> Vec<Tile> {
    let as_of = match f.last_purchase_at {
        None => "no purchases yet".to_owned(),
        Some(last) => match crate::domain::state::day_of(now) - crate::domain::state::day_of(last) {
            // Old data say so, rather than look like a shop that stopped selling.
            days @ 2.. => format!(
                "to today, {}; last purchase {}, {} days ago",
                locale.day(now),
                locale.day(last),
                grouped(days)
            ),
            _ => format!("to today, {}", locale.day(now)),
        },
    };
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
            value: locale.money(f.revenue_30d_cents),
            note: as_of.clone(),
            link: None,
        },
        Tile {
            label: "Revenue, last 365 days",
            value: locale.money(f.revenue_365d_cents),
            note: as_of,
            link: None,
        },
        Tile {
            label: "Predicted revenue, next 12 months",
            value: locale.amount(f.predicted_revenue_12m),
            note: "sum of every customer's 12-month lifetime value".to_owned(),
            link: None,
        },
        Tile {
            label: "At-risk clients",
            value: grouped(f.at_risk),
            note: format!("clients and partners with P(alive) below {at_risk_threshold}"),
            link: Some("/at-risk"),
        },
    ]
}
