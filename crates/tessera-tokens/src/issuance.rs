//! [`Issuance`]: what a successful authorization-code or refresh grant issues once its database
//! work is done — the RFC 9068 access token, the OIDC ID token and the refresh token — left to
//! be signed on whichever thread the caller chooses (RSA signing costs about a millisecond).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};
use tessera_core::{ScopeSet, SigningAlg, UserId};
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;

use crate::TokenError;
use crate::access::{AccessToken, Binding, Minted, mint, resolve_target};
use crate::client_credentials::TokenResponse;

/// Tokens to sign for one grant of a user to a client.
#[derive(Debug)]
pub struct Issuance {
    pub(crate) client: Arc<ClientRecord>,
    pub(crate) user: UserId,
    pub(crate) family_id: String,
    pub(crate) scopes: ScopeSet,
    pub(crate) sid: Option<String>,
    pub(crate) auth_time: i64,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) nonce: Option<String>,
    /// Claims the `claims` request asked to put in the ID token (OIDC Core §5.5).
    pub(crate) id_token_claims: Map<String, Value>,
    /// Claim names the `claims` request asked userinfo to release.
    pub(crate) userinfo_claims: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) refresh_token: Option<secrecy::SecretString>,
    /// What the access token is bound to (DPoP key, client certificate).
    pub(crate) binding: Binding,
    pub(crate) now: i64,
    /// The client's key the ID token is encrypted to, when it registered encrypted ID tokens
    /// (OIDC Core §10.2): set with [`Issuance::set_encryption`] or
    /// [`Issuance::resolve_encryption`] before signing.
    pub(crate) encryption: Option<tessera_keys::jwe::Recipient>,
}

/// Claims of an ID token (OIDC Core §2, §3.1.3.6).
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: [&'a str; 1],
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    amr: &'a [String],
    azp: &'a str,
    /// Binds the ID token to the access token issued with it (OIDC Core §3.1.3.6, §3.2.2.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    /// Binds the ID token to the code issued with it (OIDC Core §3.3.2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    c_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Issuance {
    /// Whether an ID token is issued: when `openid` is among the scopes (OIDC Core §3.1.2.1).
    pub fn has_id_token(&self) -> bool {
        self.scopes.contains("openid")
    }

    /// Whether signing needs an RSA key (then keep it off the async reactor).
    pub fn signs_with_rsa(&self, snapshot: &TenantSnapshot) -> bool {
        snapshot.keys.primary_alg() == SigningAlg::Rs256
            || (self.has_id_token() && self.client.id_token_alg == SigningAlg::Rs256)
    }

    /// Mints the access token for the grant's target (resource servers, or the client itself
    /// as the audience of userinfo, RFC 9068 §3) — a JWT signed with the tenant's active key, or
    /// an opaque handle — and signs the ID token with the active key of the client's
    /// `id_token_signed_response_alg`.
    pub fn sign(self, snapshot: &TenantSnapshot) -> Result<Minted, TokenError> {
        // OIDC Core §8: the client's view of the user (pairwise for a pairwise client); the
        // access token states the same `sub` as the ID token, so userinfo and introspection
        // agree with it (§5.3.2). The user is still resolved through the token family.
        let sub = snapshot.subject_for(&self.client, self.user);
        let token = self.access_token(snapshot, &sub)?;
        let minted = mint(snapshot, &token, self.now)?;
        let id_token = if self.has_id_token() {
            Some(self.id_token(snapshot, &sub, Some(&minted.token), None)?)
        } else {
            None
        };
        let scopes = &token.target.scopes;
        Ok(Minted {
            response: TokenResponse {
                access_token: minted.token,
                token_type: self.binding.token_type(),
                expires_in: token.target.ttl,
                // RFC 6749 §5.1 requires it when it differs from the request; always sent.
                scope: (!scopes.is_empty()).then(|| scopes.to_wire()),
                refresh_token: self
                    .refresh_token
                    .map(|t| secrecy::ExposeSecret::expose_secret(&t).to_owned()),
                id_token,
                issued_token_type: None,
            },
            opaque: minted.record,
        })
    }

    /// What the grant's access token states: the user as `sub` sees them, the target (resource
    /// servers, or the client itself as the audience of userinfo, RFC 9068 §3), the sign-in.
    pub(crate) fn access_token(
        &self,
        snapshot: &TenantSnapshot,
        sub: &str,
    ) -> Result<AccessToken, TokenError> {
        let client_id = self.client.client_id.as_ref();
        let target = resolve_target(
            snapshot,
            &self.client,
            &self.resources,
            &self.scopes,
            client_id,
        )?;
        Ok(AccessToken {
            subject: sub.to_owned(),
            client_id: self.client.client_id.clone(),
            user: Some(self.user),
            family_id: Some(self.family_id.clone()),
            target,
            auth_time: Some(self.auth_time),
            acr: self.acr.clone(),
            amr: self.amr.clone(),
            sid: self.sid.clone(),
            userinfo_claims: self.userinfo_claims.clone(),
            act: None,
            binding: self.binding.clone(),
        })
    }

    /// The signed ID token (OIDC Core §3.1.3.6); `at_hash` binds it to `access_token` and
    /// `c_hash` to `code` (OIDC Core §3.3.2.11).
    pub(crate) fn id_token(
        &self,
        snapshot: &TenantSnapshot,
        sub: &str,
        access_token: Option<&str>,
        code: Option<&str>,
    ) -> Result<String, TokenError> {
        let alg = self.client.id_token_alg;
        let signer = snapshot
            .keys
            .signer_for(alg)
            .ok_or(TokenError::NoSigningKey)?;
        let client_id = self.client.client_id.as_ref();
        let claims = IdTokenClaims {
            iss: &snapshot.issuer,
            sub,
            aud: [client_id],
            exp: self.now + snapshot.tenant.settings.tokens.id_token_ttl_secs,
            iat: self.now,
            auth_time: self.auth_time,
            nonce: self.nonce.as_deref(),
            acr: self.acr.as_deref(),
            amr: &self.amr,
            azp: client_id,
            at_hash: access_token.map(|t| token_hash(alg, t)),
            c_hash: code.map(|c| token_hash(alg, c)),
            sid: self.sid.as_deref(),
            extra: &self.id_token_claims,
        };
        let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
        let jws = signer
            .sign_jws("JWT", &payload)
            .map_err(|e| anyhow::Error::new(e).context("signing an ID token"))?;
        self.seal_id_token(jws)
    }
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6, §3.3.2.11): base64url of the left half of the hash
/// of the token's ASCII, with the hash of the JWS algorithm — SHA-256 for RS256 and ES256,
/// SHA-512 for EdDSA over Ed25519 (as OpenID certification expects).
pub fn token_hash(alg: SigningAlg, token: &str) -> String {
    match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => {
            let digest = Sha256::digest(token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        SigningAlg::EdDsa => {
            let digest = Sha512::digest(token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_alg_hash() {
        // OIDC Core §A.3 example: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        // gives at_hash "77QmUPtjPfzWtF2AnpK9RQ" with RS256.
        assert_eq!(
            token_hash(
                SigningAlg::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(token_hash(SigningAlg::EdDsa, "x").len(), 43);
        assert_eq!(token_hash(SigningAlg::Es256, "x").len(), 22);
    }
}
