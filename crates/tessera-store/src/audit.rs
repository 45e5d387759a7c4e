//! The audit log: security events and admin actions per tenant, newest first, paged by time.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tessera_core::{ClientId, TenantId, UserId};

use crate::entity::audit_event as event;
use crate::{AuditEventRecord, StoreError};

fn to_record(m: event::Model) -> Result<AuditEventRecord, StoreError> {
    Ok(AuditEventRecord {
        id: m.id,
        tenant_id: m.tenant_id,
        occurred_at: m.occurred_at,
        action: m.action,
        actor: m.actor,
        user_id: m.user_id,
        client_id: m
            .client_id
            .as_deref()
            .map(|c| {
                ClientId::parse(c)
                    .ok_or_else(|| StoreError::Corrupt("audit_events.client_id".to_owned()))
            })
            .transpose()?,
        ip: m.ip,
        user_agent: m.user_agent,
        details: serde_json::from_str(&m.details)
            .map_err(|e| StoreError::Corrupt(format!("audit_events.details: {e}")))?,
    })
}

/// Appends an event.
pub async fn insert<C: ConnectionTrait>(db: &C, e: &AuditEventRecord) -> Result<(), StoreError> {
    event::ActiveModel {
        id: Set(e.id),
        tenant_id: Set(e.tenant_id),
        occurred_at: Set(e.occurred_at),
        action: Set(e.action.clone()),
        actor: Set(e.actor.clone()),
        user_id: Set(e.user_id),
        client_id: Set(e.client_id.as_ref().map(|c| c.to_string())),
        ip: Set(e.ip.clone()),
        user_agent: Set(e.user_agent.clone()),
        details: Set(e.details.to_string()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Filters for [`list`].
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this user.
    pub user: Option<UserId>,
    /// Only events about this client.
    pub client: Option<ClientId>,
    /// Only events strictly before this time (the previous page's last `occurred_at`).
    pub before: Option<i64>,
}

/// A tenant's events, newest first, at most `limit`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    filter: &AuditFilter,
    limit: u64,
) -> Result<Vec<AuditEventRecord>, StoreError> {
    let mut q = event::Entity::find().filter(event::Column::TenantId.eq(tenant));
    if let Some(action) = &filter.action {
        q = q.filter(event::Column::Action.eq(action.as_str()));
    }
    if let Some(user) = filter.user {
        q = q.filter(event::Column::UserId.eq(user));
    }
    if let Some(client) = &filter.client {
        q = q.filter(event::Column::ClientId.eq(client.as_ref()));
    }
    if let Some(before) = filter.before {
        q = q.filter(event::Column::OccurredAt.lt(before));
    }
    q.order_by_desc(event::Column::OccurredAt)
        .order_by_desc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect()
}
