//! The client credentials grant (RFC 6749 §4.4) and the RFC 9068 JWT access tokens it issues.

use serde::Serialize;
use tessera_core::{GrantType, ScopeSet};
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;

use crate::TokenError;
use crate::access::{AccessToken, Binding, Minted, mint, resolve_target};

/// Claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    /// Issuer: the tenant.
    pub iss: &'a str,
    /// Subject. For the client credentials grant this is the client id (RFC 9068 §2.2): client
    /// ids are random 22-character strings and user subjects are UUIDs, so a token a client got
    /// for itself cannot be mistaken for a user's (RFC 9700 §4.15).
    pub sub: &'a str,
    /// Audience: the `resource` indicators, or the issuer by default (RFC 9068 §3).
    pub aud: Audience<'a>,
    /// Client the token was issued to.
    pub client_id: &'a str,
    /// Granted scopes, space-delimited; omitted when none.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub scope: &'a str,
    /// Unique id.
    pub jti: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// When the user authenticated (RFC 9068 §2.2.1); user tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Authentication context class (RFC 9068 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'a str>,
    /// Authentication methods (RFC 9068 §2.2.1, RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<&'a [String]>,
    /// SSO session the grant was made in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    /// Private claim: the token family (grant) the token belongs to, so a revoked family's
    /// access tokens are refused where the OP itself serves them (userinfo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<&'a str>,
    /// Private claim: the claim names the `claims` request asked userinfo to release (OIDC
    /// Core §5.5), when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_claims: Option<Vec<&'a str>>,
    /// Confirmation (RFC 7800 §3.1): the DPoP key (`jkt`, RFC 9449 §6.1) or the client
    /// certificate (`x5t#S256`, RFC 8705 §3.1) the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<serde_json::Value>,
    /// The acting party of a delegated token (RFC 8693 §4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
}

/// One audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Audience<'a> {
    /// A single audience.
    One(&'a str),
    /// Several audiences.
    Many(&'a [String]),
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a DPoP-bound token (RFC 9449 §5).
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted scope (RFC 6749 §5.1; OAuth 2.1 §3.2.3 when it differs from the request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A new refresh token (RFC 6749 §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token (OIDC Core §3.1.3.3), when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The type of the issued token, for token exchange (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// Validates `resource` indicators: absolute URIs (RFC 3986 §4.3, so `urn:` names too) without a
/// fragment (RFC 8707 §2).
pub(crate) fn check_resources(resources: &[String]) -> Result<(), TokenError> {
    if resources.len() > 10 {
        return Err(TokenError::InvalidTarget(
            "too many resource indicators".into(),
        ));
    }
    for r in resources {
        let ok = r.len() <= 2000 && !r.contains('#') && url::Url::parse(r).is_ok();
        if !ok {
            return Err(TokenError::InvalidTarget(
                "resource must be an absolute URI without a fragment".into(),
            ));
        }
    }
    Ok(())
}

/// Issues an access token to an authenticated client by the client credentials grant.
/// Requested scopes must all be allowed for the client; with no `scope`, every scope the client
/// is allowed is granted (the documented default, OAuth 2.1 §3.2.2.1). The token is for the
/// named resource servers, else the client's default resource, else the issuer (RFC 9068 §3).
pub fn issue_client_credentials(
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    scope: Option<&str>,
    resources: &[String],
    binding: Binding,
    now: i64,
) -> Result<Minted, TokenError> {
    if !client.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(TokenError::UnauthorizedClient("client_credentials"));
    }
    let granted = match scope {
        Some(raw) => {
            let requested =
                ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if let Some(missing) = requested.first_missing_from(&client.scopes) {
                return Err(TokenError::InvalidScope(format!(
                    "scope `{missing}` is not allowed for this client"
                )));
            }
            requested
        }
        None => client.scopes.clone(),
    };
    check_resources(resources)?;
    let target = resolve_target(snapshot, client, resources, &granted, &snapshot.issuer)?;
    let token_type = binding.token_type();
    let token = AccessToken {
        subject: client.client_id.to_string(),
        client_id: client.client_id.clone(),
        user: None,
        family_id: None,
        target,
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        sid: None,
        userinfo_claims: Vec::new(),
        act: None,
        binding,
    };
    let minted = mint(snapshot, &token, now)?;
    let scopes = &token.target.scopes;
    Ok(Minted {
        response: TokenResponse {
            access_token: minted.token,
            token_type,
            expires_in: token.target.ttl,
            scope: (!scopes.is_empty()).then(|| scopes.to_wire()),
            refresh_token: None,
            id_token: None,
            issued_token_type: None,
        },
        opaque: minted.record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_indicators_must_be_absolute_without_fragment() {
        assert!(check_resources(&["https://api.example.com/orders".into()]).is_ok());
        assert!(check_resources(&["urn:example:api".into()]).is_ok());
        for bad in [
            "/relative",
            "https://api.example.com/#frag",
            "not a uri",
            "api.example.com",
        ] {
            assert!(check_resources(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
