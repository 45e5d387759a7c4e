//! The `login_throttle` table: failed sign-in counters per account and per client address.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A throttle row for one key (`user:<uuid>`, `name:<username>` or `ip:<address>`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttle")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// What is throttled.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Failures counted in the current window.
    pub failures: i32,
    /// Start of the current window (Unix seconds).
    pub window_started_at: i64,
    /// End of a temporary lock (Unix seconds).
    pub locked_until: Option<i64>,
    /// Last change (Unix seconds): the time of the last counted attempt.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
