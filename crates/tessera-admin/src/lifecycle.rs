//! Administrator actions on the account lifecycle: invite a user, resend the e-mail verification
//! link, force a password reset, unlock an account, and reset the second factors. Each action
//! changes the account, issues its single-use link (`tessera_store::account_links`), queues the
//! mail that carries it in the outbox and appends its audit event in one transaction, so it is
//! either done, mailed and recorded, or not at all. Two exceptions: an invitation creates the
//! user first (through the [`Authenticator`], which checks the name and claims) and deletes it
//! again if the invitation cannot be stored; an MFA reset is recorded by the authenticator
//! (`mfa.removed`, atomically) and then as `user.mfa_reset`.
//!
//! The operations ([`Lifecycle`]) are shared by the admin API (the handlers below, actor
//! `admin:<client id>`) and the `tessera user …` commands (actor `admin:cli`). The mail is
//! delivered by a running server's Mailer (or written by the file transport), never by the
//! caller.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tessera_authn::Authenticator;
use tessera_authn::throttle::user_key;
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{Clock, TenantId, UserId, UserStatus};
use tessera_mail::Outbox;
use tessera_store::account_links::{self, LinkKind, LinkRecord};
use tessera_store::{
    AuditEventRecord, DatabaseTransaction, StandardClaims, Store, StoreError, UserRecord, audit,
    families, sessions, users,
};
use tessera_tenants::{Directory, TenantAdmin, TenantSnapshot};
use uuid::Uuid;

use crate::users::{UserView, path_segment};
use crate::{AdminError, AdminPrincipal, Body, PREFIX};

/// Random bytes in a link token: 256 bits, as `tessera_authn::links` issues them.
const LINK_BYTES: usize = 32;

/// Audit action: a user was invited.
pub const USER_INVITED: &str = "user.invited";
/// Audit action: a new e-mail verification link was sent.
pub const USER_VERIFICATION_SENT: &str = "user.verification_sent";
/// Audit action: an administrator forced a password reset.
pub const USER_PASSWORD_RESET_FORCED: &str = "user.password_reset_forced";
/// Audit action: an administrator unlocked an account.
pub const USER_UNLOCKED: &str = "user.unlocked";
/// Audit action: an administrator reset a user's second factors.
pub const USER_MFA_RESET: &str = "user.mfa_reset";
/// Audit actor of the `tessera` command line: an administrator without an admin client, as
/// `tessera user reset-mfa` has always recorded it.
pub const CLI_ACTOR: &str = "admin:cli";

/// The services the lifecycle actions use.
pub struct Lifecycle<'a> {
    /// The database.
    pub store: &'a Store,
    /// Users (creation, lookups).
    pub authn: &'a Authenticator,
    /// Queues the mails.
    pub outbox: &'a Outbox,
}

/// A user to invite.
#[derive(Debug)]
pub struct Invite {
    /// Sign-in name.
    pub username: String,
    /// Where the invitation goes.
    pub email: String,
    /// Other OIDC standard claims.
    pub claims: StandardClaims,
}

/// What sending a link did.
#[derive(Debug, Serialize)]
pub struct LinkSent {
    /// The outbox id of the mail.
    pub mail_id: Uuid,
    /// When the link stops working, Unix seconds.
    pub expires_at: i64,
}

/// What a forced password reset did.
#[derive(Debug, Serialize)]
pub struct ResetForced {
    /// The user, as it is now.
    #[serde(serialize_with = "user_view")]
    pub user: UserRecord,
    /// Whether the password was removed.
    pub password_revoked: bool,
    /// The reset mail, unless the user has no e-mail address.
    pub link: Option<LinkSent>,
    /// Sessions ended.
    pub sessions_ended: u64,
    /// Refresh token families revoked.
    pub families_revoked: u64,
}

/// What an unlock did.
#[derive(Debug, Serialize)]
pub struct Unlocked {
    /// The user, as it is now.
    #[serde(serialize_with = "user_view")]
    pub user: UserRecord,
    /// Whether the account was `locked` (else it was already active).
    pub was_locked: bool,
    /// Whether a failed sign-in counter was cleared.
    pub counter_cleared: bool,
}

/// Serializes a user as the admin API shows it (no password hash).
fn user_view<S: serde::Serializer>(user: &UserRecord, s: S) -> Result<S::Ok, S::Error> {
    UserView::from(user.clone()).serialize(s)
}

fn store_error(err: StoreError) -> AdminError {
    if err.is_unavailable() {
        AdminError::Unavailable
    } else {
        AdminError::Unexpected(anyhow::Error::new(err).context("account lifecycle"))
    }
}

/// An audit event of `action` about `user` by `actor`.
fn event(
    snapshot: &TenantSnapshot,
    action: &str,
    actor: &str,
    user: UserId,
    details: Value,
    now: i64,
) -> AuditEventRecord {
    AuditEventRecord {
        id: Uuid::now_v7(),
        tenant_id: snapshot.tenant.id,
        occurred_at: now,
        action: action.to_owned(),
        actor: actor.to_owned(),
        user_id: Some(user),
        client_id: None,
        ip: None,
        user_agent: None,
        details,
    }
}

/// Appends the audit event of `action` about `user` by `actor` on the caller's transaction.
async fn record(
    txn: &DatabaseTransaction,
    snapshot: &TenantSnapshot,
    action: &str,
    actor: &str,
    user: UserId,
    details: Value,
    now: i64,
) -> Result<(), AdminError> {
    audit::insert(txn, &event(snapshot, action, actor, user, details, now))
        .await
        .map_err(store_error)
}

/// Reads `user` as the transaction left it, then commits the transaction.
async fn reload_and_commit(
    txn: DatabaseTransaction,
    tenant: TenantId,
    user: UserId,
) -> Result<UserRecord, AdminError> {
    let current = users::find(&txn, tenant, user)
        .await
        .map_err(store_error)?
        .ok_or(AdminError::NotFound("user"))?;
    txn.commit().await.map_err(|e| store_error(e.into()))?;
    Ok(current)
}

impl Lifecycle<'_> {
    /// Stores a new link of `kind` for `user` (superseding the older ones of that kind) and queues
    /// its mail, on the caller's transaction. `None` when the user has no e-mail address.
    async fn link_and_mail(
        &self,
        txn: &DatabaseTransaction,
        snapshot: &TenantSnapshot,
        kind: LinkKind,
        user: &UserRecord,
        inviter: Option<String>,
        now: i64,
    ) -> Result<Option<LinkSent>, AdminError> {
        let Some(email) = user.email.clone() else {
            return Ok(None);
        };
        let ttl = tessera_authn::links::ttl(&snapshot.tenant, kind);
        let token = SecretString::from(random_token(LINK_BYTES));
        let expires_at = now + ttl;
        account_links::issue(
            txn,
            &LinkRecord {
                tenant_id: snapshot.tenant.id,
                token_hash: sha256_hex(token.expose_secret()),
                kind,
                user_id: user.id,
                email,
                created_at: now,
                expires_at,
                used_at: None,
            },
        )
        .await
        .map_err(store_error)?;
        let Some(mail) = tessera_mail::link_mail(
            kind,
            user,
            &snapshot.issuer,
            token.expose_secret(),
            ttl,
            inviter,
        ) else {
            return Ok(None);
        };
        let mail_id = self.outbox.enqueue(txn, snapshot, mail).await?;
        Ok(Some(LinkSent {
            mail_id,
            expires_at,
        }))
    }

    /// In one transaction: mails `user` a new link of `kind` and records `action` by `actor`
    /// with the mail's id and expiry. `missing` is the refusal when no link can be mailed.
    #[allow(clippy::too_many_arguments)]
    async fn send_link(
        &self,
        snapshot: &TenantSnapshot,
        kind: LinkKind,
        user: &UserRecord,
        inviter: Option<String>,
        action: &str,
        actor: &str,
        missing: AdminError,
    ) -> Result<LinkSent, AdminError> {
        let now = Clock.now();
        let txn = self.store.begin().await.map_err(store_error)?;
        let sent = self
            .link_and_mail(&txn, snapshot, kind, user, inviter, now)
            .await?
            .ok_or(missing)?;
        record(
            &txn,
            snapshot,
            action,
            actor,
            user.id,
            json!({ "mail_id": sent.mail_id, "expires_at": sent.expires_at }),
            now,
        )
        .await?;
        txn.commit().await.map_err(|e| store_error(e.into()))?;
        Ok(sent)
    }

    /// Creates `invite`'s user without a password and with its address unverified, and mails it
    /// an invitation link (`/invitation`) naming `inviter`. Works whatever the tenant's
    /// `accounts.signup` policy: an administrator may always invite. `Conflict` for a taken
    /// username; `InvalidRequest` for an unusable address.
    pub async fn invite(
        &self,
        snapshot: &TenantSnapshot,
        invite: Invite,
        actor: &str,
        inviter: Option<String>,
    ) -> Result<UserRecord, AdminError> {
        // Refused before anything is stored: a user whose invitation cannot be mailed is useless.
        tessera_mail::parse_recipient(&invite.email)?;
        let new = tessera_authn::NewUser {
            username: invite.username,
            email: Some(invite.email),
            email_verified: false,
            claims: invite.claims,
            password: None,
        };
        let user = self.authn.create_user(&snapshot.tenant, new).await?;
        match self.send_invitation(snapshot, &user, actor, inviter).await {
            Ok(()) => Ok(user),
            Err(e) => {
                // Undo the creation, so the invitation can simply be tried again.
                if let Err(undo) = self.authn.delete_user(snapshot.tenant.id, user.id).await {
                    tracing::warn!(error = %undo, user = %user.id, "removing a user whose invitation failed");
                }
                Err(e)
            }
        }
    }

    async fn send_invitation(
        &self,
        snapshot: &TenantSnapshot,
        user: &UserRecord,
        actor: &str,
        inviter: Option<String>,
    ) -> Result<(), AdminError> {
        self.send_link(
            snapshot,
            LinkKind::Invitation,
            user,
            inviter,
            USER_INVITED,
            actor,
            AdminError::InvalidRequest("an invitation needs an email".into()),
        )
        .await?;
        tracing::info!(tenant = %snapshot.tenant.slug, user = %user.id, actor, "invited a user");
        Ok(())
    }

    /// Sends `user` a new e-mail verification link (`/verify-email`); older ones stop working.
    /// `Conflict` when the user has no address or it is already verified.
    pub async fn resend_verification(
        &self,
        snapshot: &TenantSnapshot,
        user: &UserRecord,
        actor: &str,
    ) -> Result<LinkSent, AdminError> {
        if user.email.is_none() {
            return Err(AdminError::Conflict(
                "the user has no email address to verify".into(),
            ));
        }
        if user.email_verified {
            return Err(AdminError::Conflict(
                "the user's email address is already verified".into(),
            ));
        }
        let sent = self
            .send_link(
                snapshot,
                LinkKind::VerifyEmail,
                user,
                None,
                USER_VERIFICATION_SENT,
                actor,
                AdminError::Conflict("the user has no email address".into()),
            )
            .await?;
        tracing::info!(tenant = %snapshot.tenant.slug, user = %user.id, actor, "sent a new verification link");
        Ok(sent)
    }

    /// Forces a password reset: removes the password when `revoke_password` (the old one stops
    /// working at once), ends every session of the user (with back-channel logout notices),
    /// revokes its refresh token families, and mails a reset link (`/password/reset`). An
    /// administrator's reset answers a suspected compromise, so sessions and tokens end whatever
    /// the tenant's `accounts.reset_*` policy (which governs self-service resets). A user without
    /// an e-mail address gets no link: with `revoke_password` the rest still happens (an
    /// administrator then sets a password); without it there is nothing to do (`Conflict`).
    pub async fn force_reset(
        &self,
        snapshot: &TenantSnapshot,
        user: &UserRecord,
        revoke_password: bool,
        actor: &str,
    ) -> Result<ResetForced, AdminError> {
        if user.email.is_none() && !revoke_password {
            return Err(AdminError::Conflict(
                "the user has no email address to send a reset link to; \
                 use revoke_password or set a password"
                    .into(),
            ));
        }
        let tenant = snapshot.tenant.id;
        let now = Clock.now();
        let txn = self.store.begin().await.map_err(store_error)?;
        if revoke_password {
            users::set_password_hash(&txn, tenant, user.id, None, now)
                .await
                .map_err(store_error)?;
        }
        let sids = sessions::sids_of_user(&txn, tenant, user.id)
            .await
            .map_err(store_error)?;
        let sessions_ended = sessions::delete_for_user(&txn, tenant, user.id)
            .await
            .map_err(store_error)?;
        // RFC 9700 §4.14.2: refresh tokens are revoked when the credential is reset.
        let families_revoked =
            families::revoke_for_user(&txn, tenant, user.id, "password reset forced", now)
                .await
                .map_err(store_error)?;
        let link = self
            .link_and_mail(&txn, snapshot, LinkKind::PasswordReset, user, None, now)
            .await?;
        record(
            &txn,
            snapshot,
            USER_PASSWORD_RESET_FORCED,
            actor,
            user.id,
            json!({
                "password_revoked": revoke_password,
                "mail_id": link.as_ref().map(|l| l.mail_id),
                "sessions_ended": sessions_ended,
                "families_revoked": families_revoked,
            }),
            now,
        )
        .await?;
        let current = reload_and_commit(txn, tenant, user.id).await?;
        self.notify_logout(snapshot, user.id, &sids, now).await;
        tracing::info!(tenant = %snapshot.tenant.slug, user = %user.id, actor, sessions_ended, families_revoked, "forced a password reset");
        Ok(ResetForced {
            user: current,
            password_revoked: revoke_password,
            link,
            sessions_ended,
            families_revoked,
        })
    }

    /// Unlocks an account: `locked` becomes `active` and the user's failed sign-in counter (the
    /// temporary lock after too many wrong passwords) is cleared. Idempotent for an active user.
    /// A disabled user stays disabled (`Conflict`): enabling is a separate decision.
    pub async fn unlock(
        &self,
        snapshot: &TenantSnapshot,
        user: &UserRecord,
        actor: &str,
    ) -> Result<Unlocked, AdminError> {
        if user.status == UserStatus::Disabled {
            return Err(AdminError::Conflict(
                "the user is disabled, not locked; enable it instead".into(),
            ));
        }
        let tenant = snapshot.tenant.id;
        let now = Clock.now();
        let txn = self.store.begin().await.map_err(store_error)?;
        let was_locked = user.status == UserStatus::Locked;
        if was_locked {
            users::set_status(&txn, tenant, user.id, UserStatus::Active, now)
                .await
                .map_err(store_error)?;
        }
        let key = user_key(user.id);
        // With Redis the counter goes at once, before the commit, so a Redis failure undoes
        // the whole unlock (503) rather than audit one that left the counter in place; see
        // `Ephemeral::clear_counter_in`.
        let counter_cleared = self
            .store
            .ephemeral()
            .clear_counter_in(&txn, tenant, &key)
            .await
            .map_err(store_error)?;
        record(
            &txn,
            snapshot,
            USER_UNLOCKED,
            actor,
            user.id,
            json!({ "was_locked": was_locked, "counter_cleared": counter_cleared }),
            now,
        )
        .await?;
        let current = reload_and_commit(txn, tenant, user.id).await?;
        tracing::info!(tenant = %snapshot.tenant.slug, user = %user.id, actor, was_locked, counter_cleared, "unlocked a user");
        Ok(Unlocked {
            user: current,
            was_locked,
            counter_cleared,
        })
    }

    /// Resets `user`'s second factors (authenticator app, recovery codes, passkeys) and records
    /// `user.mfa_reset` by `actor`, also when there was nothing to remove. The removal itself is
    /// recorded atomically by the authenticator (`mfa.removed`); returns whether anything was
    /// removed.
    pub async fn reset_mfa(
        &self,
        snapshot: &TenantSnapshot,
        user: &UserRecord,
        actor: &str,
    ) -> Result<bool, AdminError> {
        let tenant = snapshot.tenant.id;
        let now = Clock.now();
        let removed = self
            .authn
            .remove_mfa(tenant, user.id, actor.to_owned(), None, now)
            .await?;
        audit::insert(
            self.store.conn(),
            &event(
                snapshot,
                USER_MFA_RESET,
                actor,
                user.id,
                json!({ "removed": removed }),
                now,
            ),
        )
        .await
        .map_err(store_error)?;
        tracing::info!(tenant = %snapshot.tenant.slug, user = %user.id, actor, removed, "reset a user's second factors");
        Ok(removed)
    }

    /// Queues back-channel logout notices for the ended sessions (OpenID Connect Back-Channel
    /// Logout 1.0 §2.5); failures only log, the sessions have ended either way.
    async fn notify_logout(
        &self,
        snapshot: &TenantSnapshot,
        user: UserId,
        sids: &[String],
        now: i64,
    ) {
        for sid in sids {
            if let Err(e) = tessera_tokens::logout::session_ended(
                self.store,
                snapshot.tenant.id,
                user,
                sid,
                now,
            )
            .await
            {
                tracing::warn!(error = %e, "queueing logout notices failed");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Admin API

/// `POST /tenants/{slug}/users/invitations` body: a username, the address to invite, and
/// optional standard claims (nested in `claims` or at the top level).
#[derive(Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct InviteBody {
    username: String,
    email: String,
    claims: StandardClaims,
}

impl TryFrom<Map<String, Value>> for InviteBody {
    type Error = String;

    fn try_from(mut body: Map<String, Value>) -> Result<Self, String> {
        let text = |body: &mut Map<String, Value>, name: &str| match body.remove(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("{name} must be a string")),
            None => Err(format!("missing field `{name}`")),
        };
        let username = text(&mut body, "username")?;
        let email = text(&mut body, "email")?;
        for forbidden in ["password", "email_verified"] {
            if body.contains_key(forbidden) {
                return Err(format!(
                    "`{forbidden}` cannot be given: the invited user sets the password and \
                     confirms the address by accepting the invitation"
                ));
            }
        }
        let claims = crate::users::claims_members(body)?;
        let claims = serde_json::from_value(Value::Object(claims)).map_err(|e| e.to_string())?;
        Ok(Self {
            username,
            email,
            claims,
        })
    }
}

/// `POST /tenants/{slug}/users/{username}/password-reset` body (optional).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForceResetBody {
    /// Remove the current password (default `true`).
    revoke_password: Option<bool>,
}

/// The tenant named by the path, once the caller may administer it.
async fn snapshot(
    principal: &AdminPrincipal,
    directory: &Directory,
    raw_slug: &str,
) -> Result<std::sync::Arc<TenantSnapshot>, AdminError> {
    let slug = principal.authorize_tenant(raw_slug).await?;
    directory
        .resolve(slug.as_ref())
        .await?
        .ok_or(AdminError::NotFound("tenant"))
}

/// The user named by the path, in that tenant only.
async fn user(
    authn: &Authenticator,
    snapshot: &TenantSnapshot,
    username: &str,
) -> Result<UserRecord, AdminError> {
    authn
        .user_by_username(snapshot.tenant.id, username)
        .await?
        .ok_or(AdminError::NotFound("user"))
}

/// The tenant and the user named by a `/tenants/{slug}/users/{username}/…` path.
async fn target(
    principal: &AdminPrincipal,
    directory: &Directory,
    authn: &Authenticator,
    path: web::Path<(String, String)>,
) -> Result<(std::sync::Arc<TenantSnapshot>, UserRecord), AdminError> {
    let (slug, username) = path.into_inner();
    let snapshot = snapshot(principal, directory, &slug).await?;
    let user = user(authn, &snapshot, &username).await?;
    Ok((snapshot, user))
}

/// The audit actor of an admin API caller.
fn actor(principal: &AdminPrincipal) -> String {
    principal.actor()
}

/// The name an invitation gives its inviter: the admin client's display name.
async fn inviter(admin: &TenantAdmin, principal: &AdminPrincipal) -> Option<String> {
    admin
        .client("system", principal.client_id().as_ref())
        .await
        .ok()
        .map(|c| c.name)
        .filter(|n| !n.trim().is_empty())
}

/// The services of a handler.
fn lifecycle<'a>(store: &'a Store, authn: &'a Authenticator, outbox: &'a Outbox) -> Lifecycle<'a> {
    Lifecycle {
        store,
        authn,
        outbox,
    }
}

/// `POST /tenants/{slug}/users/invitations`: creates the user without a password and mails it
/// an invitation link. 201 with the user (never the link).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn invite(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    authn: web::Data<Authenticator>,
    outbox: web::Data<Outbox>,
    path: web::Path<String>,
    body: Body<InviteBody>,
) -> Result<HttpResponse, AdminError> {
    let snapshot = snapshot(&principal, &directory, &path).await?;
    let body = body?.into_inner();
    let inviter = inviter(&admin, &principal).await;
    let user = lifecycle(&store, &authn, &outbox)
        .invite(
            &snapshot,
            Invite {
                username: body.username,
                email: body.email,
                claims: body.claims,
            },
            &actor(&principal),
            inviter,
        )
        .await?;
    let location = format!(
        "{PREFIX}/tenants/{}/users/{}",
        snapshot.tenant.slug,
        path_segment(&user.username)
    );
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(UserView::from(user)))
}

/// `POST /tenants/{slug}/users/{username}/verification`: mails a new verification link.
pub(crate) async fn resend_verification(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    authn: web::Data<Authenticator>,
    outbox: web::Data<Outbox>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (snapshot, user) = target(&principal, &directory, &authn, path).await?;
    let sent = lifecycle(&store, &authn, &outbox)
        .resend_verification(&snapshot, &user, &actor(&principal))
        .await?;
    Ok(HttpResponse::Accepted().json(sent))
}

/// `POST /tenants/{slug}/users/{username}/password-reset`: forces a password reset.
pub(crate) async fn force_reset(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    authn: web::Data<Authenticator>,
    outbox: web::Data<Outbox>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let snapshot = snapshot(&principal, &directory, &slug).await?;
    // The body is optional: none at all means the defaults.
    let body: ForceResetBody = if body.iter().all(u8::is_ascii_whitespace) {
        ForceResetBody::default()
    } else if body.len() > crate::BODY_LIMIT {
        return Err(AdminError::PayloadTooLarge(crate::BODY_LIMIT));
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AdminError::InvalidRequest(format!("invalid JSON body: {e}")))?
    };
    let user = user(&authn, &snapshot, &username).await?;
    let done = lifecycle(&store, &authn, &outbox)
        .force_reset(
            &snapshot,
            &user,
            body.revoke_password.unwrap_or(true),
            &actor(&principal),
        )
        .await?;
    Ok(HttpResponse::Ok().json(done))
}

/// `POST /tenants/{slug}/users/{username}/unlock`: unlocks the account.
pub(crate) async fn unlock(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    authn: web::Data<Authenticator>,
    outbox: web::Data<Outbox>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (snapshot, user) = target(&principal, &directory, &authn, path).await?;
    let done = lifecycle(&store, &authn, &outbox)
        .unlock(&snapshot, &user, &actor(&principal))
        .await?;
    Ok(HttpResponse::Ok().json(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_body_needs_username_and_email_and_refuses_a_password() {
        let body: InviteBody = serde_json::from_value(json!({
            "username": "bob",
            "email": "bob@example.com",
            "given_name": "Bob",
        }))
        .expect("body");
        assert_eq!(body.username, "bob");
        assert_eq!(body.claims.given_name.as_deref(), Some("Bob"));
        for bad in [
            json!({"username": "bob"}),
            json!({"email": "bob@example.com"}),
            json!({"username": "bob", "email": "b@e.c", "password": "x"}),
            json!({"username": "bob", "email": "b@e.c", "email_verified": true}),
            json!({"username": "bob", "email": "b@e.c", "colour": "blue"}),
            json!({"username": 7, "email": "b@e.c"}),
        ] {
            assert!(
                serde_json::from_value::<InviteBody>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
