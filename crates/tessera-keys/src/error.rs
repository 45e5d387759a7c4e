//! [`KeyError`]: the one error type of this crate's boundary.

/// Failures of key management, signing and verification.
///
/// Variants name what went wrong without echoing key material or token contents.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The tenant has no Active key, so nothing can be signed.
    #[error("the tenant has no active signing key")]
    NoActiveKey,
    /// A JWS names a `kid` (RFC 7515 §4.1.4) that is not in the tenant's JWKS, or names none.
    #[error("no published key has this kid")]
    UnknownKid,
    /// A JWS signature does not verify, or its header `alg` is not the algorithm of the key.
    #[error("invalid JWS signature")]
    BadSignature,
    /// Key material, a JWK, a JWS or a master key is not well formed.
    #[error("malformed {0}")]
    Malformed(String),
    /// A sealed private key does not open with this master key (wrong key, wrong row, or tampered).
    #[error("the sealed key does not open with this master key")]
    WrongMasterKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    /// Anything else: OpenSSL, I/O or the forge actor failing.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl KeyError {
    /// Wraps an OpenSSL failure that is not the caller's fault, with what was being done.
    pub(crate) fn openssl(
        what: &'static str,
    ) -> impl FnOnce(openssl::error::ErrorStack) -> KeyError {
        move |e| KeyError::Unexpected(anyhow::Error::new(e).context(what))
    }

    /// A [`KeyError::Malformed`] for `what`.
    pub(crate) fn malformed(what: impl Into<String>) -> KeyError {
        KeyError::Malformed(what.into())
    }
}
