//! The signal that tokens of a tenant were revoked, for caches of active tokens
//! ([`crate::Store::active_tokens`]): a generation counter per tenant that every revoking
//! repository function bumps, in this process at once and on every node through the change feed.
//!
//! A cached answer remembers the generation it was read under and is thrown away once the
//! tenant's generation moved on. The counters are in-process (a fixed array of slots a tenant
//! hashes to; two tenants sharing a slot only invalidate each other's entries, never keep a stale
//! one). The local bump happens before the revoking transaction commits, so a lookup racing with
//! it may cache the row as it was; the change-feed entry, visible at commit, bumps every node's
//! counter again, the local one included — the window is one feed poll.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::ConnectionTrait;
use tessera_core::TenantId;

use crate::{StoreError, feed};

/// `what` of the change-feed entry that says "tokens of this tenant were revoked".
pub const FEED_WHAT: &str = "tokens-revoked";

const SLOTS: usize = 1024;

static GENERATIONS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

fn slot(tenant: TenantId) -> &'static AtomicU64 {
    // UUIDv7: the low bits are random.
    &GENERATIONS[(tenant.0.as_u128() as usize) % SLOTS]
}

/// The tenant's current generation.
pub fn generation(tenant: TenantId) -> u64 {
    slot(tenant).load(Ordering::Acquire)
}

/// Moves the tenant's generation on: every cached answer about its tokens is stale.
pub fn bump(tenant: TenantId) {
    slot(tenant).fetch_add(1, Ordering::AcqRel);
}

/// Called by every repository function that revokes tokens, with how many rows it touched: when
/// any, bumps the generation here and appends a [`FEED_WHAT`] entry (in the caller's
/// transaction) for the other nodes.
pub(crate) async fn revoked<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    rows: u64,
    now: i64,
) -> Result<(), StoreError> {
    if rows == 0 {
        return Ok(());
    }
    bump(tenant);
    feed::append_for_tenant_id(db, tenant, FEED_WHAT, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_moves_only_that_tenants_generation_forward() {
        let a = TenantId::new();
        let b = TenantId::new();
        let (ga, gb) = (generation(a), generation(b));
        bump(a);
        assert!(generation(a) > ga);
        if !std::ptr::eq(slot(a), slot(b)) {
            assert_eq!(generation(b), gb);
        }
    }
}
