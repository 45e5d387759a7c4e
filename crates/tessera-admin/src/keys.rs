//! `/tenants/{slug}/keys`: list a tenant's signing keys (public halves only) and rotate them now.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use tessera_core::{KeyState, Kid, SigningAlg};
use tessera_store::KeyRecord;
use tessera_tenants::TenantAdmin;

use crate::{AdminError, AdminPrincipal, Items};

/// A signing key as the admin API shows it: metadata and the public JWK, never the sealed
/// private key or the id of the key that sealed it.
#[derive(Serialize)]
struct KeyView {
    kid: Kid,
    alg: SigningAlg,
    state: KeyState,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    expires_at: Option<i64>,
    public_jwk: serde_json::Value,
}

impl From<KeyRecord> for KeyView {
    fn from(key: KeyRecord) -> Self {
        Self {
            kid: key.kid,
            alg: key.alg,
            state: key.state,
            created_at: key.created_at,
            activated_at: key.activated_at,
            retired_at: key.retired_at,
            expires_at: key.expires_at,
            public_jwk: key.public_jwk,
        }
    }
}

/// The outcome of a rotation: which key stopped signing, which began, which is published next.
#[derive(Serialize)]
struct RotationView {
    retired: Option<Kid>,
    activated: Kid,
    next: Kid,
}

impl From<tessera_keys::Rotation> for RotationView {
    fn from(rotation: tessera_keys::Rotation) -> Self {
        Self {
            retired: rotation.retired,
            activated: rotation.activated,
            next: rotation.next,
        }
    }
}

/// Lists a tenant's signing keys, newest first.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let keys = admin.list_keys(slug.as_ref()).await?;
    let items: Vec<KeyView> = keys.into_iter().map(KeyView::from).collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Rotates a tenant's keys now: next → active, active → retired, and a new next key.
pub(crate) async fn rotate(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let rotation = admin.rotate_keys(slug.as_ref()).await?.ok_or_else(|| {
        AdminError::Conflict(
            "a concurrent rotation of this tenant's keys won; list the keys to see the result"
                .into(),
        )
    })?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API rotated signing keys");
    Ok(HttpResponse::Ok().json(RotationView::from(rotation)))
}
