//! `/tenants/{slug}/keys`: list a tenant's signing keys (public halves only) and rotate them now.
//! A tenant keeps one key ring per algorithm: its own (access tokens) and RS256 (ID tokens).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tessera_core::{KeyState, Kid, SigningAlg};
use tessera_store::KeyRecord;
use tessera_tenants::TenantAdmin;

use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Items, Query};

/// `GET /tenants/{slug}/keys` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only the keys of this algorithm's ring.
    alg: Option<SigningAlg>,
}

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

/// The rotation of one ring: which key stopped signing, which began, which is published next.
#[derive(Serialize)]
struct RingRotationView {
    alg: SigningAlg,
    retired: Option<Kid>,
    activated: Kid,
    next: Kid,
}

impl From<tessera_keys::Rotation> for RingRotationView {
    fn from(rotation: tessera_keys::Rotation) -> Self {
        Self {
            alg: rotation.alg,
            retired: rotation.retired,
            activated: rotation.activated,
            next: rotation.next,
        }
    }
}

/// The outcome of a rotation: the tenant's own ring (which signs access tokens) at the top level,
/// as before tenants kept several rings, and every ring, that one first, in `rings`.
#[derive(Serialize)]
struct RotationView {
    #[serde(flatten)]
    primary: RingRotationView,
    rings: Vec<RingRotationView>,
}

impl RotationView {
    fn new(rotations: Vec<tessera_keys::Rotation>) -> Result<Self, AdminError> {
        let primary = rotations
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("a rotation rotated no key ring"))?;
        Ok(Self {
            primary: primary.into(),
            rings: rotations.into_iter().map(Into::into).collect(),
        })
    }
}

/// Lists a tenant's signing keys of every ring (or of `?alg=`'s), newest first.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let alg = query?.into_inner().alg;
    let keys = admin.list_keys(slug.as_ref()).await?;
    let items: Vec<KeyView> = keys
        .into_iter()
        .filter(|k| alg.is_none_or(|alg| k.alg == alg))
        .map(KeyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Rotates every key ring of a tenant now: next → active, active → retired, and a new next key.
pub(crate) async fn rotate(
    req: HttpRequest,
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
    let details = serde_json::json!({ "scheduled": false, "rings": &rotation });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "key.rotated",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::Ok().json(RotationView::new(rotation)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_list_filter_takes_one_known_alg() {
        let alg = |q: &str| web::Query::<ListQuery>::from_query(q).map(|q| q.into_inner().alg);
        assert_eq!(alg("").unwrap(), None);
        assert_eq!(alg("alg=RS256").unwrap(), Some(SigningAlg::Rs256));
        assert_eq!(alg("alg=ES256").unwrap(), Some(SigningAlg::Es256));
        assert!(alg("alg=HS256").is_err());
        assert!(alg("alg=rs256").is_err());
        assert!(alg("kid=x").is_err());
    }

    #[test]
    fn a_rotation_shows_the_primary_ring_at_the_top_and_every_ring_in_rings() {
        let ring =
            |alg, retired: Option<&str>, activated: &str, next: &str| tessera_keys::Rotation {
                alg,
                retired: retired.map(|k| Kid(k.to_owned())),
                activated: Kid(activated.to_owned()),
                next: Kid(next.to_owned()),
            };
        let view = RotationView::new(vec![
            ring(SigningAlg::Es256, Some("e1"), "e2", "e3"),
            ring(SigningAlg::Rs256, None, "r2", "r3"),
        ])
        .unwrap();
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "alg": "ES256", "retired": "e1", "activated": "e2", "next": "e3",
                "rings": [
                    { "alg": "ES256", "retired": "e1", "activated": "e2", "next": "e3" },
                    { "alg": "RS256", "retired": null, "activated": "r2", "next": "r3" },
                ],
            })
        );
        assert!(RotationView::new(vec![]).is_err());
    }
}
