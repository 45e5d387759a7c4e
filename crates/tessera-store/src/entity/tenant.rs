//! The `tenants` table: one row per OpenID Provider hosted on this deployment.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A tenant row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TenantId,
    /// URL name, unique.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// `active` or `disabled`.
    pub status: String,
    /// JWS algorithm of the tenant's keys.
    pub signing_alg: String,
    /// Whether this is the system tenant that issues admin API tokens.
    pub is_system: bool,
    /// Access-token lifetime in seconds.
    pub access_token_ttl: i64,
    /// Seconds between scheduled key rotations.
    pub key_rotation_interval: i64,
    /// When the scheduler should next rotate the keys (Unix seconds).
    pub keys_rotate_at: i64,
    /// JSON `TenantSettings` document (branding and policies).
    pub settings: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations: repositories query by `tenant_id` explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
