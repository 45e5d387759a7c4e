//! Failed sign-in throttling (OWASP Authentication Cheat Sheet, "Login Throttling"): after a
//! tenant's `free_attempts` failures an account or client address must wait a delay that doubles
//! with each further failure, and `lock_after` failures lock it for `lock_secs`. Each attempt is
//! counted *before* its password is checked, with a compare-and-swap on the counter row, so
//! parallel guesses cannot slip past a limit; an attempt that succeeds is taken back.

use std::net::IpAddr;

use tessera_core::{LockoutPolicy, TenantId, UserId};
use tessera_store::{Store, ThrottleRecord};

use crate::LoginError;

/// The first delay, seconds; each further failure doubles it.
pub const BASE_DELAY_SECS: i64 = 2;
/// The longest delay, seconds.
pub const MAX_DELAY_SECS: i64 = 300;
/// Re-reads of a counter that concurrent attempts keep changing before giving up.
const CAS_ATTEMPTS: usize = 8;

/// The counter of an account.
pub fn user_key(id: UserId) -> String {
    format!("user:{id}")
}

/// The counter of a username that names no account, so unknown names throttle exactly like
/// known ones and the throttle reveals nothing about which exist.
pub fn name_key(username: &str) -> String {
    format!("name:{username}")
}

/// The counter of a client address. IPv6 clients are counted per /64, the smallest prefix a
/// site is usually given (RFC 6177), so rotating through one's own addresses does not help.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// What a counter allows right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An attempt may proceed; the counter currently holds `failures` in the window that began
    /// at `window_started_at`.
    Allow {
        /// Failures counted in the live window.
        failures: u32,
        /// Start of the live window.
        window_started_at: i64,
    },
    /// Wait this many seconds.
    Throttled {
        /// Seconds until the next attempt is accepted.
        retry_after_secs: i64,
    },
    /// Locked until then.
    Locked {
        /// End of the lock.
        until: i64,
    },
}

/// The delay owed after `failures` failures: none up to `free_attempts`, then 2 s, 4 s, 8 s…
/// capped at five minutes.
pub fn delay_after(failures: u32, policy: &LockoutPolicy) -> i64 {
    if failures < policy.free_attempts {
        return 0;
    }
    let doublings = (failures - policy.free_attempts).min(16);
    (BASE_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
}

/// Judges a counter at `now`. A served lock or a window older than `window_secs` starts afresh.
pub fn evaluate(record: Option<&ThrottleRecord>, policy: &LockoutPolicy, now: i64) -> Verdict {
    let fresh = Verdict::Allow {
        failures: 0,
        window_started_at: now,
    };
    let Some(r) = record else {
        return fresh;
    };
    if let Some(until) = r.locked_until {
        return if until > now {
            Verdict::Locked { until }
        } else {
            fresh
        };
    }
    if now.saturating_sub(r.window_started_at) >= policy.window_secs {
        return fresh;
    }
    let next = r.updated_at.saturating_add(delay_after(r.failures, policy));
    if now < next {
        return Verdict::Throttled {
            retry_after_secs: next - now,
        };
    }
    Verdict::Allow {
        failures: r.failures,
        window_started_at: r.window_started_at,
    }
}

/// An attempt counted against one key, to be taken back if it succeeds.
#[derive(Debug)]
pub struct Reservation {
    /// The counter.
    pub key: String,
    /// The lock this attempt set, when it was the `lock_after`-th failure.
    pub locked_until: Option<i64>,
}

/// Counts an attempt against `key` if the counter allows one now; otherwise the refusal. The
/// counter lives where the store keeps ephemeral values (the database, or Redis).
pub async fn reserve(
    store: &Store,
    tenant: TenantId,
    key: String,
    policy: &LockoutPolicy,
    now: i64,
) -> Result<Reservation, LoginError> {
    let counters = store.ephemeral();
    for _ in 0..CAS_ATTEMPTS {
        let current = counters.find_counter(tenant, &key).await?;
        let (failures, window_started_at) = match evaluate(current.as_ref(), policy, now) {
            Verdict::Allow {
                failures,
                window_started_at,
            } => (failures, window_started_at),
            Verdict::Throttled { retry_after_secs } => {
                return Err(LoginError::Throttled { retry_after_secs });
            }
            Verdict::Locked { until } => {
                return Err(LoginError::Locked {
                    until,
                    locked_now: false,
                });
            }
        };
        let failures = failures.saturating_add(1);
        let locked_until =
            (failures >= policy.lock_after).then(|| now.saturating_add(policy.lock_secs));
        let next = ThrottleRecord {
            tenant_id: tenant,
            key: key.clone(),
            failures,
            window_started_at,
            locked_until,
            updated_at: now,
        };
        // The counter matters until its window ends or its lock is served, whichever is later.
        let keep_until = window_started_at
            .saturating_add(policy.window_secs)
            .max(locked_until.unwrap_or(i64::MIN));
        if counters
            .compare_and_set_counter(current.as_ref(), &next, keep_until)
            .await?
        {
            return Ok(Reservation { key, locked_until });
        }
    }
    // The counter is changing faster than we can read it: someone is hammering it.
    Err(LoginError::Throttled {
        retry_after_secs: 1,
    })
}

/// Takes back an attempt that succeeded (or was refused by another counter).
pub async fn forgive(
    store: &Store,
    tenant: TenantId,
    reservation: &Reservation,
) -> Result<(), LoginError> {
    store
        .ephemeral()
        .forgive_one(tenant, &reservation.key, reservation.locked_until)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            free_attempts: 3,
            lock_after: 10,
            lock_secs: 900,
            window_secs: 900,
            per_address_factor: 10,
        }
    }

    fn record(failures: u32, window: i64, updated: i64, locked: Option<i64>) -> ThrottleRecord {
        ThrottleRecord {
            tenant_id: TenantId::new(),
            key: "user:x".into(),
            failures,
            window_started_at: window,
            locked_until: locked,
            updated_at: updated,
        }
    }

    #[test]
    fn delays_start_after_the_free_attempts_and_double_up_to_a_cap() {
        let p = policy();
        let delays: Vec<i64> = (0..12).map(|f| delay_after(f, &p)).collect();
        assert_eq!(delays, [0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(delay_after(u32::MAX, &p), MAX_DELAY_SECS);
    }

    #[test]
    fn verdicts_follow_the_counter() {
        let p = policy();
        assert_eq!(
            evaluate(None, &p, 100),
            Verdict::Allow {
                failures: 0,
                window_started_at: 100
            }
        );
        // Two failures: still free.
        assert!(matches!(
            evaluate(Some(&record(2, 90, 99, None)), &p, 100),
            Verdict::Allow { failures: 2, .. }
        ));
        // Three failures, the last at 99: wait until 101.
        assert_eq!(
            evaluate(Some(&record(3, 90, 99, None)), &p, 100),
            Verdict::Throttled {
                retry_after_secs: 1
            }
        );
        assert!(matches!(
            evaluate(Some(&record(3, 90, 99, None)), &p, 101),
            Verdict::Allow { failures: 3, .. }
        ));
        // Locked, then served.
        assert_eq!(
            evaluate(Some(&record(10, 90, 99, Some(999))), &p, 500),
            Verdict::Locked { until: 999 }
        );
        assert_eq!(
            evaluate(Some(&record(10, 90, 99, Some(999))), &p, 999),
            Verdict::Allow {
                failures: 0,
                window_started_at: 999
            }
        );
        // A window older than window_secs is forgotten.
        assert_eq!(
            evaluate(Some(&record(9, 0, 899, None)), &p, 900),
            Verdict::Allow {
                failures: 0,
                window_started_at: 900
            }
        );
    }

    #[test]
    fn ip_keys_group_ipv6_by_slash_64() {
        assert_eq!(
            ip_key(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
            "ip:10.0.0.7"
        );
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(Ipv6Addr::LOCALHOST);
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(Ipv6Addr::LOCALHOST);
        assert_eq!(ip_key(IpAddr::V6(a)), "ip:2001:db8:1:2::/64");
        assert_eq!(ip_key(IpAddr::V6(a)), ip_key(IpAddr::V6(b)));
        let mapped = Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped();
        assert_eq!(ip_key(IpAddr::V6(mapped)), "ip:192.0.2.1");
    }
}
