//! `/tenants/{slug}/audit-events`: the tenant's audit log (security events and admin actions),
//! newest first, filtered by action (exact or prefix), actor, user, client and time, paged by an
//! opaque cursor; `/tenants/{slug}/audit-events/export` streams the same as JSON lines.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use tessera_authn::Authenticator;
use tessera_core::ClientId;
use tessera_store::audit::{self, AuditCursor, AuditFilter};
use tessera_store::{AuditEventRecord, Store, StoreError};
use tessera_tenants::TenantAdmin;

use crate::users::{next_cursor, page_limit};
use crate::{AdminError, AdminPrincipal, Query};

/// Largest page size.
const MAX_LIMIT: u64 = 500;

/// Most events one export answers; narrow the filters (or page with `until`) for more.
const MAX_EXPORT: u64 = 100_000;

/// Events read from the database at a time while exporting.
const EXPORT_BATCH: u64 = 500;

/// Longest accepted filter value, in characters.
const MAX_FILTER_CHARS: usize = 200;

/// `GET /tenants/{slug}/audit-events` and `…/export` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only events of this action (`user.invited`), or of every action starting with the
    /// value when it ends with `.` or `*` (`user.`, `user.*`).
    action: Option<String>,
    /// Only events by this actor (`user:<id>`, `admin:<client id>`, `client:<id>`, `system`).
    actor: Option<String>,
    /// Only events about the user with this username.
    user: Option<String>,
    /// Only events about this client id.
    client: Option<String>,
    /// Only events at or after this Unix time.
    since: Option<i64>,
    /// Only events at or before this Unix time.
    until: Option<i64>,
    /// The previous page's `next` (opaque).
    cursor: Option<String>,
    /// Only events before this Unix time (the old time-only cursor, still accepted).
    before: Option<i64>,
    /// Page size, 1 to 500 (export: most events, 1 to 100000).
    limit: Option<u64>,
}

/// One page of events, newest first; `next` is the `cursor` of the following page.
#[derive(Serialize)]
struct Page {
    items: Vec<AuditEventRecord>,
    next: Option<String>,
}

/// The opaque cursor after `e`: its time and id.
fn encode_cursor(e: &AuditEventRecord) -> String {
    format!("{}_{}", e.occurred_at, e.id.simple())
}

/// Reads a cursor made by [`encode_cursor`].
fn decode_cursor(raw: &str) -> Result<AuditCursor, AdminError> {
    let invalid = || AdminError::InvalidRequest("cursor is not one this API returned".into());
    let (time, id) = raw.split_once('_').ok_or_else(invalid)?;
    Ok(AuditCursor {
        occurred_at: time.parse().map_err(|_| invalid())?,
        id: uuid::Uuid::try_parse(id).map_err(|_| invalid())?,
    })
}

/// Which actions are wanted.
#[derive(Debug, PartialEq, Eq)]
enum ActionFilter {
    /// Exactly this action.
    Exact(String),
    /// Every action starting with this.
    Prefix(String),
}

/// The action filter: a prefix when the value ends with `.` or `*`.
fn action_filter(raw: &str) -> Result<ActionFilter, AdminError> {
    let valid = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    };
    if let Some(prefix) = raw.strip_suffix('*') {
        if !valid(prefix) {
            return Err(AdminError::InvalidRequest(
                "action may hold lowercase letters, digits, `_` and `.`, with a final `*`".into(),
            ));
        }
        return Ok(ActionFilter::Prefix(prefix.to_owned()));
    }
    if raw.ends_with('.') {
        return Ok(ActionFilter::Prefix(raw.to_owned()));
    }
    Ok(ActionFilter::Exact(raw.to_owned()))
}

/// A store failure as an admin error.
fn store_error(e: StoreError) -> AdminError {
    if e.is_unavailable() {
        AdminError::Unavailable
    } else {
        AdminError::Unexpected(anyhow::Error::new(e).context("audit log"))
    }
}

/// The tenant and the filter of `query`. A `user` that does not exist is a 404.
async fn filter(
    principal: &AdminPrincipal,
    admin: &TenantAdmin,
    authn: &Authenticator,
    slug: &str,
    query: &ListQuery,
) -> Result<(tessera_store::TenantRecord, AuditFilter), AdminError> {
    let slug = principal.authorize_tenant(slug).await?;
    let too_long = [&query.action, &query.actor, &query.user, &query.client]
        .into_iter()
        .flatten()
        .any(|v| v.chars().count() > MAX_FILTER_CHARS);
    if too_long {
        return Err(AdminError::InvalidRequest(format!(
            "filter values must be at most {MAX_FILTER_CHARS} characters"
        )));
    }
    let tenant = admin.tenant(slug.as_ref()).await?;
    let user = match &query.user {
        Some(name) => Some(
            authn
                .user_by_username(tenant.id, name)
                .await?
                .ok_or(AdminError::NotFound("user"))?
                .id,
        ),
        None => None,
    };
    let client = match &query.client {
        Some(raw) => Some(
            ClientId::parse(raw)
                .ok_or_else(|| AdminError::InvalidRequest("client is not a client id".into()))?,
        ),
        None => None,
    };
    let (action, action_prefix) = match query.action.as_deref().map(action_filter).transpose()? {
        Some(ActionFilter::Exact(a)) => (Some(a), None),
        Some(ActionFilter::Prefix(p)) => (None, Some(p)),
        None => (None, None),
    };
    let filter = AuditFilter {
        action,
        action_prefix,
        actor: query.actor.clone(),
        user,
        client,
        since: query.since,
        until: query.until,
        before: query.before,
        after: query.cursor.as_deref().map(decode_cursor).transpose()?,
    };
    Ok((tenant, filter))
}

/// Lists the tenant's audit events, newest first. A `user` that does not exist is a 404.
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let query = query?.into_inner();
    let limit = page_limit(query.limit, MAX_LIMIT)?;
    let (tenant, filter) = filter(&principal, &admin, &authn, slug.as_ref(), &query).await?;
    let items = audit::list(store.conn(), tenant.id, &filter, limit)
        .await
        .map_err(store_error)?;
    let next = next_cursor(&items, limit, encode_cursor);
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// One batch of the export as JSON lines.
fn lines(items: &[AuditEventRecord]) -> Bytes {
    let mut out = Vec::new();
    for item in items {
        // Serializing a record of plain fields cannot fail; a failure would only drop a line.
        if serde_json::to_writer(&mut out, item).is_ok() {
            out.push(b'\n');
        }
    }
    Bytes::from(out)
}

/// Where the export stream stands.
struct Export {
    store: web::Data<Store>,
    tenant: tessera_core::TenantId,
    filter: AuditFilter,
    remaining: u64,
    pending: Option<Vec<AuditEventRecord>>,
}

/// Exports the tenant's audit events matching the filters, newest first, as JSON lines
/// (`application/x-ndjson`), read from the database a batch at a time; at most `limit`
/// (default and maximum 100000) events.
pub(crate) async fn export(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let query = query?.into_inner();
    let limit = page_limit(Some(query.limit.unwrap_or(MAX_EXPORT)), MAX_EXPORT)?;
    let (tenant, filter) = filter(&principal, &admin, &authn, slug.as_ref(), &query).await?;
    // The first batch is read before answering, so an unavailable database is a 503.
    let first = audit::list(store.conn(), tenant.id, &filter, EXPORT_BATCH.min(limit))
        .await
        .map_err(store_error)?;
    let state = Export {
        store,
        tenant: tenant.id,
        filter,
        remaining: limit,
        pending: Some(first),
    };
    let body = stream::unfold(state, |mut state| async move {
        let batch = match state.pending.take() {
            Some(batch) => batch,
            None => {
                if state.remaining == 0 {
                    return None;
                }
                let size = EXPORT_BATCH.min(state.remaining);
                match audit::list(state.store.conn(), state.tenant, &state.filter, size).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "audit export stopped early");
                        return Some((Err(actix_web::error::ErrorServiceUnavailable(e)), state));
                    }
                }
            }
        };
        let last = batch.last()?;
        let read = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let full = read == EXPORT_BATCH.min(state.remaining);
        state.remaining = state.remaining.saturating_sub(read);
        state.filter.after = Some(AuditCursor {
            occurred_at: last.occurred_at,
            id: last.id,
        });
        state.filter.before = None;
        if !full {
            state.remaining = 0;
        }
        Some((Ok::<_, actix_web::Error>(lines(&batch)), state))
    });
    tracing::info!(admin = %principal, tenant = %tenant.slug, "admin API exported the audit log");
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let e = AuditEventRecord::new(tessera_core::TenantId::new(), "user.created", "system");
        let cursor = decode_cursor(&encode_cursor(&e)).expect("a cursor");
        assert_eq!(cursor.occurred_at, e.occurred_at);
        assert_eq!(cursor.id, e.id);
        assert!(decode_cursor("12").is_err());
        assert!(decode_cursor("x_y").is_err());
    }

    #[test]
    fn actions_ending_in_a_dot_or_star_are_prefixes() {
        assert_eq!(
            action_filter("user.*").ok(),
            Some(ActionFilter::Prefix("user.".into()))
        );
        assert_eq!(
            action_filter("user.").ok(),
            Some(ActionFilter::Prefix("user.".into()))
        );
        assert_eq!(
            action_filter("user.created").ok(),
            Some(ActionFilter::Exact("user.created".into()))
        );
        assert!(action_filter("us%er*").is_err());
    }
}
