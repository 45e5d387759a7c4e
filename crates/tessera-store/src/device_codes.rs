//! Device codes of the device authorization grant (RFC 8628), addressed by `(tenant_id, SHA-256
//! hex of the device code)` and found from the browser by the SHA-256 hex of the user code. The
//! user's decision, each poll and the redemption are compare-and-set updates, so a code is
//! decided once, two concurrent polls cannot both pass the interval, and it is redeemed once.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use tessera_core::{ClientId, ScopeSet, TenantId, UserId};

use crate::codes::parse_scopes;
use crate::entity::device_code as device;
use crate::{StoreError, json_list, parse_json_list};

/// Where a device code stands (RFC 8628 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceCodeStatus {
    /// The user has not decided yet: polls get `authorization_pending`.
    Pending,
    /// The user approved: the next poll gets tokens.
    Approved,
    /// The user denied: polls get `access_denied`.
    Denied,
}

impl DeviceCodeStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            _ => return None,
        })
    }
}

/// What the user approved, from which sign-in: the grant the tokens are issued for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceApproval {
    /// The user who approved.
    pub user_id: UserId,
    /// The scopes the user granted (never more than were asked).
    pub scopes: ScopeSet,
    /// The SSO session the user approved from (`sid` claim).
    pub sid: Option<String>,
    /// When that user authenticated, Unix seconds.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
}

/// A device authorization request (RFC 8628 §3.1) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCodeRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// SHA-256 hex of the device code; the code itself is never stored.
    pub device_code_hash: String,
    /// SHA-256 hex of the normalized user code.
    pub user_code_hash: String,
    /// The client that asked; only it may poll.
    pub client_id: ClientId,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// Resource indicators of the request (RFC 8707), already checked.
    pub resources: Vec<String>,
    /// Pending, approved or denied.
    pub status: DeviceCodeStatus,
    /// The approval, when approved.
    pub approval: Option<DeviceApproval>,
    /// Least seconds between polls (RFC 8628 §3.2); grows by 5 on every `slow_down`.
    pub interval: i64,
    /// When the client last polled.
    pub last_polled_at: Option<i64>,
    /// Unix seconds.
    pub expires_at: i64,
    /// When the approved code was redeemed.
    pub consumed_at: Option<i64>,
    /// Token family the redemption created.
    pub family_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

fn corrupt(column: &str) -> StoreError {
    StoreError::Corrupt(format!("device_codes.{column}"))
}

fn to_record(m: device::Model) -> Result<DeviceCodeRecord, StoreError> {
    let status = DeviceCodeStatus::parse(&m.status).ok_or_else(|| corrupt("status"))?;
    let approval = match (status, m.user_id, m.granted_scopes, m.auth_time) {
        (DeviceCodeStatus::Approved, Some(user_id), Some(granted), Some(auth_time)) => {
            Some(DeviceApproval {
                user_id,
                scopes: parse_scopes("device_codes.granted_scopes", &granted)?,
                sid: m.sid,
                auth_time,
                acr: m.acr,
                amr: parse_json_list("device_codes.amr", &m.amr)?,
            })
        }
        (DeviceCodeStatus::Approved, ..) => return Err(corrupt("approval")),
        _ => None,
    };
    Ok(DeviceCodeRecord {
        tenant_id: m.tenant_id,
        device_code_hash: m.device_code_hash,
        user_code_hash: m.user_code_hash,
        client_id: ClientId::parse(&m.client_id).ok_or_else(|| corrupt("client_id"))?,
        scopes: parse_scopes("device_codes.scopes", &m.scopes)?,
        resources: parse_json_list("device_codes.resources", &m.resources)?,
        status,
        approval,
        interval: m.interval,
        last_polled_at: m.last_polled_at,
        expires_at: m.expires_at,
        consumed_at: m.consumed_at,
        family_id: m.family_id,
        created_at: m.created_at,
    })
}

/// Inserts a fresh, pending device code; [`StoreError::Conflict`] when its user code is already
/// taken in the tenant (the caller draws another).
pub async fn insert<C: ConnectionTrait>(db: &C, r: &DeviceCodeRecord) -> Result<(), StoreError> {
    device::ActiveModel {
        tenant_id: Set(r.tenant_id),
        device_code_hash: Set(r.device_code_hash.clone()),
        user_code_hash: Set(r.user_code_hash.clone()),
        client_id: Set(r.client_id.to_string()),
        scopes: Set(r.scopes.to_wire()),
        resources: Set(json_list(&r.resources)),
        status: Set(DeviceCodeStatus::Pending.as_str().to_owned()),
        granted_scopes: Set(None),
        user_id: Set(None),
        sid: Set(None),
        auth_time: Set(None),
        acr: Set(None),
        amr: Set("[]".to_owned()),
        interval: Set(r.interval),
        last_polled_at: Set(r.last_polled_at),
        expires_at: Set(r.expires_at),
        consumed_at: Set(None),
        family_id: Set(None),
        created_at: Set(r.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The device code with this hash in the tenant, in whatever state.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    device_code_hash: &str,
) -> Result<Option<DeviceCodeRecord>, StoreError> {
    crate::one_by_key(
        db,
        device::Entity::find_by_id((tenant, device_code_hash.to_owned())),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// The device code whose user code has this hash in the tenant, in whatever state.
pub async fn find_by_user_code<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user_code_hash: &str,
) -> Result<Option<DeviceCodeRecord>, StoreError> {
    crate::one_by_key(
        db,
        device::Entity::find()
            .filter(device::Column::TenantId.eq(tenant))
            .filter(device::Column::UserCodeHash.eq(user_code_hash)),
    )
    .await?
    .map(to_record)
    .transpose()
}

/// Records the user's approval of a pending, unexpired code; `false` when it was already decided
/// or has expired.
pub async fn approve<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user_code_hash: &str,
    approval: &DeviceApproval,
    now: i64,
) -> Result<bool, StoreError> {
    let res = device::Entity::update_many()
        .col_expr(
            device::Column::Status,
            Expr::value(DeviceCodeStatus::Approved.as_str()),
        )
        .col_expr(
            device::Column::GrantedScopes,
            Expr::value(approval.scopes.to_wire()),
        )
        .col_expr(device::Column::UserId, Expr::value(approval.user_id))
        .col_expr(device::Column::Sid, Expr::value(approval.sid.clone()))
        .col_expr(device::Column::AuthTime, Expr::value(approval.auth_time))
        .col_expr(device::Column::Acr, Expr::value(approval.acr.clone()))
        .col_expr(device::Column::Amr, Expr::value(json_list(&approval.amr)))
        .filter(device::Column::TenantId.eq(tenant))
        .filter(device::Column::UserCodeHash.eq(user_code_hash))
        .filter(device::Column::Status.eq(DeviceCodeStatus::Pending.as_str()))
        .filter(device::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records the user's denial of a pending, unexpired code; `false` when it was already decided or
/// has expired.
pub async fn deny<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    user_code_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = device::Entity::update_many()
        .col_expr(
            device::Column::Status,
            Expr::value(DeviceCodeStatus::Denied.as_str()),
        )
        .filter(device::Column::TenantId.eq(tenant))
        .filter(device::Column::UserCodeHash.eq(user_code_hash))
        .filter(device::Column::Status.eq(DeviceCodeStatus::Pending.as_str()))
        .filter(device::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a poll at `now` with the (possibly grown) `interval`, if no other poll was recorded
/// since the caller read `seen_last_polled`; `false` means a concurrent poll won.
pub async fn record_poll<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    device_code_hash: &str,
    seen_last_polled: Option<i64>,
    interval: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let seen = match seen_last_polled {
        Some(at) => device::Column::LastPolledAt.eq(at),
        None => device::Column::LastPolledAt.is_null(),
    };
    let res = device::Entity::update_many()
        .col_expr(device::Column::LastPolledAt, Expr::value(now))
        .col_expr(device::Column::Interval, Expr::value(interval))
        .filter(device::Column::TenantId.eq(tenant))
        .filter(device::Column::DeviceCodeHash.eq(device_code_hash))
        .filter(seen)
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Marks an approved, unexpired, unredeemed code redeemed and records the family its redemption
/// creates, in one statement; `false` when another poll redeemed it first or it expired.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    device_code_hash: &str,
    family_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let res = device::Entity::update_many()
        .col_expr(device::Column::ConsumedAt, Expr::value(now))
        .col_expr(device::Column::FamilyId, Expr::value(family_id))
        .filter(device::Column::TenantId.eq(tenant))
        .filter(device::Column::DeviceCodeHash.eq(device_code_hash))
        .filter(device::Column::Status.eq(DeviceCodeStatus::Approved.as_str()))
        .filter(device::Column::ConsumedAt.is_null())
        .filter(device::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes every device code, of every tenant, that expired before `before`.
pub async fn delete_expired<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    let res = device::Entity::delete_many()
        .filter(device::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes every device code of a tenant (tenant deletion).
pub async fn delete_all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<u64, StoreError> {
    let res = device::Entity::delete_many()
        .filter(device::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
