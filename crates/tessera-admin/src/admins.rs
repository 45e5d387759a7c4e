//! `/tenants/{slug}/admins`: operators create admin clients: tenant admins and tenant auditors
//! (read-only) of one tenant, or, on the system tenant, auditors of every tenant. Such a client
//! lives in the system tenant, whose client tokens the admin API accepts.

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
    /// `tenant_admin` (default) or `auditor`; on the system tenant only `auditor` (of every
    /// tenant). Operators are not created here.
    #[serde(default)]
    role: Option<AdminRole>,
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

/// Creates an admin client for the tenant. Operators only. `POST /tenants/system/admins` with
/// `"role": "auditor"` creates an auditor of every tenant; the system tenant has no tenant admins.
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
    let role = body.role.unwrap_or(AdminRole::TenantAdmin);
    let admin_of = match (role, slug == system) {
        (AdminRole::TenantAdmin | AdminRole::Auditor, false) => Some(slug.clone()),
        // An auditor held in the system tenant reads every tenant.
        (AdminRole::Auditor, true) => None,
        (AdminRole::TenantAdmin, true) => {
            return Err(AdminError::InvalidRequest(
                "the system tenant has no tenant admins; create an auditor or an operator user instead".into(),
            ));
        }
        (AdminRole::Operator, _) => {
            return Err(AdminError::InvalidRequest(
                "role must be tenant_admin or auditor; operators are system-tenant users".into(),
            ));
        }
    };
    let new = NewClient {
        scopes: vec![ADMIN_SCOPE.to_owned()],
        admin_role: Some(role),
        admin_of,
        ..NewClient::confidential(&body.name)
    };
    let registered = admin.register_client(system.as_ref(), new).await?;
    let client = registered.client;
    tracing::info!(admin = %principal, tenant = %slug, client_id = %client.client_id, "admin API created a tenant admin");
    let subject = Subject {
        user: None,
        client: Some(client.client_id.clone()),
    };
    let details = serde_json::json!({ "name": client.name, "role": role });
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
        role,
        tenant: slug,
        created_at: client.created_at,
    };
    Ok(created_with_secret(location, &created))
}
