//! The `tenant_domains` table: a tenant's custom domain (at most one), pending until an operator
//! marks it verified.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A custom-domain row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_domains")]
pub struct Model {
    /// Lowercase ASCII host name, unique across the deployment.
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    /// Owning tenant (unique: one domain per tenant).
    pub tenant_id: TenantId,
    /// The value the tenant publishes in its DNS TXT record.
    pub verification_token: String,
    /// Unix seconds of verification; `None` while pending.
    pub verified_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
