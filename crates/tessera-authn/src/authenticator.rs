//! [`Authenticator`]: the one entry point for user accounts, password sign-in and SSO sessions.
//! Database work is plain `async`; argon2 runs on the [`HashPool`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{Clock, TenantId, UserId, UserStatus};
use tessera_store::{
    SessionRecord, StandardClaims, Store, StoreError, TenantRecord, UserRecord, sessions, tenants,
    throttle as throttle_rows, users,
};

use crate::hasher::{HashParams, HashPool, needs_rehash};
use crate::policy::{check_claims, check_password, normalize_email, normalize_username};
use crate::throttle::{self, Reservation, ip_key, name_key, user_key};
use crate::{AuthnError, LoginError};

/// Random bytes in a session cookie value: 256 bits, so its SHA-256 is a safe lookup key.
const COOKIE_BYTES: usize = 32;
/// Random bytes in a public session id (`sid`).
const SID_BYTES: usize = 16;
/// `last_seen_at` is written at most this often, seconds, keeping session reads cheap.
const TOUCH_EVERY_SECS: i64 = 60;
/// Longest `acr` value (the column holds 255).
const MAX_ACR_CHARS: usize = 255;
/// Distinct argon2 parameter sets whose dummy hash is kept.
const MAX_DUMMIES: usize = 64;
/// Largest page of [`Authenticator::list_users`].
const MAX_PAGE: u64 = 1000;

/// A user to create.
#[derive(Debug)]
pub struct NewUser {
    /// Sign-in name; stored trimmed and lowercased.
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Whether the address is known to belong to the user (needs `email`).
    pub email_verified: bool,
    /// The other OIDC standard claims.
    pub claims: StandardClaims,
    /// Initial password, checked against the tenant's policy; `None` creates a user who cannot
    /// sign in with a password until one is set.
    pub password: Option<SecretString>,
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserPatch {
    /// New e-mail address (`Some(None)` removes it). A changed address is unverified unless
    /// `email_verified` says otherwise.
    pub email: Option<Option<String>>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// Replacement standard claims.
    pub claims: Option<StandardClaims>,
}

/// A session just started: the cookie value to send (never stored) and its record.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value: 256 random bits, base64url. Only its SHA-256 is stored.
    pub cookie_value: SecretString,
    /// The stored session.
    pub session: SessionRecord,
}

/// A live session and its (active) user.
#[derive(Clone, Debug)]
pub struct ActiveSession {
    /// The session.
    pub session: SessionRecord,
    /// Its user.
    pub user: UserRecord,
}

/// User accounts, password sign-in with throttling, and SSO sessions of every tenant; cheap to
/// clone (it shares the store, the hashing pool and the dummy-hash cache).
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) store: Store,
    pub(crate) pool: HashPool,
    /// One dummy PHC string per parameter set: what an unknown username is verified against.
    pub(crate) dummies: Arc<Mutex<HashMap<HashParams, Arc<str>>>>,
}

impl Authenticator {
    /// Needs a running actix System (starts the password-hashing pool: an actix SyncArbiter,
    /// `threads` workers, so argon2 never runs on the HTTP reactor; bounded: callers await a
    /// mailbox slot, and a saturated pool answers `Unavailable`).
    pub fn new(store: Store, threads: usize) -> Self {
        Self {
            store,
            pool: HashPool::start(threads),
            dummies: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// How many argon2 operations this authenticator has run (a refused sign-in costs exactly one,
    /// whether or not the username exists).
    pub fn argon2_operations(&self) -> u64 {
        self.pool.operations()
    }

    // --- Users ---------------------------------------------------------------------------

    /// Creates an active user. `Conflict` when the username is taken in this tenant, `Invalid`
    /// when a field or the password breaks a rule.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn create_user(
        &self,
        tenant: &TenantRecord,
        new: NewUser,
    ) -> Result<UserRecord, AuthnError> {
        let username = normalize_username(&new.username)?;
        let email = new.email.as_deref().map(normalize_email).transpose()?;
        if new.email_verified && email.is_none() {
            return Err(AuthnError::Invalid(
                "email_verified needs an email address".into(),
            ));
        }
        check_claims(&new.claims)?;
        let db = self.store.conn();
        // Refuse a taken name before paying for a hash; the unique index still decides races.
        if users::find_by_username(db, tenant.id, &username)
            .await?
            .is_some()
        {
            return Err(AuthnError::Conflict);
        }
        let password_hash = match &new.password {
            Some(password) => Some(self.hash_for(tenant, password, &username).await?),
            None => None,
        };
        let now = Clock.now();
        let user = UserRecord {
            tenant_id: tenant.id,
            id: UserId::new(),
            username,
            email,
            email_verified: new.email_verified,
            claims: new.claims,
            password_hash,
            status: UserStatus::Active,
            created_at: now,
            updated_at: now,
        };
        users::insert(db, &user).await?;
        tracing::info!(user = %user.id, "created a user");
        Ok(user)
    }

    /// Checks `password` against the tenant's policy and hashes it with the tenant's cost.
    pub(crate) async fn hash_for(
        &self,
        tenant: &TenantRecord,
        password: &SecretString,
        username: &str,
    ) -> Result<String, AuthnError> {
        let policy = &tenant.settings.password;
        check_password(policy, password.expose_secret(), username)?;
        self.pool.hash(password, HashParams::from(policy)).await
    }

    /// Sets a user's password (checked against the tenant's policy). As after any credential
    /// reset, the user's sessions end and the account's failed-attempt counter is cleared.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user))]
    pub async fn set_password(
        &self,
        tenant: &TenantRecord,
        user: UserId,
        password: SecretString,
    ) -> Result<(), AuthnError> {
        let record = users::find(self.store.conn(), tenant.id, user)
            .await?
            .ok_or(AuthnError::NotFound)?;
        let hash = self.hash_for(tenant, &password, &record.username).await?;
        let txn = self.store.begin().await?;
        users::set_password_hash(&txn, tenant.id, user, Some(&hash), Clock.now()).await?;
        sessions::delete_for_user(&txn, tenant.id, user).await?;
        self.store
            .ephemeral()
            .clear_counter_in(&txn, tenant.id, &user_key(user))
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!("set a user's password");
        Ok(())
    }

    /// One user by id.
    pub async fn user(
        &self,
        tenant: TenantId,
        id: UserId,
    ) -> Result<Option<UserRecord>, AuthnError> {
        Ok(users::find(self.store.conn(), tenant, id).await?)
    }

    /// One user by username (case-insensitive); `None` also for a name no user could have.
    pub async fn user_by_username(
        &self,
        tenant: TenantId,
        username: &str,
    ) -> Result<Option<UserRecord>, AuthnError> {
        let Ok(username) = normalize_username(username) else {
            return Ok(None);
        };
        Ok(users::find_by_username(self.store.conn(), tenant, &username).await?)
    }

    /// Up to `limit` (1 to 1000) users in creation order, after the user `after`; with `search`,
    /// only those whose username or e-mail address starts with it (case-insensitive).
    pub async fn list_users(
        &self,
        tenant: TenantId,
        after: Option<UserId>,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<UserRecord>, AuthnError> {
        let limit = limit.clamp(1, MAX_PAGE);
        Ok(users::list(self.store.conn(), tenant, after, search, limit).await?)
    }

    /// Changes a user's e-mail address, its verification flag and standard claims.
    pub async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        patch: UserPatch,
    ) -> Result<UserRecord, AuthnError> {
        let db = self.store.conn();
        let mut user = users::find(db, tenant, id)
            .await?
            .ok_or(AuthnError::NotFound)?;
        if let Some(email) = patch.email {
            let email = email.as_deref().map(normalize_email).transpose()?;
            if email != user.email {
                user.email = email;
                user.email_verified = false;
            }
        }
        if let Some(verified) = patch.email_verified {
            user.email_verified = verified;
        }
        if user.email_verified && user.email.is_none() {
            return Err(AuthnError::Invalid(
                "email_verified needs an email address".into(),
            ));
        }
        if let Some(claims) = patch.claims {
            check_claims(&claims)?;
            user.claims = claims;
        }
        let now = Clock.now();
        users::update_profile(
            db,
            tenant,
            id,
            user.email.as_deref(),
            user.email_verified,
            &user.claims,
            now,
        )
        .await?;
        user.updated_at = now;
        Ok(user)
    }

    /// Sets a user's status; any status but active ends the user's sessions at once.
    pub async fn set_status(
        &self,
        tenant: TenantId,
        id: UserId,
        status: UserStatus,
    ) -> Result<(), AuthnError> {
        let txn = self.store.begin().await?;
        users::set_status(&txn, tenant, id, status, Clock.now()).await?;
        if status != UserStatus::Active {
            sessions::delete_for_user(&txn, tenant, id).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(tenant = %tenant, user = %id, status = %status, "changed a user's status");
        Ok(())
    }

    /// Deletes a user with everything it owns: sessions, its failed-attempt counter, second
    /// factors, consent grants, authorization codes, token families and their refresh tokens — in one
    /// transaction, so no token outlives its subject.
    pub async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<(), AuthnError> {
        let txn = self.store.begin().await?;
        sessions::delete_for_user(&txn, tenant, id).await?;
        self.store
            .ephemeral()
            .clear_counter_in(&txn, tenant, &user_key(id))
            .await?;
        users::delete_grants_and_tokens(&txn, tenant, id, Clock.now()).await?;
        tessera_store::mfa::delete_for_user(&txn, tenant, id).await?;
        users::delete(&txn, tenant, id).await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(tenant = %tenant, user = %id, "deleted a user");
        Ok(())
    }

    // --- Sign-in -------------------------------------------------------------------------

    /// Password sign-in. Unknown username costs the same as a wrong password (verify against a
    /// dummy hash made with the tenant's parameters). Throttled per account and per client IP
    /// with growing delays after `free_attempts` failures (refuse with Throttled{retry_after_secs}
    /// until the delay passes; delay doubles, capped) and a temporary lock after `lock_after`
    /// failures (Locked{until}); success clears the account counter. A disabled/locked user gets
    /// AccountDisabled — but only after the password checked out (never reveal status to a
    /// wrong password). A hash made with other parameters than the tenant's current ones is
    /// replaced after a successful sign-in.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn login(
        &self,
        tenant: &TenantRecord,
        username: &str,
        password: &SecretString,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<UserRecord, LoginError> {
        let db = self.store.conn();
        let lockout = &tenant.settings.lockout;
        let normalized = normalize_username(username).ok();
        let user = match &normalized {
            Some(name) => users::find_by_username(db, tenant.id, name).await?,
            None => None,
        };
        let account_key = match (&user, &normalized) {
            (Some(user), _) => user_key(user.id),
            (None, Some(name)) => name_key(name),
            // Not a possible username: count it under a bounded key all the same.
            (None, None) => name_key(&format!("#{}", sha256_hex(username))),
        };
        let account = throttle::reserve(&self.store, tenant.id, account_key, lockout, now).await?;
        let address = match client_ip {
            Some(ip) => {
                match throttle::reserve(
                    &self.store,
                    tenant.id,
                    ip_key(ip),
                    &lockout.for_address(),
                    now,
                )
                .await
                {
                    Ok(reservation) => Some(reservation),
                    Err(refusal) => {
                        self.forgive(tenant.id, &account).await;
                        return Err(refusal);
                    }
                }
            }
            None => None,
        };
        let params = HashParams::from(&tenant.settings.password);
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = match stored {
            Some(phc) => self.pool.verify(password, phc).await,
            None => self.burn_dummy(password, params).await.map(|()| false),
        };
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                // Not a guess that failed: give the attempt back.
                self.forgive(tenant.id, &account).await;
                if let Some(address) = &address {
                    self.forgive(tenant.id, address).await;
                }
                return Err(e.into());
            }
        };
        let (Some(user), true) = (user, verified) else {
            let lock = account
                .locked_until
                .into_iter()
                .chain(address.as_ref().and_then(|a| a.locked_until))
                .max();
            return Err(match lock {
                Some(until) => LoginError::Locked {
                    until,
                    locked_now: true,
                },
                None => LoginError::InvalidCredentials,
            });
        };
        self.store
            .ephemeral()
            .delete_counter(tenant.id, &account.key)
            .await?;
        if let Some(address) = &address {
            throttle::forgive(&self.store, tenant.id, address).await?;
        }
        if user.status != UserStatus::Active {
            return Err(LoginError::AccountDisabled);
        }
        if let Some(phc) = user
            .password_hash
            .as_deref()
            .filter(|p| needs_rehash(p, params))
        {
            self.upgrade_hash(&user, phc, password, params, now).await;
        }
        Ok(user)
    }

    /// Spends one argon2 operation on `password` with the tenant's cost, as verifying a real
    /// hash would: verifies against the cached dummy hash, or creates it (hashing costs the same).
    async fn burn_dummy(
        &self,
        password: &SecretString,
        params: HashParams,
    ) -> Result<(), AuthnError> {
        let cached = self
            .dummies
            .lock()
            .ok()
            .and_then(|d| d.get(&params).cloned());
        match cached {
            Some(dummy) => {
                self.pool.verify(password, &dummy).await?;
            }
            None => {
                let unguessable = SecretString::from(random_token(COOKIE_BYTES));
                let dummy: Arc<str> = self.pool.hash(&unguessable, params).await?.into();
                if let Ok(mut dummies) = self.dummies.lock() {
                    if dummies.len() >= MAX_DUMMIES {
                        dummies.clear();
                    }
                    dummies.insert(params, dummy);
                }
            }
        }
        Ok(())
    }

    /// Re-hashes a verified password under the tenant's current cost; failures only log.
    async fn upgrade_hash(
        &self,
        user: &UserRecord,
        old: &str,
        password: &SecretString,
        params: HashParams,
        now: i64,
    ) {
        let upgraded = match self.pool.hash(password, params).await {
            Ok(new) => users::replace_password_hash(
                self.store.conn(),
                user.tenant_id,
                user.id,
                old,
                &new,
                now,
            )
            .await
            .map_err(AuthnError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = upgraded {
            tracing::warn!(user = %user.id, error = %e, "upgrading a password hash failed");
        }
    }

    /// Gives back a counted attempt; a failure only logs (the counter errs on the safe side).
    async fn forgive(&self, tenant: TenantId, reservation: &Reservation) {
        if let Err(e) = throttle::forgive(&self.store, tenant, reservation).await {
            tracing::warn!(error = %e, "taking back a sign-in attempt failed");
        }
    }

    // --- Sessions ------------------------------------------------------------------------

    /// Creates an SSO session; returns the cookie value (random, 256 bits, base64url) — only
    /// its SHA-256 is stored. It lasts the tenant's `session.absolute_secs` at most.
    pub async fn start_session(
        &self,
        tenant: &TenantRecord,
        user: &UserRecord,
        amr: Vec<String>,
        acr: Option<String>,
        now: i64,
    ) -> Result<NewSession, AuthnError> {
        if user.tenant_id != tenant.id {
            return Err(AuthnError::Invalid(
                "the user belongs to another tenant".into(),
            ));
        }
        if user.status != UserStatus::Active {
            return Err(AuthnError::Invalid("the account is not active".into()));
        }
        if acr
            .as_ref()
            .is_some_and(|a| a.chars().count() > MAX_ACR_CHARS)
        {
            return Err(AuthnError::Invalid("acr is too long".into()));
        }
        let cookie_value = random_token(COOKIE_BYTES);
        let session = SessionRecord {
            tenant_id: tenant.id,
            sid: random_token(SID_BYTES),
            user_id: user.id,
            auth_time: now,
            amr,
            acr,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(tenant.settings.session.absolute_secs),
        };
        sessions::insert(self.store.conn(), &sha256_hex(&cookie_value), &session).await?;
        Ok(NewSession {
            cookie_value: SecretString::from(cookie_value),
            session,
        })
    }

    /// The live session for a cookie value: None when unknown, idle-expired
    /// (settings.session.idle_secs since last_seen_at), past expires_at, or its user is not
    /// active. Refreshes last_seen_at at most once a minute (cheap read path). An expired
    /// session found here is deleted.
    pub async fn session(
        &self,
        tenant: &TenantRecord,
        cookie_value: &str,
        now: i64,
    ) -> Result<Option<ActiveSession>, AuthnError> {
        if !plausible_cookie(cookie_value) {
            return Ok(None);
        }
        let db = self.store.conn();
        let hash = sha256_hex(cookie_value);
        let Some(mut session) = sessions::find_by_hash(db, tenant.id, &hash).await? else {
            return Ok(None);
        };
        let idle = now.saturating_sub(session.last_seen_at);
        if now >= session.expires_at || idle >= tenant.settings.session.idle_secs {
            sessions::delete_by_hash(db, tenant.id, &hash).await?;
            return Ok(None);
        }
        let Some(user) = users::find(db, tenant.id, session.user_id).await? else {
            return Ok(None);
        };
        if user.status != UserStatus::Active {
            return Ok(None);
        }
        if idle >= TOUCH_EVERY_SECS {
            sessions::touch(db, tenant.id, &hash, now).await?;
            session.last_seen_at = now;
        }
        Ok(Some(ActiveSession { session, user }))
    }

    /// Ends the session of a cookie value; returns it, if there was one.
    pub async fn end_session(
        &self,
        tenant: TenantId,
        cookie_value: &str,
    ) -> Result<Option<SessionRecord>, AuthnError> {
        if !plausible_cookie(cookie_value) {
            return Ok(None);
        }
        let db = self.store.conn();
        let hash = sha256_hex(cookie_value);
        let Some(session) = sessions::find_by_hash(db, tenant, &hash).await? else {
            return Ok(None);
        };
        sessions::delete_by_hash(db, tenant, &hash).await?;
        Ok(Some(session))
    }

    /// Ends the session with this public `sid`, if it exists.
    pub async fn end_session_by_sid(&self, tenant: TenantId, sid: &str) -> Result<(), AuthnError> {
        sessions::delete_by_sid(self.store.conn(), tenant, sid).await?;
        Ok(())
    }

    /// The public ids (`sid`) of a user's sessions: read before an action that ends them, so
    /// the clients of those sessions can be told (Back-Channel Logout 1.0).
    pub async fn session_sids(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<String>, AuthnError> {
        Ok(sessions::sids_of_user(self.store.conn(), tenant, user).await?)
    }

    /// A user's live sessions at `now`, newest first: those [`Self::session`] would still
    /// accept (neither past `expires_at` nor idle for the tenant's `session.idle_secs`).
    pub async fn user_sessions(
        &self,
        tenant: &TenantRecord,
        user: UserId,
        now: i64,
    ) -> Result<Vec<SessionRecord>, AuthnError> {
        let idle_before = now.saturating_sub(tenant.settings.session.idle_secs);
        Ok(sessions::live_of_user(self.store.conn(), tenant.id, user, now, idle_before).await?)
    }

    /// Ends the session `sid` of `user` (of no other user); returns whether there was one.
    pub async fn end_user_session(
        &self,
        tenant: TenantId,
        user: UserId,
        sid: &str,
    ) -> Result<bool, AuthnError> {
        Ok(sessions::delete_of_user(self.store.conn(), tenant, user, sid).await?)
    }

    /// Ends every session of a user.
    pub async fn end_user_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<(), AuthnError> {
        sessions::delete_for_user(self.store.conn(), tenant, user).await?;
        Ok(())
    }

    /// Deletes expired sessions and stale throttle rows (all tenants); returns rows removed.
    /// Idle expiry and counter windows follow each tenant's own settings. Counters kept in
    /// Redis expire there by themselves; the rows swept here are then only those left from
    /// before Redis was configured (an indexed look-up that finds nothing afterwards).
    pub async fn prune(&self, now: i64) -> Result<u64, AuthnError> {
        let db = self.store.conn();
        let mut removed = sessions::delete_expired(db, now).await?;
        for id in sessions::tenants_with_sessions(db).await? {
            if let Some(tenant) = tenants::find_by_id(db, id).await? {
                let before = now.saturating_sub(tenant.settings.session.idle_secs);
                removed += sessions::delete_idle(db, id, before).await?;
            }
        }
        for id in throttle_rows::tenants_with_counters(db).await? {
            if let Some(tenant) = tenants::find_by_id(db, id).await? {
                let window_before = now.saturating_sub(tenant.settings.lockout.window_secs);
                removed += throttle_rows::delete_stale(db, id, window_before, now).await?;
            }
        }
        Ok(removed)
    }
}

/// Whether a cookie value could be one we issued (base64url, sane length); anything else is
/// not looked up at all.
fn plausible_cookie(value: &str) -> bool {
    (16..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
