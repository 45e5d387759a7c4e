//! `GET /t/{tenant}/jwks`: the tenant's next, active and recently retired public keys
//! (RFC 7517 §5), serialized once per snapshot and cacheable for five minutes. The next key is
//! published a full rotation period before use, so caches never meet an unknown `kid`.

use actix_web::HttpResponse;
use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};

use crate::ActiveTenant;

/// Serves the JWKS.
pub async fn jwks(tenant: ActiveTenant) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(tenant.keys.jwks_bytes().to_vec())
}
