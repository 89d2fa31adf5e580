//! `/api/v1/keys` (admin): create, list and revoke API keys.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Role;
use crate::server::AppState;
use crate::server::auth::{CreatedKey, create_key};
use crate::server::error::{ApiError, ApiJson, ApiPath, ErrorBody};

/// A key as lists show it: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// The key's number.
    pub id: i64,
    /// What the key is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The key's first characters.
    pub prefix: String,
    /// When it was created.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for ("shop", "analytics").
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// Every API key, revoked ones included.
#[utoipa::path(get, path = "/keys", tag = "keys", responses((status = 200, body = Vec<KeyView>)))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<ApiJson<Vec<KeyView>>, ApiError> {
    let keys = state.store.api_keys().await?;
    Ok(ApiJson(
        keys.into_iter()
            .map(|k| KeyView {
                id: k.id,
                name: k.name,
                role: k.role,
                prefix: k.prefix,
                created_at: super::timestamp(k.created_at),
                revoked_at: k.revoked_at.map(super::timestamp),
            })
            .collect(),
    ))
}

/// Create an API key; the answer holds the key, which cannot be shown again.
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = NewKey,
    responses((status = 201, body = CreatedKey), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, ApiJson<CreatedKey>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "name must be 1 to 100 characters"));
    }
    let created = create_key(&state.store, name, body.role).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Revoke an API key: it stops working at once on this server, within a second on others.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "The key's number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key = id))]
pub async fn revoke(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    if !state.store.revoke_api_key(id, chrono::Utc::now().timestamp()).await? {
        return Err(ApiError::not_found(format!("no active API key number {id}")));
    }
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}
