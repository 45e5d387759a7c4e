//! The `change_feed` table: an append-only log of tenant-configuration changes, written in the
//! same transaction as the change, that every node tails to invalidate its snapshots.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A change-feed row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_feed")]
pub struct Model {
    /// Monotonic sequence number.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The tenant that changed (none: every tenant).
    pub tenant_id: Option<TenantId>,
    /// Its slug at the time of the change.
    pub tenant_slug: Option<String>,
    /// What changed, for logs (`tenant`, `client`, `scope`, `keys`).
    pub what: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
