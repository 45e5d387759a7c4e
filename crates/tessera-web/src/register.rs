//! `POST /t/{tenant}/register` (dynamic client registration, RFC 7591 §3) and
//! `GET`/`PUT`/`DELETE /t/{tenant}/register/{client_id}` (client configuration endpoint,
//! RFC 7592 §2). The rules (tenant policy, metadata mapping, token checks) live in
//! `tessera_tenants::registration`; these handlers map HTTP to them.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_core::OAuthErrorCode;
use tessera_tenants::registration::{ClientMetadata, RegistrationError, bearer};
use tessera_tenants::{TenantAdmin, TenantError};

use crate::body::read_limited;
use crate::{ActiveTenant, OAuthError};

/// Largest accepted metadata document, in bytes.
const MAX_METADATA_BYTES: usize = 64 * 1024;

fn map_error(err: RegistrationError) -> OAuthError {
    match err {
        // The endpoint is simply not offered: 404, as for any unknown path.
        RegistrationError::NotOffered => OAuthError::new(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::NotFound,
            "dynamic client registration is not offered by this tenant",
        ),
        // RFC 6750 §3.1 / RFC 7592 §2: a bad bearer token is 401 `invalid_token`, and says
        // nothing of whether the client exists.
        RegistrationError::InvalidToken => OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: OAuthErrorCode::InvalidToken,
            description: Some(err.to_string()),
            challenge: Some("Bearer error=\"invalid_token\"".into()),
        },
        RegistrationError::InvalidRedirectUri(why) => OAuthError::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRedirectUri,
            why,
        ),
        RegistrationError::InvalidClientMetadata(why) => OAuthError::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidClientMetadata,
            why,
        ),
        RegistrationError::Tenant(TenantError::NotFound(what)) => OAuthError::new(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::NotFound,
            format!("{what} not found"),
        ),
        RegistrationError::Tenant(TenantError::Unavailable) => OAuthError::unavailable(),
        RegistrationError::Tenant(e) => {
            tracing::error!(error = ?e, "client registration failed");
            OAuthError::server_error()
        }
    }
}

/// The bearer token of the request, if any (never logged).
fn token(req: &HttpRequest) -> Option<&str> {
    bearer(
        req.headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Reads and parses a JSON metadata document (RFC 7591 §3.1: `application/json`).
async fn metadata(req: &HttpRequest, payload: web::Payload) -> Result<ClientMetadata, OAuthError> {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(OAuthError::invalid_request(
            "the body must be application/json",
        ));
    }
    let body = read_limited(payload, MAX_METADATA_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidClientMetadata,
            format!("the client metadata is not a valid JSON document: {e}"),
        )
    })
}

/// A client information response (RFC 7591 §3.2.1: not cached).
fn respond<T: serde::Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body)
}

/// `POST /t/{tenant}/register`: registers a client (RFC 7591 §3.1); 201 with its information.
#[tracing::instrument(skip_all, fields(tenant = %tenant.tenant.slug))]
pub async fn register(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    admin: web::Data<TenantAdmin>,
) -> Result<HttpResponse, OAuthError> {
    let slug = tenant.tenant.slug.as_ref();
    if tenant.tenant.settings.registration.mode == tessera_core::RegistrationMode::Disabled {
        return Err(map_error(RegistrationError::NotOffered));
    }
    let metadata = metadata(&req, payload).await?;
    let client = admin
        .register_dynamic(slug, &tenant.issuer, &metadata, token(&req))
        .await
        .map_err(map_error)?;
    Ok(respond(StatusCode::CREATED, &client.information))
}

/// `GET /t/{tenant}/register/{client_id}`: reads a client's registration (RFC 7592 §2.1).
pub async fn read(
    tenant: ActiveTenant,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    admin: web::Data<TenantAdmin>,
) -> Result<HttpResponse, OAuthError> {
    let (_, client_id) = path.into_inner();
    let client = admin
        .read_dynamic(
            tenant.tenant.slug.as_ref(),
            &tenant.issuer,
            &client_id,
            token(&req),
        )
        .await
        .map_err(map_error)?;
    Ok(respond(StatusCode::OK, &client.information))
}

/// `PUT /t/{tenant}/register/{client_id}`: replaces a client's metadata (RFC 7592 §2.2).
pub async fn update(
    tenant: ActiveTenant,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    admin: web::Data<TenantAdmin>,
) -> Result<HttpResponse, OAuthError> {
    let (_, client_id) = path.into_inner();
    let slug = tenant.tenant.slug.as_ref();
    if tenant.tenant.settings.registration.mode == tessera_core::RegistrationMode::Disabled {
        return Err(map_error(RegistrationError::NotOffered));
    }
    let metadata = metadata(&req, payload).await?;
    let client = admin
        .update_dynamic(slug, &tenant.issuer, &client_id, token(&req), &metadata)
        .await
        .map_err(map_error)?;
    Ok(respond(StatusCode::OK, &client.information))
}

/// `DELETE /t/{tenant}/register/{client_id}`: deletes a client (RFC 7592 §2.3); 204.
pub async fn delete(
    tenant: ActiveTenant,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    admin: web::Data<TenantAdmin>,
) -> Result<HttpResponse, OAuthError> {
    let (_, client_id) = path.into_inner();
    admin
        .delete_dynamic(tenant.tenant.slug.as_ref(), &client_id, token(&req))
        .await
        .map_err(map_error)?;
    Ok(HttpResponse::NoContent()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish())
}
