//! The `users` table: a tenant's user accounts, unique per `(tenant_id, username)`.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A user row. `claims` holds the JSON `StandardClaims` document.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Primary key within the tenant; `sub` is its string form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    /// Sign-in name, lowercased, unique within the tenant.
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Whether the e-mail address was verified.
    pub email_verified: bool,
    /// JSON `StandardClaims` document.
    pub claims: String,
    /// Argon2id PHC string; `NULL` when the user has no password.
    pub password_hash: Option<String>,
    /// `active`, `disabled` or `locked`.
    pub status: String,
    /// The admin role the user holds (`operator`, `tenant_admin`, `auditor`), `NULL` for none.
    pub admin_role: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// No navigable relations: repositories query by `tenant_id` explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
