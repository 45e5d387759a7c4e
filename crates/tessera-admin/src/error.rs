//! The one error type of the admin API and its rendering: `{error, error_description?}` JSON sent
//! with `Cache-Control: no-store`, plus `WWW-Authenticate` on bearer-token failures (RFC 6750 §3).

use actix_web::error::{JsonPayloadError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use tessera_core::OAuthErrorCode;
use tessera_tenants::{ADMIN_SCOPE, TenantError};

use crate::BODY_LIMIT;
use crate::auth::REALM;

/// Failures of admin API requests.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request carries no credentials at all: 401 with a bare challenge, which RFC 6750
    /// §3.1 asks for when no authentication was attempted.
    #[error("this endpoint needs a bearer token from the system tenant")]
    MissingToken,
    /// The bearer token is malformed, expired or not ours (RFC 6750 §3.1): 401.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The token lacks the `admin` scope (RFC 6750 §3.1): 403.
    #[error("the token lacks the `admin` scope")]
    InsufficientScope,
    /// The caller's role does not cover this operation or tenant: 403.
    #[error("{0}")]
    AccessDenied(&'static str),
    /// The request is malformed; the message says why and is safe to show: 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// The named resource does not exist: 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The resource already exists or changed concurrently: 409.
    #[error("{0}")]
    Conflict(String),
    /// The request body exceeds the limit, in bytes: 413.
    #[error("the request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// The route exists but not with this method; holds the allowed methods: 405.
    #[error("method not allowed; this route accepts {0}")]
    MethodNotAllowed(String),
    /// The database is unreachable: 503.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// An extractor refused the request; its response was rendered by the handlers this crate
    /// configures (malformed JSON or query string).
    #[error(transparent)]
    Rejected(#[from] actix_web::Error),
    /// Anything else: 500 with no description.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AdminError {
    /// The wire error code.
    pub fn code(&self) -> OAuthErrorCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => OAuthErrorCode::InvalidToken,
            Self::InsufficientScope => OAuthErrorCode::InsufficientScope,
            Self::AccessDenied(_) => OAuthErrorCode::AccessDenied,
            Self::InvalidRequest(_)
            | Self::PayloadTooLarge(_)
            | Self::MethodNotAllowed(_)
            | Self::Rejected(_) => OAuthErrorCode::InvalidRequest,
            Self::NotFound(_) => OAuthErrorCode::NotFound,
            Self::Conflict(_) => OAuthErrorCode::Conflict,
            Self::Unavailable => OAuthErrorCode::TemporarilyUnavailable,
            Self::Unexpected(_) => OAuthErrorCode::ServerError,
        }
    }

    /// The `WWW-Authenticate` challenge of a bearer-token failure (RFC 6750 §3). Descriptions
    /// are static texts without quotes or backslashes, so they are valid quoted-strings.
    fn challenge(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some(format!("Bearer realm=\"{REALM}\"")),
            Self::InvalidToken(description) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
            )),
            Self::InsufficientScope => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\""
            )),
            _ => None,
        }
    }
}

impl From<TenantError> for AdminError {
    fn from(err: TenantError) -> Self {
        match err {
            TenantError::NotFound(what) => Self::NotFound(what),
            TenantError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            TenantError::Concurrent(why) => Self::Conflict(why.to_owned()),
            TenantError::InUse(why) => Self::Conflict(why),
            TenantError::Invalid(why) => Self::InvalidRequest(why),
            TenantError::Unavailable => Self::Unavailable,
            TenantError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// The JSON error body (RFC 6749 §5.2 shape).
#[derive(Serialize)]
struct ErrorBody {
    error: OAuthErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope | Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Rejected(inner) => inner.as_response_error().status_code(),
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Rejected(inner) = self {
            return inner.error_response();
        }
        let error_description = match self {
            Self::Unexpected(e) => {
                // The one place an unexpected failure is logged; the client learns nothing of it.
                tracing::error!(error = %format!("{e:#}"), "admin API request failed");
                None
            }
            other => Some(other.to_string()),
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
        if let Some(challenge) = self.challenge() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Self::MethodNotAllowed(allow) = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description,
        })
    }
}

/// Renders refused JSON bodies: 413 when too large, otherwise 400 `invalid_request` saying why
/// (unknown field, bad slug, unknown `alg`, wrong content type…).
pub(crate) fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let err = match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => AdminError::PayloadTooLarge(limit),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            AdminError::PayloadTooLarge(BODY_LIMIT)
        }
        JsonPayloadError::ContentType => AdminError::InvalidRequest(
            "the request body must be JSON sent as Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) => {
            AdminError::InvalidRequest(format!("invalid request body: {e}"))
        }
        _ => AdminError::InvalidRequest("the request body could not be read".into()),
    };
    err.into()
}

/// Renders refused query strings as 400 `invalid_request`.
pub(crate) fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let err = match err {
        QueryPayloadError::Deserialize(e) => {
            AdminError::InvalidRequest(format!("invalid query string: {e}"))
        }
        _ => AdminError::InvalidRequest("invalid query string".into()),
    };
    err.into()
}

/// Answers paths under `/admin/v1` that name no route.
pub(crate) async fn no_such_route() -> HttpResponse {
    AdminError::NotFound("route").error_response()
}

/// Answers a known path requested with a method it does not accept.
pub(crate) fn method_not_allowed(methods: &[&str]) -> HttpResponse {
    let allow = methods
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    AdminError::MethodNotAllowed(allow).error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(response: &HttpResponse, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn invalid_token_is_401_with_a_bearer_challenge() {
        let response = AdminError::InvalidToken("the token has expired").error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = header(&response, header::WWW_AUTHENTICATE).expect("a challenge");
        assert!(challenge.starts_with("Bearer realm=\"tessera-admin\", error=\"invalid_token\""));
        assert_eq!(header(&response, header::CACHE_CONTROL), Some("no-store"));
    }

    #[test]
    fn insufficient_scope_is_403_naming_the_scope() {
        let response = AdminError::InsufficientScope.error_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let challenge = header(&response, header::WWW_AUTHENTICATE).expect("a challenge");
        assert!(challenge.contains("error=\"insufficient_scope\""));
        assert!(challenge.contains("scope=\"admin\""));
    }

    #[test]
    fn tenant_errors_map_to_their_status_codes() {
        let cases = [
            (
                TenantError::NotFound("tenant"),
                StatusCode::NOT_FOUND,
                OAuthErrorCode::NotFound,
            ),
            (
                TenantError::Conflict("tenant"),
                StatusCode::CONFLICT,
                OAuthErrorCode::Conflict,
            ),
            (
                TenantError::Invalid("bad".into()),
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
            ),
            (
                TenantError::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                OAuthErrorCode::TemporarilyUnavailable,
            ),
            (
                TenantError::Unexpected(anyhow::anyhow!("boom")),
                StatusCode::INTERNAL_SERVER_ERROR,
                OAuthErrorCode::ServerError,
            ),
        ];
        for (err, status, code) in cases {
            let err = AdminError::from(err);
            assert_eq!(err.status_code(), status);
            assert_eq!(err.code(), code);
            assert!(err.challenge().is_none());
        }
    }

    #[actix_web::test]
    async fn unexpected_errors_carry_no_description() {
        let response = AdminError::Unexpected(anyhow::anyhow!("database password is hunter2"))
            .error_response();
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("a body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(json, serde_json::json!({ "error": "server_error" }));
    }

    #[actix_web::test]
    async fn oversized_bodies_are_413_json() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let err = AdminError::from(json_error(
            JsonPayloadError::Overflow { limit: BODY_LIMIT },
            &req,
        ));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("a body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(json["error"], "invalid_request");
    }
}
