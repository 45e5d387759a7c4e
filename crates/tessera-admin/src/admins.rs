//! `/tenants/{slug}/admins`: operators create tenant-admin clients. Such a client lives in the
//! system tenant (whose tokens the admin API accepts) and administers exactly one tenant.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tessera_core::{AdminRole, ClientId, TenantSlug};
use tessera_tenants::{ADMIN_SCOPE, NewClient, TenantAdmin};

use crate::clients::{created_with_secret, reveal};
use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Body, PREFIX};

/// `POST /tenants/{slug}/admins` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAdmin {
    name: String,
}

/// The new tenant-admin client and its secret, shown this once.
#[derive(Serialize)]
struct CreatedAdmin {
    client_id: ClientId,
    #[serde(serialize_with = "reveal")]
    client_secret: Option<SecretString>,
    name: String,
    role: AdminRole,
    tenant: TenantSlug,
    created_at: i64,
}

/// Creates a tenant-admin client for the tenant. Operators only; the system tenant has none.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<CreateAdmin>,
) -> Result<HttpResponse, AdminError> {
    principal.require_operator()?;
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    let system = TenantSlug::system();
    if slug == system {
        return Err(AdminError::InvalidRequest(
            "the system tenant has no tenant admins; register an operator instead".into(),
        ));
    }
    let new = NewClient {
        scopes: vec![ADMIN_SCOPE.to_owned()],
        admin_role: Some(AdminRole::TenantAdmin),
        admin_of: Some(slug.clone()),
        ..NewClient::confidential(&body.name)
    };
    let registered = admin.register_client(system.as_ref(), new).await?;
    let client = registered.client;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client.client_id, "admin API created a tenant admin");
    let subject = Subject {
        user: None,
        client: Some(client.client_id.clone()),
    };
    let details = serde_json::json!({ "name": client.name, "role": "tenant_admin" });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "admin.created",
        subject,
        details,
    )
    .await;
    let location = format!("{PREFIX}/tenants/{system}/clients/{}", client.client_id);
    let created = CreatedAdmin {
        client_id: client.client_id,
        client_secret: registered.client_secret,
        name: client.name,
        role: AdminRole::TenantAdmin,
        tenant: slug,
        created_at: client.created_at,
    };
    Ok(created_with_secret(location, &created))
}
