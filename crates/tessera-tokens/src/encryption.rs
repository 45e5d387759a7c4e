//! Encrypted ID tokens and userinfo responses (OIDC Core §10.2, §5.3.2): the key a client
//! registered for them is resolved before signing ([`Issuance::resolve_encryption`]), and the
//! signed token is then encrypted to it as a nested JWT (RFC 7519 §5.2, `cty` `JWT`).

use tessera_core::{EncryptedResponse, SigningAlg};
use tessera_keys::jwe::Recipient;
use tessera_tenants::TenantSnapshot;

use crate::client_keys::{ClientKeyResolver, encryption_recipient};
use crate::{BearerError, Issuance, TokenError, UserInfo};

impl Issuance {
    /// Sets the client's key the ID token is encrypted to (`None`: signed only). For callers
    /// that resolved it themselves, e.g. before the grant consumed its code (see
    /// [`encryption_recipient`]).
    pub fn set_encryption(&mut self, recipient: Option<Recipient>) {
        self.encryption = recipient;
    }

    /// Resolves the key the ID token is encrypted to when the client registered
    /// `id_token_encrypted_response_alg` (OIDC Registration §2): its `jwks`, or its `jwks_uri`
    /// document (fetched, or cached). A key that cannot be had is `invalid_request`: the
    /// client's registration, not the server, is at fault, and no unencrypted ID token may go
    /// out instead (OIDC Core §10.2).
    pub async fn resolve_encryption(&mut self, keys: &ClientKeyResolver) -> Result<(), TokenError> {
        if !self.has_id_token() {
            return Ok(());
        }
        self.encryption = encryption_recipient(keys, &self.client, EncryptedResponse::IdToken)
            .await
            .map_err(|e| {
                tracing::warn!(client_id = %self.client.client_id, error = %e, "ID token encryption key unavailable");
                encryption_key_unavailable(&e)
            })?;
        Ok(())
    }

    /// The signed ID token `jws`, encrypted to the client's key when one is set (OIDC Core
    /// §10.2: signed, then encrypted; `cty` `JWT` marks the nested JWT, RFC 7519 §5.2).
    pub(crate) fn seal_id_token(&self, jws: String) -> Result<String, TokenError> {
        match &self.encryption {
            None => Ok(jws),
            Some(recipient) => recipient.encrypt(jws.as_bytes(), Some("JWT")).map_err(|e| {
                anyhow::Error::new(e)
                    .context("encrypting an ID token")
                    .into()
            }),
        }
    }
}

/// The token-endpoint error for a client whose encryption key cannot be had:
/// `invalid_request`, with a description that names what failed, never what its server sent.
pub fn encryption_key_unavailable(err: &crate::client_keys::ClientKeysError) -> TokenError {
    TokenError::InvalidRequest(format!(
        "the client's encryption key could not be obtained: {err}"
    ))
}

impl UserInfo {
    /// The response for a client registered for encrypted userinfo (OIDC Core §5.3.2): with
    /// `signing` (its `userinfo_signed_response_alg`) the signed JWS of [`UserInfo::sign`]
    /// encrypted as a nested JWT (`cty` `JWT`), else the JSON claims encrypted directly. RSA
    /// signing costs about a millisecond: call it off the reactor for RS256.
    pub fn encrypt(
        self,
        snapshot: &TenantSnapshot,
        signing: Option<SigningAlg>,
        recipient: &Recipient,
    ) -> Result<String, BearerError> {
        let sealed = match signing {
            Some(alg) => {
                let jws = self.sign(snapshot, alg)?;
                recipient.encrypt(jws.as_bytes(), Some("JWT"))
            }
            None => {
                let json = serde_json::to_vec(&self.claims).map_err(anyhow::Error::from)?;
                recipient.encrypt(&json, None)
            }
        };
        sealed.map_err(|e| {
            BearerError::Unexpected(anyhow::Error::new(e).context("encrypting userinfo"))
        })
    }
}
