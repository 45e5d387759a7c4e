//! Passkeys (W3C WebAuthn Level 3, through `webauthn-rs`): registration from the account page,
//! sign-in as a second factor after the password, and passwordless sign-in with a discoverable
//! credential. The relying party is the tenant's issuer: its host is the RP ID and its origin
//! the only accepted origin (WebAuthn §5.1.3, §7.1 step 9).
//!
//! A ceremony's server-side state never lives in one node's memory: it is sealed under the
//! master key with the tenant as associated data, expires with the ceremony, and its nonce is
//! spent in the shared replay cache when the ceremony finishes, so a state is used at most once
//! on any node (WebAuthn §13.4.3: challenges must not be reused).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::secret::random_token;
use tessera_core::{PasskeyId, TenantId, UserId, UserStatus};
use tessera_keys::MasterKey;
use tessera_store::passkeys::{self, PasskeyRecord};
use tessera_store::{StoreError, TenantRecord, UserRecord, audit, users};
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::mfa::{Factor, event, user_actor};
use crate::{Authenticator, AuthnError};

/// How long a ceremony may take, seconds: the browser's timeout (WebAuthn §5.4 `timeout`,
/// webauthn-rs's default of five minutes) and a minute to post the result.
const CEREMONY_TTL: i64 = 6 * 60;
/// Longest sealed ceremony state accepted, in characters.
const MAX_STATE_LEN: usize = 16 * 1024;
/// Longest credential JSON accepted from a browser, in bytes.
const MAX_CREDENTIAL_LEN: usize = 64 * 1024;
/// Longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Why a passkey ceremony failed. `Display` is safe to show to the user.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony expired, was already finished, belongs to another tenant, user or purpose,
    /// or was tampered with.
    #[error("This passkey request has expired. Start again.")]
    Expired,
    /// The authenticator's answer did not verify, or names a passkey that is not registered
    /// (or not this user's).
    #[error("That passkey could not be verified. Try again, or use another way to sign in.")]
    Refused,
    /// The passkey is already registered.
    #[error("This passkey is already registered.")]
    Conflict,
    /// A name or request breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The account is disabled.
    #[error("This account is disabled. Contact your administrator.")]
    AccountDisabled,
    /// Passkeys cannot work at this issuer (an IP address is not a valid RP ID, WebAuthn §5.1.2).
    #[error("Passkeys are not available at this address.")]
    Unsupported,
    /// The database is unavailable; retrying later is safe.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for PasskeyError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => PasskeyError::Conflict,
            e if e.is_unavailable() => PasskeyError::Unavailable,
            e => PasskeyError::Unexpected(anyhow::Error::new(e)),
        }
    }
}

impl From<AuthnError> for PasskeyError {
    fn from(err: AuthnError) -> Self {
        match err {
            AuthnError::Unavailable => PasskeyError::Unavailable,
            AuthnError::Conflict => PasskeyError::Conflict,
            AuthnError::Invalid(m) => PasskeyError::Invalid(m),
            AuthnError::NotFound => PasskeyError::Refused,
            AuthnError::Unexpected(e) => PasskeyError::Unexpected(e),
        }
    }
}

/// The WebAuthn relying party of one tenant: RP ID and origin from its issuer.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// The relying party of the tenant whose issuer is `issuer`, shown to users as `name`. The
    /// RP ID is the issuer's host, a registrable domain or `localhost` (WebAuthn §5.1.2: an IP
    /// address is not a valid domain); the one allowed origin is the issuer's.
    pub fn for_issuer(issuer: &str, name: &str) -> Result<Self, PasskeyError> {
        let url = Url::parse(issuer).map_err(|_| PasskeyError::Unsupported)?;
        let Some(url::Host::Domain(host)) = url.host() else {
            return Err(PasskeyError::Unsupported);
        };
        let host = host.to_owned();
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|_| PasskeyError::Unsupported)?;
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .map_err(|_| PasskeyError::Unsupported)?
            .rp_name(name)
            .build()
            .map_err(|_| PasskeyError::Unsupported)?;
        Ok(Self { webauthn })
    }
}

/// A ceremony started: what the browser passes to `navigator.credentials`, and the sealed
/// state the finishing request must bring back.
#[derive(Debug)]
pub struct PasskeyCeremony {
    /// `CredentialCreationOptions` or `CredentialRequestOptions` as JSON (binary values
    /// base64url-encoded).
    pub options: String,
    /// The sealed server-side state.
    pub state: String,
}

/// A successful passkey sign-in.
#[derive(Debug)]
pub struct PasskeySignIn {
    /// The user signed in (active).
    pub user: UserRecord,
    /// `HardwareKey` or `SoftwareKey`, by the passkey's backup eligibility.
    pub factor: Factor,
    /// The passkey used.
    pub passkey: PasskeyRecord,
}

/// What a ceremony is for.
#[derive(Debug, Serialize, Deserialize)]
enum Ceremony {
    /// Registering a passkey named `name` for `user_id`.
    Register {
        user_id: UserId,
        name: String,
        state: PasskeyRegistration,
    },
    /// A second factor of `user_id`, after the password.
    SecondFactor {
        user_id: UserId,
        state: PasskeyAuthentication,
    },
    /// A passwordless sign-in: the authenticator names the user.
    Passwordless { state: DiscoverableAuthentication },
}

/// The sealed form of a ceremony.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    tenant_id: TenantId,
    /// Spent in the replay cache when the ceremony finishes.
    nonce: String,
    expires_at: i64,
    ceremony: Ceremony,
}

fn state_aad(tenant: TenantId) -> Vec<u8> {
    format!("tessera-passkey-ceremony|{tenant}").into_bytes()
}

fn seal(
    master: &MasterKey,
    tenant: TenantId,
    ceremony: Ceremony,
    now: i64,
) -> Result<String, PasskeyError> {
    let sealed = Sealed {
        tenant_id: tenant,
        nonce: random_token(16),
        expires_at: now + CEREMONY_TTL,
        ceremony,
    };
    let json = serde_json::to_vec(&sealed).map_err(|e| PasskeyError::Unexpected(e.into()))?;
    let bytes = master
        .seal(&json, &state_aad(tenant))
        .map_err(|e| PasskeyError::Unexpected(anyhow::Error::new(e).context("sealing")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Opens a sealed state of `tenant` that has not expired; `Expired` for anything else (another
/// tenant's state fails to open: the tenant is the associated data).
fn open(master: &MasterKey, tenant: TenantId, raw: &str, now: i64) -> Result<Sealed, PasskeyError> {
    if raw.len() > MAX_STATE_LEN {
        return Err(PasskeyError::Expired);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| PasskeyError::Expired)?;
    let json = master
        .open(&bytes, &state_aad(tenant))
        .map_err(|_| PasskeyError::Expired)?;
    let sealed: Sealed = serde_json::from_slice(&json).map_err(|_| PasskeyError::Expired)?;
    if sealed.tenant_id != tenant || sealed.expires_at <= now {
        return Err(PasskeyError::Expired);
    }
    Ok(sealed)
}

fn options_json<T: Serialize>(options: &T) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(options).map_err(|e| PasskeyError::Unexpected(e.into()))
}

fn parse_credential<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, PasskeyError> {
    if raw.len() > MAX_CREDENTIAL_LEN {
        return Err(PasskeyError::Refused);
    }
    serde_json::from_str(raw).map_err(|_| PasskeyError::Refused)
}

/// A passkey name as entered: trimmed, 1 to [`MAX_NAME_CHARS`] printable characters.
pub fn parse_name(raw: &str) -> Result<String, PasskeyError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(PasskeyError::Invalid(format!(
            "Give the passkey a name of 1 to {MAX_NAME_CHARS} characters, e.g. \"Work laptop\"."
        )));
    }
    Ok(name.to_owned())
}

/// The factor a passkey is: `hwk` when the credential is bound to its device, `swk` when the
/// authenticator may sync it to others (WebAuthn §6.1.3 backup eligibility; RFC 8176 §2).
pub fn factor_of(backup_eligible: bool) -> Factor {
    if backup_eligible {
        Factor::SoftwareKey
    } else {
        Factor::HardwareKey
    }
}

/// The `amr` of a passwordless sign-in with `factor` (RFC 8176 §2): the key (`hwk`/`swk`),
/// `user` for the authenticator's user test, and `mfa` — user verification, required in every
/// ceremony, adds a PIN or biometric to the possession of the key (WebAuthn §6.2.3: such an
/// authenticator is multi-factor capable).
pub fn passwordless_amr(factor: Factor) -> Vec<String> {
    let key = factor.amr().first().copied().unwrap_or("hwk");
    vec![key.to_owned(), "user".to_owned(), "mfa".to_owned()]
}

fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn load_passkey(record: &PasskeyRecord) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&record.passkey).map_err(|e| {
        PasskeyError::Unexpected(anyhow::Error::new(e).context("reading a stored passkey"))
    })
}

impl Authenticator {
    /// The user's passkeys, oldest first.
    pub async fn passkeys(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<PasskeyRecord>, AuthnError> {
        Ok(passkeys::list_for_user(self.store.conn(), tenant, user).await?)
    }

    /// Starts registering a passkey named `name` for `user`: options with the user's existing
    /// passkeys excluded (WebAuthn §5.4 `excludeCredentials`), a discoverable credential
    /// preferred (so it can sign in without a username, §5.4.6) and user verification required.
    pub async fn begin_passkey_registration(
        &self,
        rp: &RelyingParty,
        master: &MasterKey,
        tenant: &TenantRecord,
        user: &UserRecord,
        name: &str,
        now: i64,
    ) -> Result<PasskeyCeremony, PasskeyError> {
        let name = parse_name(name)?;
        let existing = passkeys::list_for_user(self.store.conn(), tenant.id, user.id).await?;
        let exclude = existing
            .iter()
            .map(|p| load_passkey(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self.passkey_rp_call(|| {
            rp.webauthn.start_passkey_registration(
                user.id.0,
                &user.username,
                &user.username,
                (!exclude.is_empty()).then_some(exclude),
            )
        })?;
        let mut options = options_json(&options)?;
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(|v| v.as_object_mut())
        {
            selection.insert("residentKey".into(), "preferred".into());
            selection.insert("requireResidentKey".into(), false.into());
        }
        let state = seal(
            master,
            tenant.id,
            Ceremony::Register {
                user_id: user.id,
                name,
                state,
            },
            now,
        )?;
        Ok(PasskeyCeremony {
            options: options.to_string(),
            state,
        })
    }

    /// Finishes a registration for `user` with the browser's `credential` (JSON of a
    /// `PublicKeyCredential` with an attestation response) and stores the passkey. The state
    /// must be this tenant's and this user's, unexpired and unused.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %user.id))]
    pub async fn finish_passkey_registration(
        &self,
        rp: &RelyingParty,
        master: &MasterKey,
        tenant: &TenantRecord,
        user: &UserRecord,
        state: &str,
        credential: &str,
        client_ip: Option<String>,
        now: i64,
    ) -> Result<PasskeyRecord, PasskeyError> {
        let sealed = open(master, tenant.id, state, now)?;
        let Ceremony::Register {
            user_id,
            name,
            state,
        } = sealed.ceremony
        else {
            return Err(PasskeyError::Expired);
        };
        if user_id != user.id {
            return Err(PasskeyError::Expired);
        }
        self.spend(tenant.id, &sealed.nonce, sealed.expires_at)
            .await?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let passkey = rp
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "a passkey registration did not verify");
                PasskeyError::Refused
            })?;
        let cred: Credential = passkey.clone().into();
        let record = PasskeyRecord {
            tenant_id: tenant.id,
            id: PasskeyId::new(),
            user_id: user.id,
            name,
            credential_id: credential_key(&cred.cred_id),
            passkey: serde_json::to_string(&passkey)
                .map_err(|e| PasskeyError::Unexpected(e.into()))?,
            backup_eligible: cred.backup_eligible,
            backed_up: cred.backup_state,
            created_at: now,
            last_used_at: None,
        };
        let store = self.store.clone();
        let row = record.clone();
        self.store
            .write(async move {
                let txn = store.begin().await?;
                passkeys::insert(&txn, &row).await?;
                let mut audit_event = event(
                    row.tenant_id,
                    row.user_id,
                    "passkey.registered",
                    user_actor(row.user_id),
                    client_ip,
                    now,
                );
                audit_event.details = serde_json::json!({
                    "passkey_id": row.id.to_string(),
                    "backup_eligible": row.backup_eligible,
                });
                audit::insert(&txn, &audit_event).await?;
                txn.commit().await?;
                Ok::<_, StoreError>(())
            })
            .await?;
        tracing::info!(passkey = %record.id, "registered a passkey");
        Ok(record)
    }

    /// Starts a passkey sign-in: for `Some(user)` a second factor limited to that user's
    /// passkeys (`allowCredentials`); for `None` a passwordless sign-in with any discoverable
    /// credential of the tenant. User verification is required either way.
    pub async fn begin_passkey_sign_in(
        &self,
        rp: &RelyingParty,
        master: &MasterKey,
        tenant: &TenantRecord,
        user: Option<&UserRecord>,
        now: i64,
    ) -> Result<PasskeyCeremony, PasskeyError> {
        let (options, ceremony) = match user {
            Some(user) => {
                let keys = passkeys::list_for_user(self.store.conn(), tenant.id, user.id)
                    .await?
                    .iter()
                    .map(load_passkey)
                    .collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    return Err(PasskeyError::Refused);
                }
                let (options, state) =
                    self.passkey_rp_call(|| rp.webauthn.start_passkey_authentication(&keys))?;
                (
                    options_json(&options)?,
                    Ceremony::SecondFactor {
                        user_id: user.id,
                        state,
                    },
                )
            }
            None => {
                let (options, state) =
                    self.passkey_rp_call(|| rp.webauthn.start_discoverable_authentication())?;
                let mut options = options_json(&options)?;
                // A button starts this ceremony, not autofill: no conditional mediation
                // (Credential Management §2.3.2).
                if let Some(o) = options.as_object_mut() {
                    o.remove("mediation");
                }
                (options, Ceremony::Passwordless { state })
            }
        };
        let state = seal(master, tenant.id, ceremony, now)?;
        Ok(PasskeyCeremony {
            options: options.to_string(),
            state,
        })
    }

    /// Finishes a passkey sign-in with the browser's `credential` (JSON of a
    /// `PublicKeyCredential` with an assertion response). `expected` is the user of a second
    /// factor (`None`: passwordless, the credential's user handle names the user, WebAuthn §7.2
    /// step 6). The signature, challenge, origin, RP ID, user verification and sign counter are
    /// checked by webauthn-rs (§7.2; a counter that did not grow refuses a possibly cloned
    /// authenticator, step 21); the passkey's new counter and flags are stored.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn finish_passkey_sign_in(
        &self,
        rp: &RelyingParty,
        master: &MasterKey,
        tenant: &TenantRecord,
        expected: Option<UserId>,
        state: &str,
        credential: &str,
        now: i64,
    ) -> Result<PasskeySignIn, PasskeyError> {
        let sealed = open(master, tenant.id, state, now)?;
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let db = self.store.conn();
        let record = passkeys::find_by_credential(
            db,
            tenant.id,
            &credential_key(credential.get_credential_id()),
        )
        .await?
        .ok_or(PasskeyError::Refused)?;
        let mut passkey = load_passkey(&record)?;
        let result = match (sealed.ceremony, expected) {
            (Ceremony::SecondFactor { user_id, state }, Some(expected)) if user_id == expected => {
                if record.user_id != expected {
                    return Err(PasskeyError::Refused);
                }
                self.spend(tenant.id, &sealed.nonce, sealed.expires_at)
                    .await?;
                rp.webauthn
                    .finish_passkey_authentication(&credential, &state)
            }
            (Ceremony::Passwordless { state }, None) => {
                let (handle, _) = rp
                    .webauthn
                    .identify_discoverable_authentication(&credential)
                    .map_err(|_| PasskeyError::Refused)?;
                if handle != record.user_id.0 {
                    return Err(PasskeyError::Refused);
                }
                self.spend(tenant.id, &sealed.nonce, sealed.expires_at)
                    .await?;
                rp.webauthn
                    .finish_discoverable_authentication_v2(&credential, state, &passkey)
            }
            _ => return Err(PasskeyError::Expired),
        };
        let result = result.map_err(|e| {
            tracing::info!(error = %e, "a passkey assertion did not verify");
            PasskeyError::Refused
        })?;
        if !result.user_verified() {
            return Err(PasskeyError::Refused);
        }
        let user = users::find(db, tenant.id, record.user_id)
            .await?
            .ok_or(PasskeyError::Refused)?;
        if user.status != UserStatus::Active {
            return Err(PasskeyError::AccountDisabled);
        }
        passkey.update_credential(&result);
        let json =
            serde_json::to_string(&passkey).map_err(|e| PasskeyError::Unexpected(e.into()))?;
        if !passkeys::record_use(db, tenant.id, record.id, &json, result.backup_state(), now)
            .await?
        {
            // Removed while the ceremony ran.
            return Err(PasskeyError::Refused);
        }
        let backup_eligible = record.backup_eligible || result.backup_eligible();
        tracing::info!(user = %user.id, passkey = %record.id, "signed in with a passkey");
        Ok(PasskeySignIn {
            user,
            factor: factor_of(backup_eligible),
            passkey: PasskeyRecord {
                passkey: json,
                backup_eligible,
                backed_up: result.backup_state(),
                last_used_at: Some(now),
                ..record
            },
        })
    }

    /// Removes passkey `id` of `user`, recording who did; `false` when the user has no such
    /// passkey (another user's id included).
    pub async fn remove_passkey(
        &self,
        tenant: TenantId,
        user: UserId,
        id: PasskeyId,
        client_ip: Option<String>,
        now: i64,
    ) -> Result<bool, AuthnError> {
        let store = self.store.clone();
        let removed = self
            .store
            .write(async move {
                let txn = store.begin().await?;
                if !passkeys::delete(&txn, tenant, user, id).await? {
                    txn.rollback().await?;
                    return Ok(false);
                }
                let mut audit_event = event(
                    tenant,
                    user,
                    "passkey.removed",
                    user_actor(user),
                    client_ip,
                    now,
                );
                audit_event.details = serde_json::json!({ "passkey_id": id.to_string() });
                audit::insert(&txn, &audit_event).await?;
                txn.commit().await?;
                Ok::<_, StoreError>(true)
            })
            .await?;
        if removed {
            tracing::info!(tenant = %tenant, user = %user, passkey = %id, "removed a passkey");
        }
        Ok(removed)
    }

    /// Spends a ceremony's nonce: `Expired` when it was spent before (on any node).
    async fn spend(
        &self,
        tenant: TenantId,
        nonce: &str,
        expires_at: i64,
    ) -> Result<(), PasskeyError> {
        let key = format!("passkey-ceremony|{nonce}");
        if self
            .store
            .ephemeral()
            .remember(tenant, &key, expires_at)
            .await?
        {
            Ok(())
        } else {
            Err(PasskeyError::Expired)
        }
    }

    /// Runs a webauthn-rs call that only fails on a bug or a bad configuration.
    fn passkey_rp_call<T>(
        &self,
        call: impl FnOnce() -> webauthn_rs::prelude::WebauthnResult<T>,
    ) -> Result<T, PasskeyError> {
        call().map_err(|e| {
            PasskeyError::Unexpected(anyhow::Error::new(e).context("starting a WebAuthn ceremony"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_is_no_relying_party_but_a_domain_and_localhost_are() {
        assert!(RelyingParty::for_issuer("http://127.0.0.1:8080/t/acme", "Acme").is_err());
        assert!(RelyingParty::for_issuer("http://[::1]:8080/t/acme", "Acme").is_err());
        assert!(RelyingParty::for_issuer("http://localhost:8080/t/acme", "Acme").is_ok());
        assert!(RelyingParty::for_issuer("https://id.example.com/t/acme", "Acme").is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            parse_name("  Work laptop ").ok().as_deref(),
            Some("Work laptop")
        );
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(parse_name("a\u{7}b").is_err());
    }

    #[test]
    fn passkeys_report_hwk_or_swk_and_passwordless_is_multi_factor() {
        assert_eq!(factor_of(false), Factor::HardwareKey);
        assert_eq!(factor_of(true), Factor::SoftwareKey);
        assert_eq!(
            passwordless_amr(Factor::HardwareKey),
            ["hwk", "user", "mfa"]
        );
        assert_eq!(
            passwordless_amr(Factor::SoftwareKey),
            ["swk", "user", "mfa"]
        );
        let pwd = vec!["pwd".to_owned()];
        assert_eq!(
            crate::mfa::amr_with(&pwd, Factor::HardwareKey),
            ["pwd", "hwk", "mfa"]
        );
    }

    #[test]
    fn a_sealed_state_opens_only_for_its_tenant_and_in_time() {
        let master = MasterKey::generate();
        let (a, b) = (TenantId::new(), TenantId::new());
        let rp = RelyingParty::for_issuer("http://localhost:1/t/a", "A").expect("rp");
        let (_, state) = rp
            .webauthn
            .start_discoverable_authentication()
            .expect("start");
        let sealed = seal(&master, a, Ceremony::Passwordless { state }, 1000).expect("seal");
        assert!(open(&master, a, &sealed, 1001).is_ok());
        assert!(matches!(
            open(&master, b, &sealed, 1001),
            Err(PasskeyError::Expired)
        ));
        assert!(matches!(
            open(&master, a, &sealed, 1000 + CEREMONY_TTL),
            Err(PasskeyError::Expired)
        ));
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(matches!(
            open(&master, a, &tampered, 1001),
            Err(PasskeyError::Expired)
        ));
    }
}
