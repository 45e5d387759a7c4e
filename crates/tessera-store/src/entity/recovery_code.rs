//! The `recovery_codes` table: single-use recovery codes of a user, as SHA-256 hashes.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// One recovery code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_codes")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// SHA-256 hex of the code (bound to the tenant and user).
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// When it was used; a used code is never accepted again.
    pub used_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
