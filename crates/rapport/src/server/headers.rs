//! Security headers on every answer, set in one layer so no route can forget them: a strict
//! content security policy, no MIME sniffing, no referrer beyond this site, and no caching of
//! anything that did not ask to be cached (pages and API answers hold personal data).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::middleware::Next;
use axum::response::Response;

use super::openapi::REFERENCE_PATH;

/// The dashboard's policy: its pages load one stylesheet from this site and nothing else (charts
/// are inline SVG, there is no script), post forms only here, and may not be framed.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                               form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The API reference's policy: Swagger UI runs its vendored scripts from this site (no inline
/// script) and fetches the document and "try it out" calls from here. Its components set inline
/// styles, which is why this page alone allows them.
pub const REFERENCE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                                    img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                                    frame-ancestors 'none'; base-uri 'none'";

/// Middleware around the whole application: adds the security headers to every answer; a
/// `Cache-Control` the handler chose (the stylesheet's) stands, anything else is `no-store`.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let reference = path == REFERENCE_PATH || path.starts_with(&format!("{REFERENCE_PATH}/"));
    let policy = if reference { REFERENCE_POLICY } else { PAGE_POLICY };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
