//! The tenant extractor: resolves `{tenant}` from the path to an active tenant's snapshot, or
//! answers 404 (unknown), 403 (disabled) or 503 (database down) as JSON.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use tessera_core::OAuthErrorCode;
use tessera_tenants::{Directory, TenantError, TenantSnapshot};

use crate::OAuthError;

/// The snapshot of the active tenant named in the path.
pub struct ActiveTenant(pub Arc<TenantSnapshot>);

impl std::ops::Deref for ActiveTenant {
    type Target = TenantSnapshot;
    fn deref(&self) -> &TenantSnapshot {
        &self.0
    }
}

/// Resolves `slug` to an active tenant, mapping every failure to its JSON error.
pub async fn resolve_active(
    directory: &Directory,
    slug: &str,
) -> Result<Arc<TenantSnapshot>, OAuthError> {
    match directory.resolve(slug).await {
        Ok(Some(snapshot)) if snapshot.is_active() => Ok(snapshot),
        Ok(Some(_)) => Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "this tenant is disabled",
        )),
        Ok(None) => Err(OAuthError::new(
            StatusCode::NOT_FOUND,
            OAuthErrorCode::NotFound,
            "unknown tenant",
        )),
        Err(TenantError::Unavailable) => Err(OAuthError::unavailable()),
        Err(e) => {
            tracing::error!(error = ?e, "tenant resolution failed");
            Err(OAuthError::server_error())
        }
    }
}

impl FromRequest for ActiveTenant {
    type Error = OAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, OAuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let directory = req.app_data::<web::Data<Directory>>().cloned();
        let slug = req
            .match_info()
            .get("tenant")
            .unwrap_or_default()
            .to_owned();
        Box::pin(async move {
            let directory = directory.ok_or_else(OAuthError::server_error)?;
            resolve_active(&directory, &slug).await.map(ActiveTenant)
        })
    }
}
