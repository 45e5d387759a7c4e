//! The `user_totp` table: a user's TOTP authenticator (RFC 6238), its seed sealed under the
//! master key, and the last time step a code was accepted for (replay protection).

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A user's authenticator.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// base64url of the sealed seed.
    pub secret: String,
    /// Whether the user proved the app works with a first code.
    pub confirmed: bool,
    /// The last RFC 6238 time step a code was accepted for.
    pub last_used_step: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
