//! Dynamic client registration (RFC 7591) and management (RFC 7592) under the tenant's
//! [`RegistrationPolicy`]: client metadata is mapped onto a [`NewClient`] / [`ClientUpdate`] and
//! goes through the same validation as the admin API; initial and registration access tokens are
//! 256-bit random values stored only as SHA-256 hashes.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tessera_core::secret::{random_token, sha256_hex, verify_sha256_hex};
use tessera_core::{
    AuthMethod, ClientOptions, ClientType, Clock, GrantType, RedirectUri, RegistrationMode,
    RegistrationPolicy, SigningAlg, SubjectType, TenantId, TokenFormat,
};
use tessera_store::registration::{self as store, InitialAccessTokenRecord};
use tessera_store::{ClientRecord, TenantRecord};

use crate::{ClientUpdate, NewClient, TenantAdmin, TenantError};

/// Random bytes of an initial or registration access token (256 bits).
const TOKEN_BYTES: usize = 32;

/// Failures of the registration endpoints (RFC 7591 §3.2.2, RFC 7592 §2).
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The tenant does not offer dynamic registration.
    #[error("dynamic client registration is not offered")]
    NotOffered,
    /// The bearer token (initial or registration access token) is missing, unknown, expired or
    /// used up; for RFC 7592 also an unknown client, so nothing is revealed about it.
    #[error("the access token is missing, invalid, expired or used up")]
    InvalidToken,
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2).
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata` (RFC 7591 §3.2.2).
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// A tenancy failure (unknown tenant, database down, …).
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

fn meta(why: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(why.into())
}

fn store_err(what: &'static str) -> impl Fn(tessera_store::StoreError) -> RegistrationError {
    move |e| RegistrationError::Tenant(TenantError::from_store(what, e))
}

/// Client metadata as sent to `/register` (RFC 7591 §2, OIDC Dynamic Registration §2).
/// Unrecognised members are ignored (RFC 7591 §2); `contacts`, `logo_uri`, `client_uri`,
/// `policy_uri`, `tos_uri`, `software_id`, `software_version` and `software_statement` are among
/// them and are not stored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClientMetadata {
    /// RFC 7592 §2.2: must equal the client being updated.
    pub client_id: Option<String>,
    /// RFC 7592 §2.2: if sent, must equal the current secret.
    pub client_secret: Option<SecretString>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Default `client_secret_basic` (RFC 7591 §2); `none` makes a public client.
    pub token_endpoint_auth_method: Option<String>,
    /// Default `authorization_code` (RFC 7591 §2).
    pub grant_types: Option<Vec<String>>,
    /// Only `code`; default `code` when the client uses the authorization code grant.
    pub response_types: Option<Vec<String>>,
    /// Display name.
    pub client_name: Option<String>,
    /// Space-separated scopes the client may request.
    pub scope: Option<String>,
    /// The client's public keys, by value.
    pub jwks: Option<serde_json::Value>,
    /// The client's public keys, by reference.
    pub jwks_uri: Option<String>,
    /// Post-logout redirect URIs (RP-Initiated Logout 1.0 §3.1).
    pub post_logout_redirect_uris: Vec<String>,
    /// OIDC Registration §2.
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// OIDC Registration §2.
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// OIDC Registration §2.
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// OIDC Registration §2 (OIDC Core §10.2).
    pub id_token_encrypted_response_alg: Option<tessera_core::JweAlg>,
    /// OIDC Registration §2; `A128CBC-HS256` when only the `alg` is sent.
    pub id_token_encrypted_response_enc: Option<tessera_core::JweEnc>,
    /// OIDC Registration §2 (OIDC Core §5.3.2).
    pub userinfo_encrypted_response_alg: Option<tessera_core::JweAlg>,
    /// OIDC Registration §2; `A128CBC-HS256` when only the `alg` is sent.
    pub userinfo_encrypted_response_enc: Option<tessera_core::JweEnc>,
    /// OIDC Registration §2.
    pub subject_type: Option<SubjectType>,
    /// OIDC Registration §2.
    pub sector_identifier_uri: Option<String>,
    /// OIDC Registration §2.
    pub request_object_signing_alg: Option<String>,
    /// RFC 9101 §10.5.
    pub require_signed_request_object: bool,
    /// RFC 9126 §6.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.
    pub dpop_bound_access_tokens: bool,
    /// Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_uri: Option<String>,
    /// Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_session_required: bool,
    /// Front-Channel Logout 1.0 §2.
    pub frontchannel_logout_uri: Option<String>,
    /// Front-Channel Logout 1.0 §2.
    pub frontchannel_logout_session_required: bool,
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Clone, Debug, Serialize)]
pub struct ClientInformation {
    /// The client identifier.
    pub client_id: String,
    /// The secret, only when issued by this response (confidential clients at registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Unix seconds of registration.
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire (RFC 7591 §3.2.1); present for confidential clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// A fresh registration access token (RFC 7592 §3); rotated on every response.
    pub registration_access_token: String,
    /// The client configuration endpoint (RFC 7592 §3).
    pub registration_client_uri: String,
    /// Display name.
    pub client_name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Response types.
    pub response_types: Vec<String>,
    /// Authentication method at the token endpoint.
    pub token_endpoint_auth_method: String,
    /// Allowed scopes, space-separated.
    pub scope: String,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// ID token signing algorithm.
    pub id_token_signed_response_alg: String,
    /// The remaining registered options (jwks, jwks_uri, subject_type, logout URIs, …), under
    /// their RFC 7591 / OIDC Registration names.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// A successful registration or management response, with the plain tokens it carries.
#[derive(Debug)]
pub struct DynamicClient {
    /// The response body.
    pub information: ClientInformation,
}

/// Whether `uri` matches the redirect-URI `pattern` of a [`RegistrationPolicy`]. Both are
/// compared as strings after RFC 3986 parsing of the URI: the scheme, `://`, host, port, path
/// and query of the URI must match the pattern character for character, where `*` in the
/// pattern's host matches one or more characters other than `.` and `/` (one DNS label or part
/// of one, never a dot), and `*` after the host matches any run of characters other than `/`,
/// `?` and `#` (within one path segment or query). Everything else matches literally.
pub fn uri_matches(pattern: &str, uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    let Some((p_scheme, p_rest)) = pattern.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(p_scheme) {
        return false;
    }
    let split = |s: &str| match s.find(['/', '?']) {
        Some(i) => (s[..i].to_owned(), s[i..].to_owned()),
        None => (s.to_owned(), String::new()),
    };
    let (host, tail) = split(rest);
    let (p_host, p_tail) = split(p_rest);
    glob(
        p_host.to_ascii_lowercase().as_bytes(),
        host.to_ascii_lowercase().as_bytes(),
        b"./",
        false,
    ) && glob(p_tail.as_bytes(), tail.as_bytes(), b"/?#", true)
}

/// Glob match where `*` matches a run of bytes not in `stop`, at least one unless `empty_ok`.
fn glob(pattern: &[u8], text: &[u8], stop: &[u8], empty_ok: bool) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            let min = usize::from(!empty_ok);
            let run = text.iter().take_while(|c| !stop.contains(c)).count();
            (min..=run).any(|n| glob(rest, &text[n..], stop, empty_ok))
        }
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..], stop, empty_ok),
    }
}

/// A client registration mapped from metadata: what [`NewClient`] needs, checked against the
/// tenant's policy (grant types, redirect-URI patterns, response types).
pub(crate) fn map_metadata(
    policy: &RegistrationPolicy,
    m: &ClientMetadata,
) -> Result<NewClient, RegistrationError> {
    // RFC 7591 §2: the default method is client_secret_basic.
    let method = match m.token_endpoint_auth_method.as_deref() {
        None => AuthMethod::ClientSecretBasic,
        Some(raw) => AuthMethod::parse(raw)
            .filter(|a| !a.is_tls())
            .ok_or_else(|| meta("unsupported token_endpoint_auth_method"))?,
    };
    let client_type = if method == AuthMethod::None {
        ClientType::Public
    } else {
        ClientType::Confidential
    };
    // RFC 7591 §2: the default grant type is authorization_code.
    let raw_grants = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    let mut grant_types: Vec<GrantType> = Vec::new();
    for raw in &raw_grants {
        let grant: GrantType = raw
            .parse()
            .map_err(|_| meta("unsupported grant type in grant_types"))?;
        if !policy.grant_types.iter().any(|g| g == grant.as_str()) {
            return Err(meta(format!(
                "grant type `{grant}` is not allowed for dynamically registered clients"
            )));
        }
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    if grant_types.is_empty() {
        return Err(meta("grant_types must not be empty"));
    }
    // RFC 7591 §2.1: response_types and grant_types must be consistent: `code` goes with
    // authorization_code, `id_token` and `token` with implicit (OIDC Core §3.2–§3.3).
    let code = grant_types.contains(&GrantType::AuthorizationCode);
    let implicit = grant_types.contains(&GrantType::Implicit);
    if let Some(rt) = &m.response_types {
        let mut parsed = Vec::with_capacity(rt.len());
        for raw in rt {
            parsed.push(
                tessera_core::ResponseType::parse(raw)
                    .ok_or_else(|| meta(format!("unsupported response type `{raw}`")))?,
            );
        }
        let needs_code = parsed.iter().any(|r| r.code);
        let needs_implicit = parsed.iter().any(|r| r.has_front_channel_token());
        if needs_code != code || needs_implicit != implicit || (implicit && !code) {
            return Err(meta(
                "response_types and grant_types are inconsistent (RFC 7591 §2.1): `code` goes \
                 with authorization_code, `id_token` and `token` with implicit",
            ));
        }
    } else if implicit {
        return Err(meta(
            "the implicit grant needs response_types naming the ones the client uses",
        ));
    }
    check_redirect_uris(policy, &m.redirect_uris)?;
    if code && m.redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "the authorization_code grant needs at least one redirect URI".into(),
        ));
    }
    let scopes = match m.scope.as_deref() {
        Some(raw) => raw
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => {
            let mut s: Vec<String> = ["openid", "profile", "email", "address", "phone"]
                .map(str::to_owned)
                .to_vec();
            if grant_types.contains(&GrantType::RefreshToken) {
                s.push("offline_access".into());
            }
            s
        }
    };
    let options = ClientOptions {
        token_endpoint_auth_method: Some(method),
        jwks: m.jwks.clone(),
        jwks_uri: m.jwks_uri.clone(),
        token_endpoint_auth_signing_alg: m.token_endpoint_auth_signing_alg.clone(),
        require_dpop: m.dpop_bound_access_tokens,
        require_pushed_authorization_requests: m.require_pushed_authorization_requests,
        request_object_signing_alg: m.request_object_signing_alg.clone(),
        require_signed_request_object: m.require_signed_request_object,
        backchannel_logout_uri: m.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: m.backchannel_logout_session_required,
        frontchannel_logout_uri: m.frontchannel_logout_uri.clone(),
        frontchannel_logout_session_required: m.frontchannel_logout_session_required,
        subject_type: m.subject_type.unwrap_or_default(),
        sector_identifier_uri: m.sector_identifier_uri.clone(),
        userinfo_signed_response_alg: m.userinfo_signed_response_alg,
        // OIDC Registration §2: `enc` defaults to A128CBC-HS256 when `alg` is given; stored
        // explicitly so the response echoes the value in force. `enc` alone stays as sent, for
        // the shared validation to refuse.
        id_token_encrypted_response_alg: m.id_token_encrypted_response_alg,
        id_token_encrypted_response_enc: m.id_token_encrypted_response_enc.or(m
            .id_token_encrypted_response_alg
            .map(|_| tessera_core::JweEnc::A128CbcHs256)),
        userinfo_encrypted_response_alg: m.userinfo_encrypted_response_alg,
        userinfo_encrypted_response_enc: m.userinfo_encrypted_response_enc.or(m
            .userinfo_encrypted_response_alg
            .map(|_| tessera_core::JweEnc::A128CbcHs256)),
        ..ClientOptions::default()
    };
    Ok(NewClient {
        name: m
            .client_name
            .clone()
            .unwrap_or_else(|| "Dynamically registered client".into()),
        client_type,
        grant_types,
        redirect_uris: m.redirect_uris.clone(),
        scopes,
        token_format: TokenFormat::Jwt,
        admin_role: None,
        admin_of: None,
        post_logout_redirect_uris: m.post_logout_redirect_uris.clone(),
        // Never first-party: a dynamically registered client always asks for consent.
        first_party: false,
        require_pkce: true,
        id_token_alg: m.id_token_signed_response_alg,
        options,
    })
}

/// Each redirect URI parses (OIDC Core 3.1.2.1) and matches one of the policy's patterns.
fn check_redirect_uris(
    policy: &RegistrationPolicy,
    uris: &[String],
) -> Result<(), RegistrationError> {
    for uri in uris {
        let parsed = RedirectUri::parse(uri)
            .map_err(|e| RegistrationError::InvalidRedirectUri(e.to_string()))?;
        let allowed = policy.redirect_uri_patterns.is_empty()
            || policy
                .redirect_uri_patterns
                .iter()
                .any(|p| uri_matches(p, parsed.as_ref()));
        if !allowed {
            return Err(RegistrationError::InvalidRedirectUri(
                "a redirect URI does not match the tenant's allowed patterns".into(),
            ));
        }
    }
    Ok(())
}

/// Maps a validation failure of the shared client rules to `invalid_client_metadata`.
fn classify(err: TenantError) -> RegistrationError {
    match err {
        TenantError::Invalid(why) => RegistrationError::InvalidClientMetadata(why),
        other => RegistrationError::Tenant(other),
    }
}

/// The client information response for `client`.
fn information(
    issuer: &str,
    client: &ClientRecord,
    client_secret: Option<String>,
    registration_access_token: String,
) -> ClientInformation {
    let mut options = match serde_json::to_value(&client.options) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    // Renamed or already-present members.
    options.remove("token_endpoint_auth_method");
    if let Some(dpop) = options.remove("require_dpop") {
        options.insert("dpop_bound_access_tokens".into(), dpop);
    }
    options.remove("tls_client_certificate_bound_access_tokens");
    let method = client
        .options
        .token_endpoint_auth_method
        .unwrap_or(match client.client_type {
            ClientType::Public => AuthMethod::None,
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
        });
    let code = client.grant_types.contains(&GrantType::AuthorizationCode);
    ClientInformation {
        client_id: client.client_id.to_string(),
        client_secret,
        client_id_issued_at: client.created_at,
        client_secret_expires_at: (client.client_type == ClientType::Confidential).then_some(0),
        registration_access_token,
        registration_client_uri: format!("{issuer}/register/{}", client.client_id),
        client_name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        grant_types: client
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        response_types: match (code, client.grant_types.contains(&GrantType::Implicit)) {
            (true, true) => tessera_core::ResponseType::SUPPORTED
                .map(str::to_owned)
                .to_vec(),
            (true, false) => vec!["code".into()],
            _ => vec![],
        },
        token_endpoint_auth_method: method.as_str().to_owned(),
        scope: client.scopes.to_wire(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        id_token_signed_response_alg: client.id_token_alg.as_str().to_owned(),
        options,
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Records a registration event in the tenant's audit log; a failure is logged, not returned
/// (the change itself is committed).
async fn audit(admin: &TenantAdmin, tenant: &TenantRecord, client_id: &str, action: &str) {
    let record = tessera_store::AuditEventRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        occurred_at: Clock.now(),
        action: action.to_owned(),
        actor: "dynamic_registration".to_owned(),
        user_id: None,
        client_id: tessera_core::ClientId::parse(client_id),
        ip: None,
        user_agent: None,
        details: serde_json::Value::Object(serde_json::Map::new()),
    };
    if let Err(e) = tessera_store::audit::insert(admin.store().conn(), &record).await {
        tracing::warn!(tenant = %tenant.slug, error = %e, "audit event not recorded");
    }
}

/// An initial access token as created: its record and the plain token, shown this once.
#[derive(Debug)]
pub struct NewInitialAccessToken {
    /// The stored record.
    pub record: InitialAccessTokenRecord,
    /// The plain token.
    pub token: SecretString,
}

impl TenantAdmin {
    async fn registration_tenant(&self, slug: &str) -> Result<TenantRecord, RegistrationError> {
        let tenant = self.tenant(slug).await?;
        if tenant.settings.registration.mode == RegistrationMode::Disabled {
            return Err(RegistrationError::NotOffered);
        }
        Ok(tenant)
    }

    /// Issues a fresh registration access token for `client`, replacing any earlier one.
    async fn issue_registration_token(
        &self,
        tenant: &TenantRecord,
        client_id: &str,
    ) -> Result<String, RegistrationError> {
        let token = random_token(TOKEN_BYTES);
        let now = Clock.now();
        let expires_at = tenant
            .settings
            .registration
            .registration_access_token_ttl
            .map(|ttl| now + ttl);
        store::set_registration_token(
            self.store().conn(),
            tenant.id,
            client_id,
            &sha256_hex(&token),
            expires_at,
            now,
        )
        .await
        .map_err(store_err("registration access token"))?;
        Ok(token)
    }

    /// Registers a client from metadata (RFC 7591 §3.1). `initial_token` is the bearer token of
    /// the request; it is required, checked and spent when the tenant's mode is
    /// `initial_access_token`. `issuer` forms the `registration_client_uri`.
    pub async fn register_dynamic(
        &self,
        slug: &str,
        issuer: &str,
        metadata: &ClientMetadata,
        initial_token: Option<&str>,
    ) -> Result<DynamicClient, RegistrationError> {
        let tenant = self.registration_tenant(slug).await?;
        let policy = &tenant.settings.registration;
        let needs_token = policy.mode == RegistrationMode::InitialAccessToken;
        let token_hash = initial_token.map(sha256_hex);
        if needs_token {
            // RFC 7591 §3: checked before the metadata, without spending a use yet.
            let hash = token_hash
                .as_deref()
                .ok_or(RegistrationError::InvalidToken)?;
            if !self.initial_token_usable(tenant.id, hash).await? {
                return Err(RegistrationError::InvalidToken);
            }
        }
        let new = map_metadata(policy, metadata)?;
        let registered = self.register_client(slug, new).await.map_err(classify)?;
        let client_id = registered.client.client_id.to_string();
        if let (true, Some(hash)) = (needs_token, token_hash.as_deref()) {
            let spent = store::use_initial(self.store().conn(), tenant.id, hash, Clock.now())
                .await
                .map_err(store_err("initial access token"));
            if !matches!(spent, Ok(true)) {
                // Another registration spent the last use meanwhile: undo this one.
                self.delete_client(slug, &client_id).await?;
                return Err(spent.err().unwrap_or(RegistrationError::InvalidToken));
            }
        }
        let token = match self.issue_registration_token(&tenant, &client_id).await {
            Ok(token) => token,
            Err(e) => {
                self.delete_client(slug, &client_id).await?;
                return Err(e);
            }
        };
        audit(self, &tenant, &client_id, "client.registered").await;
        let secret = registered
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        Ok(DynamicClient {
            information: information(issuer, &registered.client, secret, token),
        })
    }

    async fn initial_token_usable(
        &self,
        tenant: TenantId,
        hash: &str,
    ) -> Result<bool, RegistrationError> {
        store::initial_usable(self.store().conn(), tenant, hash, Clock.now())
            .await
            .map_err(store_err("initial access token"))
    }

    /// The dynamically registered client `client_id` whose registration access token is
    /// `token` (RFC 7592 §3); any mismatch, an unknown client included, is `InvalidToken`.
    async fn authorize_management(
        &self,
        tenant: &TenantRecord,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<ClientRecord, RegistrationError> {
        let token = token.ok_or(RegistrationError::InvalidToken)?;
        let stored = store::find_registration_token(self.store().conn(), tenant.id, client_id)
            .await
            .map_err(store_err("registration access token"))?
            .ok_or(RegistrationError::InvalidToken)?;
        if !verify_sha256_hex(token, &stored.token_hash)
            || stored.expires_at.is_some_and(|e| e <= Clock.now())
        {
            return Err(RegistrationError::InvalidToken);
        }
        match self.client(tenant.slug.as_ref(), client_id).await {
            Ok(client) => Ok(client),
            Err(TenantError::NotFound(_)) => Err(RegistrationError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a dynamically registered client (RFC 7592 §2.1); the registration access token is
    /// rotated and the new one returned.
    pub async fn read_dynamic(
        &self,
        slug: &str,
        issuer: &str,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<DynamicClient, RegistrationError> {
        let tenant = self.registration_tenant(slug).await?;
        let client = self.authorize_management(&tenant, client_id, token).await?;
        let token = self.issue_registration_token(&tenant, client_id).await?;
        Ok(DynamicClient {
            information: information(issuer, &client, None, token),
        })
    }

    /// Replaces a dynamically registered client's metadata (RFC 7592 §2.2), validated again
    /// under the tenant's policy. The client type (authentication method) and grant types are
    /// fixed at registration; the registration access token is rotated.
    pub async fn update_dynamic(
        &self,
        slug: &str,
        issuer: &str,
        client_id: &str,
        token: Option<&str>,
        metadata: &ClientMetadata,
    ) -> Result<DynamicClient, RegistrationError> {
        let tenant = self.registration_tenant(slug).await?;
        let client = self.authorize_management(&tenant, client_id, token).await?;
        // RFC 7592 §2.2: client_id must be sent and equal; a sent secret must equal the current.
        if metadata.client_id.as_deref() != Some(client_id) {
            return Err(meta(
                "client_id must be sent and equal the client being updated",
            ));
        }
        if let Some(secret) = &metadata.client_secret {
            let matches = client
                .secret_hash
                .as_deref()
                .is_some_and(|h| verify_sha256_hex(secret.expose_secret(), h));
            if !matches {
                return Err(meta("client_secret does not match the current secret"));
            }
        }
        let mut new = map_metadata(&tenant.settings.registration, metadata)?;
        // Options only an administrator sets are not client metadata; a PUT keeps them.
        new.options.default_resource = client.options.default_resource.clone();
        new.options.token_exchange = client.options.token_exchange.clone();
        new.options.tls_client_certificate_bound_access_tokens =
            client.options.tls_client_certificate_bound_access_tokens;
        if new.client_type != client.client_type {
            return Err(meta(
                "token_endpoint_auth_method cannot change between public and confidential",
            ));
        }
        let mut before = client.grant_types.clone();
        let mut after = new.grant_types.clone();
        before.sort_by_key(|g| g.as_str());
        after.sort_by_key(|g| g.as_str());
        if before != after {
            return Err(meta("grant_types cannot change after registration"));
        }
        let update = ClientUpdate {
            name: Some(new.name),
            redirect_uris: Some(new.redirect_uris),
            post_logout_redirect_uris: Some(new.post_logout_redirect_uris),
            scopes: Some(new.scopes),
            // RFC 7592 §2.2: checked unchanged above.
            grant_types: None,
            token_format: None,
            first_party: Some(false),
            options: Some(new.options),
        };
        let updated = self
            .update_client(slug, client_id, update)
            .await
            .map_err(classify)?;
        let token = self.issue_registration_token(&tenant, client_id).await?;
        audit(self, &tenant, client_id, "client.registration_updated").await;
        Ok(DynamicClient {
            information: information(issuer, &updated, None, token),
        })
    }

    /// Deletes a dynamically registered client (RFC 7592 §2.3), as the admin API does, with its
    /// registration access token.
    pub async fn delete_dynamic(
        &self,
        slug: &str,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<(), RegistrationError> {
        let tenant = self.registration_tenant(slug).await?;
        self.authorize_management(&tenant, client_id, token).await?;
        // Deleting the client also deletes its registration access token.
        self.delete_client(slug, client_id).await?;
        audit(self, &tenant, client_id, "client.registration_deleted").await;
        Ok(())
    }

    /// Creates an initial access token (RFC 7591 §3) for a tenant; the plain token is returned
    /// this once and only its SHA-256 hash is stored.
    pub async fn create_initial_access_token(
        &self,
        slug: &str,
        description: Option<String>,
        expires_in: Option<i64>,
        max_uses: Option<i32>,
    ) -> Result<NewInitialAccessToken, TenantError> {
        let tenant = self.tenant(slug).await?;
        if let Some(d) = &description
            && d.chars().count() > 255
        {
            return Err(TenantError::Invalid(
                "description is longer than 255 characters".into(),
            ));
        }
        if expires_in.is_some_and(|e| !(60..=31_536_000).contains(&e)) {
            return Err(TenantError::Invalid(
                "expires_in must be between 60 and 31536000 seconds".into(),
            ));
        }
        if max_uses.is_some_and(|m| m < 1) {
            return Err(TenantError::Invalid("max_uses must be at least 1".into()));
        }
        let now = Clock.now();
        let token = random_token(TOKEN_BYTES);
        let record = InitialAccessTokenRecord {
            tenant_id: tenant.id,
            id: uuid::Uuid::new_v4(),
            description,
            expires_at: expires_in.map(|e| now + e),
            max_uses,
            uses: 0,
            created_at: now,
        };
        store::insert_initial(self.store().conn(), &record, &sha256_hex(&token))
            .await
            .map_err(|e| TenantError::from_store("initial access token", e))?;
        tracing::info!(tenant = %slug, id = %record.id, "initial access token created");
        Ok(NewInitialAccessToken {
            record,
            token: SecretString::from(token),
        })
    }

    /// A tenant's initial access tokens (no secrets).
    pub async fn list_initial_access_tokens(
        &self,
        slug: &str,
    ) -> Result<Vec<InitialAccessTokenRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        store::list_initial(self.store().conn(), tenant.id)
            .await
            .map_err(|e| TenantError::from_store("initial access token", e))
    }

    /// Deletes an initial access token.
    pub async fn delete_initial_access_token(
        &self,
        slug: &str,
        id: &str,
    ) -> Result<(), TenantError> {
        let tenant = self.tenant(slug).await?;
        let id =
            uuid::Uuid::parse_str(id).map_err(|_| TenantError::NotFound("initial access token"))?;
        store::delete_initial(self.store().conn(), tenant.id, id)
            .await
            .map_err(|e| TenantError::from_store("initial access token", e))?;
        tracing::info!(tenant = %slug, id = %id, "initial access token deleted");
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_host_star_matches_one_label_part_and_never_a_dot() {
        let p = "https://*.example.com/*";
        assert!(uri_matches(p, "https://app.example.com/cb"));
        assert!(uri_matches(p, "https://APP.example.com/"));
        assert!(!uri_matches(p, "https://a.b.example.com/cb"));
        assert!(!uri_matches(p, "https://example.com/cb"));
        assert!(!uri_matches(p, "https://app.example.com.evil.net/cb"));
        assert!(!uri_matches(p, "https://app.example.com/cb/deeper"));
        assert!(!uri_matches(p, "http://app.example.com/cb"));
        assert!(!uri_matches(p, "https://app.example.com:8443/cb"));
        assert!(!uri_matches(p, "https://evil.net/x.example.com/cb"));
    }

    #[test]
    fn a_path_star_stays_in_its_segment_and_literals_match_exactly() {
        assert!(uri_matches(
            "https://rp.example.com/cb/*",
            "https://rp.example.com/cb/one"
        ));
        assert!(uri_matches(
            "https://rp.example.com/cb/*",
            "https://rp.example.com/cb/"
        ));
        assert!(!uri_matches(
            "https://rp.example.com/cb/*",
            "https://rp.example.com/cb/a/b"
        ));
        assert!(!uri_matches(
            "https://rp.example.com/cb/*",
            "https://rp.example.com/cb/a?x=1"
        ));
        assert!(uri_matches(
            "http://127.0.0.1:*/cb",
            "http://127.0.0.1:8080/cb"
        ));
        assert!(uri_matches(
            "https://rp.example.com/cb",
            "https://rp.example.com/cb"
        ));
        assert!(!uri_matches(
            "https://rp.example.com/cb",
            "https://rp.example.com/cb2"
        ));
        assert!(!uri_matches(
            "https://rp.example.com/cb",
            "https://rp.example.com"
        ));
    }

    fn policy(grants: &[&str], patterns: &[&str]) -> RegistrationPolicy {
        RegistrationPolicy {
            mode: RegistrationMode::Open,
            redirect_uri_patterns: patterns.iter().map(|s| (*s).to_owned()).collect(),
            grant_types: grants.iter().map(|s| (*s).to_owned()).collect(),
            registration_access_token_ttl: None,
        }
    }

    fn metadata(v: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn response_types_must_agree_with_the_implicit_and_code_grants() {
        let p = policy(&["authorization_code", "implicit"], &[]);
        let ok = metadata(serde_json::json!({
            "redirect_uris": ["https://a.example.com/cb"],
            "grant_types": ["authorization_code", "implicit"],
            "response_types": ["code", "code id_token", "id_token token"],
        }));
        let c = map_metadata(&p, &ok).unwrap();
        assert!(c.grant_types.contains(&GrantType::Implicit));
        for bad in [
            // implicit without saying which response types
            serde_json::json!({"grant_types": ["authorization_code", "implicit"]}),
            // a token response type without the implicit grant
            serde_json::json!({"response_types": ["code", "code id_token"]}),
            // the implicit grant alone
            serde_json::json!({"grant_types": ["implicit"], "response_types": ["id_token"]}),
            // bare `token` is not supported
            serde_json::json!({"grant_types": ["authorization_code", "implicit"],
                               "response_types": ["code", "token"]}),
        ] {
            let mut m = bad.clone();
            m["redirect_uris"] = serde_json::json!(["https://a.example.com/cb"]);
            assert!(map_metadata(&p, &metadata(m)).is_err(), "{bad}");
        }
        // A policy without `implicit` refuses the grant.
        let strict = policy(&["authorization_code"], &[]);
        assert!(map_metadata(&strict, &ok).is_err());
    }

    #[test]
    fn metadata_defaults_follow_rfc_7591_and_map_to_a_client() {
        let p = RegistrationPolicy::default();
        let m = metadata(serde_json::json!({
            "redirect_uris": ["https://rp.example.com/cb"],
            "client_name": "RP",
            "logo_uri": "https://rp.example.com/logo.png",
        }));
        let c = map_metadata(&p, &m).unwrap();
        assert_eq!(c.client_type, ClientType::Confidential);
        assert_eq!(c.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(
            c.options.token_endpoint_auth_method,
            Some(AuthMethod::ClientSecretBasic)
        );
        assert!(!c.first_party && c.admin_role.is_none());
        let m = metadata(serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }));
        let c = map_metadata(&p, &m).unwrap();
        assert_eq!(c.client_type, ClientType::Public);
        assert!(c.scopes.contains(&"offline_access".to_owned()));
    }

    #[test]
    fn policy_refuses_grants_patterns_and_inconsistent_response_types() {
        let p = policy(&["authorization_code"], &["https://*.example.com/cb"]);
        let ok = serde_json::json!({"redirect_uris": ["https://a.example.com/cb"]});
        assert!(map_metadata(&p, &metadata(ok)).is_ok());
        let bad_uri = serde_json::json!({"redirect_uris": ["https://a.evil.com/cb"]});
        assert!(matches!(
            map_metadata(&p, &metadata(bad_uri)),
            Err(RegistrationError::InvalidRedirectUri(_))
        ));
        let bad_grant = serde_json::json!({
            "redirect_uris": ["https://a.example.com/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
        });
        assert!(matches!(
            map_metadata(&p, &metadata(bad_grant)),
            Err(RegistrationError::InvalidClientMetadata(_))
        ));
        let implicit = serde_json::json!({
            "redirect_uris": ["https://a.example.com/cb"], "response_types": ["token"],
        });
        assert!(map_metadata(&p, &metadata(implicit)).is_err());
        let p = policy(&["client_credentials"], &[]);
        let cc =
            serde_json::json!({"grant_types": ["client_credentials"], "response_types": ["code"]});
        assert!(map_metadata(&p, &metadata(cc)).is_err());
        let cc = serde_json::json!({"grant_types": ["client_credentials"]});
        assert!(map_metadata(&p, &metadata(cc)).is_ok());
        let tls = serde_json::json!({
            "grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
        });
        assert!(map_metadata(&p, &metadata(tls)).is_err());
    }

    #[test]
    fn bearer_takes_the_token_of_a_bearer_header_only() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
