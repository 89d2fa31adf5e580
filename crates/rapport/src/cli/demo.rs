//! `rapport demo`: a realistic synthetic business written, fitted and scored, then served.

use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;
use rapport::config::Settings;
use rapport::demo::{DemoConfig, generate};
use rapport::domain::Role;
use rapport::ingest::Ingest;
use rapport::radar::{FitSettings, fit_store, score_store};
use rapport::server::AppState;
use rapport::server::accounts::{AccountError, create_user};
use rapport::server::auth::random_token;
use rapport::store::{Store, StoreError, open_with};
use rapport_models::TimeUnit;

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
    let data = generate(&DemoConfig {
        customers: args.customers,
        seed: args.seed,
        end,
        days: 730,
    });
    let mut ingest = Ingest::begin(&store, "the demo").await?;
    ingest.upsert_profiles(data.profiles).await?;
    for (customer, event) in data.events {
        ingest.push(&customer, event).await?;
    }
    let report = ingest.finish().await?;
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
    if args.json {
        let (version, scores) = scored.as_ref().map_or((None, None), |(v, s)| (Some(*v), Some(s)));
        return out.json(&serde_json::json!({"ingest": report, "model_version": version, "scores": scores}));
    }
    out.line(&format!(
        "demo business written to {}: {}, {} ({} already there), {}",
        rapport::config::redact_url(&config.database.url),
        count(args.customers, "customer"),
        count(report.stored, "event"),
        report.duplicates,
        count(report.stage_changes, "stage change")
    ))?;
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
        return out.line("next: `rapport funnel`, `rapport customers list --stage client`, `rapport customers show D00001`, `rapport serve`");
    }
    let (email, password) = demo_login(&store).await?;
    let state = AppState::with_settings(store, config);
    rapport::server::serve(state, config.server.bind, |address| {
        let _ = out.line(&format!(
            "dashboard: http://{address}/\nlog in as {email} with the password {password}\n\
             (shown once: only its hash is stored; `rapport users create` makes more users). Ctrl-C stops."
        ));
    })
    .await
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
