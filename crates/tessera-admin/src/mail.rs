//! `/tenants/{slug}/mail`: send a test message with the tenant's sender and templates (an
//! administrator checking the mail settings end to end), and page through the tenant's mail
//! outbox — metadata and delivery status only, never a body.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::{Clock, clock::utc_minute};
use tessera_mail::{EmailContent, Mail, MailError, Outbox, TestEmail};
use tessera_store::mail_outbox::{self, MailSummary};
use tessera_store::{AuditEventRecord, Store, audit};
use tessera_tenants::{Directory, TenantAdmin};
use uuid::Uuid;

use crate::users::{next_cursor, page_limit};
use crate::{AdminError, AdminPrincipal, Body, Query};

/// Largest page size.
const MAX_LIMIT: u64 = 500;
/// The audit action of a test message.
const MAIL_TEST_SENT: &str = "mail.test_queued";

impl From<MailError> for AdminError {
    fn from(err: MailError) -> Self {
        match err {
            MailError::InvalidAddress => AdminError::InvalidRequest(
                "`to` must be one plain e-mail address, such as alice@example.com".into(),
            ),
            MailError::Unavailable => AdminError::Unavailable,
            MailError::Unexpected(e) => AdminError::Unexpected(e),
        }
    }
}

fn store_error(err: tessera_store::StoreError) -> AdminError {
    if err.is_unavailable() {
        AdminError::Unavailable
    } else {
        AdminError::Unexpected(anyhow::Error::new(err).context("mail outbox"))
    }
}

/// `POST /tenants/{slug}/mail/test` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    /// The recipient.
    to: String,
}

/// The 202 answer: the queued mail.
#[derive(Serialize)]
struct Queued {
    id: Uuid,
    status: &'static str,
}

/// `POST /tenants/{slug}/mail/test`: queues the `test` e-mail to `to`, with the tenant's sender
/// and templates, and records an audit event in the same transaction. 202: delivery happens in
/// the background; the outbox listing shows its status.
pub(crate) async fn send_test(
    principal: AdminPrincipal,
    directory: web::Data<Directory>,
    store: web::Data<Store>,
    outbox: web::Data<Outbox>,
    path: web::Path<String>,
    body: Body<TestRequest>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let request = body?.into_inner();
    let snapshot = directory
        .resolve(slug.as_ref())
        .await?
        .ok_or(AdminError::NotFound("tenant"))?;
    let to = tessera_mail::parse_recipient(&request.to)?;
    let now = Clock.now();
    let mail = Mail {
        to: to.to_string(),
        content: EmailContent::Test(TestEmail {
            to: to.to_string(),
            requested_at: utc_minute(now),
        }),
    };
    let txn = store.begin().await.map_err(store_error)?;
    let id = outbox.enqueue(&txn, &snapshot, mail).await?;
    audit::insert(
        &txn,
        &AuditEventRecord {
            id: Uuid::now_v7(),
            tenant_id: snapshot.tenant.id,
            occurred_at: now,
            action: MAIL_TEST_SENT.to_owned(),
            actor: principal.actor(),
            user_id: None,
            client_id: None,
            ip: None,
            user_agent: None,
            details: json!({ "mail_id": id, "template": "test" }),
        },
    )
    .await
    .map_err(store_error)?;
    txn.commit().await.map_err(|e| store_error(e.into()))?;
    tracing::info!(admin = %principal, tenant = %slug, mail = %id, "admin API queued a test mail");
    Ok(HttpResponse::Accepted().json(Queued {
        id,
        status: mail_outbox::PENDING,
    }))
}

/// `GET /tenants/{slug}/mail/outbox` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    /// Mails queued before this one (the previous page's `next`).
    before: Option<Uuid>,
    /// Page size, 1 to 500.
    limit: Option<u64>,
}

/// One page of the outbox, newest first; `next` is the `before` of the following page.
#[derive(Serialize)]
struct OutboxPage {
    items: Vec<MailSummary>,
    next: Option<Uuid>,
}

/// `GET /tenants/{slug}/mail/outbox`: the tenant's mails, newest first, without bodies.
pub(crate) async fn list_outbox(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query<OutboxQuery>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let query = query?.into_inner();
    let limit = page_limit(query.limit, MAX_LIMIT)?;
    let tenant = admin.tenant(slug.as_ref()).await?;
    let items = mail_outbox::list(store.conn(), tenant.id, query.before, limit)
        .await
        .map_err(store_error)?;
    let next = next_cursor(&items, limit, |m| m.id);
    Ok(HttpResponse::Ok().json(OutboxPage { items, next }))
}
