//! Tenancy: the lifecycle of tenants, their clients and scope definitions ([`TenantAdmin`]), the
//! immutable per-tenant snapshots the hot path reads ([`Directory`]), and the [`TenantDirectory`]
//! actor that keeps those snapshots fresh by tailing the change feed and rotates keys on schedule.

mod actor;
mod admin;
mod directory;
mod error;
mod feed;
mod snapshot;
mod standard;

pub use actor::{TenantDirectory, TenantDirectorySettings};
pub use admin::{
    ADMIN_SCOPE, NewClient, NewTenant, RegisteredClient, SystemBootstrap, TenantAdmin,
    TenantDefaults, TenantUpdate,
};
pub use directory::Directory;
pub use error::TenantError;
pub use feed::FeedCursor;
pub use snapshot::{RenderCache, TenantSnapshot};
pub use standard::STANDARD_SCOPES;
