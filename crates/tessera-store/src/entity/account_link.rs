//! The `account_links` table: single-use, expiring account-lifecycle links, by token hash.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// One link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_links")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the link's token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// `verify_email`, `password_reset` or `invitation`.
    pub kind: String,
    /// The user the link acts on.
    pub user_id: UserId,
    /// The address the link was sent to.
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the link is dead from then on.
    pub expires_at: i64,
    /// When it was used (or superseded); a used link is never accepted again.
    pub used_at: Option<i64>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
