//! The `signing_keys` table: each tenant's key ring, private keys encrypted at rest.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A signing key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Key id, unique within the tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// `next`, `active` or `retired`.
    pub state: String,
    /// Public JWK as JSON text.
    pub public_jwk: String,
    /// AES-256-GCM sealed PKCS#8 DER: nonce ‖ ciphertext ‖ tag.
    pub private_key: Vec<u8>,
    /// Which master key sealed it.
    pub kek_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it became active.
    pub activated_at: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// When it may leave the JWKS (every token it signed has expired).
    pub expires_at: Option<i64>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
