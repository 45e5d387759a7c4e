//! The `replay_cache` table: one-time values (DPoP proof `jti`, client assertion `jti`) seen by
//! any node, kept until they could no longer be accepted anyway.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A remembered one-time value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "replay_cache")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the kind and value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Unix seconds after which the value would be refused for its age.
    pub expires_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
