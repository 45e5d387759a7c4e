//! Tests of the consent rules, and of the ledger against a real (in-memory SQLite) database.

use std::time::Duration;

use tessera_core::{
    ClientId, ClientType, GrantType, ScopeSet, SigningAlg, TenantId, TenantSlug, TenantStatus,
    TokenFormat, UserId,
};
use tessera_store::{ClientRecord, PoolSettings, Store, TenantRecord, tenants};

use super::*;

fn scopes(raw: &str) -> ScopeSet {
    ScopeSet::parse(raw).unwrap()
}

fn client(first_party: bool) -> ClientRecord {
    ClientRecord {
        tenant_id: TenantId::new(),
        client_id: ClientId::generate(),
        name: "RP".to_owned(),
        client_type: ClientType::Confidential,
        secret_hash: None,
        grant_types: vec![GrantType::AuthorizationCode],
        redirect_uris: vec!["https://rp.example.com/cb".to_owned()],
        scopes: scopes("openid profile email"),
        token_format: TokenFormat::Jwt,
        admin_role: None,
        admin_tenant_id: None,
        post_logout_redirect_uris: vec![],
        first_party,
        require_pkce: true,
        id_token_alg: SigningAlg::Rs256,
        options: Default::default(),
        created_at: 0,
        updated_at: 0,
    }
}

#[test]
fn first_party_clients_never_need_consent() {
    let c = client(true);
    assert!(!needs_consent(&c, &scopes("openid email"), None, false));
    assert!(!needs_consent(&c, &scopes("openid email"), None, true));
}

#[test]
fn prompt_consent_always_shows_the_page() {
    let c = client(false);
    let remembered = scopes("openid email");
    assert!(needs_consent(
        &c,
        &scopes("openid email"),
        Some(&remembered),
        true
    ));
    assert!(needs_consent(
        &c,
        &scopes("openid"),
        Some(&remembered),
        true
    ));
}

#[test]
fn new_scopes_need_consent_and_remembered_ones_do_not() {
    let c = client(false);
    assert!(needs_consent(&c, &scopes("openid email"), None, false));
    let remembered = scopes("email");
    assert!(!needs_consent(
        &c,
        &scopes("openid email"),
        Some(&remembered),
        false
    ));
    assert!(!needs_consent(
        &c,
        &scopes("email"),
        Some(&remembered),
        false
    ));
    assert!(needs_consent(
        &c,
        &scopes("openid email profile"),
        Some(&remembered),
        false
    ));
}

#[test]
fn openid_alone_needs_no_consent() {
    let c = client(false);
    assert!(!needs_consent(&c, &scopes("openid"), None, false));
}

#[tokio::test]
async fn recording_replaces_the_grant_with_exactly_what_was_ticked() {
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
    let db = store.conn();
    let user = UserId::new();
    let client = ClientId::generate();
    let other = ClientId::generate();
    assert_eq!(granted(db, tenant, user, &client).await.unwrap(), None);

    record(
        db,
        tenant,
        user,
        &client,
        &scopes("openid email profile"),
        10,
    )
    .await
    .unwrap();
    // Partial consent on a later visit: the user unticked profile.
    record(db, tenant, user, &client, &scopes("openid email"), 20)
        .await
        .unwrap();
    assert_eq!(
        granted(db, tenant, user, &client).await.unwrap(),
        Some(scopes("openid email"))
    );
    let all = list(db, tenant, user).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].created_at, all[0].updated_at), (10, 20));

    // Grants are per client and per tenant.
    assert_eq!(granted(db, tenant, user, &other).await.unwrap(), None);
    assert_eq!(
        granted(db, TenantId::new(), user, &client).await.unwrap(),
        None
    );

    assert!(withdraw(db, tenant, user, &client).await.unwrap());
    assert!(!withdraw(db, tenant, user, &client).await.unwrap());
    assert_eq!(granted(db, tenant, user, &client).await.unwrap(), None);
}
