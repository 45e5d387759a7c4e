//! The `consent_grants` table: the scopes a user granted a client, one row per
//! `(tenant_id, user_id, client_id)`.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A remembered consent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_grants")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The user who consented.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// The client consented to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// Granted scopes, space-delimited.
    pub scopes: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
