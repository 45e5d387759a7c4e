//! The account lifecycle's single-use, expiring links: confirming an e-mail address, resetting a
//! password, accepting an invitation. A link carries 256 random bits; only their SHA-256 is
//! stored (`account_links`), spent with one conditional `UPDATE`, so a link works once on any
//! node and never after it expires or a newer link of its kind was sent. Mailing the link is the
//! caller's (the web and admin layers render the tenant's e-mail template).

use secrecy::SecretString;
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{Clock, UserId};
use tessera_store::account_links::{self, LinkKind, LinkRecord};
use tessera_store::{StoreError, TenantRecord, UserRecord, families, sessions, users};

use crate::throttle::user_key;
use crate::{Authenticator, AuthnError};

/// Random bytes in a link token: 256 bits, so its SHA-256 is a safe lookup key.
const LINK_BYTES: usize = 32;
/// Longest token accepted from a URL or form, characters (base64url of 32 bytes is 43).
const MAX_TOKEN_CHARS: usize = 64;

/// A freshly issued link: the token to put in the URL (shown once, never stored) and when it
/// stops working.
#[derive(Debug)]
pub struct IssuedLink {
    /// The secret for the link's URL.
    pub token: SecretString,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What a spent password link did.
#[derive(Debug)]
pub struct PasswordSet {
    /// The user, as it is now.
    pub user: UserRecord,
    /// Sessions ended (policy `accounts.reset_ends_sessions`).
    pub sessions_ended: u64,
    /// Token families revoked (policy `accounts.reset_revokes_refresh_tokens`).
    pub families_revoked: u64,
}

/// The tenant's lifetime for links of `kind`, seconds.
pub fn ttl(tenant: &TenantRecord, kind: LinkKind) -> i64 {
    let a = &tenant.settings.accounts;
    match kind {
        LinkKind::VerifyEmail => a.verification_link_ttl_secs,
        LinkKind::PasswordReset => a.reset_link_ttl_secs,
        LinkKind::Invitation => a.invitation_link_ttl_secs,
    }
}

fn token_hash(token: &str) -> Option<String> {
    let ok = !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| sha256_hex(token))
}

impl Authenticator {
    /// Issues a link of `kind` for `user`, sent to `email`, superseding the user's older links
    /// of that kind. `Invalid` without an address.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user.id, kind = kind.as_str()))]
    pub async fn issue_link(
        &self,
        tenant: &TenantRecord,
        kind: LinkKind,
        user: &UserRecord,
    ) -> Result<IssuedLink, AuthnError> {
        let Some(email) = user.email.clone() else {
            return Err(AuthnError::Invalid("the user has no e-mail address".into()));
        };
        let token = random_token(LINK_BYTES);
        let now = Clock.now();
        let expires_at = now + ttl(tenant, kind);
        let txn = self.store.begin().await?;
        account_links::issue(
            &txn,
            &LinkRecord {
                tenant_id: tenant.id,
                token_hash: sha256_hex(&token),
                kind,
                user_id: user.id,
                email,
                created_at: now,
                expires_at,
                used_at: None,
            },
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!("issued an account link");
        Ok(IssuedLink {
            token: SecretString::from(token),
            expires_at,
        })
    }

    /// The live link of `kind` behind `token`, without spending it (to show the form it leads
    /// to); `None` for unknown, used, superseded or expired links.
    pub async fn peek_link(
        &self,
        tenant: &TenantRecord,
        kind: LinkKind,
        token: &str,
    ) -> Result<Option<LinkRecord>, AuthnError> {
        let Some(hash) = token_hash(token) else {
            return Ok(None);
        };
        Ok(
            account_links::find_live(self.store.conn(), tenant.id, kind, &hash, Clock.now())
                .await?,
        )
    }

    /// Spends an e-mail confirmation link and marks the address it was sent to verified.
    /// `NotFound` for a dead link, or when the user's address changed since it was sent.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn confirm_email(
        &self,
        tenant: &TenantRecord,
        token: &str,
    ) -> Result<UserRecord, AuthnError> {
        let hash = token_hash(token).ok_or(AuthnError::NotFound)?;
        let now = Clock.now();
        let txn = self.store.begin().await?;
        let link = account_links::spend(&txn, tenant.id, LinkKind::VerifyEmail, &hash, now)
            .await?
            .ok_or(AuthnError::NotFound)?;
        if !users::confirm_email(&txn, tenant.id, link.user_id, &link.email, now).await? {
            return Err(AuthnError::NotFound);
        }
        let user = users::find(&txn, tenant.id, link.user_id)
            .await?
            .ok_or(AuthnError::NotFound)?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(user = %user.id, "confirmed an e-mail address");
        Ok(user)
    }

    /// Spends a password-reset or invitation link and sets the new password (checked against
    /// the tenant's policy before the link is spent, so a refused password leaves the link
    /// usable). An invitation also confirms the address it was sent to. The failed-attempt
    /// counter is cleared, a `locked` account unlocked, and, by the tenant's policy, the user's
    /// sessions end and its refresh tokens are revoked (RFC 9700 §4.14.2 recommends revoking
    /// refresh tokens on a password change).
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, kind = kind.as_str()))]
    pub async fn set_password_by_link(
        &self,
        tenant: &TenantRecord,
        kind: LinkKind,
        token: &str,
        password: SecretString,
    ) -> Result<PasswordSet, AuthnError> {
        if kind == LinkKind::VerifyEmail {
            return Err(AuthnError::Invalid("not a password link".into()));
        }
        let link = self
            .peek_link(tenant, kind, token)
            .await?
            .ok_or(AuthnError::NotFound)?;
        let user = users::find(self.store.conn(), tenant.id, link.user_id)
            .await?
            .ok_or(AuthnError::NotFound)?;
        let hash = self.hash_for(tenant, &password, &user.username).await?;
        let now = Clock.now();
        let txn = self.store.begin().await?;
        let link = account_links::spend(&txn, tenant.id, kind, &sha256_hex(token), now)
            .await?
            .ok_or(AuthnError::NotFound)?;
        users::set_password_hash(&txn, tenant.id, link.user_id, Some(&hash), now).await?;
        if kind == LinkKind::Invitation {
            users::confirm_email(&txn, tenant.id, link.user_id, &link.email, now).await?;
        }
        if user.status == tessera_core::UserStatus::Locked {
            users::set_status(
                &txn,
                tenant.id,
                user.id,
                tessera_core::UserStatus::Active,
                now,
            )
            .await?;
        }
        // A reset link also answers "the account is locked after failed attempts". (With Redis
        // the counter goes at once, before the commit: see `Ephemeral::clear_counter_in`.)
        self.store
            .ephemeral()
            .clear_counter_in(&txn, tenant.id, &user_key(user.id))
            .await?;
        let (sessions_ended, families_revoked) =
            end_access(&txn, tenant, user.id, "password reset", now).await?;
        let user = users::find(&txn, tenant.id, link.user_id)
            .await?
            .ok_or(AuthnError::NotFound)?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(user = %user.id, sessions_ended, families_revoked, "set a password by link");
        Ok(PasswordSet {
            user,
            sessions_ended,
            families_revoked,
        })
    }

    /// Changes a signed-in user's password after checking the current one (argon2 on the hash
    /// pool). The session `keep_sid` stays; by the tenant's policy the user's other sessions end
    /// and its refresh tokens are revoked. `InvalidCredentials`-like refusals are `Invalid`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user))]
    pub async fn change_password(
        &self,
        tenant: &TenantRecord,
        user: UserId,
        current: SecretString,
        new: SecretString,
        keep_sid: Option<&str>,
    ) -> Result<PasswordSet, AuthnError> {
        let record = users::find(self.store.conn(), tenant.id, user)
            .await?
            .ok_or(AuthnError::NotFound)?;
        let Some(stored) = record.password_hash.clone() else {
            return Err(AuthnError::Invalid("the account has no password".into()));
        };
        if !self.pool.verify(&current, &stored).await? {
            return Err(AuthnError::Invalid(
                "the current password is not right".into(),
            ));
        }
        let hash = self.hash_for(tenant, &new, &record.username).await?;
        let now = Clock.now();
        let txn = self.store.begin().await?;
        // Only if nobody changed it meanwhile.
        if !users::replace_password_hash(&txn, tenant.id, user, &stored, &hash, now).await? {
            return Err(AuthnError::Conflict);
        }
        let a = &tenant.settings.accounts;
        let mut sessions_ended = 0;
        if a.reset_ends_sessions {
            for sid in sessions::sids_of_user(&txn, tenant.id, user).await? {
                if Some(sid.as_str()) != keep_sid {
                    sessions::delete_by_sid(&txn, tenant.id, &sid).await?;
                    sessions_ended += 1;
                }
            }
        }
        let families_revoked = if a.reset_revokes_refresh_tokens {
            families::revoke_for_user(&txn, tenant.id, user, "password changed", now).await?
        } else {
            0
        };
        let user = users::find(&txn, tenant.id, user)
            .await?
            .ok_or(AuthnError::NotFound)?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(sessions_ended, families_revoked, "changed a password");
        Ok(PasswordSet {
            user,
            sessions_ended,
            families_revoked,
        })
    }
}

/// Ends the user's sessions and revokes its token families as the tenant's policy says; returns
/// how many of each.
async fn end_access<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &TenantRecord,
    user: UserId,
    reason: &str,
    now: i64,
) -> Result<(u64, u64), AuthnError> {
    let a = &tenant.settings.accounts;
    let ended = if a.reset_ends_sessions {
        sessions::delete_for_user(db, tenant.id, user).await?
    } else {
        0
    };
    let revoked = if a.reset_revokes_refresh_tokens {
        families::revoke_for_user(db, tenant.id, user, reason, now).await?
    } else {
        0
    };
    Ok((ended, revoked))
}

#[cfg(test)]
mod tests {
    use super::token_hash;

    #[test]
    fn only_plausible_tokens_are_looked_up() {
        assert!(token_hash("abc_DEF-123").is_some());
        assert!(token_hash("").is_none());
        assert!(token_hash("a b").is_none());
        assert!(token_hash("x'; drop table").is_none());
        assert!(token_hash(&"a".repeat(65)).is_none());
    }
}
