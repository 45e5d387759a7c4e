//! The `mail_outbox` table: one e-mail of a tenant, rendered and waiting for delivery, or the
//! metadata of one already delivered or given up (its bodies wiped).

use sea_orm::entity::prelude::*;
use tessera_core::TenantId;

/// A queued or settled e-mail.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// Time-ordered (v7) id of the mail.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The template it was rendered from (`test`, `password_reset`, …).
    pub template: String,
    /// `From` mailbox (RFC 5322 §3.4), e.g. `Acme <no-reply@acme.example>`.
    pub from_address: String,
    /// `To` mailbox.
    pub to_address: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered text body; `None` once settled.
    pub text_body: Option<String>,
    /// Rendered HTML body; `None` once settled.
    pub html_body: Option<String>,
    /// `pending`, `delivered` or `given_up`.
    pub status: String,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// Unix seconds of the next attempt (or the end of a claimed attempt's lease).
    pub next_attempt_at: i64,
    /// Why the last attempt failed (a transport error, never a credential).
    pub last_error: Option<String>,
    /// Unix seconds when it was queued.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Unix seconds when it was delivered or given up.
    pub settled_at: Option<i64>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
