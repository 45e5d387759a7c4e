//! Discovery: OpenID Connect Discovery 1.0 §4 at `/t/{tenant}/.well-known/openid-configuration`
//! and RFC 8414 §3 metadata at `/.well-known/oauth-authorization-server/t/{tenant}`. Both say
//! exactly what the tenant serves and are rendered once per snapshot.

use std::collections::BTreeSet;

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_tenants::{Directory, TenantSnapshot};

use crate::{ActiveTenant, OAuthError, tenant::resolve_active};

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_endpoint: Option<String>,
    /// RP-Initiated Logout 1.0 §2.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    end_session_endpoint: Option<String>,
    /// Back-Channel Logout 1.0 §2.1: logout tokens are POSTed, with `sid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_session_supported: Option<bool>,
    /// Front-Channel Logout 1.0 §3: the signed-out page loads the clients' logout URIs, with
    /// `iss` and `sid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    frontchannel_logout_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frontchannel_logout_session_supported: Option<bool>,
    scopes_supported: Vec<&'a str>,
    response_types_supported: [&'a str; 6],
    /// OAuth 2.0 Multiple Response Type Encoding Practices and Form Post Response Mode.
    response_modes_supported: [&'a str; 3],
    grant_types_supported: [&'a str; 7],
    token_endpoint_auth_methods_supported: Vec<&'a str>,
    /// RFC 8628 §4.
    device_authorization_endpoint: String,
    /// RFC 7591 §3 / RFC 8414 §2: only when the tenant offers dynamic registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    /// RFC 8414 §2, OIDC Discovery §3: algorithms of `private_key_jwt` / `client_secret_jwt`.
    token_endpoint_auth_signing_alg_values_supported: Vec<&'a str>,
    /// RFC 7662 §2, RFC 8414 §2.
    introspection_endpoint: String,
    introspection_endpoint_auth_methods_supported: Vec<&'a str>,
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'a str>,
    /// RFC 7009 §2, RFC 8414 §2.
    revocation_endpoint: String,
    revocation_endpoint_auth_methods_supported: Vec<&'a str>,
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'a str>,
    /// RFC 9449 §5.1.
    dpop_signing_alg_values_supported: &'a [&'a str],
    /// RFC 8705 §3.3.
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §5: the endpoints on the listener that asks for client certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    mtls_endpoint_aliases: Option<MtlsAliases>,
    /// RFC 7636 §4.2; `plain` is refused (RFC 9700 §2.1.1).
    code_challenge_methods_supported: [&'a str; 1],
    /// RFC 9207 §3: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: bool,
    /// OIDC Core §8: `pairwise` for clients that register it.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_types_supported: Option<[&'a str; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_signing_alg_values_supported: Option<Vec<&'a str>>,
    /// OIDC Discovery §3: the algorithms a client may register as
    /// `userinfo_signed_response_alg` (the tenant's key rings).
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_signing_alg_values_supported: Option<Vec<&'a str>>,
    /// OIDC Discovery §3: JWE algorithms of encrypted ID tokens and userinfo responses (OIDC
    /// Core §10.2, §5.3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_encryption_alg_values_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_encryption_enc_values_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_encryption_alg_values_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_encryption_enc_values_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims_supported: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_values_supported: Option<[&'a str; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims_parameter_supported: Option<bool>,
    /// OIDC Discovery §3: "1" password, "2" password and a second factor
    /// (`tessera_authn::mfa`); `acr_values` naming "2" asks for the second factor (step-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    acr_values_supported: Option<[&'a str; 2]>,
    /// OIDC Discovery §3, RFC 9101 §10.1: request objects by value.
    request_parameter_supported: bool,
    /// OIDC Discovery §3: `request_uri` is accepted, but only the `urn:` values of our pushed
    /// authorization request endpoint; remote request URIs are never fetched (so there is
    /// nothing to pre-register: `require_request_uri_registration` is false).
    request_uri_parameter_supported: bool,
    require_request_uri_registration: bool,
    /// OIDC Discovery §3, RFC 9101 §10.1; `none` only for clients registered with it.
    request_object_signing_alg_values_supported: Vec<&'a str>,
    /// RFC 9126 §5.
    pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: the tenant's policy (a client may also be required to push on its own).
    require_pushed_authorization_requests: bool,
    /// draft-ietf-oauth-client-id-metadata-document-02 §6: only when the tenant takes URL
    /// `client_id`s.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_metadata_document_supported: Option<bool>,
}

/// The JWE key-management algorithms of encrypted responses (RFC 7518 §4.3, §4.6).
fn jwe_algs() -> Vec<&'static str> {
    tessera_core::JweAlg::ALL
        .iter()
        .map(|a| a.as_str())
        .collect()
}

/// The JWE content-encryption algorithms of encrypted responses (RFC 7518 §5.2.3, §5.3).
fn jwe_encs() -> Vec<&'static str> {
    tessera_core::JweEnc::ALL
        .iter()
        .map(|e| e.as_str())
        .collect()
}

/// RFC 8705 §5 `mtls_endpoint_aliases`.
#[derive(Serialize)]
struct MtlsAliases {
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    userinfo_endpoint: String,
    pushed_authorization_request_endpoint: String,
    device_authorization_endpoint: String,
}

/// Where the mutual-TLS listener is reached (`{origin}` without a trailing slash), when one is
/// configured; app data set by the server.
#[derive(Clone, Debug, Default)]
pub struct MtlsOrigin(pub Option<String>);

fn metadata<'a>(s: &'a TenantSnapshot, openid: bool, mtls: Option<&str>) -> Metadata<'a> {
    let base = &s.issuer;
    // RFC 7523 §2.2 / OIDC Core §9: JWT assertions work at every endpoint that authenticates
    // clients.
    let mut auth_methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ];
    let jwt_algs: Vec<&str> = tessera_core::client::PRIVATE_KEY_JWT_ALGS
        .iter()
        .chain(tessera_core::client::CLIENT_SECRET_JWT_ALGS)
        .copied()
        .collect();
    if mtls.is_some() {
        auth_methods.extend(["tls_client_auth", "self_signed_tls_client_auth"]);
    }
    let client_auth: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    let mtls_aliases = mtls.map(|origin| {
        // The issuer's path below its origin (`/t/{slug}`), served the same on the TLS listener.
        let path = format!("/t/{}", s.tenant.slug);
        let at = |endpoint: &str| format!("{origin}{path}/{endpoint}");
        MtlsAliases {
            token_endpoint: at("token"),
            introspection_endpoint: at("introspect"),
            revocation_endpoint: at("revoke"),
            userinfo_endpoint: at("userinfo"),
            pushed_authorization_request_endpoint: at("par"),
            device_authorization_endpoint: at("device_authorization"),
        }
    });
    let mut claims: BTreeSet<&str> = s
        .scopes
        .iter()
        .flat_map(|sc| sc.claims.iter().map(String::as_str))
        .collect();
    // OIDC Core §2: claims every ID token carries.
    claims.extend([
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
    ]);
    // OIDC Core §15.1: RS256 is always offered; the key set has a key for every listed alg.
    let algs: Vec<&str> = s.keys.signing_algs().iter().map(|a| a.as_str()).collect();
    Metadata {
        issuer: base,
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        jwks_uri: format!("{base}/jwks"),
        userinfo_endpoint: openid.then(|| format!("{base}/userinfo")),
        end_session_endpoint: openid.then(|| format!("{base}/logout")),
        backchannel_logout_supported: openid.then_some(true),
        backchannel_logout_session_supported: openid.then_some(true),
        frontchannel_logout_supported: openid.then_some(true),
        frontchannel_logout_session_supported: openid.then_some(true),
        scopes_supported: s.scopes.iter().map(|sc| sc.name.as_ref()).collect(),
        // OIDC Core §3.2–§3.3: the implicit and hybrid ones only for clients allowed them.
        response_types_supported: tessera_core::ResponseType::SUPPORTED,
        response_modes_supported: ["query", "fragment", "form_post"],
        grant_types_supported: [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code",
            // RFC 6749 §4.3, for clients registered with it only (off by default).
            "password",
            // OIDC Core §3.2–§3.3, for clients registered with it only (off by default).
            "implicit",
        ],
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        device_authorization_endpoint: format!("{base}/device_authorization"),
        registration_endpoint: (s.tenant.settings.registration.mode
            != tessera_core::RegistrationMode::Disabled)
            .then(|| format!("{base}/register")),
        token_endpoint_auth_signing_alg_values_supported: jwt_algs.clone(),
        introspection_endpoint: format!("{base}/introspect"),
        introspection_endpoint_auth_methods_supported: client_auth.clone(),
        introspection_endpoint_auth_signing_alg_values_supported: jwt_algs.clone(),
        revocation_endpoint: format!("{base}/revoke"),
        // RFC 7009 §2.1: public clients revoke their own tokens by `client_id` alone.
        revocation_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_signing_alg_values_supported: jwt_algs,
        dpop_signing_alg_values_supported: tessera_keys::foreign::DPOP_ALGS,
        tls_client_certificate_bound_access_tokens: mtls.is_some(),
        mtls_endpoint_aliases: mtls_aliases,
        code_challenge_methods_supported: ["S256"],
        authorization_response_iss_parameter_supported: true,
        // OIDC Discovery §3 requires these three; RFC 8414 does not define them.
        subject_types_supported: openid.then_some(["public", "pairwise"]),
        userinfo_signing_alg_values_supported: openid.then(|| algs.clone()),
        id_token_encryption_alg_values_supported: openid.then(jwe_algs),
        id_token_encryption_enc_values_supported: openid.then(jwe_encs),
        userinfo_encryption_alg_values_supported: openid.then(jwe_algs),
        userinfo_encryption_enc_values_supported: openid.then(jwe_encs),
        id_token_signing_alg_values_supported: openid.then_some(algs),
        claims_supported: openid.then(|| claims.into_iter().collect()),
        prompt_values_supported: openid.then_some(["none", "login", "consent", "select_account"]),
        claims_parameter_supported: openid.then_some(true),
        acr_values_supported: openid.then_some(tessera_authn::mfa::ACR_VALUES_SUPPORTED),
        request_parameter_supported: true,
        request_uri_parameter_supported: true,
        require_request_uri_registration: false,
        request_object_signing_alg_values_supported: tessera_core::client::REQUEST_OBJECT_ALGS
            .iter()
            .copied()
            .chain(["none"])
            .collect(),
        pushed_authorization_request_endpoint: format!("{base}/par"),
        require_pushed_authorization_requests: s
            .tenant
            .settings
            .authorization
            .require_pushed_authorization_requests,
        client_id_metadata_document_supported: s
            .tenant
            .settings
            .client_id_metadata_documents
            .enabled
            .then_some(true),
    }
}

fn render(bytes: &[u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        // Public documents: browsers' JavaScript clients may read them (RFC 9700 §2.6).
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(bytes.to_vec())
}

/// `GET /t/{tenant}/.well-known/openid-configuration`.
pub async fn openid_configuration(tenant: ActiveTenant, req: HttpRequest) -> HttpResponse {
    let mtls = mtls_origin(&req);
    let bytes = tenant.rendered.openid_configuration.get_or_init(|| {
        serde_json::to_vec(&metadata(&tenant, true, mtls.as_deref())).unwrap_or_default()
    });
    render(bytes)
}

fn mtls_origin(req: &HttpRequest) -> Option<String> {
    req.app_data::<web::Data<MtlsOrigin>>()
        .and_then(|o| o.0.clone())
}

/// `GET /.well-known/oauth-authorization-server/t/{tenant}` (RFC 8414 §3.1 path insertion).
pub async fn oauth_metadata(
    directory: web::Data<Directory>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = resolve_active(&directory, &path).await?;
    let mtls = mtls_origin(&req);
    let bytes = snapshot.rendered.oauth_metadata.get_or_init(|| {
        serde_json::to_vec(&metadata(&snapshot, false, mtls.as_deref())).unwrap_or_default()
    });
    Ok(render(bytes))
}
