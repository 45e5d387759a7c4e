//! Token families (RFC 9700 §4.14.2): the grant one redeemed code creates, which every access
//! and refresh token descending from it belongs to. Revoking the family revokes them all: on a
//! replayed code, a reused refresh token, logout, or withdrawn consent.

use secrecy::{ExposeSecret, SecretString};
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{ClientId, ClientType, GrantType, RefreshPolicy, ScopeSet, TenantId, UserId};
use tessera_store::{
    ClientRecord, DatabaseTransaction, RefreshTokenRecord, Store, TokenFamilyRecord, families,
    refresh,
};
use tessera_tenants::TenantSnapshot;

use crate::TokenError;
use crate::access::Binding;

/// Why a family was revoked, as stored in `revoked_reason`.
pub mod reason {
    /// The code that created it was presented again (RFC 6749 §4.1.2).
    pub const CODE_REPLAY: &str = "code_replay";
    /// A rotated refresh token was presented again (RFC 9700 §4.14.2).
    pub const REFRESH_REUSE: &str = "refresh_reuse";
    /// The SSO session it was born in ended (RP-initiated logout).
    pub const LOGOUT: &str = "logout";
    /// The user withdrew the client's consent.
    pub const CONSENT_REVOKED: &str = "consent_revoked";
    /// The client revoked one of its refresh tokens (RFC 7009 §2.1).
    pub const REVOKED: &str = "revoked";
}

/// What a user granted a client, redeemed at the token endpoint (an authorization code or an
/// approved device code): the user, the sign-in it came from, the scopes and resources.
pub(crate) struct UserGrant {
    pub(crate) user_id: UserId,
    pub(crate) sid: Option<String>,
    pub(crate) scopes: ScopeSet,
    pub(crate) auth_time: i64,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) resources: Vec<String>,
}

/// The token family a redeemed user grant creates, with its first refresh token.
pub(crate) struct NewFamily {
    pub(crate) family: TokenFamilyRecord,
    pub(crate) refresh_token: Option<SecretString>,
}

impl NewFamily {
    /// The family of `grant` for `client`. Refresh tokens go to clients allowed the grant;
    /// without `offline_access` they are bound to the SSO session through the family's expiry
    /// and logout.
    pub(crate) fn open(
        snapshot: &TenantSnapshot,
        client: &ClientRecord,
        grant: UserGrant,
        binding: &Binding,
        now: i64,
    ) -> Self {
        let policy = &snapshot.tenant.settings.tokens;
        let family = TokenFamilyRecord {
            tenant_id: snapshot.tenant.id,
            id: random_token(16),
            client_id: client.client_id.clone(),
            user_id: grant.user_id,
            expires_at: family_expiry(
                policy,
                &grant.scopes,
                grant.auth_time,
                snapshot.tenant.settings.session.absolute_secs,
                now,
            ),
            sid: grant.sid,
            scopes: grant.scopes,
            auth_time: grant.auth_time,
            acr: grant.acr,
            amr: grant.amr,
            created_at: now,
            revoked_at: None,
            revoked_reason: None,
            resources: grant.resources,
            // RFC 9449 §5: refresh tokens of public clients are bound to the DPoP key; those of
            // confidential clients are bound to the client's authentication instead.
            dpop_jkt: if client.client_type == ClientType::Public {
                binding.jkt.clone()
            } else {
                None
            },
        };
        let refresh_token = client
            .grant_types
            .contains(&GrantType::RefreshToken)
            .then(|| SecretString::from(random_token(32)));
        Self {
            family,
            refresh_token,
        }
    }

    /// Inserts the family and its first refresh token, inside the transaction that redeemed the
    /// grant.
    pub(crate) async fn insert(
        &self,
        txn: &DatabaseTransaction,
        policy: &RefreshPolicy,
        now: i64,
    ) -> Result<(), TokenError> {
        let family = &self.family;
        families::insert(txn, family).await?;
        if let Some(token) = &self.refresh_token {
            refresh::insert(
                txn,
                &RefreshTokenRecord {
                    tenant_id: family.tenant_id,
                    token_hash: sha256_hex(token.expose_secret()),
                    family_id: family.id.clone(),
                    client_id: family.client_id.clone(),
                    scopes: family.scopes.clone(),
                    issued_at: now,
                    expires_at: (now + policy.refresh_ttl_secs).min(family.expires_at),
                    rotated_at: None,
                    successor_hash: None,
                    grace_uses: 0,
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// The scope that asks for access while the user is away (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// When a new family ends. With `offline_access` it lives `refresh_family_ttl_secs`; without, it
/// is bound to the SSO session (as Keycloak does) and ends when the session must end at the
/// latest, `auth_time + session_absolute_secs` — logout revokes it earlier.
pub fn family_expiry(
    policy: &RefreshPolicy,
    scopes: &ScopeSet,
    auth_time: i64,
    session_absolute_secs: i64,
    now: i64,
) -> i64 {
    let absolute = now + policy.refresh_family_ttl_secs;
    if scopes.contains(OFFLINE_ACCESS) {
        absolute
    } else {
        absolute.min(auth_time + session_absolute_secs)
    }
}

/// Revokes every token family born in the SSO session `sid` — used by logout. Families granted
/// `offline_access` survive the session: that is what the user consented to.
pub async fn revoke_families_of_session(
    store: &Store,
    tenant: TenantId,
    sid: &str,
    now: i64,
) -> Result<(), TokenError> {
    families::revoke_by_sid(store.conn(), tenant, sid, true, reason::LOGOUT, now).await?;
    Ok(())
}

/// Revokes every token family of a user at one client, offline ones included — used when the
/// user withdraws the client's consent ("revoke one app's access without touching the others").
pub async fn revoke_families_of_client(
    store: &Store,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
    now: i64,
) -> Result<(), TokenError> {
    families::revoke_for_client(
        store.conn(),
        tenant,
        user,
        client,
        reason::CONSENT_REVOKED,
        now,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_families_outlive_the_session_and_others_do_not() {
        let policy = RefreshPolicy::default();
        let online = ScopeSet::parse("openid").unwrap();
        let offline = ScopeSet::parse("openid offline_access").unwrap();
        let now = 1_000_000;
        assert_eq!(
            family_expiry(&policy, &online, now - 10, 3600, now),
            now - 10 + 3600
        );
        assert_eq!(
            family_expiry(&policy, &offline, now - 10, 3600, now),
            now + policy.refresh_family_ttl_secs
        );
    }
}
