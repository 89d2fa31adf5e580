//! `Idempotency-Key` on API writes: the first answer to a key is stored, and a repeat of the same
//! request gets that answer back without being run again.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{Principal, sha256_hex};
use super::error::ApiError;
use crate::store::StoredResponse;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header a replayed answer carries.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest key accepted.
const MAX_KEY: usize = 255;

/// Middleware (inside `require_key`): replays or records answers to writes with an idempotency key.
pub async fn replay(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return Ok(next.run(request).await);
    }
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY)
        .ok_or_else(|| {
            ApiError::invalid(
                HEADER,
                format!("the Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"),
            )
        })?
        .to_owned();
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::internal("idempotency middleware ran before authentication"))?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, state.settings.server.body_limit_bytes)
        .await
        .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.to_string()))?;
    let mut fingerprint = format!("{} {}\n", parts.method, parts.uri.path()).into_bytes();
    fingerprint.extend_from_slice(&bytes);
    let request_hash = sha256_hex(&fingerprint);
    if let Some(stored) = state.store.stored_response(principal.key_id, &key).await? {
        if stored.request_hash != request_hash {
            return Err(ApiError::invalid(
                HEADER,
                format!("the Idempotency-Key '{key}' was already used with a different request"),
            ));
        }
        let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
        let mut response = (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            stored.body,
        )
            .into_response();
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
        return Ok(response);
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(IdempotencyKey(key.clone()));
    let response = next.run(request).await;
    // Server faults are not remembered: the client should be able to retry them.
    if response.status().is_server_error() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::internal(format!("reading a response body: {e}")))?;
    let stored = StoredResponse {
        request_hash,
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    state
        .store
        .save_response(principal.key_id, &key, &stored, chrono::Utc::now().timestamp())
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// The idempotency key of the request being handled, for handlers that derive event keys from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);
