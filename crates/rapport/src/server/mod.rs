//! `rapport serve`: the JSON API under `/api/v1` with its OpenAPI document, health and metrics
//! endpoints, one process that many replicas can run against one database.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod headers;
pub mod idempotency;
pub mod lists;
pub mod metrics;
pub mod openapi;
pub mod public;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use self::auth::KeyCache;
use self::metrics::Metrics;
use self::writer::EventWriter;
use crate::config::Settings;
use crate::domain::webhook::target::Targets;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Recent API key lookups.
    pub keys: Arc<KeyCache>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The group-commit event writer.
    pub writer: EventWriter,
    /// The web dashboard's settings, login limits and cached figures.
    pub dashboard: Arc<dashboard::Dashboard>,
    /// Where webhooks may be delivered: public addresses only unless an administrator allows
    /// private ones (subscriptions are checked against it, and the delivery worker follows it).
    pub webhook_targets: Targets,
    /// The settings the server runs with (limits, session length, webhook deliveries).
    pub settings: Arc<Settings>,
    /// The public pages' limits per client address.
    pub public: Arc<public::PublicLimits>,
}

/// Installs `ring` as the process's TLS crypto provider (HTTP clients need one; the build leaves
/// out the default, which compiles a large C library). Safe to call any number of times.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl AppState {
    /// How the overview reads its figures: in the dashboard's time zone, at the configured
    /// at-risk threshold.
    pub(crate) fn reading(&self) -> dashboard::stats::Reading {
        dashboard::stats::Reading {
            time_zone: self.dashboard.locale.time_zone,
            at_risk_threshold: self.settings.scoring.at_risk_threshold,
        }
    }

    /// State over a store with the default settings; starts the event writer, so it must run
    /// inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_settings(store, &Settings::default())
    }

    /// State over a store with these settings (the business's zone and currency, cookies, login
    /// limits, where webhooks may go).
    pub fn with_settings(store: Arc<dyn Store>, settings: &Settings) -> Self {
        install_tls_provider();
        let metrics = Arc::new(Metrics::default());
        Self {
            writer: EventWriter::start(store.clone(), metrics.clone()),
            store,
            keys: Arc::new(KeyCache::default()),
            metrics,
            dashboard: Arc::new(dashboard::Dashboard::from_settings(settings)),
            webhook_targets: Targets::allowing_private(settings.webhooks.allow_private),
            settings: Arc::new(settings.clone()),
            public: Arc::new(public::PublicLimits::from_settings(&settings.server)),
        }
    }
}

/// The whole application: API, OpenAPI document and reference page, health and metrics.
pub fn app(state: AppState) -> Router {
    let (api, document) = openapi::api_router(state.clone());
    let document = Arc::new(document);
    Router::new()
        .merge(api)
        .merge(openapi::reference(document))
        .merge(dashboard::router())
        .merge(public::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(
            // Prometheus scrapes with a key like any client (`authorization` in its scrape config).
            Router::new()
                .route("/metrics", get(metrics::metrics))
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_key)),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.server.body_limit_bytes,
        ))
        .layer(axum::middleware::from_fn(error::api_fallbacks))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            error::ApiError::internal("a handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .with_state(state)
}

/// `GET /healthz`: the process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the database answers.
#[tracing::instrument(skip_all)]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n".to_owned())
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database did not answer within 2 s\n".to_owned(),
        ),
    }
}

/// Serves until SIGTERM or Ctrl-C, then stops taking connections and lets requests in flight finish.
pub async fn serve(state: AppState, bind: SocketAddr, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let address = listener.local_addr()?;
    let webhooks = &state.settings.webhooks;
    let settings = crate::webhooks::WorkerSettings {
        targets: state.webhook_targets,
        poll: webhooks.poll(),
        timeout: webhooks.timeout(),
        batch: webhooks.batch,
        ..Default::default()
    };
    let webhooks = crate::webhooks::Worker::start(state.store.clone(), settings)?;
    let every = std::time::Duration::from_secs(state.settings.care.run_every_seconds);
    let mut run = crate::care::email::RunSettings::from_settings(&state.settings);
    // Links in messages lead to where this server really listens when no public URL is set.
    run.mail.public_url = state.settings.mail.public_url_or(address);
    let care = crate::care::Scheduler::start(state.store.clone(), run, every);
    let mail = crate::mail::DeliverySettings::from_config(&state.settings.mail);
    let mail = crate::mail::MailWorker::start(state.store.clone(), mail)?;
    let app = app(state);
    ready(address);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    webhooks.stop().await;
    care.stop().await;
    mail.stop().await;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
