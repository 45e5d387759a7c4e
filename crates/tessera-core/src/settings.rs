//! [`TenantSettings`]: the per-tenant policies and branding, stored as one JSON document on the
//! tenant row. Every field has a default, so `{}` is a complete, secure configuration and a new
//! field never needs a data migration.

use serde::{Deserialize, Serialize};

/// A tenant's policies and branding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// Look of the login, consent and logout pages.
    pub branding: Branding,
    /// Password hashing cost and password rules.
    pub password: PasswordPolicy,
    /// Failed-login throttling and temporary lockout.
    pub lockout: LockoutPolicy,
    /// SSO session lifetimes.
    pub session: SessionPolicy,
    /// Refresh-token lifetime, rotation grace and code/ID-token lifetimes.
    pub tokens: RefreshPolicy,
    /// Pushed authorization requests (RFC 9126).
    pub authorization: AuthorizationPolicy,
    /// Dynamic client registration (RFC 7591, RFC 7592).
    pub registration: RegistrationPolicy,
    /// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): https URLs
    /// as `client_id`s, fetched from allow-listed hosts. Off by default.
    pub client_id_metadata_documents: ClientIdMetadataDocumentPolicy,
    /// The sender of the tenant's e-mails.
    pub mail: MailPolicy,
    /// Multi-factor authentication (TOTP second factor).
    pub mfa: MfaSettings,
    /// The account lifecycle: self-registration, e-mail verification, password reset.
    pub accounts: AccountPolicy,
    /// The audit log: how long its events are kept.
    pub audit: AuditPolicy,
}

/// The tenant's audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditPolicy {
    /// Days an audit event is kept before the janitor deletes it, 1 to 3650 (default 365).
    pub retention_days: u32,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

/// Who may create an account at the tenant's sign-up page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    /// No sign-up page (404); accounts come from administrators only.
    #[default]
    Off,
    /// Anyone may create an account.
    Open,
    /// Only people holding an invitation link from an administrator.
    Invitation,
}

/// The account lifecycle of a tenant's users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountPolicy {
    /// `off` (default), `open` or `invitation`.
    pub signup: SignupMode,
    /// Whether a user whose e-mail address is not confirmed is refused at sign-in (and sent a
    /// new confirmation link). Default `false`: existing accounts keep working when sign-up is
    /// turned on; self-registered users are always sent a confirmation link.
    pub require_verified_email: bool,
    /// Whether users may reset a forgotten password by e-mail. Default `true`.
    pub password_reset: bool,
    /// Whether a password reset or change ends the user's other sessions. Default `true`.
    pub reset_ends_sessions: bool,
    /// Whether a password reset or change revokes the user's refresh tokens. Default `true`.
    pub reset_revokes_refresh_tokens: bool,
    /// Lifetime of an e-mail confirmation link, seconds (default one day).
    pub verification_link_ttl_secs: i64,
    /// Lifetime of a password reset link, seconds (default one hour).
    pub reset_link_ttl_secs: i64,
    /// Lifetime of an invitation link, seconds (default seven days).
    pub invitation_link_ttl_secs: i64,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            signup: SignupMode::Off,
            require_verified_email: false,
            password_reset: true,
            reset_ends_sessions: true,
            reset_revokes_refresh_tokens: true,
            verification_link_ttl_secs: 86_400,
            reset_link_ttl_secs: 3_600,
            invitation_link_ttl_secs: 7 * 86_400,
        }
    }
}

impl AccountPolicy {
    fn validate(&self) -> Result<(), String> {
        let day = 86_400;
        if !(300..=7 * day).contains(&self.verification_link_ttl_secs) {
            return Err(
                "accounts.verification_link_ttl_secs must be between 300 and 604800".into(),
            );
        }
        if !(300..=day).contains(&self.reset_link_ttl_secs) {
            return Err("accounts.reset_link_ttl_secs must be between 300 and 86400".into());
        }
        if !(3_600..=30 * day).contains(&self.invitation_link_ttl_secs) {
            return Err(
                "accounts.invitation_link_ttl_secs must be between 3600 and 2592000".into(),
            );
        }
        Ok(())
    }
}

/// Whether a tenant's users use a second factor at sign-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// No second factor: enrolment is not offered and none is asked for (existing enrolments
    /// are kept, unused).
    Off,
    /// Users may enrol an authenticator app; a user who did is always asked for a code, and a
    /// client can demand one with `acr_values` (step-up).
    #[default]
    Optional,
    /// Every user must pass a second factor: one without an authenticator enrols right after
    /// the password.
    Required,
}

/// Multi-factor authentication settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaSettings {
    /// `off`, `optional` (default) or `required`.
    pub policy: MfaPolicy,
}

/// The sender of a tenant's e-mails; what is unset comes from the deployment's `mail.from`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailPolicy {
    /// Sender address (an RFC 5322 §3.4.1 addr-spec), e.g. `no-reply@acme.example`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Sender display name, e.g. `Acme`; unset: the deployment's, or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
}

impl MailPolicy {
    /// Whether `address` is a plain `local@domain` address: dot-atom local part and a DNS
    /// domain (RFC 5322 §3.4.1, without quoted strings, comments or address literals).
    pub fn is_address(address: &str) -> bool {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        address.len() <= 254
            && (1..=64).contains(&local.len())
            && local
                .split('.')
                .all(|a| !a.is_empty() && a.chars().all(atom))
            && domain.split('.').count() >= 2
            && domain.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(from) = &self.from
            && !Self::is_address(from)
        {
            return Err("mail.from must be a plain address such as no-reply@example.com".into());
        }
        if let Some(name) = &self.from_name
            && (name.trim().is_empty()
                || name.chars().count() > 100
                || name.chars().any(char::is_control))
        {
            return Err("mail.from_name needs 1 to 100 printable characters".into());
        }
        Ok(())
    }
}

/// Who may register clients at `/register` (RFC 7591 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// The endpoint is not offered (404) and not advertised.
    #[default]
    Disabled,
    /// Anyone may register (RFC 7591 §3: open registration).
    Open,
    /// A registration needs `Authorization: Bearer` with an initial access token (RFC 7591 §3).
    InitialAccessToken,
}

/// Dynamic client registration policy (RFC 7591, RFC 7592).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationPolicy {
    /// Whether, and with what authorization, `/register` is offered.
    pub mode: RegistrationMode,
    /// Patterns every registered redirect URI must match; empty: any URI that passes the normal
    /// redirect-URI rules. `*` matches any run of characters except `.` and `/` in the host, and
    /// except `/`, `?` and `#` elsewhere; everything else matches literally (see
    /// `tessera_tenants::registration::uri_matches`).
    pub redirect_uri_patterns: Vec<String>,
    /// Grant types a dynamically registered client may use (`authorization_code`,
    /// `refresh_token`, `client_credentials`, `urn:ietf:params:oauth:grant-type:device_code`).
    pub grant_types: Vec<String>,
    /// Lifetime of registration access tokens, seconds; `None`: until the client is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token_ttl: Option<i64>,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            mode: RegistrationMode::Disabled,
            redirect_uri_patterns: vec![],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            registration_access_token_ttl: None,
        }
    }
}

/// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-02): a client
/// whose `client_id` is an https URL is described by the JSON document at that URL, which the
/// server fetches, validates like a dynamic registration and keeps as a client row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientIdMetadataDocumentPolicy {
    /// Whether URL `client_id`s are accepted at all (and advertised, draft §6
    /// `client_id_metadata_document_supported`).
    pub enabled: bool,
    /// Hosts documents may be fetched from: an exact host (`app.example.com`, `127.0.0.1`) or
    /// `*.example.com`, whose `*` is exactly one DNS label. Empty: none, so nothing is fetched.
    pub allowed_hosts: Vec<String>,
    /// Longest time a fetched document is used before it is fetched again, seconds; a shorter
    /// `Cache-Control: max-age` of the document wins, but not below one minute (draft §5.2).
    pub cache_ttl_secs: i64,
}

impl Default for ClientIdMetadataDocumentPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_hosts: vec![],
            cache_ttl_secs: 3600,
        }
    }
}

impl ClientIdMetadataDocumentPolicy {
    /// Whether documents may be fetched from `host` (lower-case, as a URL parser gives it): an
    /// exact entry, or `*.suffix` where the host is one label (no dot) before `.suffix`.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed_hosts.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            match entry.strip_prefix("*.") {
                Some(suffix) => host
                    .strip_suffix(suffix)
                    .and_then(|label| label.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains('.')),
                None => host == entry,
            }
        })
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.cache_ttl_secs) {
            return Err(
                "client_id_metadata_documents.cache_ttl_secs must be between 1 and 86400".into(),
            );
        }
        let host_ok = |h: &str| {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            !bare.is_empty()
                && h.len() <= 253
                && !bare.starts_with('.')
                && !bare.ends_with('.')
                && bare.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
                })
        };
        if self.allowed_hosts.len() > 100 || !self.allowed_hosts.iter().all(|h| host_ok(h)) {
            return Err(
                "client_id_metadata_documents.allowed_hosts: at most 100 hosts, each a host name or IP literal, optionally starting with `*.`".into(),
            );
        }
        Ok(())
    }
}

/// How authorization requests may arrive (RFC 9126).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthorizationPolicy {
    /// Every client must push its authorization requests (RFC 9126 §5
    /// `require_pushed_authorization_requests`).
    pub require_pushed_authorization_requests: bool,
    /// Lifetime of a pushed request's `request_uri` (RFC 9126 §2.2 `expires_in`), seconds.
    pub pushed_request_ttl_secs: i64,
}

impl Default for AuthorizationPolicy {
    fn default() -> Self {
        Self {
            require_pushed_authorization_requests: false,
            pushed_request_ttl_secs: 60,
        }
    }
}

/// Display name, logo, colours and free CSS variables for the tenant's pages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// Name shown on pages instead of the tenant name.
    pub display_name: Option<String>,
    /// `https:` or `data:image/…` URL of the logo.
    pub logo_url: Option<String>,
    /// Primary (button) colour, a CSS colour such as `#1f6feb`.
    pub primary_color: Option<String>,
    /// Page background colour.
    pub background_color: Option<String>,
    /// Extra CSS custom properties, name (without `--`) to value.
    pub css_variables: std::collections::BTreeMap<String, String>,
}

/// Argon2id cost and password rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Argon2id memory cost in KiB (OWASP: 19 MiB).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Shortest accepted password, in characters.
    pub min_length: usize,
    /// Longest accepted password, in characters.
    pub max_length: usize,
    /// Refuse passwords found in the built-in list of common breached passwords.
    pub check_breached: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            min_length: 8,
            max_length: 256,
            check_breached: true,
        }
    }
}

/// Failed sign-in throttling: growing delays, then a temporary lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Failures (per account, or per client IP) allowed before delays start.
    pub free_attempts: u32,
    /// Failures after which the account (or IP) is locked for `lock_secs`.
    pub lock_after: u32,
    /// Length of a temporary lock, seconds.
    pub lock_secs: i64,
    /// Failures older than this no longer count, seconds.
    pub window_secs: i64,
    /// A client address (many users behind one NAT or proxy) gets this many times the
    /// account limits (`free_attempts`, `lock_after`).
    pub per_address_factor: u32,
}

impl LockoutPolicy {
    /// The limits of one client address: the account limits times `per_address_factor`.
    pub fn for_address(&self) -> Self {
        let factor = self.per_address_factor.max(1);
        Self {
            free_attempts: self.free_attempts.saturating_mul(factor),
            lock_after: self.lock_after.saturating_mul(factor),
            ..self.clone()
        }
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            free_attempts: 3,
            lock_after: 10,
            lock_secs: 900,
            window_secs: 900,
            per_address_factor: 10,
        }
    }
}

/// SSO session lifetimes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionPolicy {
    /// A session unused this long ends, seconds.
    pub idle_secs: i64,
    /// A session ends this long after sign-in whatever its use, seconds.
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_secs: 30 * 60,
            absolute_secs: 10 * 60 * 60,
        }
    }
}

/// Lifetimes of codes, ID tokens and refresh tokens, and the rotation grace window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefreshPolicy {
    /// Authorization-code lifetime, seconds (at most 60).
    pub code_ttl_secs: i64,
    /// ID-token lifetime, seconds.
    pub id_token_ttl_secs: i64,
    /// Refresh-token lifetime, seconds; the family never outlives it from its last rotation.
    pub refresh_ttl_secs: i64,
    /// Absolute lifetime of a refresh family (offline access), seconds.
    pub refresh_family_ttl_secs: i64,
    /// After rotation, the old refresh token may be presented again this long (concurrent
    /// clients), seconds; 0 disables the grace window.
    pub rotation_grace_secs: i64,
    /// How many times the old token may be reused inside the grace window.
    pub rotation_grace_count: u32,
    /// DPoP proofs must carry a nonce this server issued (RFC 9449 §8, §9): a client first
    /// gets `use_dpop_nonce` with a `DPoP-Nonce` header, then retries with it.
    pub dpop_nonce_required: bool,
    /// Device-code lifetime (RFC 8628 §3.2 `expires_in`), seconds.
    pub device_code_ttl_secs: i64,
    /// Least time between two polls of one device code (RFC 8628 §3.2 `interval`), seconds.
    pub device_poll_interval_secs: i64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            id_token_ttl_secs: 3600,
            refresh_ttl_secs: 30 * 86_400,
            refresh_family_ttl_secs: 90 * 86_400,
            rotation_grace_secs: 0,
            rotation_grace_count: 0,
            dpop_nonce_required: false,
            device_code_ttl_secs: 600,
            device_poll_interval_secs: 5,
        }
    }
}

impl TenantSettings {
    /// Checks the ranges a running tenant relies on; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.mail.validate()?;
        self.accounts.validate()?;
        if !(1..=3650).contains(&self.audit.retention_days) {
            return Err("audit.retention_days must be between 1 and 3650".into());
        }
        let p = &self.password;
        if !(8 * 1024..=1024 * 1024).contains(&p.argon2_memory_kib) && p.argon2_memory_kib != 8 {
            // 8 KiB is argon2's minimum, allowed for benchmark tenants; otherwise 8 MiB..1 GiB.
            return Err("password.argon2_memory_kib must be 8, or between 8192 and 1048576".into());
        }
        if !(1..=10).contains(&p.argon2_iterations) {
            return Err("password.argon2_iterations must be between 1 and 10".into());
        }
        if !(1..=8).contains(&p.argon2_parallelism) {
            return Err("password.argon2_parallelism must be between 1 and 8".into());
        }
        if p.min_length < 1 || p.min_length > p.max_length || p.max_length > 1024 {
            return Err(
                "password.min_length must be at least 1 and at most max_length (≤ 1024)".into(),
            );
        }
        let l = &self.lockout;
        if l.lock_after == 0
            || l.free_attempts > l.lock_after
            || l.lock_secs < 1
            || l.window_secs < 1
        {
            return Err("lockout: need 0 < free_attempts ≤ lock_after and positive seconds".into());
        }
        if !(1..=1000).contains(&l.per_address_factor) {
            return Err("lockout.per_address_factor must be between 1 and 1000".into());
        }
        let s = &self.session;
        if s.idle_secs < 60 || s.absolute_secs < s.idle_secs {
            return Err("session: idle_secs ≥ 60 and absolute_secs ≥ idle_secs".into());
        }
        let t = &self.tokens;
        if !(1..=60).contains(&t.code_ttl_secs) {
            return Err("tokens.code_ttl_secs must be between 1 and 60".into());
        }
        if !(60..=86_400).contains(&t.id_token_ttl_secs) {
            return Err("tokens.id_token_ttl_secs must be between 60 and 86400".into());
        }
        if t.refresh_ttl_secs < 60 || t.refresh_family_ttl_secs < t.refresh_ttl_secs {
            return Err("tokens: refresh_ttl_secs ≥ 60 and refresh_family_ttl_secs ≥ it".into());
        }
        if !(0..=300).contains(&t.rotation_grace_secs) || t.rotation_grace_count > 10 {
            return Err("tokens: rotation_grace_secs 0..=300 and rotation_grace_count ≤ 10".into());
        }
        if !(5..=600).contains(&self.authorization.pushed_request_ttl_secs) {
            return Err("authorization.pushed_request_ttl_secs must be between 5 and 600".into());
        }
        if !(1..=1800).contains(&t.device_code_ttl_secs) {
            return Err("tokens.device_code_ttl_secs must be between 1 and 1800".into());
        }
        if !(1..=60).contains(&t.device_poll_interval_secs) {
            return Err("tokens.device_poll_interval_secs must be between 1 and 60".into());
        }
        let r = &self.registration;
        if r.redirect_uri_patterns.len() > 100
            || r.redirect_uri_patterns
                .iter()
                .any(|p| p.is_empty() || p.len() > 2048 || p.contains('#') || !p.contains("://"))
        {
            return Err(
                "registration.redirect_uri_patterns: at most 100 absolute URI patterns without fragment".into(),
            );
        }
        // `implicit` (legacy apps, OIDC Core §3.2-§3.3) only when the operator opts in;
        // `password` never: RFC 9700 §2.4 forbids it and nothing vouches for a stranger's app.
        const GRANTS: [&str; 5] = [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "implicit",
        ];
        if let Some(bad) = r.grant_types.iter().find(|g| !GRANTS.contains(&g.as_str())) {
            return Err(format!(
                "registration.grant_types: `{}` is not one of {}",
                bad.chars().take(64).collect::<String>(),
                GRANTS.join(", ")
            ));
        }
        if r.registration_access_token_ttl
            .is_some_and(|t| !(60..=31_536_000).contains(&t))
        {
            return Err(
                "registration.registration_access_token_ttl must be between 60 and 31536000".into(),
            );
        }
        self.client_id_metadata_documents.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_secure_default() {
        let s: TenantSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, TenantSettings::default());
        assert_eq!(s.password.argon2_memory_kib, 19 * 1024);
        assert!(s.tokens.code_ttl_secs <= 60);
        s.validate().unwrap();
    }

    #[test]
    fn metadata_document_hosts_match_exactly_or_by_one_label() {
        let p = ClientIdMetadataDocumentPolicy {
            enabled: true,
            allowed_hosts: vec!["*.example.com".into(), "Client.Test".into()],
            cache_ttl_secs: 60,
        };
        assert!(p.allows_host("app.example.com"));
        assert!(p.allows_host("client.test"));
        assert!(!p.allows_host("example.com"));
        assert!(!p.allows_host("a.b.example.com"));
        assert!(!p.allows_host("evilexample.com"));
        assert!(!p.allows_host("app.example.com.evil.net"));
        assert!(!p.allows_host("other.test"));
        p.validate().unwrap();
        let bad = ClientIdMetadataDocumentPolicy {
            allowed_hosts: vec!["https://app.example.com/".into()],
            ..p.clone()
        };
        assert!(bad.validate().is_err());
        let bad = ClientIdMetadataDocumentPolicy {
            cache_ttl_secs: 0,
            ..p
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_client_address_gets_the_account_limits_times_its_factor() {
        let account = LockoutPolicy::default();
        let address = account.for_address();
        assert_eq!(address.free_attempts, 30);
        assert_eq!(address.lock_after, 100);
        assert_eq!(address.lock_secs, account.lock_secs);
    }

    #[test]
    fn unknown_fields_and_bad_ranges_are_refused() {
        assert!(serde_json::from_str::<TenantSettings>(r#"{"nope":1}"#).is_err());
        let mut s = TenantSettings::default();
        s.tokens.code_ttl_secs = 600;
        assert!(s.validate().unwrap_err().contains("code_ttl_secs"));
        let mut s = TenantSettings::default();
        s.authorization.pushed_request_ttl_secs = 3600;
        assert!(
            s.validate()
                .unwrap_err()
                .contains("pushed_request_ttl_secs")
        );
    }
}
