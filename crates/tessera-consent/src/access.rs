//! The apps that hold a user's access — each consent grant with when its client last received
//! tokens, for the account page and the admin API — and revoking one app's access: the grant,
//! every token family of the user at that client, and the `grant.revoked` audit event, written in
//! one transaction so a revocation is never half done nor done without its audit record.

use sea_orm::ConnectionTrait;
use sea_orm::prelude::{Json, Uuid};
use tessera_core::{ClientId, ScopeSet, TenantId, UserId};
use tessera_store::{AuditEventRecord, Store, StoreError, audit, families, grants};

/// The audit action recorded when an app's access is revoked.
pub const GRANT_REVOKED: &str = "grant.revoked";

/// The reason written on the revoked token families; the value of
/// `tessera_tokens::reason::CONSENT_REVOKED` (this crate sits below `tessera-tokens`).
const FAMILY_REASON: &str = "consent_revoked";

/// Longest user agent kept in the audit log, in characters.
const MAX_USER_AGENT_CHARS: usize = 512;

/// One app holding a user's access: the consent grant and when the client last used it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppAccess {
    /// The client.
    pub client_id: ClientId,
    /// The scopes the user granted it.
    pub scopes: ScopeSet,
    /// When the user first granted it, Unix seconds.
    pub granted_at: i64,
    /// When the user last changed the grant (consented again), Unix seconds.
    pub updated_at: i64,
    /// When the client last received tokens for the user (a code redeemed or a refresh), Unix
    /// seconds; `None` when it never did.
    pub last_used_at: Option<i64>,
}

/// Every app the user granted access to, by client id, with when each last received tokens.
pub async fn apps_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<AppAccess>, StoreError> {
    let grants = grants::list_for_user(db, tenant, user).await?;
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let used = families::last_used_by_client(db, tenant, user).await?;
    Ok(grants
        .into_iter()
        .map(|g| AppAccess {
            last_used_at: used
                .iter()
                .find(|(client, _)| *client == g.client_id)
                .map(|(_, at)| *at),
            client_id: g.client_id,
            scopes: g.scopes,
            granted_at: g.created_at,
            updated_at: g.updated_at,
        })
        .collect())
}

/// Who revokes an app's access; recorded as the audit event's actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoker {
    /// The user themself, on the account page.
    User(UserId),
    /// An admin API client.
    Admin(ClientId),
    /// An admin console user, by its audit actor (`user:<username>@<tenant>`).
    AdminUser(String),
}

impl Revoker {
    /// The audit actor: `user:<id>` or `admin:<client id>`.
    pub fn actor(&self) -> String {
        match self {
            Revoker::User(id) => format!("user:{id}"),
            Revoker::Admin(client) => format!("admin:{client}"),
            Revoker::AdminUser(actor) => actor.clone(),
        }
    }
}

/// Where a request came from, for the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Client address (through trusted proxies).
    pub ip: Option<String>,
    /// `User-Agent`, cut to a bounded length.
    pub user_agent: Option<String>,
}

impl Origin {
    /// An origin from an address and a raw `User-Agent` value, which is cut to 512 characters.
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent
                .map(str::trim)
                .filter(|ua| !ua.is_empty())
                .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        }
    }
}

/// What a revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// The scopes of the grant that was removed; `None` when there was no grant (a first-party
    /// client holds tokens without one).
    pub scopes: Option<ScopeSet>,
    /// How many live token families were revoked.
    pub families: u64,
}

/// Revokes the user's access at `client`: forgets the consent grant (the next authorization
/// asks again), revokes every live token family of the user at that client — offline ones too —
/// so its refresh tokens are refused (RFC 6749 §10.4 leaves revocation to the server; RFC 9700
/// §4.14.2 has a family revoked as a whole) and its access tokens with them, and records a
/// `grant.revoked` audit event. Other clients' grants and tokens are untouched. `None` when there
/// was nothing to revoke (no grant and no live family): nothing is written then.
pub async fn revoke_app(
    store: &Store,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
    by: &Revoker,
    origin: &Origin,
    now: i64,
) -> Result<Option<Revoked>, StoreError> {
    let work = {
        let (store, client, actor, origin) =
            (store.clone(), client.clone(), by.actor(), origin.clone());
        async move {
            let txn = store.begin().await?;
            let grant = grants::find(&txn, tenant, user, &client).await?;
            if grant.is_some() {
                grants::delete(&txn, tenant, user, &client).await?;
            }
            let revoked =
                families::revoke_for_client(&txn, tenant, user, &client, FAMILY_REASON, now)
                    .await?;
            if grant.is_none() && revoked == 0 {
                txn.rollback().await?;
                return Ok(None);
            }
            let scopes = grant.map(|g| g.scopes);
            let details: Json = [
                (
                    "scopes",
                    scopes
                        .as_ref()
                        .map_or(Json::Null, |s| Json::from(s.to_wire())),
                ),
                ("families_revoked", Json::from(revoked)),
            ]
            .into_iter()
            .collect();
            audit::insert(
                &txn,
                &AuditEventRecord {
                    id: Uuid::now_v7(),
                    tenant_id: tenant,
                    occurred_at: now,
                    action: GRANT_REVOKED.to_owned(),
                    actor,
                    user_id: Some(user),
                    client_id: Some(client),
                    ip: origin.ip,
                    user_agent: origin.user_agent,
                    details,
                },
            )
            .await?;
            txn.commit().await?;
            Ok(Some(Revoked {
                scopes,
                families: revoked,
            }))
        }
    };
    store.write(work).await
}

/// Revokes every user's access at `client` (an admin cleaning up after a compromised client):
/// [`revoke_app`] for each user holding a grant to it, one transaction and one audit event each.
/// Returns the users whose access was revoked, with what was revoked.
pub async fn revoke_client(
    store: &Store,
    tenant: TenantId,
    client: &ClientId,
    by: &Revoker,
    origin: &Origin,
    now: i64,
) -> Result<Vec<(UserId, Revoked)>, StoreError> {
    let holders = grants::list_for_client(store.conn(), tenant, client).await?;
    let mut done = Vec::with_capacity(holders.len());
    for grant in holders {
        if let Some(revoked) =
            revoke_app(store, tenant, grant.user_id, client, by, origin, now).await?
        {
            done.push((grant.user_id, revoked));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests;
