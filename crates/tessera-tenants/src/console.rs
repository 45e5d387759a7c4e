//! The built-in admin console client `tessera-console` (issue 8): a public, first-party browser
//! client every tenant has. It is synthesized into each snapshot, never stored, so 100,000
//! tenants cost no rows and a changed `public_url` changes its redirect URIs at once.

use tessera_core::{
    AuthMethod, ClientId, ClientOptions, ClientType, GrantType, ScopeSet, TokenFormat,
};
use tessera_store::{ClientRecord, TenantRecord};

use crate::TenantError;

/// The `client_id` of the built-in console client; reserved in every tenant.
pub const CONSOLE_CLIENT_ID: &str = "tessera-console";

/// Whether `client_id` is reserved for a built-in client (compared exactly: client ids are
/// case-sensitive, RFC 6749 §2.2).
pub fn is_reserved_client_id(client_id: &str) -> bool {
    client_id == CONSOLE_CLIENT_ID
}

/// Refuses a change to a reserved client id with a message naming why.
pub(crate) fn refuse_reserved(client_id: &str) -> Result<(), TenantError> {
    if is_reserved_client_id(client_id) {
        return Err(TenantError::Invalid(format!(
            "`{CONSOLE_CLIENT_ID}` is the built-in admin console client; it cannot be registered, changed or deleted"
        )));
    }
    Ok(())
}

/// The console's redirect URIs in `tenant` (matched exactly, OIDC Core §3.1.2.1):
/// `{public_url}/t/{slug}/console/callback`, and for the system tenant also
/// `{public_url}/console/callback` (the operators' console).
pub fn console_redirect_uris(public_url: &str, tenant: &TenantRecord) -> Vec<String> {
    let base = public_url.trim_end_matches('/');
    let mut uris = vec![format!("{base}/t/{}/console/callback", tenant.slug)];
    if tenant.is_system {
        uris.push(format!("{base}/console/callback"));
    }
    uris
}

/// Where the console may ask to land after signing out (RP-Initiated Logout 1.0 §3): its own
/// start page.
fn console_post_logout_uris(public_url: &str, tenant: &TenantRecord) -> Vec<String> {
    let base = public_url.trim_end_matches('/');
    let mut uris = vec![format!("{base}/t/{}/console", tenant.slug)];
    if tenant.is_system {
        uris.push(format!("{base}/console"));
    }
    uris
}

/// The registration of the console client in `tenant`: public (`token_endpoint_auth_method`
/// `none`, RFC 7591 §2), authorization code with PKCE S256 (RFC 7636, RFC 9700 §2.1.1) and
/// refresh tokens, first party (no consent page), `openid profile`, JWT access tokens.
pub fn console_client(public_url: &str, tenant: &TenantRecord) -> ClientRecord {
    let scopes = ScopeSet::parse("openid profile").unwrap_or_default();
    ClientRecord {
        tenant_id: tenant.id,
        client_id: ClientId::parse(CONSOLE_CLIENT_ID)
            .unwrap_or_else(|| unreachable!("a constant of printable ASCII")),
        name: "Tessera admin console".to_owned(),
        client_type: ClientType::Public,
        secret_hash: None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: console_redirect_uris(public_url, tenant),
        scopes,
        token_format: TokenFormat::Jwt,
        admin_role: None,
        admin_tenant_id: None,
        post_logout_redirect_uris: console_post_logout_uris(public_url, tenant),
        first_party: true,
        require_pkce: true,
        id_token_alg: tessera_keys::DEFAULT_ID_TOKEN_ALG,
        options: ClientOptions {
            token_endpoint_auth_method: Some(AuthMethod::None),
            ..Default::default()
        },
        created_at: tenant.created_at,
        updated_at: tenant.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_console_id_is_reserved() {
        assert!(is_reserved_client_id("tessera-console"));
        assert!(!is_reserved_client_id("Tessera-Console"));
        assert!(!is_reserved_client_id("tessera-console2"));
        assert!(refuse_reserved("tessera-console").is_err());
        assert!(refuse_reserved("abc").is_ok());
    }
}
