//! The device authorization grant (RFC 8628): the device authorization request (§3.1, §3.2), the
//! user code a person types on a second screen (§6.1: eight base-20 consonants, 34.5 bits, read
//! as `XXXX-XXXX`, case and dashes ignored), the user's decision, and the token request that
//! polls for it (§3.4, §3.5): `authorization_pending`, `slow_down` (the interval then grows by
//! five seconds), `expired_token`, `access_denied`, and once approved the tokens of the
//! authorization-code grant, exactly once, to the client that asked.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde::Serialize;
use tessera_core::secret::{random_chars, random_token, sha256_hex};
use tessera_core::{GrantType, ScopeSet, TenantId, UserStatus};
use tessera_store::device_codes::{self, DeviceApproval, DeviceCodeRecord, DeviceCodeStatus};
use tessera_store::{ClientRecord, Store, StoreError, users};
use tessera_tenants::TenantSnapshot;

use crate::access::Binding;
use crate::authorization_code::narrowed_resources;
use crate::client_credentials::check_resources;
use crate::family::{NewFamily, UserGrant};
use crate::{Issuance, TokenError, TokenRequest};

/// RFC 8628 §6.1: twenty consonants, so no word can be spelled and no vowel mistaken for a digit.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters of a user code: 20^8 ≈ 2^34.5 codes, enough with rate-limited guessing (§5.1).
pub const USER_CODE_LEN: usize = 8;

/// How much `slow_down` adds to the polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: i64 = 5;

/// Draws of a user code when the first few collide with live ones.
const USER_CODE_ATTEMPTS: usize = 5;

/// A user code (RFC 8628 §6.1), held in canonical form: eight upper-case letters of
/// [`USER_CODE_ALPHABET`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh random code.
    pub fn generate() -> Self {
        Self(random_chars(USER_CODE_ALPHABET, USER_CODE_LEN))
    }

    /// Reads what a user typed: case-insensitive, with dashes and whitespace ignored
    /// (RFC 8628 §6.1). `None` when it cannot be a user code.
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() > 64 {
            return None;
        }
        let code: String = input
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid =
            code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The stored form: SHA-256 hex of the canonical code.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }

    /// The code as shown to users: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(USER_CODE_LEN / 2);
        format!("{a}-{b}")
    }
}

impl AsRef<str> for UserCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    /// The device verification code: 256 random bits, stored only as a hash.
    pub device_code: String,
    /// The code the user types, `XXXX-XXXX`.
    pub user_code: String,
    /// Where the user goes: `{issuer}/device`.
    pub verification_uri: String,
    /// The same with the user code filled in (for a QR code).
    pub verification_uri_complete: String,
    /// Lifetime of both codes, seconds.
    pub expires_in: i64,
    /// Least seconds between polls.
    pub interval: i64,
}

/// Handles a device authorization request (RFC 8628 §3.1) of the authenticated `client`: the
/// client must be allowed the grant, ask only for scopes it is allowed (`scope` is required, as
/// at the authorization endpoint) and name only the tenant's resource servers.
pub async fn authorize_device(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    req: &TokenRequest,
    now: i64,
) -> Result<DeviceAuthorization, TokenError> {
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient("device_code"));
    }
    let raw_scope = req
        .scope
        .as_deref()
        .ok_or_else(|| TokenError::InvalidScope("scope is required".into()))?;
    let scopes = ScopeSet::parse(raw_scope).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
    if let Some(scope) = scopes.first_missing_from(&client.scopes) {
        return Err(TokenError::InvalidScope(format!(
            "the client may not request scope `{scope}`"
        )));
    }
    // RFC 8707 §2: each resource one of the tenant's resource servers.
    check_resources(&req.resource)?;
    if req
        .resource
        .iter()
        .any(|r| snapshot.resource_server(r).is_none())
    {
        return Err(TokenError::InvalidTarget(
            "resource is not an API registered with this provider".into(),
        ));
    }
    let policy = &snapshot.tenant.settings.tokens;
    let device_code = random_token(32);
    let mut record = DeviceCodeRecord {
        tenant_id: snapshot.tenant.id,
        device_code_hash: sha256_hex(&device_code),
        user_code_hash: String::new(),
        client_id: client.client_id.clone(),
        scopes,
        resources: req.resource.clone(),
        status: DeviceCodeStatus::Pending,
        approval: None,
        interval: policy.device_poll_interval_secs,
        last_polled_at: None,
        expires_at: now + policy.device_code_ttl_secs,
        consumed_at: None,
        family_id: None,
        created_at: now,
    };
    // A clash with a live code of the tenant is refused by the unique index: draw again.
    for _ in 0..USER_CODE_ATTEMPTS {
        let user_code = UserCode::generate();
        record.user_code_hash = user_code.hash();
        match device_codes::insert(store.conn(), &record).await {
            Ok(()) => {
                let verification_uri = format!("{}/device", snapshot.issuer);
                return Ok(DeviceAuthorization {
                    device_code,
                    verification_uri_complete: format!(
                        "{verification_uri}?user_code={}",
                        user_code.as_ref()
                    ),
                    user_code: user_code.display(),
                    verification_uri,
                    expires_in: policy.device_code_ttl_secs,
                    interval: policy.device_poll_interval_secs,
                });
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(TokenError::Unexpected(anyhow::anyhow!(
        "no free user code after {USER_CODE_ATTEMPTS} draws"
    )))
}

/// The device code a user entered, when it still awaits a decision: known in the tenant, pending,
/// unexpired, and its client still registered.
pub async fn pending_device_code(
    store: &Store,
    snapshot: &TenantSnapshot,
    code: &UserCode,
    now: i64,
) -> Result<Option<DeviceCodeRecord>, TokenError> {
    let record = device_codes::find_by_user_code(store.conn(), snapshot.tenant.id, &code.hash())
        .await?
        .filter(|r| {
            r.status == DeviceCodeStatus::Pending
                && r.expires_at > now
                && snapshot.client(r.client_id.as_ref()).is_some()
        });
    Ok(record)
}

/// Records the user's approval of the pending code `code`, granting `approval.scopes`, which are
/// narrowed to what the device asked for. `false` when the code was decided meanwhile or expired.
pub async fn approve_device_code(
    store: &Store,
    tenant: TenantId,
    code: &UserCode,
    mut approval: DeviceApproval,
    now: i64,
) -> Result<bool, TokenError> {
    let hash = code.hash();
    let Some(record) = device_codes::find_by_user_code(store.conn(), tenant, &hash).await? else {
        return Ok(false);
    };
    // A grant never exceeds the request (RFC 6749 §3.3).
    approval.scopes = approval
        .scopes
        .iter()
        .filter(|s| record.scopes.contains(s.as_ref()))
        .cloned()
        .collect();
    Ok(device_codes::approve(store.conn(), tenant, &hash, &approval, now).await?)
}

/// Records the user's denial of the pending code `code`; `false` when it was decided meanwhile or
/// expired.
pub async fn deny_device_code(
    store: &Store,
    tenant: TenantId,
    code: &UserCode,
    now: i64,
) -> Result<bool, TokenError> {
    Ok(device_codes::deny(store.conn(), tenant, &code.hash(), now).await?)
}

/// Answers a poll of the device access token request (RFC 8628 §3.4, §3.5) by the authenticated
/// `client`. The database work is done when this returns `Ok`; the tokens still have to be signed
/// with [`Issuance::sign`].
pub async fn poll_device_code(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    req: &TokenRequest,
    binding: Binding,
    now: i64,
) -> Result<Issuance, TokenError> {
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient("device_code"));
    }
    let device_code = req
        .device_code
        .as_ref()
        .ok_or_else(|| TokenError::InvalidRequest("device_code is required".into()))?;
    check_resources(&req.resource)?;
    let tenant = snapshot.tenant.id;
    let db = store.conn();
    let hash = sha256_hex(device_code.expose_secret());
    let record = device_codes::find(db, tenant, &hash)
        .await?
        .ok_or_else(|| TokenError::invalid_grant("the device code is invalid"))?;
    // RFC 8628 §3.4, RFC 6749 §5.2: the code is bound to the client that asked for it.
    if record.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "the device code was issued to another client",
        ));
    }
    if record.consumed_at.is_some() {
        return Err(TokenError::invalid_grant(
            "the device code was already used",
        ));
    }
    if record.expires_at <= now {
        return Err(TokenError::ExpiredToken);
    }
    // RFC 8628 §3.5: a poll before the interval has passed gets `slow_down`, and the interval
    // grows by five seconds for this and every later request. Of two concurrent polls one wins.
    let too_soon = record
        .last_polled_at
        .is_some_and(|at| now.saturating_sub(at) < record.interval);
    let interval = if too_soon {
        record.interval.saturating_add(SLOW_DOWN_STEP_SECS)
    } else {
        record.interval
    };
    let recorded =
        device_codes::record_poll(db, tenant, &hash, record.last_polled_at, interval, now).await?;
    if too_soon || !recorded {
        return Err(TokenError::SlowDown(interval));
    }
    match record.status {
        DeviceCodeStatus::Pending => Err(TokenError::AuthorizationPending),
        DeviceCodeStatus::Denied => Err(TokenError::AccessDenied),
        DeviceCodeStatus::Approved => {
            redeem(store, snapshot, client, req, record, binding, now).await
        }
    }
}

/// Redeems an approved code once: creates the token family and its refresh token in the
/// transaction whose first statement is the compare-and-set on `consumed_at`.
async fn redeem(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    req: &TokenRequest,
    record: DeviceCodeRecord,
    binding: Binding,
    now: i64,
) -> Result<Issuance, TokenError> {
    let tenant = snapshot.tenant.id;
    let approval = record.approval.ok_or_else(|| {
        TokenError::Unexpected(anyhow::anyhow!("an approved device code has no approval"))
    })?;
    let resources = narrowed_resources(&record.resources, &req.resource)?;
    let user = users::find(store.conn(), tenant, approval.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| TokenError::invalid_grant("the user is no longer active"))?;
    let new = NewFamily::open(
        snapshot,
        client,
        UserGrant {
            user_id: approval.user_id,
            sid: approval.sid.clone(),
            scopes: approval.scopes.clone(),
            auth_time: approval.auth_time,
            acr: approval.acr.clone(),
            amr: approval.amr.clone(),
            resources: resources.clone(),
        },
        &binding,
        now,
    );
    let txn = store.begin().await?;
    if !device_codes::consume(&txn, tenant, &record.device_code_hash, &new.family.id, now).await? {
        txn.rollback().await.map_err(StoreError::from)?;
        return Err(if record.expires_at <= now {
            TokenError::ExpiredToken
        } else {
            TokenError::invalid_grant("the device code was already used")
        });
    }
    new.insert(&txn, &snapshot.tenant.settings.tokens, now)
        .await?;
    txn.commit().await.map_err(StoreError::from)?;

    Ok(Issuance {
        client: Arc::clone(client),
        user: approval.user_id,
        id_token_claims: tessera_userinfo::id_token_claims(&user, &approval.scopes, None),
        userinfo_claims: tessera_userinfo::requested_names(None, &approval.scopes)
            .map(str::to_owned)
            .collect(),
        family_id: new.family.id,
        scopes: approval.scopes,
        sid: approval.sid,
        auth_time: approval.auth_time,
        acr: approval.acr,
        amr: approval.amr,
        nonce: None,
        resources,
        refresh_token: new.refresh_token,
        binding,
        now,
        encryption: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_shown_with_a_dash() {
        for _ in 0..100 {
            let code = UserCode::generate();
            assert_eq!(code.as_ref().len(), USER_CODE_LEN);
            assert!(
                code.as_ref()
                    .bytes()
                    .all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code:?}"
            );
            let shown = code.display();
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(UserCode::parse(&shown), Some(code));
        }
    }

    #[test]
    fn typed_codes_ignore_case_dashes_and_spaces() {
        let canonical = UserCode::parse("WDJB-MJHT").expect("valid");
        assert_eq!(canonical.as_ref(), "WDJBMJHT");
        for typed in ["wdjbmjht", "wdjb-mjht", " WDJB MJHT ", "w-d-j-b-m-j-h-t"] {
            assert_eq!(UserCode::parse(typed).as_ref(), Some(&canonical), "{typed}");
        }
        assert_eq!(
            UserCode::parse("wdjb mjht").map(|c| c.hash()),
            Some(canonical.hash()),
            "the stored hash does not depend on how the code was typed"
        );
    }

    #[test]
    fn anything_else_is_not_a_user_code() {
        // Vowels and digits are outside the alphabet; lengths must be exact.
        for bad in [
            "WDJB-MJHA",
            "WDJB-MJH1",
            "WDJB-MJH",
            "WDJB-MJHTT",
            "",
            "ÄDJB-MJHT",
        ] {
            assert_eq!(UserCode::parse(bad), None, "{bad}");
        }
        assert_eq!(UserCode::parse(&"B".repeat(100)), None);
    }
}
