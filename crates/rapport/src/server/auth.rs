//! API keys: made once and shown once, stored only as SHA-256 hashes, checked on every API request
//! against the role the route needs. Lookups are cached; a revocation anywhere reaches the cache
//! within a second through the store's revocation generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::domain::Role;
use crate::store::{Store, StoreResult};

/// Every key starts with this, so a leaked one is easy to recognise in logs and scanners.
pub const KEY_PREFIX: &str = "rk_";
/// How long a key lookup is trusted at most before the store is asked again.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// How often the store's revocation generation is read: a key revoked anywhere (the CLI, another
/// replica) stops working here within this time.
const REVOCATION_CHECK: Duration = Duration::from_secs(1);
/// Lookups kept at most; the cache starts afresh beyond this.
const CACHE_ENTRIES: usize = 10_000;

/// Who is calling: the API key behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's number.
    pub key_id: i64,
    /// The key's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// A new key: the secret (shown once) and its number.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key's number.
    pub id: i64,
    /// The key's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The key itself. It is not stored and cannot be shown again.
    pub key: String,
}

/// SHA-256 of a secret, hex: how keys, session tokens and request bodies are compared.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random token of `bytes` bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::fill(&mut buffer[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// Creates a key with this name and role and returns it; only its hash is stored.
pub async fn create_key(store: &Arc<dyn Store>, name: &str, role: Role) -> StoreResult<CreatedKey> {
    let key = format!("{KEY_PREFIX}{}", random_token(32));
    let prefix: String = key.chars().take(KEY_PREFIX.len() + 6).collect();
    let id = store
        .create_api_key(
            name,
            role,
            &prefix,
            &sha256_hex(key.as_bytes()),
            chrono::Utc::now().timestamp(),
        )
        .await?;
    Ok(CreatedKey {
        id,
        name: name.to_owned(),
        role,
        key,
    })
}

/// The role a route needs: admin for keys and webhooks, and to change care plans and surveys;
/// staff to change anything else (a survey's answers among it); viewer to read.
pub fn required_role(method: &Method, path: &str) -> Role {
    const ADMIN: [&str; 3] = ["/api/v1/keys", "/api/v1/webhooks", "/api/v1/users"];
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    let reads = method == Method::GET || method == Method::HEAD;
    let definitions = under("/api/v1/plans") || (under("/api/v1/surveys") && !path.ends_with("/responses"));
    if ADMIN.iter().any(|p| under(p)) || (definitions && !reads) {
        Role::Admin
    } else if reads {
        Role::Viewer
    } else {
        Role::Staff
    }
}

/// Recent key lookups by hash, so a busy client costs one hash and one map read per request.
///
/// Each lookup is tagged with the store's revocation generation it was made under, and is only
/// used while that generation is current. The generation is read at most every
/// `REVOCATION_CHECK`, so the cache costs the store one small query a second, whatever the load.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, Lookup>>,
    generation: Mutex<Option<(i64, Instant)>>,
}

/// A cached lookup: who the key is (none: unknown or revoked), when, under which generation.
struct Lookup {
    principal: Option<Principal>,
    at: Instant,
    generation: i64,
}

impl KeyCache {
    /// The principal behind a presented key, or `None` when the key is unknown or revoked.
    pub async fn lookup(&self, store: &Arc<dyn Store>, key: &str) -> StoreResult<Option<Principal>> {
        let generation = self.generation(store).await?;
        let hash = sha256_hex(key.as_bytes());
        if let Some(lookup) = self.entries.read().expect("not poisoned").get(&hash)
            && lookup.generation == generation
            && lookup.at.elapsed() < CACHE_TTL
        {
            return Ok(lookup.principal.clone());
        }
        let principal = store.api_key(&hash).await?.map(|record| Principal {
            key_id: record.id,
            name: record.name,
            role: record.role,
        });
        let mut entries = self.entries.write().expect("not poisoned");
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        let lookup = Lookup {
            principal: principal.clone(),
            at: Instant::now(),
            generation,
        };
        entries.insert(hash, lookup);
        Ok(principal)
    }

    /// The store's revocation generation, read again when the one known is older than
    /// `REVOCATION_CHECK`; lookups made under an older one are dropped.
    async fn generation(&self, store: &Arc<dyn Store>) -> StoreResult<i64> {
        let known = *self.generation.lock().expect("not poisoned");
        if let Some((generation, read_at)) = known
            && read_at.elapsed() < REVOCATION_CHECK
        {
            return Ok(generation);
        }
        let generation = store.key_revocations().await?;
        if known.is_some_and(|(old, _)| old != generation) {
            self.entries.write().expect("not poisoned").clear();
        }
        *self.generation.lock().expect("not poisoned") = Some((generation, Instant::now()));
        Ok(generation)
    }

    /// Forgets every lookup and the generation (after a key is revoked here).
    pub fn clear(&self) {
        self.entries.write().expect("not poisoned").clear();
        *self.generation.lock().expect("not poisoned") = None;
    }
}

/// The key in an `Authorization` value `Bearer KEY`; the scheme's case does not matter (RFC 9110).
fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once([' ', '\t'])?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// Middleware for `/api/v1`: a valid key (401 otherwise) whose role covers the route (403
/// otherwise); the `Principal` goes into the request's extensions for the handlers.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(axum::http::header::AUTHORIZATION);
    let Some(header) = header else {
        return Err(ApiError::unauthorized(
            "send an API key in the header 'Authorization: Bearer KEY'",
        ));
    };
    let key = header
        .to_str()
        .ok()
        .and_then(bearer_key)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be 'Bearer KEY'"))?;
    let principal = state
        .keys
        .lookup(&state.store, key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the API key is not valid: it is unknown or was revoked"))?;
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
    let needed = required_role(request.method(), &path);
    if principal.role < needed {
        return Err(ApiError::forbidden(format!(
            "the key '{}' has the role {}; {} {} needs {needed}",
            principal.name,
            principal.role,
            request.method(),
            path
        )));
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_roles_they_should() {
        assert_eq!(required_role(&Method::GET, "/api/v1/customers"), Role::Viewer);
        assert_eq!(required_role(&Method::POST, "/api/v1/events"), Role::Staff);
        assert_eq!(required_role(&Method::GET, "/api/v1/keys"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/v1/webhooks/{id}"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/keysmith"), Role::Viewer);
        assert_eq!(required_role(&Method::GET, "/api/v1/plans"), Role::Viewer);
        assert_eq!(required_role(&Method::POST, "/api/v1/plans/{name}/pause"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/v1/tasks/{id}/complete"), Role::Staff);
        assert_eq!(required_role(&Method::POST, "/api/v1/surveys"), Role::Admin);
        assert_eq!(
            required_role(&Method::POST, "/api/v1/surveys/nps/responses"),
            Role::Staff
        );
        assert_eq!(required_role(&Method::GET, "/api/v1/surveys/nps/sends"), Role::Viewer);
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for value in ["Bearer rk_x", "bearer rk_x", "BEARER  rk_x ", "bEaReR\trk_x"] {
            assert_eq!(bearer_key(value), Some("rk_x"), "{value:?}");
        }
        for value in ["Basic rk_x", "Bearer", "Bearer  ", "rk_x", "Bearerrk_x"] {
            assert_eq!(bearer_key(value), None, "{value:?}");
        }
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(32), random_token(32));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(sha256_hex(b"abc").len(), 64);
    }
}
