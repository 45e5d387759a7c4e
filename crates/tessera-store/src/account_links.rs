//! Account-lifecycle links (`account_links`): e-mail confirmation, password reset and invitation
//! links, stored as the SHA-256 hash of their token. Spending a link is one conditional `UPDATE`
//! (unused, unexpired), so of two clicks on two nodes exactly one succeeds; issuing a new link of
//! a kind supersedes the user's older ones of that kind.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{TenantId, UserId};

use crate::StoreError;
use crate::entity::account_link;

/// A kind of account link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// Confirms the e-mail address it was sent to.
    VerifyEmail,
    /// Lets the user set a new password.
    PasswordReset,
    /// Lets an invited user set a first password (and confirms the address).
    Invitation,
}

impl LinkKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::VerifyEmail => "verify_email",
            LinkKind::PasswordReset => "password_reset",
            LinkKind::Invitation => "invitation",
        }
    }
}

/// A link as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the token (never the token).
    pub token_hash: String,
    /// What the link does.
    pub kind: LinkKind,
    /// The user it acts on.
    pub user_id: UserId,
    /// The address it was sent to.
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was spent or superseded.
    pub used_at: Option<i64>,
}

fn parse_kind(raw: &str) -> Result<LinkKind, StoreError> {
    match raw {
        "verify_email" => Ok(LinkKind::VerifyEmail),
        "password_reset" => Ok(LinkKind::PasswordReset),
        "invitation" => Ok(LinkKind::Invitation),
        other => Err(StoreError::Corrupt(format!("account link kind {other:?}"))),
    }
}

fn to_record(m: account_link::Model) -> Result<LinkRecord, StoreError> {
    Ok(LinkRecord {
        tenant_id: m.tenant_id,
        token_hash: m.token_hash,
        kind: parse_kind(&m.kind)?,
        user_id: m.user_id,
        email: m.email,
        created_at: m.created_at,
        expires_at: m.expires_at,
        used_at: m.used_at,
    })
}

/// Stores a new link, first marking the user's unused links of the same kind as used: only the
/// newest link of a kind works.
pub async fn issue<C: ConnectionTrait>(db: &C, link: &LinkRecord) -> Result<(), StoreError> {
    supersede(db, link.tenant_id, link.user_id, link.kind, link.created_at).await?;
    account_link::ActiveModel {
        tenant_id: Set(link.tenant_id),
        token_hash: Set(link.token_hash.clone()),
        kind: Set(link.kind.as_str().to_owned()),
        user_id: Set(link.user_id),
        email: Set(link.email.clone()),
        created_at: Set(link.created_at),
        expires_at: Set(link.expires_at),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks the user's unused links of `kind` as used at `now`; returns how many there were.
pub async fn supersede<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    kind: LinkKind,
    now: i64,
) -> Result<u64, StoreError> {
    let res = account_link::Entity::update_many()
        .col_expr(account_link::Column::UsedAt, Expr::value(now))
        .filter(account_link::Column::TenantId.eq(tenant))
        .filter(account_link::Column::UserId.eq(user))
        .filter(account_link::Column::Kind.eq(kind.as_str()))
        .filter(account_link::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// An unused, unexpired link of `kind` by token hash, without spending it (to show the form a
/// link leads to).
pub async fn find_live<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: LinkKind,
    token_hash: &str,
    now: i64,
) -> Result<Option<LinkRecord>, StoreError> {
    crate::one_by_key(
        db,
        account_link::Entity::find_by_id((tenant, token_hash.to_owned()))
            .filter(account_link::Column::Kind.eq(kind.as_str()))
            .filter(account_link::Column::UsedAt.is_null())
            .filter(account_link::Column::ExpiresAt.gt(now)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Spends the link: the record once, if it is of `kind`, unused and unexpired at `now`; `None`
/// ever after (and for unknown, expired or foreign-tenant tokens).
pub async fn spend<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: LinkKind,
    token_hash: &str,
    now: i64,
) -> Result<Option<LinkRecord>, StoreError> {
    let res = account_link::Entity::update_many()
        .col_expr(account_link::Column::UsedAt, Expr::value(now))
        .filter(account_link::Column::TenantId.eq(tenant))
        .filter(account_link::Column::TokenHash.eq(token_hash))
        .filter(account_link::Column::Kind.eq(kind.as_str()))
        .filter(account_link::Column::UsedAt.is_null())
        .filter(account_link::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    crate::one_by_key(
        db,
        account_link::Entity::find_by_id((tenant, token_hash.to_owned())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Whether the user has an unused link of `kind` created at or after `since` (to avoid mailing
/// a new link on every attempt).
pub async fn issued_since<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user: UserId,
    kind: LinkKind,
    since: i64,
) -> Result<bool, StoreError> {
    use sea_orm::PaginatorTrait;
    let n = account_link::Entity::find()
        .filter(account_link::Column::TenantId.eq(tenant))
        .filter(account_link::Column::UserId.eq(user))
        .filter(account_link::Column::Kind.eq(kind.as_str()))
        .filter(account_link::Column::UsedAt.is_null())
        .filter(account_link::Column::CreatedAt.gte(since))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// Deletes links that expired before `before` (any tenant); returns how many.
pub async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = account_link::Entity::delete_many()
        .filter(account_link::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
