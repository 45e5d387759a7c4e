//! The `registration_access_tokens` table: the one registration access token of each
//! dynamically registered client (RFC 7592 §3), stored as SHA-256 hex.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A client's registration access token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registration_access_tokens")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The dynamically registered client.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Unix seconds after which it is refused; `None`: never.
    pub expires_at: Option<i64>,
    /// Unix seconds when it was issued.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
