//! The API's error answer: `{"error": {"code", "message", "field"}}` with the right status; a
//! server fault is logged in full and answered without its internals.

use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// An error as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What an error body says.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `invalid_json`, `invalid_field`, `conflict`, `payload_too_large`,
    /// `internal`, ...
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 422: a field's value is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        }
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: valid credentials without the right.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 409: conflicts with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 500 for an unexpected fault: the cause goes to the log under a reference the client sees.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let reference = format!("{:016x}", rand::random::<u64>());
        tracing::error!(%reference, error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the server failed to handle the request (reference {reference}); the details are in its log"),
        )
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Where the JSON API lives: the router's own answers there get the API's error body.
const API_PREFIX: &str = "/api/v1";

/// Middleware: under `/api/v1`, the router's own bodiless answers (no such route, a method the
/// route does not take) become API errors like any other, so clients parse one error shape.
pub async fn api_fallbacks(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path == API_PREFIX || path.starts_with(&format!("{API_PREFIX}/"));
    let method = request.method().clone();
    let response = next.run(request).await;
    if !api || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    match response.status() {
        StatusCode::NOT_FOUND => {
            ApiError::not_found("there is no such API route: the routes are listed at /api/docs").into_response()
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let message = format!("this route does not take {method}: the Allow header lists the methods it takes");
            let mut answer =
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message).into_response();
            if let Some(allow) = response.headers().get(header::ALLOW) {
                answer.headers_mut().insert(header::ALLOW, allow.clone());
            }
            answer
        }
        _ => response,
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ApiError::not_found(message),
            StoreError::Conflict(message) => ApiError::conflict(message),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::server::writer::WriteError> for ApiError {
    fn from(error: crate::server::writer::WriteError) -> Self {
        ApiError::internal(error)
    }
}

impl From<crate::radar::RadarError> for ApiError {
    fn from(error: crate::radar::RadarError) -> Self {
        match error {
            crate::radar::RadarError::Store(store) => store.into(),
            problem @ (crate::radar::RadarError::NoModel | crate::radar::RadarError::AsOfBeforeData { .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_score", problem.to_string())
            }
            problem if problem.is_data_problem() => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_fit", problem.to_string())
            }
            fault => ApiError::internal(fault),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                // serde names the path to the bad value first: "field: message at line ..".
                let text = e.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d).to_owned();
                let field = detail
                    .split_once(": ")
                    .map(|(path, _)| path.to_owned())
                    .filter(|path| !path.contains(' '));
                let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail);
                error.field = field;
                error
            }
            JsonRejection::JsonSyntaxError(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with the header 'Content-Type: application/json'",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.body_text())
            }
            other => ApiError::new(other.status(), "bad_request", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("bad query parameter: {detail}"),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text())
    }
}

/// `Json` whose rejections are API errors.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Query` whose rejections are API errors.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections are API errors.
#[derive(Debug, Clone, Copy, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radar::RadarError;

    #[test]
    fn radar_errors_are_the_callers_422_or_the_servers_500() {
        let status = |e: RadarError| ApiError::from(e);
        let no_data = status(RadarError::NoPurchases);
        assert_eq!(
            (no_data.status, no_data.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "cannot_fit")
        );
        assert!(no_data.message.contains("no purchases yet"));
        let no_model = status(RadarError::NoModel);
        assert_eq!(
            (no_model.status, no_model.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "cannot_score")
        );
        let fault = status(RadarError::Store(crate::store::StoreError::Corrupt(
            "event 7: bad currency".into(),
        )));
        assert_eq!(fault.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !fault.message.contains("bad currency"),
            "a 500 never carries its cause: {}",
            fault.message
        );
    }
}
