//! Failures of tenant lifecycle operations and tenant resolution.

use tessera_store::StoreError;

/// Failures of tenancy operations.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// No such tenant, client, scope or key.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A slug, client id or scope name is already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A concurrent change won (e.g. two key rotations at once); retrying is safe.
    #[error("{0}")]
    Concurrent(&'static str),
    /// The entity is still referenced by others (e.g. a resource server some client names);
    /// the message says by what.
    #[error("{0}")]
    InUse(String),
    /// The request is invalid; the message says why and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The database is unreachable.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl TenantError {
    /// Maps a store error, naming what was not found or conflicting.
    pub fn from_store(what: &'static str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound => TenantError::NotFound(what),
            StoreError::Conflict => TenantError::Conflict(what),
            e if e.is_unavailable() => TenantError::Unavailable,
            e => TenantError::Unexpected(anyhow::Error::new(e).context(what)),
        }
    }
}

impl From<tessera_keys::KeyError> for TenantError {
    fn from(err: tessera_keys::KeyError) -> Self {
        match err {
            tessera_keys::KeyError::Store(e) => TenantError::from_store("signing key", e),
            other => TenantError::Unexpected(anyhow::Error::new(other)),
        }
    }
}
