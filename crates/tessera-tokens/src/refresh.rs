//! The refresh token grant (RFC 6749 §6, OAuth 2.1 §4.3) with rotation on every use and reuse
//! detection (RFC 9700 §4.14.2): a rotated token presented again revokes its whole family,
//! except inside the tenant's short grace window for concurrent clients (as Hydra and WSO2
//! offer), where it is answered with a fresh token pair a bounded number of times.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{GrantType, ScopeSet, UserStatus};
use tessera_store::refresh as refresh_tokens;
use tessera_store::{ClientRecord, RefreshTokenRecord, Store, families};
use tessera_tenants::TenantSnapshot;

use crate::access::Binding;
use crate::authorization_code::narrowed_resources;
use crate::client_credentials::check_resources;
use crate::family::reason;
use crate::{Issuance, TokenError, TokenRequest};

/// How the presented token may be exchanged.
#[derive(Clone, Copy)]
enum Use {
    /// Not rotated yet: rotate it.
    Rotate,
    /// Rotated, but inside the grace window: issue a new pair beside its successor.
    Grace { rotated_since: i64, max_uses: u32 },
}

/// Exchanges the refresh token of `req` for new tokens, rotating it. The database work is done
/// when this returns; the tokens still have to be signed with [`Issuance::sign`].
pub async fn refresh_tokens(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    req: &TokenRequest,
    binding: Binding,
    now: i64,
) -> Result<Issuance, TokenError> {
    if !client.grant_types.contains(&GrantType::RefreshToken) {
        return Err(TokenError::UnauthorizedClient("refresh_token"));
    }
    let presented = req
        .refresh_token
        .as_ref()
        .ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?;
    check_resources(&req.resource)?;
    let tenant = snapshot.tenant.id;
    let db = store.conn();
    let hash = sha256_hex(presented.expose_secret());
    let token = refresh_tokens::find(db, tenant, &hash)
        .await?
        .ok_or_else(|| TokenError::invalid_grant("the refresh token is invalid"))?;
    // RFC 6749 §6: the token must have been issued to the authenticated client.
    if token.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if token.expires_at <= now {
        return Err(TokenError::invalid_grant("the refresh token has expired"));
    }
    let (family, user) = families::live_with_user(db, tenant, &token.family_id, now)
        .await?
        .ok_or_else(|| TokenError::invalid_grant("the refresh token has been revoked"))?;
    if user.status != UserStatus::Active {
        return Err(TokenError::invalid_grant("the user is no longer active"));
    }
    // RFC 9449 §5: a refresh token bound to a DPoP key needs a proof of that key.
    if let Some(jkt) = &family.dpop_jkt
        && binding.jkt.as_deref() != Some(jkt.as_str())
    {
        return Err(TokenError::InvalidDpopProof(
            "the refresh token is bound to another DPoP key".into(),
        ));
    }
    let resources = narrowed_resources(&family.resources, &req.resource)?;
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one. The new refresh token
    // keeps the original scope; only the access token is narrowed.
    let scopes = match req.scope.as_deref() {
        Some(raw) => {
            let asked =
                ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if let Some(extra) = asked.first_missing_from(&token.scopes) {
                return Err(TokenError::InvalidScope(format!(
                    "scope `{extra}` was not granted to this refresh token"
                )));
            }
            asked
        }
        None => token.scopes.clone(),
    };
    // A scope the client is no longer allowed is dropped.
    let scopes: ScopeSet = scopes
        .iter()
        .filter(|s| client.scopes.contains(s.as_ref()))
        .cloned()
        .collect();

    let policy = &snapshot.tenant.settings.tokens;
    let how = match token.rotated_at {
        None => Use::Rotate,
        Some(rotated_at)
            if policy.rotation_grace_secs > 0
                && policy.rotation_grace_count > 0
                && now - rotated_at <= policy.rotation_grace_secs =>
        {
            Use::Grace {
                rotated_since: now - policy.rotation_grace_secs,
                max_uses: policy.rotation_grace_count,
            }
        }
        Some(_) => return Err(reused(store, &token, now).await),
    };

    let successor = SecretString::from(random_token(32));
    let successor_record = RefreshTokenRecord {
        tenant_id: tenant,
        token_hash: sha256_hex(successor.expose_secret()),
        family_id: family.id.clone(),
        client_id: client.client_id.clone(),
        scopes: token.scopes.clone(),
        issued_at: now,
        expires_at: (now + policy.refresh_ttl_secs).min(family.expires_at),
        rotated_at: None,
        successor_hash: None,
        grace_uses: 0,
    };
    let grace =
        (policy.rotation_grace_secs > 0 && policy.rotation_grace_count > 0).then(|| Use::Grace {
            rotated_since: now - policy.rotation_grace_secs,
            max_uses: policy.rotation_grace_count,
        });
    let mut won = commit(store, how, &hash, &successor_record, now).await?;
    if !won
        && matches!(how, Use::Rotate)
        && let Some(grace) = grace
    {
        // A concurrent refresh (at this node or another) rotated it between our read and our
        // compare-and-set. That is exactly the concurrent client the grace window is for: it
        // was rotated just now, so the allowance decides, as if we had read it rotated.
        won = commit(store, grace, &hash, &successor_record, now).await?;
    }
    if !won {
        // A concurrent refresh rotated it first, or the grace allowance is spent.
        return Err(reused(store, &token, now).await);
    }

    Ok(Issuance {
        client: Arc::clone(client),
        user: family.user_id,
        family_id: family.id,
        scopes,
        sid: family.sid,
        auth_time: family.auth_time,
        acr: family.acr,
        amr: family.amr,
        // OIDC Core §12.2: a refreshed ID token carries no nonce.
        nonce: None,
        id_token_claims: serde_json::Map::new(),
        userinfo_claims: Vec::new(),
        resources,
        refresh_token: Some(successor),
        binding,
        now,
        encryption: None,
    })
}

/// Rotates the token (or counts a grace use of it) and inserts its successor, in one
/// transaction; `false` when the compare-and-set lost (nothing was written).
async fn commit(
    store: &Store,
    how: Use,
    hash: &str,
    successor: &RefreshTokenRecord,
    now: i64,
) -> Result<bool, TokenError> {
    // The compare-and-set comes first in the transaction, so on SQLite it takes the write lock
    // at once and on PostgreSQL a concurrent refresh waits on the row and then sees it rotated.
    let (store_, hash, successor) = (store.clone(), hash.to_owned(), successor.clone());
    let tenant = successor.tenant_id;
    let work = async move {
        let txn = store_.begin().await?;
        let won = match how {
            Use::Rotate => {
                refresh_tokens::rotate(&txn, tenant, &hash, &successor.token_hash, now).await?
            }
            Use::Grace {
                rotated_since,
                max_uses,
            } => refresh_tokens::use_grace(&txn, tenant, &hash, rotated_since, max_uses).await?,
        };
        if !won {
            txn.rollback().await?;
            return Ok(false);
        }
        refresh_tokens::insert(&txn, &successor).await?;
        txn.commit().await?;
        Ok(true)
    };
    Ok(store.write(work).await?)
}

/// A rotated token presented again outside the grace window: revokes the whole family (RFC 9700
/// §4.14.2 — either the legitimate client or an attacker holds a stale token, and the server
/// cannot tell which) and returns the error to answer with.
async fn reused(store: &Store, token: &RefreshTokenRecord, now: i64) -> TokenError {
    match families::revoke(
        store.conn(),
        token.tenant_id,
        &token.family_id,
        reason::REFRESH_REUSE,
        now,
    )
    .await
    {
        Ok(true) => tracing::warn!(
            client_id = %token.client_id,
            "rotated refresh token reused: its token family is revoked"
        ),
        Ok(false) => {}
        Err(e) => return e.into(),
    }
    TokenError::invalid_grant("the refresh token has already been used")
}
