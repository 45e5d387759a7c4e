//! The `audit_events` table: security events and admin actions, per tenant.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// An audit event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Random id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Tenant it happened in.
    pub tenant_id: TenantId,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened, e.g. `grant.revoked`.
    pub action: String,
    /// Who did it, e.g. `user:<id>` or `client:<id>`.
    pub actor: String,
    /// The user concerned.
    pub user_id: Option<UserId>,
    /// The client concerned.
    pub client_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// JSON object of details.
    pub details: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
