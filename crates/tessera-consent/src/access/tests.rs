//! Tests of listing and revoking apps against a real (in-memory SQLite) database.

use std::time::Duration;

use tessera_core::{SigningAlg, TenantSlug, TenantStatus};
use tessera_store::{
    ConsentGrantRecord, PoolSettings, TenantRecord, TokenFamilyRecord, audit::AuditFilter, tenants,
};

use super::*;

async fn store_with_tenant() -> (Store, TenantId) {
    let pool = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(30),
    };
    let store = Store::connect("sqlite::memory:", &pool).await.unwrap();
    store.migrate().await.unwrap();
    let tenant = TenantId::new();
    tenants::insert(
        store.conn(),
        &TenantRecord {
            id: tenant,
            slug: TenantSlug::parse("acme").unwrap(),
            name: "Acme".to_owned(),
            status: TenantStatus::Active,
            signing_alg: SigningAlg::Es256,
            is_system: false,
            access_token_ttl: 300,
            key_rotation_interval: 86_400,
            keys_rotate_at: 86_400,
            settings: Default::default(),
            created_at: 0,
            updated_at: 0,
        },
    )
    .await
    .unwrap();
    (store, tenant)
}

async fn grant(store: &Store, tenant: TenantId, user: UserId, client: &ClientId, at: i64) {
    grants::upsert(
        store.conn(),
        &ConsentGrantRecord {
            tenant_id: tenant,
            user_id: user,
            client_id: client.clone(),
            scopes: ScopeSet::parse("openid email").unwrap(),
            created_at: at,
            updated_at: at,
        },
    )
    .await
    .unwrap();
}

async fn family(
    store: &Store,
    tenant: TenantId,
    user: UserId,
    client: &ClientId,
    at: i64,
) -> String {
    let id = Uuid::now_v7().simple().to_string();
    families::insert(
        store.conn(),
        &TokenFamilyRecord {
            tenant_id: tenant,
            id: id.clone(),
            client_id: client.clone(),
            user_id: user,
            sid: None,
            scopes: ScopeSet::parse("openid email offline_access").unwrap(),
            auth_time: at,
            acr: None,
            amr: vec!["pwd".to_owned()],
            created_at: at,
            expires_at: at + 86_400,
            revoked_at: None,
            revoked_reason: None,
            resources: vec![],
            dpop_jkt: None,
        },
    )
    .await
    .unwrap();
    id
}

async fn live(store: &Store, tenant: TenantId, id: &str) -> bool {
    families::find(store.conn(), tenant, id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none()
}

async fn revocations(store: &Store, tenant: TenantId) -> Vec<AuditEventRecord> {
    let filter = AuditFilter {
        action: Some(GRANT_REVOKED.to_owned()),
        ..AuditFilter::default()
    };
    audit::list(store.conn(), tenant, &filter, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn apps_carry_their_grant_and_when_the_client_last_received_tokens() {
    let (store, tenant) = store_with_tenant().await;
    let (user, wiki, mail) = (UserId::new(), ClientId::generate(), ClientId::generate());
    grant(&store, tenant, user, &wiki, 100).await;
    grant(&store, tenant, user, &mail, 200).await;
    family(&store, tenant, user, &wiki, 150).await;
    family(&store, tenant, user, &wiki, 170).await;
    // Another user's tokens at the same client say nothing about this user.
    family(&store, tenant, UserId::new(), &mail, 300).await;

    let apps = apps_of_user(store.conn(), tenant, user).await.unwrap();
    assert_eq!(apps.len(), 2);
    let of = |c: &ClientId| apps.iter().find(|a| &a.client_id == c).unwrap().clone();
    assert_eq!(of(&wiki).last_used_at, Some(170));
    assert_eq!(of(&wiki).granted_at, 100);
    assert_eq!(of(&wiki).scopes, ScopeSet::parse("openid email").unwrap());
    assert_eq!(of(&mail).last_used_at, None);
    assert!(
        apps_of_user(store.conn(), tenant, UserId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn revoking_an_app_removes_its_grant_and_tokens_only_and_is_audited_once() {
    let (store, tenant) = store_with_tenant().await;
    let (alice, bob) = (UserId::new(), UserId::new());
    let (wiki, mail) = (ClientId::generate(), ClientId::generate());
    grant(&store, tenant, alice, &wiki, 10).await;
    grant(&store, tenant, alice, &mail, 10).await;
    grant(&store, tenant, bob, &wiki, 10).await;
    let alice_wiki = [
        family(&store, tenant, alice, &wiki, 20).await,
        family(&store, tenant, alice, &wiki, 30).await,
    ];
    let alice_mail = family(&store, tenant, alice, &mail, 20).await;
    let bob_wiki = family(&store, tenant, bob, &wiki, 20).await;

    let origin = Origin::new(Some("203.0.113.9".to_owned()), Some("  Firefox/140  "));
    let revoked = revoke_app(
        &store,
        tenant,
        alice,
        &wiki,
        &Revoker::User(alice),
        &origin,
        1_000,
    )
    .await
    .unwrap()
    .expect("something was revoked");
    assert_eq!(revoked.families, 2);
    assert_eq!(
        revoked.scopes,
        Some(ScopeSet::parse("openid email").unwrap())
    );

    for id in &alice_wiki {
        assert!(
            !live(&store, tenant, id).await,
            "alice's wiki family revoked"
        );
        let f = families::find(store.conn(), tenant, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.revoked_reason.as_deref(), Some("consent_revoked"));
    }
    assert!(
        live(&store, tenant, &alice_mail).await,
        "the other app untouched"
    );
    assert!(
        live(&store, tenant, &bob_wiki).await,
        "another user untouched"
    );
    assert_eq!(
        grants::find(store.conn(), tenant, alice, &wiki)
            .await
            .unwrap(),
        None
    );
    assert!(
        grants::find(store.conn(), tenant, alice, &mail)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        grants::find(store.conn(), tenant, bob, &wiki)
            .await
            .unwrap()
            .is_some()
    );

    let events = revocations(&store, tenant).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.actor, format!("user:{alice}"));
    assert_eq!(e.user_id, Some(alice));
    assert_eq!(e.client_id, Some(wiki.clone()));
    assert_eq!(e.occurred_at, 1_000);
    assert_eq!(e.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(e.user_agent.as_deref(), Some("Firefox/140"));
    assert_eq!(e.details["families_revoked"], 2);
    assert_eq!(e.details["scopes"], "openid email");

    // Again: nothing left to revoke, nothing written.
    let again = revoke_app(
        &store,
        tenant,
        alice,
        &wiki,
        &Revoker::User(alice),
        &origin,
        2_000,
    )
    .await
    .unwrap();
    assert_eq!(again, None);
    assert_eq!(revocations(&store, tenant).await.len(), 1);
}

#[tokio::test]
async fn tokens_without_a_grant_are_revoked_too() {
    // A first-party client never asks for consent, so it holds tokens without a grant.
    let (store, tenant) = store_with_tenant().await;
    let (user, client) = (UserId::new(), ClientId::generate());
    let id = family(&store, tenant, user, &client, 20).await;
    let admin = ClientId::generate();
    let revoked = revoke_app(
        &store,
        tenant,
        user,
        &client,
        &Revoker::Admin(admin.clone()),
        &Origin::default(),
        50,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((revoked.scopes, revoked.families), (None, 1));
    assert!(!live(&store, tenant, &id).await);
    let events = revocations(&store, tenant).await;
    assert_eq!(events[0].actor, format!("admin:{admin}"));
    assert_eq!(events[0].details["scopes"], Json::Null);
}

#[tokio::test]
async fn revoking_a_client_revokes_every_user_with_one_event_each() {
    let (store, tenant) = store_with_tenant().await;
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    let (wiki, mail) = (ClientId::generate(), ClientId::generate());
    grant(&store, tenant, alice, &wiki, 10).await;
    grant(&store, tenant, bob, &wiki, 10).await;
    grant(&store, tenant, carol, &mail, 10).await;
    let carol_mail = family(&store, tenant, carol, &mail, 20).await;

    let by = Revoker::Admin(ClientId::generate());
    let done = revoke_client(&store, tenant, &wiki, &by, &Origin::default(), 99)
        .await
        .unwrap();
    let mut users: Vec<UserId> = done.iter().map(|(u, _)| *u).collect();
    users.sort();
    let mut expected = vec![alice, bob];
    expected.sort();
    assert_eq!(users, expected);
    assert!(
        grants::list_for_client(store.conn(), tenant, &wiki)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        grants::list_for_client(store.conn(), tenant, &mail)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(live(&store, tenant, &carol_mail).await);
    assert_eq!(revocations(&store, tenant).await.len(), 2);
}

#[test]
fn actors_and_origins_are_recorded_in_their_documented_form() {
    let user = UserId::new();
    assert_eq!(Revoker::User(user).actor(), format!("user:{user}"));
    let long = "x".repeat(2_000);
    assert_eq!(
        Origin::new(None, Some(&long)).user_agent.map(|u| u.len()),
        Some(512)
    );
    assert_eq!(Origin::new(None, Some("   ")).user_agent, None);
}
