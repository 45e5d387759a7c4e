//! The `device_codes` table: device authorization requests (RFC 8628 §3.1) by SHA-256 hex of the
//! device code, with the SHA-256 hex of the user code, the user's decision and the polling state.

use sea_orm::entity::prelude::*;
use tessera_core::{TenantId, UserId};

/// A device code row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_codes")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// SHA-256 hex of the device code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_code_hash: String,
    /// SHA-256 hex of the normalized user code; unique per tenant.
    pub user_code_hash: String,
    /// Client that asked.
    pub client_id: String,
    /// Requested scopes, space-delimited.
    pub scopes: String,
    /// JSON array of resource indicators (RFC 8707).
    pub resources: String,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    /// Scopes the user granted, space-delimited, once approved.
    pub granted_scopes: Option<String>,
    /// The user who decided.
    pub user_id: Option<UserId>,
    /// The SSO session the user approved from (`sid` claim).
    pub sid: Option<String>,
    /// When that user authenticated.
    pub auth_time: Option<i64>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// JSON array of authentication methods.
    pub amr: String,
    /// Least seconds between polls; grows by 5 on every `slow_down`.
    pub interval: i64,
    /// When the client last polled, Unix seconds.
    pub last_polled_at: Option<i64>,
    /// Unix seconds.
    pub expires_at: i64,
    /// When the approved code was redeemed for tokens.
    pub consumed_at: Option<i64>,
    /// Token family the redemption created.
    pub family_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
