//! `/tenants/{slug}/users/{username}/grants` and `/tenants/{slug}/clients/{client_id}/grants`:
//! the apps a user granted access to and the users who granted a client, and revoking that
//! access — the consent grant, the client's token families for the user, and a `grant.revoked`
//! audit event naming the admin client (`admin:<client id>`) — for one user or for every user of
//! a client at once (`tessera_consent::revoke_app`, the same rule the account page uses).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_authn::Authenticator;
use tessera_consent::Origin;
use tessera_core::{ClientId, Clock, ScopeSet, UserId};
use tessera_store::{StoreError, TenantRecord, UserRecord, grants};
use tessera_tenants::TenantAdmin;

use crate::{AdminError, AdminPrincipal, Items};

/// Maps a failure of the consent ledger.
fn store_error(err: StoreError) -> AdminError {
    if err.is_unavailable() {
        AdminError::Unavailable
    } else {
        AdminError::Unexpected(anyhow::Error::new(err).context("consent grants"))
    }
}

/// One app a user granted access to.
#[derive(Serialize)]
struct UserGrant {
    client_id: ClientId,
    /// `None` when the client is gone.
    client_name: Option<String>,
    scopes: ScopeSet,
    created_at: i64,
    updated_at: i64,
    /// When the client last received tokens for the user; `None` when it never did.
    last_used_at: Option<i64>,
}

/// One user who granted a client access.
#[derive(Serialize)]
struct ClientGrant {
    user_id: UserId,
    /// `None` when the user is gone.
    username: Option<String>,
    scopes: ScopeSet,
    created_at: i64,
    updated_at: i64,
}

/// One revoked user's access to a client.
#[derive(Serialize)]
struct RevokedGrant {
    user_id: UserId,
    /// The scopes of the removed grant; `None` when there was only tokens (a first-party client).
    scopes: Option<ScopeSet>,
    families_revoked: u64,
}

/// The tenant named by the path, once the caller may administer it.
async fn tenant(
    principal: &AdminPrincipal,
    admin: &TenantAdmin,
    raw_slug: &str,
) -> Result<TenantRecord, AdminError> {
    let slug = principal.authorize_tenant(raw_slug).await?;
    Ok(admin.tenant(slug.as_ref()).await?)
}

/// The user named by the path.
async fn user(
    authn: &Authenticator,
    tenant: &TenantRecord,
    username: &str,
) -> Result<UserRecord, AdminError> {
    authn
        .user_by_username(tenant.id, username)
        .await?
        .ok_or(AdminError::NotFound("user"))
}

/// The registered client named by the path.
async fn client(
    admin: &TenantAdmin,
    tenant: &TenantRecord,
    raw: &str,
) -> Result<ClientId, AdminError> {
    let client = admin.client(tenant.slug.as_ref(), raw).await?;
    Ok(client.client_id)
}

/// Where the admin request came from, for the audit log. The admin API is not behind the
/// browser endpoints' trusted-proxy list, so this is the peer address.
fn origin(req: &HttpRequest) -> Origin {
    Origin::new(
        req.peer_addr().map(|a| a.ip().to_string()),
        req.headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Lists the apps a user granted access to, with their scopes, when and when last used.
pub(crate) async fn list_for_user(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let apps = tessera_consent::apps_of_user(admin.store().conn(), tenant.id, user.id)
        .await
        .map_err(store_error)?;
    let clients = admin.all_clients(tenant.slug.as_ref()).await?;
    let items: Vec<UserGrant> = apps
        .into_iter()
        .map(|app| UserGrant {
            client_name: clients
                .iter()
                .find(|c| c.client_id == app.client_id)
                .map(|c| c.name.clone()),
            client_id: app.client_id,
            scopes: app.scopes,
            created_at: app.granted_at,
            updated_at: app.updated_at,
            last_used_at: app.last_used_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Revokes a user's access to one client: the grant, the client's tokens, an audit event.
pub(crate) async fn revoke_for_user(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username, raw_client) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    // A grant may outlive its client's registration; only the id's form is checked here.
    let client = ClientId::parse(&raw_client).ok_or(AdminError::NotFound("grant"))?;
    let revoked = tessera_consent::revoke_app(
        admin.store(),
        tenant.id,
        user.id,
        &client,
        &principal.revoker(),
        &origin(&req),
        Clock.now(),
    )
    .await
    .map_err(store_error)?
    .ok_or(AdminError::NotFound("grant"))?;
    tracing::info!(
        tenant = %tenant.slug,
        user = %user.id,
        client_id = %client,
        admin = %principal,
        families = revoked.families,
        "app access revoked by an admin"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the users who granted a client access.
pub(crate) async fn list_for_client(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, raw_client) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let client = client(&admin, &tenant, &raw_client).await?;
    let holders = grants::list_for_client(admin.store().conn(), tenant.id, &client)
        .await
        .map_err(store_error)?;
    let mut items = Vec::with_capacity(holders.len());
    for grant in holders {
        let username = authn
            .user(tenant.id, grant.user_id)
            .await?
            .map(|u| u.username);
        items.push(ClientGrant {
            user_id: grant.user_id,
            username,
            scopes: grant.scopes,
            created_at: grant.created_at,
            updated_at: grant.updated_at,
        });
    }
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Revokes every user's access to a client, one audit event per user.
pub(crate) async fn revoke_for_client(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, raw_client) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let client = client(&admin, &tenant, &raw_client).await?;
    let done = tessera_consent::revoke_client(
        admin.store(),
        tenant.id,
        &client,
        &principal.revoker(),
        &origin(&req),
        Clock.now(),
    )
    .await
    .map_err(store_error)?;
    tracing::info!(
        tenant = %tenant.slug,
        client_id = %client,
        admin = %principal,
        users = done.len(),
        "every user's access to a client revoked by an admin"
    );
    let items: Vec<RevokedGrant> = done
        .into_iter()
        .map(|(user_id, revoked)| RevokedGrant {
            user_id,
            scopes: revoked.scopes,
            families_revoked: revoked.families,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}
