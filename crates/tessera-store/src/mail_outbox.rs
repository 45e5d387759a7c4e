//! The mail outbox: e-mails rendered when they are queued, often in the transaction of the change
//! that causes them, then claimed by the delivery worker of any node. A claim moves the row's
//! `next_attempt_at` to the end of a lease; on PostgreSQL the rows are selected `FOR UPDATE SKIP
//! LOCKED`, and on every engine the lease is taken by a conditional update, so two nodes never
//! send the same mail at once, and a node that dies mid-delivery leaves the row to be claimed
//! again when the lease runs out. An outcome is recorded only by the holder of the lease.
//! Settling a mail (delivered or given up) wipes its bodies, which may carry single-use links.
//! Everything is tenant-scoped except the claim and the sweep, which serve every tenant.

use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use tessera_core::TenantId;
use uuid::Uuid;

use crate::entity::mail_message as mail;
use crate::{StoreError, is_postgres};

/// Waiting for (another) delivery attempt.
pub const PENDING: &str = "pending";
/// Accepted by the transport (the SMTP server, or the file written).
pub const DELIVERED: &str = "delivered";
/// Every attempt failed, or the server refused it for good.
pub const GIVEN_UP: &str = "given_up";

/// A mail to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The template it was rendered from.
    pub template: String,
    /// `From` mailbox.
    pub from: String,
    /// `To` mailbox.
    pub to: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered text body.
    pub text_body: String,
    /// Rendered HTML body.
    pub html_body: String,
}

/// A claimed mail, bodies included, as the delivery worker sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailRecord {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Time-ordered id.
    pub id: Uuid,
    /// The template it was rendered from.
    pub template: String,
    /// `From` mailbox.
    pub from: String,
    /// `To` mailbox.
    pub to: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered text body (`None` once settled).
    pub text_body: Option<String>,
    /// Rendered HTML body (`None` once settled).
    pub html_body: Option<String>,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The end of the lease this claim holds (Unix seconds).
    pub lease_until: i64,
}

/// A mail's metadata, never its bodies: what operators see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailSummary {
    /// Time-ordered id.
    pub id: Uuid,
    /// The template it was rendered from.
    pub template: String,
    /// `From` mailbox.
    pub from: String,
    /// `To` mailbox.
    pub to: String,
    /// Rendered subject.
    pub subject: String,
    /// [`PENDING`], [`DELIVERED`] or [`GIVEN_UP`].
    pub status: String,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// Unix seconds of the next attempt (pending mails).
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Unix seconds when it was queued.
    pub created_at: i64,
    /// Unix seconds when it was delivered or given up.
    pub settled_at: Option<i64>,
    /// Whether the bodies are still stored (only while pending).
    pub has_body: bool,
}

fn to_summary(m: mail::Model) -> MailSummary {
    MailSummary {
        id: m.id,
        template: m.template,
        from: m.from_address,
        to: m.to_address,
        subject: m.subject,
        next_attempt_at: (m.status == PENDING).then_some(m.next_attempt_at),
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error,
        created_at: m.created_at,
        settled_at: m.settled_at,
        has_body: m.text_body.is_some() || m.html_body.is_some(),
    }
}

/// Queues a mail, due at once; returns its id. Call it inside the transaction of the change
/// that causes the mail, so neither exists without the other.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    new: &NewMail,
    now: i64,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    mail::Entity::insert(mail::ActiveModel {
        tenant_id: Set(new.tenant_id),
        id: Set(id),
        template: Set(new.template.clone()),
        from_address: Set(new.from.clone()),
        to_address: Set(new.to.clone()),
        subject: Set(new.subject.clone()),
        text_body: Set(Some(new.text_body.clone())),
        html_body: Set(Some(new.html_body.clone())),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        settled_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// Claims up to `limit` pending mails of every tenant due at `now`, oldest due first, leasing
/// each until `lease_until` (a deliberate cross-tenant query: the worker serves every tenant and
/// handles each row under its own tenant). A row another node leased meanwhile is skipped.
pub async fn claim_due(
    db: &DatabaseConnection,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<MailRecord>, StoreError> {
    let txn = db.begin().await?;
    let mut select = mail::Entity::find()
        .filter(mail::Column::Status.eq(PENDING))
        .filter(mail::Column::NextAttemptAt.lte(now))
        .order_by_asc(mail::Column::NextAttemptAt)
        .limit(limit);
    if is_postgres(&txn) {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = select.all(&txn).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        // Conditional, so the lease is ours even where no row lock was taken (SQLite).
        let taken = mail::Entity::update_many()
            .col_expr(mail::Column::NextAttemptAt, Expr::value(lease_until))
            .filter(mail::Column::TenantId.eq(row.tenant_id))
            .filter(mail::Column::Id.eq(row.id))
            .filter(mail::Column::Status.eq(PENDING))
            .filter(mail::Column::NextAttemptAt.eq(row.next_attempt_at))
            .exec(&txn)
            .await?
            .rows_affected;
        if taken == 1 {
            claimed.push(MailRecord {
                tenant_id: row.tenant_id,
                id: row.id,
                template: row.template,
                from: row.from_address,
                to: row.to_address,
                subject: row.subject,
                text_body: row.text_body,
                html_body: row.html_body,
                attempts: row.attempts,
                lease_until,
            });
        }
    }
    txn.commit().await?;
    Ok(claimed)
}

/// The outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The transport accepted the mail.
    Delivered,
    /// Failed; try again at this Unix second.
    RetryAt(i64, String),
    /// Failed for good (or too often).
    GivenUp(String),
}

/// Records the outcome of the attempt that holds `claim`'s lease: the attempt count, the status,
/// the error, and for a settled mail the wiped bodies. `Ok(false)` when the lease was lost (it
/// ran out and another node claimed the mail): nothing is written.
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    claim: &MailRecord,
    outcome: &Outcome,
    now: i64,
) -> Result<bool, StoreError> {
    let attempts = claim.attempts.saturating_add(1);
    let mut update = mail::Entity::update_many()
        .col_expr(mail::Column::Attempts, Expr::value(attempts))
        .col_expr(mail::Column::UpdatedAt, Expr::value(now));
    let none = Option::<String>::None;
    update = match outcome {
        Outcome::Delivered => update
            .col_expr(mail::Column::Status, Expr::value(DELIVERED))
            .col_expr(mail::Column::LastError, Expr::value(none.clone())),
        Outcome::RetryAt(at, error) => update
            .col_expr(mail::Column::Status, Expr::value(PENDING))
            .col_expr(mail::Column::NextAttemptAt, Expr::value(*at))
            .col_expr(mail::Column::LastError, Expr::value(error.clone())),
        Outcome::GivenUp(error) => update
            .col_expr(mail::Column::Status, Expr::value(GIVEN_UP))
            .col_expr(mail::Column::LastError, Expr::value(error.clone())),
    };
    if !matches!(outcome, Outcome::RetryAt(..)) {
        update = update
            .col_expr(mail::Column::SettledAt, Expr::value(now))
            .col_expr(mail::Column::TextBody, Expr::value(none.clone()))
            .col_expr(mail::Column::HtmlBody, Expr::value(none));
    }
    let rows = update
        .filter(mail::Column::TenantId.eq(claim.tenant_id))
        .filter(mail::Column::Id.eq(claim.id))
        .filter(mail::Column::Status.eq(PENDING))
        .filter(mail::Column::NextAttemptAt.eq(claim.lease_until))
        .exec(db)
        .await?
        .rows_affected;
    Ok(rows == 1)
}

/// One page of a tenant's mails, newest first, without bodies: those queued before the mail
/// `before` (the previous page's last id), at most `limit`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<MailSummary>, StoreError> {
    let mut select = mail::Entity::find().filter(mail::Column::TenantId.eq(tenant));
    if let Some(before) = before {
        select = select.filter(mail::Column::Id.lt(before));
    }
    Ok(select
        .order_by_desc(mail::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_summary)
        .collect())
}

/// One mail of a tenant, without its bodies.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<MailSummary>, StoreError> {
    Ok(
        crate::one_by_key(db, mail::Entity::find_by_id((tenant, id)))
            .await?
            .map(to_summary),
    )
}

/// Deletes the delivered and given-up mails of every tenant settled at or before `before` (the
/// worker's sweep: a deliberate cross-tenant delete).
pub async fn delete_settled<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, StoreError> {
    Ok(mail::Entity::delete_many()
        .filter(mail::Column::Status.ne(PENDING))
        .filter(mail::Column::SettledAt.lte(before))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{PoolSettings, Store, TenantRecord, tenants};
    use tessera_core::{SigningAlg, TenantSlug, TenantStatus};

    async fn store_with_tenant(slug: &str) -> (Store, TenantId) {
        let store = Store::connect("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let record = TenantRecord {
            id: TenantId::new(),
            slug: TenantSlug::parse(slug).unwrap(),
            name: slug.to_owned(),
            status: TenantStatus::Active,
            signing_alg: SigningAlg::Es256,
            is_system: false,
            access_token_ttl: 600,
            key_rotation_interval: 86_400,
            keys_rotate_at: 0,
            settings: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        tenants::insert(store.conn(), &record).await.unwrap();
        (store, record.id)
    }

    fn new_mail(tenant: TenantId) -> NewMail {
        NewMail {
            tenant_id: tenant,
            template: "test".into(),
            from: "Acme <no-reply@acme.example>".into(),
            to: "alice@example.com".into(),
            subject: "Hello".into(),
            text_body: "text".into(),
            html_body: "<p>html</p>".into(),
        }
    }

    #[tokio::test]
    async fn a_claimed_mail_is_not_claimed_again_until_its_lease_ends() {
        let (store, acme) = store_with_tenant("acme").await;
        let db = store.conn();
        let id = enqueue(db, &new_mail(acme), 100).await.unwrap();
        let claimed = claim_due(db, 100, 160, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, id);
        assert!(claim_due(db, 120, 180, 10).await.unwrap().is_empty());
        // The lease ran out (the node died): another claim takes it, and the first claim's
        // outcome is no longer recorded.
        let again = claim_due(db, 160, 220, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert!(
            !record_attempt(db, &claimed[0], &Outcome::Delivered, 161)
                .await
                .unwrap()
        );
        assert!(
            record_attempt(db, &again[0], &Outcome::Delivered, 162)
                .await
                .unwrap()
        );
        let shown = find(db, acme, id).await.unwrap().unwrap();
        assert_eq!(shown.status, DELIVERED);
        assert_eq!(shown.attempts, 1);
        assert!(!shown.has_body, "settling wipes the bodies");
        assert_eq!(shown.settled_at, Some(162));
    }

    #[tokio::test]
    async fn a_retry_waits_and_the_sweep_removes_only_settled_mail() {
        let (store, acme) = store_with_tenant("acme").await;
        let db = store.conn();
        let retried = enqueue(db, &new_mail(acme), 100).await.unwrap();
        let claim = claim_due(db, 100, 160, 10).await.unwrap().remove(0);
        let outcome = Outcome::RetryAt(130, "connection refused".into());
        assert!(record_attempt(db, &claim, &outcome, 101).await.unwrap());
        assert!(claim_due(db, 129, 190, 10).await.unwrap().is_empty());
        let shown = find(db, acme, retried).await.unwrap().unwrap();
        assert_eq!(
            (shown.status.as_str(), shown.attempts, shown.has_body),
            (PENDING, 1, true)
        );
        assert_eq!(shown.last_error.as_deref(), Some("connection refused"));

        let claim = claim_due(db, 130, 190, 10).await.unwrap().remove(0);
        let gone = Outcome::GivenUp("550 no such user".into());
        assert!(record_attempt(db, &claim, &gone, 131).await.unwrap());
        let waiting = enqueue(db, &new_mail(acme), 140).await.unwrap();
        assert_eq!(delete_settled(db, 130).await.unwrap(), 0);
        assert_eq!(delete_settled(db, 131).await.unwrap(), 1);
        let left = list(db, acme, None, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, waiting);
    }
}
