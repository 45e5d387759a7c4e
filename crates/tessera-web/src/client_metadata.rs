//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02) at the
//! endpoints that start a flow: `/authorize` (HTML error page, never a redirect, before the
//! client is verified), `/par` and `/device_authorization` (JSON `invalid_client`). A URL
//! `client_id` the tenant takes is fetched and stored first (see
//! `tessera_tenants::metadata_document`), and the request continues on the reloaded snapshot.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use tessera_core::OAuthErrorCode;
use tessera_tenants::{MetadataDocumentError, MetadataDocuments, TenantAdmin, TenantSnapshot};

use crate::OAuthError;
use crate::flow::Flow;

/// Fetches the document of `client_id` when it needs it: `Some` is the reloaded snapshot that
/// holds the client, `None` means the current snapshot answers. Without the fetcher or the admin
/// service in the app data nothing is fetched.
async fn ensure(
    req: &HttpRequest,
    snapshot: &TenantSnapshot,
    client_id: Option<&str>,
) -> Result<Option<Arc<TenantSnapshot>>, MetadataDocumentError> {
    let (Some(client_id), Some(documents), Some(admin)) = (
        client_id,
        req.app_data::<web::Data<MetadataDocuments>>(),
        req.app_data::<web::Data<TenantAdmin>>(),
    ) else {
        return Ok(None);
    };
    documents.ensure(admin, snapshot, client_id).await
}

/// For `/authorize`: the snapshot to continue with (`None`: the flow's own), or the error page
/// (RFC 6749 §4.1.2.1: the client is not verified, so nothing is redirected).
pub(crate) async fn for_authorize(
    flow: &Flow<'_>,
    req: &HttpRequest,
    client_id: Option<&str>,
) -> Result<Option<Arc<TenantSnapshot>>, actix_web::HttpResponse> {
    match ensure(req, flow.snapshot, client_id).await {
        Ok(fresh) => Ok(fresh),
        Err(MetadataDocumentError::Unavailable) => Err(flow.unavailable()),
        Err(MetadataDocumentError::Unexpected(e)) => {
            tracing::error!(error = ?e, "client metadata document handling failed");
            Err(flow.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                OAuthErrorCode::ServerError,
                "Something went wrong. Please try again later.",
            ))
        }
        Err(e) => Err(flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidClient,
            &format!("The application that sent you here cannot be used: {e}."),
        )),
    }
}

/// `flow` on `snapshot` when there is one (the snapshot reloaded by [`for_authorize`]).
pub(crate) fn with_snapshot<'a>(
    flow: &Flow<'a>,
    snapshot: Option<&'a Arc<TenantSnapshot>>,
) -> Flow<'a> {
    Flow {
        snapshot: snapshot.unwrap_or(flow.snapshot),
        templates: flow.templates,
        master: flow.master,
        authn: flow.authn,
        store: flow.store,
        keys: flow.keys,
        proxies: flow.proxies,
    }
}

/// For `/par` and `/device_authorization`: the snapshot to continue with, or the JSON error
/// (RFC 6749 §5.2 `invalid_client`).
pub(crate) async fn for_backchannel(
    req: &HttpRequest,
    snapshot: &Arc<TenantSnapshot>,
    client_id: Option<&str>,
) -> Result<Arc<TenantSnapshot>, OAuthError> {
    match ensure(req, snapshot, client_id).await {
        Ok(fresh) => Ok(fresh.unwrap_or_else(|| Arc::clone(snapshot))),
        Err(MetadataDocumentError::Unavailable) => Err(OAuthError::unavailable()),
        Err(MetadataDocumentError::Unexpected(e)) => {
            tracing::error!(error = ?e, "client metadata document handling failed");
            Err(OAuthError::server_error())
        }
        Err(e) => Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: OAuthErrorCode::InvalidClient,
            description: Some(e.to_string()),
            // RFC 6749 §5.2: a 401 carries the scheme the client used (or should use).
            challenge: Some(format!("Basic realm=\"{}\"", snapshot.issuer)),
        }),
    }
}
