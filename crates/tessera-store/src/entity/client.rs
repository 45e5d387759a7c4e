//! The `clients` table: OAuth clients, unique per `(tenant_id, client_id)`.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A client row. List-valued columns hold JSON arrays; repositories parse them into typed values.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Public identifier, unique within the tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// SHA-256 hex of the secret (confidential clients).
    pub secret_hash: Option<String>,
    /// JSON array of grant types.
    pub grant_types: String,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
    /// JSON array of allowed scopes.
    pub scopes: String,
    /// `jwt` or `opaque`.
    pub token_format: String,
    /// Admin API role (system tenant only).
    pub admin_role: Option<String>,
    /// The tenant a tenant-admin client administers.
    pub admin_tenant_id: Option<TenantId>,
    /// JSON array of post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
    /// Skips the consent page.
    pub first_party: bool,
    /// Requires PKCE S256 at the authorization endpoint.
    pub require_pkce: bool,
    /// `id_token_signed_response_alg`; `NULL` means RS256.
    pub id_token_alg: Option<String>,
    /// JSON document of [`tessera_core::ClientOptions`].
    pub options: String,
    /// The client secret sealed under the master key, for `client_secret_jwt` clients only
    /// (the server needs it to check an assertion's HMAC); `NULL` for every other client.
    pub sealed_secret: Option<Vec<u8>>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
