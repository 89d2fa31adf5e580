//! Prometheus metrics at `/metrics`: requests and latencies by route, events ingested, ingest and
//! fit durations; and the request log line each request leaves.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// The route's pattern (not the raw path, which would make one series per customer).
    pub route: String,
    /// Response status.
    pub status: u16,
}

/// A route's labels for latencies.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// HTTP method.
    pub method: String,
    /// The route's pattern.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

fn duration_histogram() -> Histogram {
    // 1 ms to about 8 minutes.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RouteLabels, Counter>,
    /// Request latencies by route.
    pub latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    /// Events appended to the log through the server.
    pub events_ingested: Counter,
    /// Seconds per write batch (one transaction for many requests' events).
    pub ingest_seconds: Histogram,
    /// Seconds per model fit and scoring.
    pub fit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rapport");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let events_ingested = Counter::default();
        let ingest_seconds = duration_histogram();
        let fit_seconds = duration_histogram();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("events_ingested", "Events appended to the log", events_ingested.clone());
        registry.register(
            "ingest_duration_seconds",
            "Seconds per ingest transaction (API event writes)",
            ingest_seconds.clone(),
        );
        registry.register(
            "fit_duration_seconds",
            "Seconds per model fit and scoring",
            fit_seconds.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            events_ingested,
            ingest_seconds,
            fit_seconds,
        }
    }
}

impl Metrics {
    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// `GET /metrics`.
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Middleware: counts and times every request by route, and logs it.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&LatencyLabels {
            method: method.clone(),
            route,
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "rapport::request",
        %method,
        %path,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}
