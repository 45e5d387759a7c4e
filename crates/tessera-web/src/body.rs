//! Bounded reading of request bodies: an oversized body is refused with a JSON 413 before it is
//! buffered, never a 500.

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, BytesMut, Payload};
use futures_util::StreamExt;
use tessera_core::OAuthErrorCode;

use crate::OAuthError;

/// Reads at most `limit` bytes of `payload`.
pub async fn read_limited(mut payload: Payload, limit: usize) -> Result<Bytes, OAuthError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        if buf.len() + chunk.len() > limit {
            return Err(OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                OAuthErrorCode::InvalidRequest,
                format!("the request body exceeds {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Whether the request declares `application/x-www-form-urlencoded` (RFC 6749 §3.2).
pub fn is_form(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
