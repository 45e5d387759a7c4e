//! The consent ledger: which scopes each user granted each client of a tenant, partial consent,
//! and the decision whether the consent page must be shown.
//!
//! A grant records exactly what the user ticked, not what the client asked for; tokens carry
//! only that. Remembered consent skips the page unless `prompt=consent` (OIDC Core §3.1.2.1) or
//! the client asks for a scope the user has not granted it yet. First-party clients never see
//! the page.

mod access;

pub use access::{
    AppAccess, GRANT_REVOKED, Origin, Revoked, Revoker, apps_of_user, revoke_app, revoke_client,
};

use sea_orm::ConnectionTrait;
use tessera_core::{ClientId, ScopeSet, TenantId, UserId};
use tessera_store::{ClientRecord, ConsentGrantRecord, StoreError, grants};

/// The scope that needs no consent of its own: it only asks to sign the user in
/// (OIDC Core §3.1.2.1).
pub const OPENID: &str = "openid";

/// The scopes the user granted the client and has not withdrawn, if any.
pub async fn granted<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
) -> Result<Option<ScopeSet>, StoreError> {
    Ok(grants::find(db, tenant, user, client)
        .await?
        .map(|g| g.scopes))
}

/// Replaces the remembered grant with exactly `granted` (partial consent: what the user ticked).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
    granted: &ScopeSet,
    now: i64,
) -> Result<(), StoreError> {
    grants::upsert(
        db,
        &ConsentGrantRecord {
            tenant_id: tenant,
            user_id: user,
            client_id: client.clone(),
            scopes: granted.clone(),
            created_at: now,
            updated_at: now,
        },
    )
    .await
}

/// Forgets the user's grant to the client; `false` when there was none. The caller revokes the
/// client's tokens too (`tessera_tokens::revoke_families_of_client`); [`revoke_app`] does both,
/// with an audit event, in one transaction.
pub async fn withdraw<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
) -> Result<bool, StoreError> {
    grants::delete(db, tenant, user, client).await
}

/// Every client the user granted scopes to, with the scopes (for an account page).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<ConsentGrantRecord>, StoreError> {
    grants::list_for_user(db, tenant, user).await
}

/// Whether the consent page must be shown: never for first-party clients; always for
/// `prompt=consent`; otherwise when `requested` has a scope not in `remembered` (the `openid`
/// scope itself needs no consent).
pub fn needs_consent(
    client: &ClientRecord,
    requested: &ScopeSet,
    remembered: Option<&ScopeSet>,
    prompt_consent: bool,
) -> bool {
    if client.first_party {
        return false;
    }
    if prompt_consent {
        return true;
    }
    requested
        .iter()
        .filter(|s| s.as_ref() != OPENID)
        .any(|s| !remembered.is_some_and(|r| r.contains(s.as_ref())))
}

#[cfg(test)]
mod tests;
