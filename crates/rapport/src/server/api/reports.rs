//! Reports and the defection radar over the API: the funnel, the current model, fitting and scoring.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::funnel::{Funnel, funnel};
use crate::radar::analysis::ModelChoice;
use crate::radar::{FitSettings, ScoreReport, ScoreSettings, fit_store, score_store};
use crate::server::AppState;
use crate::server::error::{ApiError, ApiJson, ErrorBody};

/// The lifecycle funnel: customers per stage, conversion, and when the second sale comes.
#[utoipa::path(get, path = "/funnel", tag = "reports", responses((status = 200, body = Funnel)))]
#[tracing::instrument(skip_all)]
pub async fn get_funnel(State(state): State<AppState>) -> Result<ApiJson<Funnel>, ApiError> {
    let rows = state.store.funnel_rows().await?;
    Ok(ApiJson(funnel(&rows)))
}

/// A stored model version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    /// Version number.
    pub version: i64,
    /// When it was fitted (RFC 3339).
    pub created_at: String,
    /// `bgnbd`, `mbgnbd`, `pareto-nbd`, or `gaps` when the data support no model.
    pub model: String,
    /// Why this way of scoring, in one sentence.
    pub reason: String,
    /// Why each refused model was refused, one sentence each.
    pub refused: Vec<String>,
    /// `week` or `day`.
    pub time_unit: String,
    /// Last day of the calibration period.
    pub calibration_end: String,
    /// Parameters by the papers' names (r, alpha, a, b; s, beta).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Standard errors of the parameters.
    #[schema(value_type = Object)]
    pub std_errors: serde_json::Value,
    /// Maximised log-likelihood (none for the gaps rule).
    pub log_likelihood: Option<f64>,
    /// Customers in the fit.
    pub customers: i64,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// The spend model (Gamma-Gamma p, q, gamma), when there were enough repeat buyers.
    #[schema(value_type = Option<Object>)]
    pub gamma_gamma: Option<serde_json::Value>,
}

impl From<crate::store::FitRecord> for ModelView {
    fn from(fit: crate::store::FitRecord) -> Self {
        let summary = &fit.summary;
        Self {
            version: fit.id,
            created_at: super::timestamp(fit.created_at),
            model: fit.model,
            reason: summary["choice"]["reason"].as_str().unwrap_or_default().to_owned(),
            refused: serde_json::from_value(summary["choice"]["refused"].clone()).unwrap_or_default(),
            time_unit: fit.time_unit,
            calibration_end: fit.calibration_end,
            params: summary["params"].clone(),
            std_errors: summary["std_errors"].clone(),
            log_likelihood: summary["log_likelihood"].as_f64(),
            customers: fit.customers,
            converged: summary["converged"].as_bool().unwrap_or(false),
            gamma_gamma: summary.get("gamma_gamma").filter(|v| !v.is_null()).cloned(),
        }
    }
}

/// The current (latest) model version.
#[utoipa::path(get, path = "/models/current", tag = "models",
    responses((status = 200, body = ModelView), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn current_model(State(state): State<AppState>) -> Result<ApiJson<ModelView>, ApiError> {
    let fit = state
        .store
        .latest_fit()
        .await?
        .ok_or_else(|| ApiError::not_found("no model fitted yet: POST /api/v1/models/fits fits one"))?;
    Ok(ApiJson(fit.into()))
}

/// How to fit.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FitRequest {
    /// `bgnbd` (default), `mbgnbd` or `pareto-nbd`.
    pub model: Option<String>,
    /// `week` (default) or `day`.
    pub time_unit: Option<String>,
    /// Last day of calibration (YYYY-MM-DD); the last purchase day when left out.
    pub calibration_end: Option<String>,
    /// The at-risk threshold is one server setting (`scoring.at_risk_threshold`), shared by the
    /// scores, the dashboard and the `customer.at_risk` webhook: a request may repeat it but not
    /// change it (422).
    pub at_risk_threshold: Option<f64>,
}

/// A new model version and the scores it gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct FitResult {
    /// The model version.
    pub model: ModelView,
    /// The scoring that followed.
    pub scoring: ScoreReport,
    /// Seconds the fit and scoring took.
    pub seconds: f64,
}

/// Fit a new model version to every stored purchase, then score every customer with it.
#[utoipa::path(post, path = "/models/fits", tag = "models", request_body = FitRequest,
    responses((status = 201, body = FitResult), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn fit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<FitRequest>,
) -> Result<(StatusCode, ApiJson<FitResult>), ApiError> {
    let model = match request.model.as_deref() {
        None => ModelChoice::Auto,
        Some(name) => name.parse().map_err(|e: String| ApiError::invalid("model", e))?,
    };
    let unit = match request.time_unit.as_deref() {
        None | Some("week") => rapport_models::TimeUnit::Week,
        Some("day") => rapport_models::TimeUnit::Day,
        Some(other) => {
            return Err(ApiError::invalid(
                "time_unit",
                format!("'{other}' is not a time unit: use week or day"),
            ));
        }
    };
    let calibration_end = request
        .calibration_end
        .as_deref()
        .map(|raw| {
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map_err(|_| ApiError::invalid("calibration_end", format!("'{raw}' is not a date (YYYY-MM-DD)")))
        })
        .transpose()?;
    let at_risk_threshold = state.settings.scoring.at_risk_threshold;
    if let Some(asked) = request.at_risk_threshold.filter(|t| *t != at_risk_threshold) {
        return Err(ApiError::invalid(
            "at_risk_threshold",
            format!(
                "at_risk_threshold {asked} differs from the server's setting scoring.at_risk_threshold = \
                 {at_risk_threshold}: one threshold serves the scores, the dashboard and the webhooks, so \
                 change the setting instead"
            ),
        ));
    }
    let started = Instant::now();
    let settings = FitSettings {
        calibration_end,
        unit,
        model,
    };
    // Too little data is the caller's to fix (422); a store fault is the server's (500).
    let (_, version) = fit_store(&state.store, settings).await?;
    let scoring = score_store(
        &state.store,
        ScoreSettings {
            at_risk_threshold,
            ..ScoreSettings::default()
        },
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.fit_seconds.observe(seconds);
    let record = state
        .store
        .latest_fit()
        .await?
        .filter(|f| f.id == version)
        .ok_or_else(|| ApiError::internal(format!("model version {version} vanished after it was stored")))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(FitResult {
            model: record.into(),
            scoring,
            seconds,
        }),
    ))
}

/// Score every customer again with the current model version, as of today (after new purchases
/// arrived; no refit).
#[utoipa::path(post, path = "/models/scores", tag = "models",
    responses((status = 200, body = ScoreReport), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn score(State(state): State<AppState>) -> Result<ApiJson<ScoreReport>, ApiError> {
    let started = Instant::now();
    let settings = ScoreSettings {
        at_risk_threshold: state.settings.scoring.at_risk_threshold,
        ..ScoreSettings::default()
    };
    let report = score_store(&state.store, settings).await?;
    state.metrics.fit_seconds.observe(started.elapsed().as_secs_f64());
    Ok(ApiJson(report))
}
