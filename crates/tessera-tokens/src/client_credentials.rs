//! The client credentials grant (RFC 6749 §4.4) and the RFC 9068 JWT access tokens it issues.

use serde::Serialize;
use tessera_core::{GrantType, ScopeSet, secret::random_token};
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;

use crate::TokenError;

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
    /// Always `Bearer` for now.
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
/// is allowed is granted (the documented default, OAuth 2.1 §3.2.2.1).
pub fn issue_client_credentials(
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    scope: Option<&str>,
    resources: &[String],
    now: i64,
) -> Result<TokenResponse, TokenError> {
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
    let signer = snapshot.keys.signer().ok_or(TokenError::NoSigningKey)?;
    let ttl = snapshot.tenant.access_token_ttl;
    let scope_wire = granted.to_wire();
    let claims = AccessTokenClaims {
        iss: &snapshot.issuer,
        sub: client.client_id.as_ref(),
        aud: match resources {
            [] => Audience::One(&snapshot.issuer),
            [one] => Audience::One(one),
            many => Audience::Many(many),
        },
        client_id: client.client_id.as_ref(),
        scope: &scope_wire,
        jti: random_token(16),
        iat: now,
        exp: now + ttl,
        auth_time: None,
        acr: None,
        amr: None,
        sid: None,
        gid: None,
        userinfo_claims: None,
    };
    let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
    // RFC 9068 §2.1: typ "at+jwt" keeps access tokens from being replayed as ID tokens.
    let access_token = signer
        .sign_jws("at+jwt", &payload)
        .map_err(|e| anyhow::Error::new(e).context("signing access token"))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        scope: (!granted.is_empty()).then_some(scope_wire),
        refresh_token: None,
        id_token: None,
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
