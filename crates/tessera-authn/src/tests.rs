//! The [`Authenticator`] against a real (in-memory SQLite) database with the real migrations.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use secrecy::{ExposeSecret, SecretString};
use tessera_core::{
    Clock, LockoutPolicy, SigningAlg, TenantId, TenantSettings, TenantSlug, TenantStatus, UserId,
    UserStatus,
};
use tessera_store::{PoolSettings, StandardClaims, Store, TenantRecord, UserRecord, tenants};

use crate::{Authenticator, AuthnError, LoginError, NewUser, UserPatch};

const PASSWORD: &str = "correct horse battery";
const T0: i64 = 1_800_000_000;

/// Argon2's minimum cost: the tests check the rules, not the cost.
fn cheap() -> TenantSettings {
    let mut s = TenantSettings::default();
    s.password.argon2_memory_kib = 8;
    s.password.argon2_iterations = 1;
    s
}

async fn store() -> Store {
    // An in-memory SQLite database lives on one connection, so the pool holds exactly one.
    let pool = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(30),
    };
    let store = Store::connect("sqlite::memory:", &pool).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn tenant(store: &Store, slug: &str, settings: TenantSettings) -> TenantRecord {
    let t = TenantRecord {
        id: TenantId::new(),
        slug: TenantSlug::parse(slug).unwrap(),
        name: slug.to_owned(),
        status: TenantStatus::Active,
        signing_alg: SigningAlg::Rs256,
        is_system: false,
        access_token_ttl: 600,
        key_rotation_interval: 86_400,
        keys_rotate_at: 86_400,
        settings,
        created_at: 0,
        updated_at: 0,
    };
    tenants::insert(store.conn(), &t).await.unwrap();
    t
}

async fn setup() -> (Authenticator, TenantRecord, Store) {
    let store = store().await;
    let t = tenant(&store, "acme", cheap()).await;
    (Authenticator::new(store.clone(), 2), t, store)
}

fn new_user(username: &str, password: Option<&str>) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: Some(format!("{}@example.com", username.trim().to_lowercase())),
        email_verified: true,
        claims: StandardClaims {
            given_name: Some("Alice".into()),
            ..Default::default()
        },
        password: password.map(SecretString::from),
    }
}

async fn alice(auth: &Authenticator, t: &TenantRecord) -> UserRecord {
    auth.create_user(t, new_user("Alice", Some(PASSWORD)))
        .await
        .unwrap()
}

fn pw(s: &str) -> SecretString {
    SecretString::from(s)
}

async fn login(
    auth: &Authenticator,
    t: &TenantRecord,
    user: &str,
    password: &str,
    now: i64,
) -> Result<UserRecord, LoginError> {
    auth.login(t, user, &pw(password), None, now).await
}

fn invalid_message(err: AuthnError) -> String {
    match err {
        AuthnError::Invalid(m) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn count(store: &Store, table: &'static str, tenant: TenantId) -> i64 {
    let q = Query::select()
        .expr(Func::count(Expr::col("tenant_id")))
        .from(table)
        .and_where(Expr::col("tenant_id").eq(tenant))
        .to_owned();
    let row = store.conn().query_one(&q).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

// --- Users and passwords ---------------------------------------------------------------------

#[actix_rt::test]
async fn created_user_has_an_argon2id_hash_and_signs_in_case_insensitively() {
    let (auth, t, _) = setup().await;
    let user = alice(&auth, &t).await;
    assert_eq!(user.username, "alice");
    assert_eq!(user.status, UserStatus::Active);
    let hash = user.password_hash.as_deref().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));

    let signed_in = login(&auth, &t, "  ALICE ", PASSWORD, T0).await.unwrap();
    assert_eq!(signed_in.id, user.id);
    assert!(matches!(
        login(&auth, &t, "alice", "correct horse batterY", T0).await,
        Err(LoginError::InvalidCredentials)
    ));
    let found = auth.user_by_username(t.id, "Alice").await.unwrap().unwrap();
    assert_eq!(found.id, user.id);
    assert_eq!(found.claims.given_name.as_deref(), Some("Alice"));
    assert!(
        auth.user_by_username(t.id, "has space")
            .await
            .unwrap()
            .is_none()
    );
}

#[actix_rt::test]
async fn duplicate_username_is_a_conflict_in_any_case() {
    let (auth, t, _) = setup().await;
    alice(&auth, &t).await;
    let err = auth
        .create_user(&t, new_user("ALICE", Some("another passphrase")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthnError::Conflict), "{err:?}");
}

#[actix_rt::test]
async fn password_policy_is_enforced_on_create_and_on_reset() {
    let (auth, t, _) = setup().await;
    let msg = invalid_message(
        auth.create_user(&t, new_user("bob", Some("short")))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("at least 8"), "{msg}");
    let msg = invalid_message(
        auth.create_user(&t, new_user("bob", Some("Password1")))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("too common"), "{msg}");
    let msg = invalid_message(
        auth.create_user(&t, new_user("bad name", Some(PASSWORD)))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("username"), "{msg}");
    let mut bad_email = new_user("bob", Some(PASSWORD));
    bad_email.email = Some("bob-at-example.com".into());
    assert!(matches!(
        auth.create_user(&t, bad_email).await,
        Err(AuthnError::Invalid(_))
    ));

    let user = alice(&auth, &t).await;
    let msg = invalid_message(
        auth.set_password(&t, user.id, pw("qwerty123"))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("too common"), "{msg}");
    auth.set_password(&t, user.id, pw("a brand new passphrase"))
        .await
        .unwrap();
    assert!(matches!(
        login(&auth, &t, "alice", PASSWORD, T0).await,
        Err(LoginError::InvalidCredentials)
    ));
    login(&auth, &t, "alice", "a brand new passphrase", T0)
        .await
        .unwrap();
    assert!(matches!(
        auth.set_password(&t, UserId::new(), pw("a brand new passphrase"))
            .await,
        Err(AuthnError::NotFound)
    ));
}

#[actix_rt::test]
async fn user_without_a_password_cannot_sign_in() {
    let (auth, t, _) = setup().await;
    auth.create_user(&t, new_user("nopass", None))
        .await
        .unwrap();
    let before = auth.argon2_operations();
    assert!(matches!(
        login(&auth, &t, "nopass", "", T0).await,
        Err(LoginError::InvalidCredentials)
    ));
    assert_eq!(auth.argon2_operations(), before + 1, "still one argon2 run");
}

#[actix_rt::test]
async fn unknown_username_costs_one_argon2_run_with_the_tenant_parameters_like_a_wrong_password() {
    let (auth, t, _) = setup().await;
    alice(&auth, &t).await;
    for (user, password) in [
        ("alice", "wrong password"),
        ("nobody", "wrong password"),
        ("nobody", "wrong password"),
        ("not a username", "x"),
    ] {
        let before = auth.argon2_operations();
        assert!(matches!(
            login(&auth, &t, user, password, T0).await,
            Err(LoginError::InvalidCredentials)
        ));
        assert_eq!(auth.argon2_operations(), before + 1, "{user}");
    }
    let dummy = auth
        .dummies
        .lock()
        .unwrap()
        .get(&crate::hasher::HashParams::from(&t.settings.password))
        .cloned()
        .unwrap();
    assert!(dummy.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{dummy}");
}

/// The one test at the default cost (19 MiB, t=2): an unknown username takes about as long as a
/// wrong password for a real one.
#[actix_rt::test]
async fn at_default_cost_an_unknown_username_takes_as_long_as_a_wrong_password() {
    let store = store().await;
    let t = tenant(&store, "defaults", TenantSettings::default()).await;
    let auth = Authenticator::new(store, 1);
    let user = auth
        .create_user(&t, new_user("carol", Some(PASSWORD)))
        .await
        .unwrap();
    assert!(
        user.password_hash
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    // Warm the dummy hash, then time each path a few times (fresh names: no throttling).
    let _ = login(&auth, &t, "warm-up", "x", T0).await;
    let (mut wrong, mut unknown) = (Duration::ZERO, Duration::ZERO);
    for i in 0..3 {
        let now = T0 + 1000 * i;
        let start = Instant::now();
        let _ = login(&auth, &t, "carol", "wrong password", now).await;
        wrong += start.elapsed();
        let start = Instant::now();
        let _ = login(&auth, &t, &format!("ghost{i}"), "wrong password", now).await;
        unknown += start.elapsed();
    }
    assert!(
        unknown * 2 > wrong && wrong * 2 > unknown,
        "wrong password {wrong:?} vs unknown user {unknown:?}"
    );
}

#[actix_rt::test]
async fn a_hash_made_with_old_parameters_is_upgraded_on_sign_in() {
    let (auth, mut t, _) = setup().await;
    let user = alice(&auth, &t).await;
    t.settings.password.argon2_iterations = 2;
    let signed_in = login(&auth, &t, "alice", PASSWORD, T0).await.unwrap();
    assert!(signed_in.password_hash.unwrap().contains("m=8,t=1,p=1"));
    let stored = auth.user(t.id, user.id).await.unwrap().unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=8,t=2,p=1$"), "{hash}");
    login(&auth, &t, "alice", PASSWORD, T0).await.unwrap();
}

#[actix_rt::test]
async fn disabled_or_locked_account_is_refused_only_after_the_right_password() {
    let (auth, t, _) = setup().await;
    let user = alice(&auth, &t).await;
    for status in [UserStatus::Disabled, UserStatus::Locked] {
        auth.set_status(t.id, user.id, status).await.unwrap();
        assert!(matches!(
            login(&auth, &t, "alice", "wrong password", T0).await,
            Err(LoginError::InvalidCredentials)
        ));
        assert!(matches!(
            login(&auth, &t, "alice", PASSWORD, T0).await,
            Err(LoginError::AccountDisabled)
        ));
    }
    auth.set_status(t.id, user.id, UserStatus::Active)
        .await
        .unwrap();
    login(&auth, &t, "alice", PASSWORD, T0).await.unwrap();
}

#[actix_rt::test]
async fn users_are_listed_in_creation_order_page_by_page_and_patched() {
    let (auth, t, _) = setup().await;
    let mut ids = Vec::new();
    for name in ["u1", "u2", "u3"] {
        ids.push(auth.create_user(&t, new_user(name, None)).await.unwrap().id);
    }
    let page = auth.list_users(t.id, None, None, 2).await.unwrap();
    assert_eq!(page.iter().map(|u| u.id).collect::<Vec<_>>(), ids[..2]);
    let rest = auth.list_users(t.id, Some(ids[1]), None, 2).await.unwrap();
    assert_eq!(rest.iter().map(|u| u.id).collect::<Vec<_>>(), ids[2..]);

    let patched = auth
        .update_user(
            t.id,
            ids[0],
            UserPatch {
                email: Some(Some("new@example.com".into())),
                claims: Some(StandardClaims {
                    family_name: Some("Liddell".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.email.as_deref(), Some("new@example.com"));
    assert!(!patched.email_verified, "a changed address is unverified");
    assert_eq!(patched.claims.family_name.as_deref(), Some("Liddell"));
    let stored = auth.user(t.id, ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.email, patched.email);
    assert_eq!(stored.claims, patched.claims);
    let err = auth
        .update_user(
            t.id,
            ids[0],
            UserPatch {
                email: Some(None),
                email_verified: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(invalid_message(err).contains("email_verified"));
    assert!(matches!(
        auth.update_user(t.id, UserId::new(), UserPatch::default())
            .await,
        Err(AuthnError::NotFound)
    ));
}

// --- Throttling ------------------------------------------------------------------------------

fn strict(mut settings: TenantSettings) -> TenantSettings {
    settings.lockout = LockoutPolicy {
        free_attempts: 3,
        lock_after: 5,
        lock_secs: 600,
        window_secs: 900,
        // The per-address tests below count addresses with the account limits.
        per_address_factor: 1,
    };
    settings
}

#[actix_rt::test]
async fn failures_beyond_the_free_attempts_are_delayed_then_locked_until_the_lock_expires() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 1);
    alice(&auth, &t).await;
    for _ in 0..3 {
        assert!(matches!(
            login(&auth, &t, "alice", "wrong", T0).await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    // The fourth attempt must wait 2 s — even with the right password, and without running argon2.
    let before = auth.argon2_operations();
    let err = login(&auth, &t, "alice", PASSWORD, T0 + 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LoginError::Throttled {
                retry_after_secs: 1
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Too many failed attempts. Try again in 1 second."
    );
    assert_eq!(auth.argon2_operations(), before);
    assert!(matches!(
        login(&auth, &t, "alice", "wrong", T0 + 2).await,
        Err(LoginError::InvalidCredentials)
    ));
    // Four failures: the delay doubles to 4 s.
    assert!(matches!(
        login(&auth, &t, "alice", "wrong", T0 + 3).await,
        Err(LoginError::Throttled {
            retry_after_secs: 3
        })
    ));
    // The fifth failure locks the account for lock_secs.
    let until = T0 + 6 + 600;
    assert!(matches!(
        login(&auth, &t, "alice", "wrong", T0 + 6).await,
        Err(LoginError::Locked { until: u, locked_now: true }) if u == until
    ));
    assert!(matches!(
        login(&auth, &t, "alice", PASSWORD, until - 1).await,
        Err(LoginError::Locked { until: u, locked_now: false }) if u == until
    ));
    // The lock expires; the right password gets in and clears the counter.
    login(&auth, &t, "alice", PASSWORD, until).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(
            login(&auth, &t, "alice", "wrong", until + 1).await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&auth, &t, "alice", "wrong", until + 1).await,
        Err(LoginError::Throttled { .. })
    ));
}

#[actix_rt::test]
async fn a_success_within_the_free_attempts_resets_the_account_counter() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 1);
    alice(&auth, &t).await;
    for round in 0..3 {
        for _ in 0..2 {
            assert!(matches!(
                login(&auth, &t, "alice", "wrong", T0 + round).await,
                Err(LoginError::InvalidCredentials)
            ));
        }
        login(&auth, &t, "alice", PASSWORD, T0 + round)
            .await
            .unwrap();
    }
}

#[actix_rt::test]
async fn failures_older_than_the_window_are_forgotten() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 1);
    alice(&auth, &t).await;
    for _ in 0..3 {
        let _ = login(&auth, &t, "alice", "wrong", T0).await;
    }
    assert!(matches!(
        login(&auth, &t, "alice", "wrong", T0 + 1).await,
        Err(LoginError::Throttled { .. })
    ));
    login(&auth, &t, "alice", PASSWORD, T0 + 900).await.unwrap();
}

#[actix_rt::test]
async fn unknown_usernames_are_throttled_exactly_like_known_ones() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 1);
    alice(&auth, &t).await;
    let mut outcomes = Vec::new();
    for user in ["alice", "ghost"] {
        let mut seen = Vec::new();
        for step in [0, 0, 0, 0, 2, 3, 6, 7] {
            seen.push(match login(&auth, &t, user, "wrong", T0 + step).await {
                Err(e) => e.to_string(),
                Ok(_) => "signed in".to_owned(),
            });
        }
        outcomes.push(seen);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(
        outcomes[0].last().unwrap().contains("locked"),
        "{:?}",
        outcomes[0]
    );
}

#[actix_rt::test]
async fn one_client_address_is_throttled_across_usernames() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 1);
    alice(&auth, &t).await;
    let attacker = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    let other = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    for name in ["bob", "carol", "dave"] {
        assert!(matches!(
            auth.login(&t, name, &pw("wrong"), attacker, T0).await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    // A fresh username from the same address is delayed…
    assert!(matches!(
        auth.login(&t, "alice", &pw(PASSWORD), attacker, T0).await,
        Err(LoginError::Throttled {
            retry_after_secs: 2
        })
    ));
    // …without charging the account, which signs in from elsewhere.
    login(&auth, &t, "alice", PASSWORD, T0).await.unwrap();
    auth.login(&t, "alice", &pw(PASSWORD), other, T0)
        .await
        .unwrap();
    // A success from the address does not count against it.
    auth.login(&t, "alice", &pw(PASSWORD), attacker, T0 + 2)
        .await
        .unwrap();
    assert!(matches!(
        auth.login(&t, "erin", &pw("wrong"), attacker, T0 + 4).await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[actix_rt::test]
async fn concurrent_guesses_cannot_exceed_the_free_attempts() {
    let store = store().await;
    let t = tenant(&store, "strict", strict(cheap())).await;
    let auth = Authenticator::new(store, 2);
    alice(&auth, &t).await;
    let attempts = (0..10).map(|_| login(&auth, &t, "alice", "wrong", T0));
    let results = futures_join_all(attempts).await;
    let guessed = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::InvalidCredentials)))
        .count();
    assert!(guessed <= 3, "{guessed} guesses got through: {results:?}");
    assert!(results.iter().all(|r| r.is_err()));
}

/// Polls every future to completion concurrently (no extra dependency for one test).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut done: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(done.into_iter().flatten());
    outputs
}

// --- Sessions --------------------------------------------------------------------------------

#[actix_rt::test]
async fn a_session_is_found_by_its_cookie_whose_value_is_never_stored() {
    let (auth, t, store) = setup().await;
    let user = alice(&auth, &t).await;
    let started = auth
        .start_session(
            &t,
            &user,
            vec!["pwd".into()],
            Some("urn:tessera:pwd".into()),
            T0,
        )
        .await
        .unwrap();
    let cookie = started.cookie_value.expose_secret().to_owned();
    assert_eq!(cookie.len(), 43, "256 bits, base64url");
    assert_eq!(
        started.session.expires_at,
        T0 + t.settings.session.absolute_secs
    );
    assert_eq!(count(&store, "sessions", t.id).await, 1);
    // Only the SHA-256 is stored.
    let q = Query::select()
        .columns(["id_hash", "sid"])
        .from("sessions")
        .to_owned();
    let row = store.conn().query_one(&q).await.unwrap().unwrap();
    let id_hash: String = row.try_get_by_index(0).unwrap();
    assert_eq!(id_hash, tessera_core::secret::sha256_hex(&cookie));
    assert_ne!(id_hash, cookie);

    let active = auth.session(&t, &cookie, T0 + 10).await.unwrap().unwrap();
    assert_eq!(active.user.id, user.id);
    assert_eq!(active.session.sid, started.session.sid);
    assert_eq!(active.session.amr, ["pwd"]);
    assert_eq!(active.session.acr.as_deref(), Some("urn:tessera:pwd"));
    assert_eq!(active.session.auth_time, T0);
    for bogus in ["", "x", "not a cookie value at all!!", &cookie[..42]] {
        assert!(
            auth.session(&t, bogus, T0).await.unwrap().is_none(),
            "{bogus}"
        );
    }
}

#[actix_rt::test]
async fn last_use_is_recorded_at_most_once_a_minute_and_idle_sessions_end() {
    let (auth, t, _) = setup().await;
    let user = alice(&auth, &t).await;
    let idle = t.settings.session.idle_secs;
    let cookie = auth
        .start_session(&t, &user, vec!["pwd".into()], None, T0)
        .await
        .unwrap()
        .cookie_value;
    let cookie = cookie.expose_secret();
    let s = auth.session(&t, cookie, T0 + 59).await.unwrap().unwrap();
    assert_eq!(s.session.last_seen_at, T0, "not refreshed within a minute");
    let s = auth.session(&t, cookie, T0 + 60).await.unwrap().unwrap();
    assert_eq!(s.session.last_seen_at, T0 + 60);
    // Still alive just before idle_secs since the last recorded use, gone at it.
    let s = auth
        .session(&t, cookie, T0 + 60 + idle - 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.session.last_seen_at, T0 + 60 + idle - 1);
    let last = T0 + 60 + idle - 1;
    assert!(
        auth.session(&t, cookie, last + idle)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.session(&t, cookie, last + 1).await.unwrap().is_none(),
        "deleted once expired"
    );
}

#[actix_rt::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let (auth, t, _) = setup().await;
    let user = alice(&auth, &t).await;
    let cookie = auth
        .start_session(&t, &user, vec!["pwd".into()], None, T0)
        .await
        .unwrap()
        .cookie_value;
    let cookie = cookie.expose_secret();
    let end = T0 + t.settings.session.absolute_secs;
    let mut now = T0;
    while now + 600 < end {
        now += 600;
        assert!(
            auth.session(&t, cookie, now).await.unwrap().is_some(),
            "{now}"
        );
    }
    assert!(auth.session(&t, cookie, end - 1).await.unwrap().is_some());
    assert!(auth.session(&t, cookie, end).await.unwrap().is_none());
}

#[actix_rt::test]
async fn sessions_end_by_cookie_by_sid_by_user_and_with_the_account() {
    let (auth, t, _) = setup().await;
    let user = alice(&auth, &t).await;
    let start = || auth.start_session(&t, &user, vec!["pwd".into()], None, T0);
    let a = start().await.unwrap();
    let b = start().await.unwrap();
    let c = start().await.unwrap();
    assert_ne!(a.session.sid, b.session.sid);

    let ended = auth
        .end_session(t.id, a.cookie_value.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.sid, a.session.sid);
    assert!(
        auth.session(&t, a.cookie_value.expose_secret(), T0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.end_session(t.id, a.cookie_value.expose_secret())
            .await
            .unwrap()
            .is_none()
    );

    auth.end_session_by_sid(t.id, &b.session.sid).await.unwrap();
    assert!(
        auth.session(&t, b.cookie_value.expose_secret(), T0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.session(&t, c.cookie_value.expose_secret(), T0)
            .await
            .unwrap()
            .is_some()
    );

    auth.set_status(t.id, user.id, UserStatus::Disabled)
        .await
        .unwrap();
    auth.set_status(t.id, user.id, UserStatus::Active)
        .await
        .unwrap();
    assert!(
        auth.session(&t, c.cookie_value.expose_secret(), T0)
            .await
            .unwrap()
            .is_none(),
        "disabling ended it for good"
    );

    let d = start().await.unwrap();
    auth.end_user_sessions(t.id, user.id).await.unwrap();
    assert!(
        auth.session(&t, d.cookie_value.expose_secret(), T0)
            .await
            .unwrap()
            .is_none()
    );
}

#[actix_rt::test]
async fn a_session_of_tenant_a_authenticates_no_one_at_tenant_b() {
    let (auth, a, store) = setup().await;
    let b = tenant(&store, "other", cheap()).await;
    let user = alice(&auth, &a).await;
    let cookie = auth
        .start_session(&a, &user, vec!["pwd".into()], None, T0)
        .await
        .unwrap()
        .cookie_value;
    assert!(
        auth.session(&b, cookie.expose_secret(), T0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.end_session(b.id, cookie.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.session(&a, cookie.expose_secret(), T0)
            .await
            .unwrap()
            .is_some()
    );
    // Users are per tenant too.
    assert!(auth.user(b.id, user.id).await.unwrap().is_none());
    assert!(matches!(
        login(&auth, &b, "alice", PASSWORD, T0).await,
        Err(LoginError::InvalidCredentials)
    ));
    assert!(matches!(
        auth.start_session(&b, &user, vec![], None, T0).await,
        Err(AuthnError::Invalid(_))
    ));
    // The same username may exist in both tenants, independently.
    let bob_b = auth
        .create_user(&b, new_user("alice", Some("tenant b passphrase")))
        .await
        .unwrap();
    assert_ne!(bob_b.id, user.id);
    login(&auth, &a, "alice", PASSWORD, T0).await.unwrap();
    login(&auth, &b, "alice", "tenant b passphrase", T0)
        .await
        .unwrap();
}

#[actix_rt::test]
async fn deleting_a_user_removes_its_sessions_counters_grants_and_tokens() {
    let (auth, t, store) = setup().await;
    let user = alice(&auth, &t).await;
    let keep = auth
        .create_user(&t, new_user("keeper", None))
        .await
        .unwrap();
    auth.start_session(&t, &user, vec!["pwd".into()], None, T0)
        .await
        .unwrap();
    let _ = login(&auth, &t, "alice", "wrong", T0).await;
    let db = store.conn();
    for (owner, family) in [(user.id, "fam-a"), (keep.id, "fam-k")] {
        let rows = [
            Query::insert()
                .into_table("consent_grants")
                .columns([
                    "tenant_id",
                    "user_id",
                    "client_id",
                    "scopes",
                    "created_at",
                    "updated_at",
                ])
                .values_panic([
                    t.id.into(),
                    owner.into(),
                    "client".into(),
                    "[\"openid\"]".into(),
                    T0.into(),
                    T0.into(),
                ])
                .to_owned(),
            Query::insert()
                .into_table("token_families")
                .columns([
                    "tenant_id",
                    "id",
                    "client_id",
                    "user_id",
                    "scopes",
                    "auth_time",
                    "amr",
                    "created_at",
                    "expires_at",
                ])
                .values_panic([
                    t.id.into(),
                    family.into(),
                    "client".into(),
                    owner.into(),
                    "[]".into(),
                    T0.into(),
                    "[]".into(),
                    T0.into(),
                    (T0 + 3600).into(),
                ])
                .to_owned(),
            Query::insert()
                .into_table("refresh_tokens")
                .columns([
                    "tenant_id",
                    "token_hash",
                    "family_id",
                    "client_id",
                    "scopes",
                    "issued_at",
                    "expires_at",
                ])
                .values_panic([
                    t.id.into(),
                    format!("hash-{family}").into(),
                    family.into(),
                    "client".into(),
                    "[]".into(),
                    T0.into(),
                    (T0 + 3600).into(),
                ])
                .to_owned(),
            Query::insert()
                .into_table("authorization_codes")
                .columns([
                    "tenant_id",
                    "code_hash",
                    "client_id",
                    "user_id",
                    "redirect_uri",
                    "scopes",
                    "auth_time",
                    "amr",
                    "expires_at",
                    "created_at",
                ])
                .values_panic([
                    t.id.into(),
                    format!("code-{family}").into(),
                    "client".into(),
                    owner.into(),
                    "https://rp/cb".into(),
                    "[]".into(),
                    T0.into(),
                    "[]".into(),
                    (T0 + 60).into(),
                    T0.into(),
                ])
                .to_owned(),
        ];
        for row in &rows {
            db.execute(row).await.unwrap();
        }
    }
    let tables = [
        "sessions",
        "login_throttle",
        "consent_grants",
        "token_families",
        "refresh_tokens",
        "authorization_codes",
    ];
    auth.delete_user(t.id, user.id).await.unwrap();
    assert!(auth.user(t.id, user.id).await.unwrap().is_none());
    assert_eq!(count(&store, "sessions", t.id).await, 0);
    assert_eq!(count(&store, "login_throttle", t.id).await, 0);
    for table in &tables[2..] {
        assert_eq!(
            count(&store, table, t.id).await,
            1,
            "{table}: only the keeper's row is left"
        );
    }
    assert!(matches!(
        auth.delete_user(t.id, user.id).await,
        Err(AuthnError::NotFound)
    ));
}

#[actix_rt::test]
async fn prune_removes_expired_sessions_and_stale_counters_only() {
    let (auth, t, store) = setup().await;
    let user = alice(&auth, &t).await;
    let now = Clock.now();
    let s = &t.settings.session;
    // One past its absolute end, one idle too long, one live.
    auth.start_session(&t, &user, vec![], None, now - s.absolute_secs)
        .await
        .unwrap();
    auth.start_session(&t, &user, vec![], None, now - s.idle_secs)
        .await
        .unwrap();
    let live = auth
        .start_session(&t, &user, vec![], None, now - 5)
        .await
        .unwrap();
    // One stale counter (old window), one live counter.
    let window = t.settings.lockout.window_secs;
    let _ = login(&auth, &t, "ghost", "x", now - window - 1).await;
    let _ = login(&auth, &t, "alice", "x", now).await;
    assert_eq!(count(&store, "sessions", t.id).await, 3);
    assert_eq!(count(&store, "login_throttle", t.id).await, 2);

    assert_eq!(auth.prune(now).await.unwrap(), 3);
    assert_eq!(count(&store, "sessions", t.id).await, 1);
    assert_eq!(count(&store, "login_throttle", t.id).await, 1);
    assert!(
        auth.session(&t, live.cookie_value.expose_secret(), now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(auth.prune(now).await.unwrap(), 0);
}

// --- Account links ---------------------------------------------------------------------------

#[actix_rt::test]
async fn a_confirmation_link_works_once_and_only_for_the_address_it_was_sent_to() {
    use tessera_store::account_links::LinkKind;
    let (auth, t, store) = setup().await;
    let mut new = new_user("bob", Some(PASSWORD));
    new.email_verified = false;
    let bob = auth.create_user(&t, new).await.unwrap();
    let link = auth
        .issue_link(&t, LinkKind::VerifyEmail, &bob)
        .await
        .unwrap();
    let token = link.token.expose_secret().to_owned();
    // Not a reset link, nor any other tenant's.
    let other = tenant(&store, "other", cheap()).await;
    assert!(matches!(
        auth.confirm_email(&other, &token).await,
        Err(AuthnError::NotFound)
    ));
    assert!(
        auth.peek_link(&t, LinkKind::PasswordReset, &token)
            .await
            .unwrap()
            .is_none()
    );
    let confirmed = auth.confirm_email(&t, &token).await.unwrap();
    assert!(confirmed.email_verified);
    assert!(matches!(
        auth.confirm_email(&t, &token).await,
        Err(AuthnError::NotFound)
    ));

    // A link sent before the address changed confirms nothing.
    let mut new = new_user("carol", None);
    new.email_verified = false;
    let carol = auth.create_user(&t, new).await.unwrap();
    let old = auth
        .issue_link(&t, LinkKind::VerifyEmail, &carol)
        .await
        .unwrap();
    auth.update_user(
        t.id,
        carol.id,
        UserPatch {
            email: Some(Some("carol@elsewhere.example".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        auth.confirm_email(&t, old.token.expose_secret()).await,
        Err(AuthnError::NotFound)
    ));
    assert!(
        !auth
            .user(t.id, carol.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

#[actix_rt::test]
async fn a_newer_link_supersedes_the_older_and_an_expired_link_is_dead() {
    use tessera_store::account_links::LinkKind;
    let (auth, t, store) = setup().await;
    let user = alice(&auth, &t).await;
    let first = auth
        .issue_link(&t, LinkKind::PasswordReset, &user)
        .await
        .unwrap();
    let second = auth
        .issue_link(&t, LinkKind::PasswordReset, &user)
        .await
        .unwrap();
    let new_password = || SecretString::from("a brand new passphrase");
    assert!(matches!(
        auth.set_password_by_link(
            &t,
            LinkKind::PasswordReset,
            first.token.expose_secret(),
            new_password()
        )
        .await,
        Err(AuthnError::NotFound)
    ));
    // A password the policy refuses leaves the link usable.
    assert!(matches!(
        auth.set_password_by_link(
            &t,
            LinkKind::PasswordReset,
            second.token.expose_secret(),
            SecretString::from("short")
        )
        .await,
        Err(AuthnError::Invalid(_))
    ));
    auth.set_password_by_link(
        &t,
        LinkKind::PasswordReset,
        second.token.expose_secret(),
        new_password(),
    )
    .await
    .unwrap();
    assert!(
        login(&auth, &t, "alice", "a brand new passphrase", Clock.now())
            .await
            .is_ok()
    );

    let third = auth
        .issue_link(&t, LinkKind::PasswordReset, &user)
        .await
        .unwrap();
    store
        .conn()
        .execute(
            &Query::update()
                .table("account_links")
                .value("expires_at", Clock.now() - 1)
                .to_owned(),
        )
        .await
        .unwrap();
    assert!(
        auth.peek_link(&t, LinkKind::PasswordReset, third.token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
}
