//! `rapport demo`: a realistic synthetic business written day by day with the built-in care plans
//! running, then fitted and scored, and served.

use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;
use rapport::care::{DueWindow, RunReport};
use rapport::config::Settings;
use rapport::demo::{DemoConfig, Played, play};
use rapport::domain::Role;
use rapport::domain::calendar::Calendar;
use rapport::radar::{FitSettings, fit_store, score_store};
use rapport::server::AppState;
use rapport::server::accounts::{AccountError, create_user};
use rapport::server::auth::random_token;
use rapport::store::{Store, StoreError, TaskQuery, open_with};
use rapport_models::TimeUnit;
use serde::Serialize;

use super::Output;
use super::output::count;

/// `rapport demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many customers.
    #[arg(long, default_value_t = 5_000)]
    customers: u32,
    /// Random seed: the same seed (and end date) gives the same business.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of the two-year history (default: today).
    #[arg(long)]
    end: Option<NaiveDate>,
    /// Print JSON (and do not serve).
    #[arg(long)]
    json: bool,
    /// Write, fit and score the demo, then stop instead of serving the dashboard.
    #[arg(long)]
    no_serve: bool,
    /// Where the dashboard listens [setting server.bind, RAPPORT_BIND; default 127.0.0.1:7878].
    #[arg(long)]
    pub bind: Option<std::net::SocketAddr>,
}

/// Writes the demo business into the database.
pub async fn run(config: &Settings, args: DemoArgs, out: Output) -> anyhow::Result<()> {
    let store = open_with(&config.database).await?;
    let end = args.end.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let demo = DemoConfig {
        customers: args.customers,
        seed: args.seed,
        end,
        days: 730,
    };
    let played = play(&store, &demo).await?;
    let report = &played.ingest;
    let settings = FitSettings {
        calibration_end: None,
        unit: TimeUnit::Week,
        model: rapport::radar::analysis::ModelChoice::Auto,
    };
    // A tiny demo is scored by the gaps rule; a failure here leaves the business without scores.
    let scored = match fit_store(&store, settings).await {
        Ok((_, version)) => score_store(
            &store,
            rapport::radar::ScoreSettings {
                at_risk_threshold: config.scoring.at_risk_threshold,
                ..Default::default()
            },
        )
        .await
        .map(|scores| (version, scores)),
        Err(e) => Err(e),
    };
    let care = CareSummary::of(&store, config, &played).await?;
    if args.json {
        let (version, scores) = scored.as_ref().map_or((None, None), |(v, s)| (Some(*v), Some(s)));
        return out.json(&serde_json::json!({
            "ingest": report, "care": care, "model_version": version, "scores": scores
        }));
    }
    out.line(&format!(
        "demo business written to {}: {}, {} ({} already there), {}",
        rapport::config::redact_url(&config.database.url),
        count(args.customers, "customer"),
        count(report.stored, "event"),
        report.duplicates,
        count(report.stage_changes, "stage change")
    ))?;
    out.line(&care.text())?;
    match scored {
        Ok((version, scores)) => out.line(&format!(
            "fitted model version {version} and scored {}: {} likely still active",
            count(scores.customers as u64, "customer"),
            scores.likely_active
        ))?,
        Err(e) => out.line(&format!(
            "the models could not be fitted ({e}): the pages show no scores"
        ))?,
    }
    if args.no_serve {
        return out.line(
            "next: `rapport agenda`, `rapport plans report thank-you`, `rapport funnel`, \
             `rapport customers list --stage client`, `rapport customers show D00001`, `rapport serve`",
        );
    }
    let (email, password) = demo_login(&store).await?;
    let state = AppState::with_settings(store, config);
    rapport::server::serve(state, config.server.bind, |address| {
        let _ = out.line(&format!(
            "dashboard: http://{address}/ (the agenda at /agenda, the plans at /plans)\n\
             log in as {email} with the password {password}\n\
             (shown once: only its hash is stored; `rapport users create` makes more users). Ctrl-C stops."
        ));
    })
    .await
}

/// What the care plans did over the demo's history, and what they left on the agenda.
#[derive(Debug, Serialize)]
struct CareSummary {
    /// The plans' runs, summed.
    plans: RunReport,
    /// Tasks the demo's staff completed.
    tasks_completed: u64,
    /// Extra purchases of customers who responded to care.
    care_purchases: u64,
    /// Survey links the plans e-mailed.
    surveys_sent: u64,
    /// Surveys the customers answered.
    surveys_answered: u64,
    /// "You said, we did" actions the staff recorded.
    actions_recorded: u64,
    /// Open tasks overdue, due today, and due from today to six days ahead.
    open: OpenTasks,
}

/// Open tasks by when they are due.
#[derive(Debug, Serialize)]
struct OpenTasks {
    overdue: usize,
    today: usize,
    week: usize,
}

impl CareSummary {
    /// The summary of `played`, its agenda as of now (or the history's end, when that is earlier:
    /// a demo ending in the past shows its agenda as it was then).
    async fn of(store: &Arc<dyn Store>, config: &Settings, played: &Played) -> anyhow::Result<Self> {
        let calendar = Calendar {
            time_zone: config.business.time_zone,
            now: chrono::Utc::now().timestamp().min(played.end),
        };
        let mut open = [0; 3];
        for (n, window) in [DueWindow::Overdue, DueWindow::Today, DueWindow::Week]
            .into_iter()
            .enumerate()
        {
            let (due_from, due_before) = window.range(&calendar);
            let query = TaskQuery {
                due_from,
                due_before,
                assignee: None,
                limit: u32::MAX,
            };
            open[n] = store.agenda(&query).await?.len();
        }
        let [overdue, today, week] = open;
        Ok(Self {
            plans: played.care.clone(),
            tasks_completed: played.tasks_completed,
            care_purchases: played.care_purchases,
            surveys_sent: played.surveys_sent,
            surveys_answered: played.surveys_answered,
            actions_recorded: played.actions_recorded,
            open: OpenTasks { overdue, today, week },
        })
    }

    fn text(&self) -> String {
        format!(
            "the built-in care plans and the demo's survey plans ran day by day over the two years: {} \
             created ({} done by the staff), {} held out to measure the care, {} after care; on the agenda \
             now: {} overdue, {} due today, {} due this week\nsurveys: {} sent, {} answered (`rapport voice`, \
             `rapport voice themes`); {} reported back (`rapport voice report`, /you-said)",
            count(self.plans.tasks_created, "task"),
            self.tasks_completed,
            count(self.plans.held_out, "occurrence"),
            count(self.care_purchases, "extra purchase"),
            self.open.overdue,
            self.open.today,
            self.open.week,
            self.surveys_sent,
            self.surveys_answered,
            count(self.actions_recorded, "action")
        )
    }
}

/// Creates an admin for the demo (`demo@example.com`, or `demo2@...` when taken) with a random
/// password, and returns both.
async fn demo_login(store: &Arc<dyn Store>) -> anyhow::Result<(String, String)> {
    let password = random_token(12);
    for n in 1..100 {
        let email = if n == 1 {
            "demo@example.com".to_owned()
        } else {
            format!("demo{n}@example.com")
        };
        match create_user(store, &email, Role::Admin, &password).await {
            Ok(_) => return Ok((email, password)),
            Err(AccountError::Store(StoreError::Conflict(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("this database has 99 demo users already; create one with `rapport users create`")
}
