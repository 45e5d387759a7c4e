//! The `logout_outbox` table: one back-channel logout notice (OpenID Connect Back-Channel Logout
//! 1.0 §2.5) per client and ended session, waiting for delivery or kept as a record of it.

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A logout notice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logout_outbox")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Random id of the notice.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The client to notify.
    pub client_id: String,
    /// The id of the user whose session ended (each token's `sub` is the one its client sees).
    pub subject: String,
    /// The ended SSO session (`sid`), when known.
    pub sid: Option<String>,
    /// `pending`, `delivered` or `given_up`.
    pub state: String,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// Unix seconds of the next attempt (or the end of a claimed attempt's lease).
    pub next_attempt_at: i64,
    /// Unix seconds when the session ended.
    pub created_at: i64,
    /// Unix seconds of the last state change.
    pub updated_at: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
