//! The audit log: security events and admin actions per tenant, newest first, paged by an
//! `(occurred_at, id)` keyset so events of the same second are never skipped. Every insert may
//! also be written to the log stream (tracing target `audit`, see [`set_log_stream`]).

use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tessera_core::{ClientId, Clock, TenantId, UserId};

use crate::entity::audit_event as event;
use crate::{AuditEventRecord, StoreError};

/// Longest user agent kept, in characters.
const MAX_USER_AGENT: usize = 256;

/// Whether recorded events are also emitted as tracing events (deployment `log.audit`).
static LOG_STREAM: AtomicBool = AtomicBool::new(false);

/// Turns writing every recorded event to the log stream (tracing target `audit`) on or off.
pub fn set_log_stream(on: bool) {
    LOG_STREAM.store(on, Ordering::Relaxed);
}

impl AuditEventRecord {
    /// A new event of `action` by `actor` (`user:<id>`, `admin:<client id>`, `client:<id>`,
    /// `system`, `anonymous`) in `tenant`, now, with no subject, origin or details yet.
    pub fn new(tenant: TenantId, action: &str, actor: impl Into<String>) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant,
            occurred_at: Clock.now(),
            action: action.to_owned(),
            actor: actor.into(),
            user_id: None,
            client_id: None,
            ip: None,
            user_agent: None,
            details: serde_json::json!({}),
        }
    }

    /// The user concerned.
    pub fn user(mut self, user: UserId) -> Self {
        self.user_id = Some(user);
        self
    }

    /// The client concerned.
    pub fn client(mut self, client: ClientId) -> Self {
        self.client_id = Some(client);
        self
    }

    /// Where the request came from: its client address and user agent (cut to 256 characters).
    pub fn origin(mut self, ip: Option<String>, user_agent: Option<&str>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        self
    }

    /// Small details (never a secret, password, token or code).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// When it happened, Unix seconds (default: now).
    pub fn at(mut self, occurred_at: i64) -> Self {
        self.occurred_at = occurred_at;
        self
    }
}

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

/// Writes `e` to the log stream when `log.audit` is on.
fn emit(e: &AuditEventRecord) {
    if !LOG_STREAM.load(Ordering::Relaxed) {
        return;
    }
    tracing::info!(
        target: "audit",
        id = %e.id,
        tenant = %e.tenant_id,
        occurred_at = e.occurred_at,
        action = %e.action,
        actor = %e.actor,
        user = e.user_id.map(|u| u.to_string()),
        client = e.client_id.as_ref().map(|c| c.to_string()),
        ip = e.ip.as_deref(),
        user_agent = e.user_agent.as_deref(),
        details = %e.details,
        "audit event"
    );
}

/// Appends an event (and writes it to the log stream when that is on).
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
    emit(e);
    Ok(())
}

/// Appends an event after the change it describes succeeded; a failure is logged, not
/// returned (the change is done and must not be reported as failed).
pub async fn record<C: ConnectionTrait>(db: &C, e: AuditEventRecord) {
    if let Err(err) = insert(db, &e).await {
        tracing::error!(error = %err, action = %e.action, tenant = %e.tenant_id, "recording an audit event failed");
    }
}

/// The position after which the next page starts: the last event of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    /// Its time, Unix seconds.
    pub occurred_at: i64,
    /// Its id (the tie-breaker within one second).
    pub id: uuid::Uuid,
}

/// Filters for [`list`].
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only actions starting with this (e.g. `user.`).
    pub action_prefix: Option<String>,
    /// Only events by this actor (`user:<id>`, `admin:<client id>`, …).
    pub actor: Option<String>,
    /// Only events about this user.
    pub user: Option<UserId>,
    /// Only events about this client.
    pub client: Option<ClientId>,
    /// Only events at or after this time, Unix seconds.
    pub since: Option<i64>,
    /// Only events at or before this time, Unix seconds.
    pub until: Option<i64>,
    /// Only events strictly before this time (the old time-only cursor).
    pub before: Option<i64>,
    /// Only events after this one in the listing order (the previous page's last event).
    pub after: Option<AuditCursor>,
}

/// A tenant's events, newest first (ties by id, newest first), at most `limit`.
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
    if let Some(prefix) = &filter.action_prefix {
        q = q.filter(Expr::col(event::Column::Action).like(crate::exact_prefix_pattern(prefix)));
    }
    if let Some(actor) = &filter.actor {
        q = q.filter(event::Column::Actor.eq(actor.as_str()));
    }
    if let Some(user) = filter.user {
        q = q.filter(event::Column::UserId.eq(user));
    }
    if let Some(client) = &filter.client {
        q = q.filter(event::Column::ClientId.eq(client.as_ref()));
    }
    if let Some(since) = filter.since {
        q = q.filter(event::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        q = q.filter(event::Column::OccurredAt.lte(until));
    }
    if let Some(before) = filter.before {
        q = q.filter(event::Column::OccurredAt.lt(before));
    }
    if let Some(after) = filter.after {
        q = q.filter(
            Condition::any()
                .add(event::Column::OccurredAt.lt(after.occurred_at))
                .add(
                    Condition::all()
                        .add(event::Column::OccurredAt.eq(after.occurred_at))
                        .add(event::Column::Id.lt(after.id)),
                ),
        );
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

/// Deletes up to `batch` of the tenant's events that occurred before `cutoff`; returns how many.
pub async fn delete_older_than<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    cutoff: i64,
    batch: u64,
) -> Result<u64, StoreError> {
    let ids: Vec<uuid::Uuid> = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::OccurredAt.lt(cutoff))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let deleted = event::Entity::delete_many()
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
