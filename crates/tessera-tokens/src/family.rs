//! Token families (RFC 9700 §4.14.2): the grant one redeemed code creates, which every access
//! and refresh token descending from it belongs to. Revoking the family revokes them all: on a
//! replayed code, a reused refresh token, logout, or withdrawn consent.

use tessera_core::{ClientId, RefreshPolicy, ScopeSet, TenantId, UserId};
use tessera_store::{Store, families};

use crate::TokenError;

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
