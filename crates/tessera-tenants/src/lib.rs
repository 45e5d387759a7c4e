//! Tenancy: the lifecycle of tenants, their clients, scope definitions and resource servers
//! ([`TenantAdmin`]), the immutable per-tenant snapshots the hot path reads ([`Directory`]), and
//! the [`TenantDirectory`] actor that keeps those snapshots fresh by tailing the change feed and
//! rotates keys on schedule, and the tenant-branded page engine ([`pages`]) every HTML page is
//! rendered with.

mod actor;
mod admin;
mod branding;
mod console;
mod directory;
pub mod domains;
pub mod emails;
mod encryption;
mod error;
mod feed;
pub mod metadata_document;
pub mod outbound;
pub mod pages;
pub mod registration;
mod resources;
mod sector;
mod snapshot;
mod standard;

pub use actor::{TenantDirectory, TenantDirectorySettings};
pub use admin::{
    ADMIN_SCOPE, ClientUpdate, NewClient, NewTenant, RegisteredClient, RingKeys, SystemBootstrap,
    TenantAdmin, TenantDefaults, TenantUpdate,
};
pub use branding::{
    BrandingDraft, BrandingVersion, DraftSaved, SettingsChange, TemplateChangeError, TemplateDraft,
    TemplateSource, TemplateSummary, TemplateVersion, TemplateVersionSummary,
};
pub use console::{
    CONSOLE_CLIENT_ID, console_client, console_redirect_uris, is_reserved_client_id,
};
pub use directory::{Directory, domain_issuer};
pub use error::TenantError;
pub use feed::FeedCursor;
pub use metadata_document::{MetadataDocumentError, MetadataDocuments};
pub use pages::{PageContext, TemplateName, TemplateProblem, TenantLook, TenantPages};
pub use resources::{
    MAX_RESOURCE_IDENTIFIER, NewResourceServer, ResourceServerUpdate, check_resource_identifier,
};
pub use sector::{MAX_SECTOR_DOCUMENT_BYTES, SECTOR_FETCH_TIMEOUT};
pub use snapshot::{RenderCache, TenantSnapshot};
pub use standard::standard_scopes;
