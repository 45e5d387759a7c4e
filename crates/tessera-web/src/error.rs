//! OAuth error responses: `{error, error_description?}` JSON with `Cache-Control: no-store`
//! (RFC 6749 §5.2). Converting an error never logs; the request span records it once.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_core::OAuthErrorCode;
use tessera_tokens::TokenError;

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// A JSON error response with the given status.
pub fn json_error(
    status: StatusCode,
    code: OAuthErrorCode,
    description: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(Body {
            error: code.as_str(),
            error_description: description,
        })
}

/// An error of a protocol endpoint, rendered as RFC 6749 §5.2 JSON.
#[derive(Debug)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code.
    pub code: OAuthErrorCode,
    /// Human-readable description, safe to show.
    pub description: Option<String>,
    /// `WWW-Authenticate` challenge, for 401s.
    pub challenge: Option<String>,
}

impl OAuthError {
    /// An error with status and description.
    pub fn new(status: StatusCode, code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: Some(description.into()),
            challenge: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            description,
        )
    }

    /// 500 `server_error`, with no description.
    pub fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: OAuthErrorCode::ServerError,
            description: None,
            challenge: None,
        }
    }

    /// 503 `temporarily_unavailable`.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            OAuthErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable",
        )
    }

    /// Maps a token-endpoint failure; `issuer` names the realm of a 401 challenge.
    pub fn from_token_error(err: TokenError, issuer: &str) -> Self {
        let code = err.code();
        match err {
            TokenError::InvalidClient => Self {
                status: StatusCode::UNAUTHORIZED,
                code,
                description: Some("client authentication failed".into()),
                // RFC 6749 §5.2: a 401 carries the scheme the client used (or should use).
                challenge: Some(format!("Basic realm=\"{issuer}\"")),
            },
            // RFC 7521 §4.2.1: a refused client assertion is `invalid_client`, 401 as any
            // failed client authentication.
            TokenError::InvalidClientAssertion(why) => Self {
                status: StatusCode::UNAUTHORIZED,
                code,
                description: Some(why),
                challenge: Some(format!("Basic realm=\"{issuer}\"")),
            },
            TokenError::Unexpected(e) => {
                tracing::error!(error = ?e, "token endpoint failed");
                Self::server_error()
            }
            TokenError::Unavailable => Self::unavailable(),
            TokenError::NoSigningKey => {
                tracing::error!("tenant has no active signing key");
                Self::server_error()
            }
            other => Self::new(StatusCode::BAD_REQUEST, code, other.to_string()),
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = json_error(self.status, self.code, self.description.as_deref());
        if let Some(challenge) = &self.challenge
            && let Ok(value) = challenge.parse()
        {
            resp.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        resp
    }
}
