//! Client rows, always addressed by `(tenant_id, client_id)`; there is no global client lookup.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tessera_core::{ClientId, Scope, ScopeSet, TenantId};

use crate::entity::client;
use crate::{ClientRecord, StoreError, found, json_list, parse_enum, parse_json_list};

fn to_record(m: client::Model) -> Result<ClientRecord, StoreError> {
    let grant_names: Vec<String> = parse_json_list("grant_types", &m.grant_types)?;
    let scope_names: Vec<String> = parse_json_list("scopes", &m.scopes)?;
    let scopes = scope_names
        .iter()
        .map(|s| Scope::parse(s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect::<Result<ScopeSet, _>>()?;
    Ok(ClientRecord {
        tenant_id: m.tenant_id,
        client_id: ClientId::parse(&m.client_id)
            .ok_or_else(|| StoreError::Corrupt("client_id".to_owned()))?,
        name: m.name,
        client_type: parse_enum(&m.client_type)?,
        secret_hash: m.secret_hash,
        grant_types: grant_names
            .iter()
            .map(|g| parse_enum(g))
            .collect::<Result<_, _>>()?,
        redirect_uris: parse_json_list("redirect_uris", &m.redirect_uris)?,
        scopes,
        token_format: parse_enum(&m.token_format)?,
        admin_role: m.admin_role.as_deref().map(parse_enum).transpose()?,
        admin_tenant_id: m.admin_tenant_id,
        post_logout_redirect_uris: parse_json_list(
            "post_logout_redirect_uris",
            &m.post_logout_redirect_uris,
        )?,
        first_party: m.first_party,
        require_pkce: m.require_pkce,
        id_token_alg: match m.id_token_alg.as_deref() {
            Some(alg) => parse_enum(alg)?,
            None => tessera_core::SigningAlg::Rs256,
        },
        options: serde_json::from_str(&m.options)
            .map_err(|e| StoreError::Corrupt(format!("clients.options: {e}")))?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn to_active(c: &ClientRecord) -> client::ActiveModel {
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let scopes: Vec<&str> = c.scopes.iter().map(|s| s.as_ref()).collect();
    client::ActiveModel {
        tenant_id: Set(c.tenant_id),
        client_id: Set(c.client_id.to_string()),
        name: Set(c.name.clone()),
        client_type: Set(c.client_type.as_str().to_owned()),
        secret_hash: Set(c.secret_hash.clone()),
        grant_types: Set(json_list(&grants)),
        redirect_uris: Set(json_list(&c.redirect_uris)),
        scopes: Set(json_list(&scopes)),
        token_format: Set(c.token_format.as_str().to_owned()),
        admin_role: Set(c.admin_role.map(|r| r.as_str().to_owned())),
        admin_tenant_id: Set(c.admin_tenant_id),
        post_logout_redirect_uris: Set(json_list(&c.post_logout_redirect_uris)),
        first_party: Set(c.first_party),
        require_pkce: Set(c.require_pkce),
        id_token_alg: Set(Some(c.id_token_alg.as_str().to_owned())),
        options: Set(serde_json::to_string(&c.options).unwrap_or_else(|_| "{}".to_owned())),
        // Written only through `set_sealed_secret`; a record update leaves it as it is.
        sealed_secret: sea_orm::ActiveValue::NotSet,
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

/// Inserts a client; a taken `(tenant_id, client_id)` is [`StoreError::Conflict`].
pub async fn insert<C: ConnectionTrait>(db: &C, c: &ClientRecord) -> Result<(), StoreError> {
    to_active(c).insert(db).await?;
    Ok(())
}

/// Replaces every column of an existing client.
pub async fn update<C: ConnectionTrait>(db: &C, c: &ClientRecord) -> Result<(), StoreError> {
    to_active(c).update(db).await.map_err(|e| match e {
        sea_orm::DbErr::RecordNotUpdated => StoreError::NotFound,
        other => other.into(),
    })?;
    Ok(())
}

/// One client of a tenant.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &ClientId,
) -> Result<Option<ClientRecord>, StoreError> {
    crate::one_by_key(
        db,
        client::Entity::find_by_id((tenant, client_id.to_string())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Every client of a tenant, by creation time.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<ClientRecord>, StoreError> {
    client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant))
        .order_by_asc(client::Column::CreatedAt)
        .order_by_asc(client::Column::ClientId)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}

/// One page of a tenant's clients ordered by `client_id` (keyset pagination: those after
/// `after`), optionally only those whose `client_id` or name starts with `search`
/// (case-insensitive).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    after: Option<&str>,
    search: Option<&str>,
    limit: u64,
) -> Result<Vec<ClientRecord>, StoreError> {
    let mut q = client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant))
        .order_by_asc(client::Column::ClientId)
        .limit(limit);
    if let Some(after) = after {
        q = q.filter(client::Column::ClientId.gt(after));
    }
    if let Some(search) = search {
        let pattern = || crate::prefix_pattern(search);
        q = q.filter(
            Condition::any()
                .add(Func::lower(Expr::col(client::Column::ClientId)).like(pattern()))
                .add(Func::lower(Expr::col(client::Column::Name)).like(pattern())),
        );
    }
    q.all(db).await?.into_iter().map(to_record).collect()
}

/// Deletes one client.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &ClientId,
) -> Result<(), StoreError> {
    let res = client::Entity::delete_by_id((tenant, client_id.to_string()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// Deletes every client of a tenant.
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<(), StoreError> {
    client::Entity::delete_many()
        .filter(client::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// The associated data a client's sealed secret is bound to, so a sealed value copied to another
/// client or tenant does not open.
pub fn sealed_secret_aad(tenant: TenantId, client_id: &ClientId) -> Vec<u8> {
    format!("tessera client secret v1:{tenant}:{client_id}").into_bytes()
}

/// Stores (or with `None` clears) the sealed secret of a `client_secret_jwt` client.
///
/// Trade-off: every other client secret is kept only as a SHA-256 hash, so a database dump
/// yields none of them. `client_secret_jwt` (RFC 7523 §2.2, OIDC Core §9) makes the secret an
/// HMAC key that the server must hold in the clear to verify an assertion; this copy is sealed
/// with AES-256-GCM under the master key (bound to tenant and client, see
/// [`sealed_secret_aad`]), so a dump alone still does not reveal it, but anyone with the dump
/// *and* the master key does. Prefer `private_key_jwt`.
pub async fn set_sealed_secret<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &ClientId,
    sealed: Option<&[u8]>,
) -> Result<(), StoreError> {
    let res = client::Entity::update_many()
        .col_expr(
            client::Column::SealedSecret,
            sea_orm::sea_query::Expr::value(sealed.map(<[u8]>::to_vec)),
        )
        .filter(client::Column::TenantId.eq(tenant))
        .filter(client::Column::ClientId.eq(client_id.to_string()))
        .exec(db)
        .await?;
    found(res.rows_affected)
}

/// The sealed secret of a `client_secret_jwt` client, if it has one.
pub async fn sealed_secret<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    client_id: &ClientId,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(client::Entity::find_by_id((tenant, client_id.to_string()))
        .one(db)
        .await?
        .and_then(|m| m.sealed_secret))
}
