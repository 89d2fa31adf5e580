//! The ceiling for the API benchmark: a minimal axum server that answers a constant, so the API's
//! figures can be given as a share of what this machine's HTTP stack reaches at all.
//! Usage: ceiling_server ADDRESS (e.g. 127.0.0.1:7900)

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7900".to_owned());
    let app = Router::new().route(
        "/",
        get(|| async { "{\"ok\":true}" }).post(|body: axum::body::Bytes| async move {
            // Reading the body is part of any real handler's cost.
            format!("{{\"received\":{}}}", body.len())
        }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
