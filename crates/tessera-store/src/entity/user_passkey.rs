//! The `user_passkeys` table: a user's WebAuthn credentials, named by the user, with the
//! serialized credential (public key, sign counter, backup flags).

use sea_orm::entity::prelude::*;
use tessera_core::{PasskeyId, TenantId, UserId};

/// One passkey.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_passkeys")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// The passkey's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PasskeyId,
    /// The user.
    pub user_id: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// base64url of the WebAuthn credential id; unique within the tenant.
    pub credential_id: String,
    /// The credential as JSON.
    pub passkey: String,
    /// Whether the authenticator may sync the credential (WebAuthn §6.1 flag BE).
    pub backup_eligible: bool,
    /// Whether it is synced now (WebAuthn §6.1 flag BS).
    pub backed_up: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in with it.
    pub last_used_at: Option<i64>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
