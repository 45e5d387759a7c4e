//! Unit tests of the code and refresh grants, ID tokens and userinfo against a real (in-memory
//! SQLite) database with the real migrations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_core::{
    ClientId, ClientType, GrantType, KeyState, OAuthErrorCode, ScopeSet, SigningAlg, TenantId,
    TenantSlug, TenantStatus, TokenFormat, UserId, UserStatus,
};
use tessera_keys::{KeySet, MasterKey, generate_key_pair};
use tessera_store::{
    ClientRecord, PoolSettings, StandardClaims, Store, TenantRecord, UserRecord, families, tenants,
    users,
};
use tessera_tenants::TenantSnapshot;

use crate::pkce::s256_challenge;
use crate::*;

const NOW: i64 = 1_800_000_000;
const REDIRECT: &str = "https://rp.example.com/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Harness {
    store: Store,
    snapshot: Arc<TenantSnapshot>,
    client: Arc<ClientRecord>,
    other: Arc<ClientRecord>,
    user: UserId,
}

fn client(tenant: TenantId, grants: &[GrantType]) -> ClientRecord {
    ClientRecord {
        tenant_id: tenant,
        client_id: ClientId::generate(),
        name: "RP".to_owned(),
        client_type: ClientType::Confidential,
        secret_hash: None,
        grant_types: grants.to_vec(),
        redirect_uris: vec![REDIRECT.to_owned()],
        scopes: ScopeSet::parse("openid profile email offline_access").unwrap(),
        token_format: TokenFormat::Jwt,
        admin_role: None,
        admin_tenant_id: None,
        post_logout_redirect_uris: vec![],
        first_party: false,
        require_pkce: true,
        id_token_alg: SigningAlg::Rs256,
        options: Default::default(),
        created_at: 0,
        updated_at: 0,
    }
}

impl Harness {
    async fn new() -> Self {
        Self::with(SigningAlg::Es256, |_| {}).await
    }

    async fn with(alg: SigningAlg, tweak: impl FnOnce(&mut TenantRecord)) -> Self {
        let pool = PoolSettings {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(30),
        };
        let store = Store::connect("sqlite::memory:", &pool).await.unwrap();
        store.migrate().await.unwrap();
        let tenant_id = TenantId::new();
        let mut tenant = TenantRecord {
            id: tenant_id,
            slug: TenantSlug::parse("acme").unwrap(),
            name: "Acme".to_owned(),
            status: TenantStatus::Active,
            signing_alg: alg,
            is_system: false,
            access_token_ttl: 300,
            key_rotation_interval: 86_400,
            keys_rotate_at: NOW + 86_400,
            settings: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        tweak(&mut tenant);
        tenants::insert(store.conn(), &tenant).await.unwrap();
        let master = MasterKey::generate();
        let mut records =
            vec![generate_key_pair(&master, tenant_id, alg, KeyState::Active, NOW).unwrap()];
        if alg != SigningAlg::Rs256 {
            records.push(
                generate_key_pair(&master, tenant_id, SigningAlg::Rs256, KeyState::Active, NOW)
                    .unwrap(),
            );
        }
        let keys = KeySet::build(&master, &records, alg, NOW).unwrap();
        let code_client = client(
            tenant_id,
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        );
        let other = client(tenant_id, &[GrantType::AuthorizationCode]);
        let user = UserRecord {
            tenant_id,
            id: UserId::new(),
            username: "ada".to_owned(),
            email: Some("ada@example.com".to_owned()),
            email_verified: true,
            claims: StandardClaims {
                name: Some("Ada Lovelace".to_owned()),
                ..StandardClaims::default()
            },
            password_hash: None,
            status: UserStatus::Active,
            created_at: 0,
            updated_at: 0,
        };
        users::insert(store.conn(), &user).await.unwrap();
        let snapshot = TenantSnapshot::new(
            tenant,
            "https://op.example.com/t/acme".to_owned(),
            vec![code_client.clone(), other.clone()],
            vec![],
            keys,
            BTreeMap::new(),
        );
        let client = Arc::clone(snapshot.client(code_client.client_id.as_ref()).unwrap());
        let other = Arc::clone(snapshot.client(other.client_id.as_ref()).unwrap());
        Harness {
            store,
            snapshot: Arc::new(snapshot),
            client,
            other,
            user: user.id,
        }
    }

    fn grant(&self, scopes: &str) -> CodeGrant {
        CodeGrant {
            client_id: self.client.client_id.clone(),
            user_id: self.user,
            redirect_uri: REDIRECT.to_owned(),
            scopes: ScopeSet::parse(scopes).unwrap(),
            nonce: Some("n-0S6_WzA2Mj".to_owned()),
            code_challenge: Some(s256_challenge(VERIFIER)),
            code_challenge_method: Some("S256".to_owned()),
            sid: Some("sid-1".to_owned()),
            auth_time: NOW - 5,
            acr: Some("1".to_owned()),
            amr: vec!["pwd".to_owned()],
            claims_request: None,
            resources: vec![],
            dpop_jkt: None,
        }
    }

    async fn code(&self, scopes: &str) -> String {
        issue_code(&self.store, &self.snapshot, self.grant(scopes), NOW)
            .await
            .unwrap()
    }

    async fn exchange(
        &self,
        client: &Arc<ClientRecord>,
        params: &[(&str, &str)],
        now: i64,
    ) -> Result<TokenResponse, TokenError> {
        let req = parse_token_form(serde_urlencoded::to_string(params).unwrap().as_bytes())?;
        exchange_code(
            &self.store,
            &self.snapshot,
            client,
            &req,
            Binding::default(),
            now,
        )
        .await?
        .sign(&self.snapshot)?
        .persist(&self.store)
        .await
    }

    async fn redeem(&self, code: &str) -> Result<TokenResponse, TokenError> {
        self.exchange(
            &self.client,
            &[
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await
    }

    async fn refresh(
        &self,
        token: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, TokenError> {
        let mut params = vec![("refresh_token", token)];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        let req = parse_token_form(serde_urlencoded::to_string(&params).unwrap().as_bytes())?;
        refresh_tokens(
            &self.store,
            &self.snapshot,
            &self.client,
            &req,
            Binding::default(),
            now,
        )
        .await?
        .sign(&self.snapshot)?
        .persist(&self.store)
        .await
    }

    async fn userinfo(&self, access_token: &str, now: i64) -> Result<Value, BearerError> {
        userinfo(
            &self.store,
            &self.snapshot,
            access_token,
            Presentation::default(),
            now,
        )
        .await
        .map(|u| Value::Object(u.claims))
    }

    fn claims(&self, jws: &str) -> Value {
        self.snapshot.keys.verify(jws).unwrap()
    }
}

fn grant_error(result: Result<TokenResponse, TokenError>) -> String {
    match result {
        Err(e @ TokenError::InvalidGrant(_)) => {
            assert_eq!(e.code(), OAuthErrorCode::InvalidGrant);
            e.to_string()
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

fn header(jws: &str) -> Value {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[tokio::test]
async fn code_exchange_issues_access_id_and_refresh_tokens() {
    let h = Harness::new().await;
    let code = h.code("openid profile").await;
    let response = h.redeem(&code).await.unwrap();
    assert_eq!(response.scope.as_deref(), Some("openid profile"));
    assert_eq!(response.token_type, "Bearer");
    assert!(response.refresh_token.is_some());

    let at = h.claims(&response.access_token);
    assert_eq!(header(&response.access_token)["typ"], "at+jwt");
    assert_eq!(at["sub"], h.user.to_string());
    assert_eq!(at["client_id"], h.client.client_id.as_ref());
    assert_eq!(at["aud"], h.client.client_id.as_ref());
    assert_eq!(at["scope"], "openid profile");
    assert_eq!(at["auth_time"], NOW - 5);
    assert_eq!(at["sid"], "sid-1");
    assert!(at["gid"].is_string());

    let id_token = response.id_token.unwrap();
    // The tenant signs with ES256, the client's ID tokens default to RS256 (OIDC Core §15.1).
    assert_eq!(header(&id_token)["alg"], "RS256");
    assert_eq!(header(&response.access_token)["alg"], "ES256");
    let id = h.claims(&id_token);
    assert_eq!(id["iss"], "https://op.example.com/t/acme");
    assert_eq!(id["sub"], h.user.to_string());
    assert_eq!(id["aud"], json!([h.client.client_id.as_ref()]));
    assert_eq!(id["azp"], h.client.client_id.as_ref());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["sid"], "sid-1");
    assert_eq!(id["acr"], "1");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["auth_time"], NOW - 5);
    assert_eq!(id["iat"], NOW + 1);
    assert_eq!(id["exp"], NOW + 1 + 3600);
    assert_eq!(
        id["at_hash"],
        token_hash(SigningAlg::Rs256, &response.access_token)
    );
    assert!(id.get("name").is_none(), "profile claims go to userinfo");
}

#[tokio::test]
async fn replayed_code_is_invalid_grant_and_revokes_what_the_first_exchange_issued() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let first = h.redeem(&code).await.unwrap();
    assert!(h.userinfo(&first.access_token, NOW + 2).await.is_ok());

    let replay = grant_error(h.redeem(&code).await);
    assert!(replay.contains("already used"), "{replay}");

    let gid = h.claims(&first.access_token)["gid"]
        .as_str()
        .unwrap()
        .to_owned();
    let family = families::find(h.store.conn(), h.snapshot.tenant.id, &gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(family.revoked_reason.as_deref(), Some(reason::CODE_REPLAY));
    let refresh = first.refresh_token.unwrap();
    grant_error(h.refresh(&refresh, None, NOW + 3).await);
    assert!(matches!(
        h.userinfo(&first.access_token, NOW + 3).await,
        Err(BearerError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn pkce_mismatch_missing_verifier_and_verifier_without_challenge_fail() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let wrong = "a".repeat(43);
    let mismatch = grant_error(
        h.exchange(
            &h.client,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &wrong),
            ],
            NOW + 1,
        )
        .await,
    );
    assert!(mismatch.contains("does not match"), "{mismatch}");
    let missing = grant_error(
        h.exchange(
            &h.client,
            &[("code", &code), ("redirect_uri", REDIRECT)],
            NOW + 1,
        )
        .await,
    );
    assert!(missing.contains("code_verifier is required"), "{missing}");
    // The failed attempts did not burn the code.
    h.redeem(&code).await.unwrap();

    // A client that need not use PKCE, whose request had no challenge, may not send a verifier.
    let mut lax = (*h.client).clone();
    lax.require_pkce = false;
    let lax = Arc::new(lax);
    let mut grant = h.grant("openid");
    grant.code_challenge = None;
    grant.code_challenge_method = None;
    let code = issue_code(&h.store, &h.snapshot, grant, NOW).await.unwrap();
    let downgrade = grant_error(
        h.exchange(
            &lax,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await,
    );
    assert!(downgrade.contains("no code_challenge"), "{downgrade}");
    // …and a client that must use PKCE cannot redeem a code without a challenge at all.
    let required = grant_error(
        h.exchange(
            &h.client,
            &[("code", &code), ("redirect_uri", REDIRECT)],
            NOW + 1,
        )
        .await,
    );
    assert!(required.contains("must use PKCE"), "{required}");
    h.exchange(
        &lax,
        &[("code", &code), ("redirect_uri", REDIRECT)],
        NOW + 1,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn plain_pkce_is_refused_when_issuing_a_code() {
    let h = Harness::new().await;
    for method in [None, Some("plain")] {
        let mut grant = h.grant("openid");
        grant.code_challenge = Some(VERIFIER.to_owned());
        grant.code_challenge_method = method.map(str::to_owned);
        assert!(matches!(
            issue_code(&h.store, &h.snapshot, grant, NOW).await,
            Err(TokenError::InvalidRequest(_))
        ));
    }
}

#[tokio::test]
async fn wrong_or_missing_redirect_uri_fails() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let wrong = grant_error(
        h.exchange(
            &h.client,
            &[
                ("code", &code),
                ("redirect_uri", "https://rp.example.com/other"),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await,
    );
    assert!(wrong.contains("redirect_uri does not match"), "{wrong}");
    let missing = grant_error(
        h.exchange(
            &h.client,
            &[("code", &code), ("code_verifier", VERIFIER)],
            NOW + 1,
        )
        .await,
    );
    assert!(missing.contains("redirect_uri is required"), "{missing}");
}

#[tokio::test]
async fn code_of_another_client_fails() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let err = grant_error(
        h.exchange(
            &h.other,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await,
    );
    assert!(err.contains("another client"), "{err}");
    let unknown = grant_error(h.redeem("not-a-code").await);
    assert!(unknown.contains("invalid"), "{unknown}");
}

#[tokio::test]
async fn expired_code_fails() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let err = grant_error(
        h.exchange(
            &h.client,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + MAX_CODE_TTL_SECS,
        )
        .await,
    );
    assert!(err.contains("expired"), "{err}");
}

#[tokio::test]
async fn client_without_the_grant_is_unauthorized() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let mut cc = (*h.client).clone();
    cc.grant_types = vec![GrantType::ClientCredentials];
    let err = h
        .exchange(&Arc::new(cc), &[("code", &code)], NOW + 1)
        .await
        .unwrap_err();
    assert_eq!(err.code(), OAuthErrorCode::UnauthorizedClient);
    // No refresh token for a client not allowed the refresh grant.
    let other_code = issue_code(
        &h.store,
        &h.snapshot,
        CodeGrant {
            client_id: h.other.client_id.clone(),
            ..h.grant("openid offline_access")
        },
        NOW,
    )
    .await
    .unwrap();
    let response = h
        .exchange(
            &h.other,
            &[
                ("code", &other_code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await
        .unwrap();
    assert!(response.refresh_token.is_none());
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let h = Harness::new().await;
    let first = h.redeem(&h.code("openid email").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let second = h.refresh(&r1, None, NOW + 10).await.unwrap();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(second.scope.as_deref(), Some("openid email"));
    let id = h.claims(second.id_token.as_ref().unwrap());
    assert!(id.get("nonce").is_none(), "no nonce on refresh");
    assert_eq!(id["sid"], "sid-1");
    assert_eq!(id["auth_time"], NOW - 5);
    assert_eq!(
        h.claims(&second.access_token)["gid"],
        h.claims(&first.access_token)["gid"]
    );

    // r1 was rotated: presenting it again is reuse and revokes the whole family, r2 included.
    let reuse = grant_error(h.refresh(&r1, None, NOW + 20).await);
    assert!(reuse.contains("already been used"), "{reuse}");
    grant_error(h.refresh(&r2, None, NOW + 21).await);
    assert!(h.userinfo(&second.access_token, NOW + 22).await.is_err());
}

#[tokio::test]
async fn grace_window_allows_bounded_reuse_of_a_rotated_token() {
    let h = Harness::with(SigningAlg::EdDsa, |t| {
        t.settings.tokens.rotation_grace_secs = 30;
        t.settings.tokens.rotation_grace_count = 1;
    })
    .await;
    let first = h.redeem(&h.code("openid").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let r2 = h
        .refresh(&r1, None, NOW + 10)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // A concurrent client presents r1 again within the window: it gets a new pair.
    let r3 = h
        .refresh(&r1, None, NOW + 15)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_ne!(r3, r2);
    // The allowance is one extra use: the next one is reuse, and the family is revoked.
    grant_error(h.refresh(&r1, None, NOW + 16).await);
    grant_error(h.refresh(&r2, None, NOW + 17).await);
    grant_error(h.refresh(&r3, None, NOW + 17).await);
}

#[tokio::test]
async fn concurrent_refreshes_inside_the_grace_window_both_get_a_working_pair() {
    let h = Harness::with(SigningAlg::EdDsa, |t| {
        t.settings.tokens.rotation_grace_secs = 30;
        t.settings.tokens.rotation_grace_count = 1;
    })
    .await;
    let first = h.redeem(&h.code("openid").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    // The loser of the rotation's compare-and-set read r1 unrotated: it is the concurrent
    // client the window is for, not a reuse.
    let (a, b) = tokio::join!(
        h.refresh(&r1, None, NOW + 10),
        h.refresh(&r1, None, NOW + 10)
    );
    let a = a.unwrap().refresh_token.unwrap();
    let b = b.unwrap().refresh_token.unwrap();
    assert_ne!(a, b);
    h.refresh(&a, None, NOW + 11).await.unwrap();
    h.refresh(&b, None, NOW + 11).await.unwrap();
}

#[tokio::test]
async fn grace_window_ends_after_its_seconds() {
    let h = Harness::with(SigningAlg::Es256, |t| {
        t.settings.tokens.rotation_grace_secs = 5;
        t.settings.tokens.rotation_grace_count = 3;
    })
    .await;
    let first = h.redeem(&h.code("openid").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let r2 = h
        .refresh(&r1, None, NOW + 10)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    grant_error(h.refresh(&r1, None, NOW + 16).await);
    grant_error(h.refresh(&r2, None, NOW + 17).await);
}

#[tokio::test]
async fn refresh_may_narrow_scope_but_not_widen_it() {
    let h = Harness::new().await;
    let first = h.redeem(&h.code("openid email").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let narrowed = h.refresh(&r1, Some("email"), NOW + 10).await.unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("email"));
    assert!(narrowed.id_token.is_none(), "no openid, no ID token");
    // The new refresh token keeps the original grant (RFC 6749 §6).
    let r2 = narrowed.refresh_token.unwrap();
    let full = h.refresh(&r2, None, NOW + 20).await.unwrap();
    assert_eq!(full.scope.as_deref(), Some("openid email"));
    let r3 = full.refresh_token.unwrap();
    let wider = h.refresh(&r3, Some("openid email profile"), NOW + 30).await;
    assert!(
        matches!(wider, Err(TokenError::InvalidScope(_))),
        "{wider:?}"
    );
    // A refused request does not rotate the token.
    h.refresh(&r3, None, NOW + 31).await.unwrap();
}

#[tokio::test]
async fn refresh_token_of_another_client_or_expired_or_disabled_user_fails() {
    let h = Harness::new().await;
    let first = h.redeem(&h.code("openid").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let mut other = (*h.other).clone();
    other.grant_types.push(GrantType::RefreshToken);
    let req = parse_token_form(format!("refresh_token={r1}").as_bytes()).unwrap();
    let err = refresh_tokens(
        &h.store,
        &h.snapshot,
        &Arc::new(other),
        &req,
        Binding::default(),
        NOW + 5,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("another client"), "{err}");

    let ttl = h.snapshot.tenant.settings.tokens.refresh_ttl_secs;
    grant_error(h.refresh(&r1, None, NOW + 1 + ttl).await);

    users::set_status(
        h.store.conn(),
        h.snapshot.tenant.id,
        h.user,
        UserStatus::Disabled,
        NOW,
    )
    .await
    .unwrap();
    let disabled = grant_error(h.refresh(&r1, None, NOW + 6).await);
    assert!(disabled.contains("no longer active"), "{disabled}");
    assert!(matches!(
        h.userinfo(&first.access_token, NOW + 6).await,
        Err(BearerError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn logout_revokes_session_families_but_not_offline_ones() {
    let h = Harness::new().await;
    let online = h.redeem(&h.code("openid").await).await.unwrap();
    let offline = h
        .redeem(&h.code("openid offline_access").await)
        .await
        .unwrap();
    revoke_families_of_session(&h.store, h.snapshot.tenant.id, "sid-1", NOW + 5)
        .await
        .unwrap();
    grant_error(
        h.refresh(online.refresh_token.as_ref().unwrap(), None, NOW + 6)
            .await,
    );
    h.refresh(offline.refresh_token.as_ref().unwrap(), None, NOW + 6)
        .await
        .unwrap();
}

#[tokio::test]
async fn userinfo_releases_claims_by_scope_and_claims_request() {
    let h = Harness::new().await;
    let profile = h.redeem(&h.code("openid profile").await).await.unwrap();
    let claims = h.userinfo(&profile.access_token, NOW + 2).await.unwrap();
    assert_eq!(claims["sub"], h.user.to_string());
    assert_eq!(claims["name"], "Ada Lovelace");
    assert!(claims.get("email").is_none());

    // The claims request places consented claims (name → ID token) …
    let mut grant = h.grant("openid profile");
    grant.claims_request = Some(json!({
        "userinfo": { "email": { "essential": true } },
        "id_token": { "name": null }
    }));
    let code = issue_code(&h.store, &h.snapshot, grant, NOW).await.unwrap();
    let requested = h.redeem(&code).await.unwrap();
    let id = h.claims(requested.id_token.as_ref().unwrap());
    assert_eq!(id["name"], "Ada Lovelace");
    assert!(id.get("email").is_none());
    // … but never releases one whose scope was not granted (email).
    let claims = h.userinfo(&requested.access_token, NOW + 2).await.unwrap();
    assert!(
        claims.get("email").is_none(),
        "email scope was not consented"
    );
    assert_eq!(claims["name"], "Ada Lovelace", "profile scope was");

    let mut grant = h.grant("openid email");
    grant.claims_request = Some(json!({ "id_token": { "email": null, "name": null } }));
    let code = issue_code(&h.store, &h.snapshot, grant, NOW).await.unwrap();
    let requested = h.redeem(&code).await.unwrap();
    let id = h.claims(requested.id_token.as_ref().unwrap());
    assert_eq!(id["email"], "ada@example.com");
    assert!(id.get("name").is_none(), "profile scope was not consented");
}

#[tokio::test]
async fn userinfo_refuses_foreign_expired_scopeless_and_client_tokens() {
    let h = Harness::new().await;
    let ok = h.redeem(&h.code("openid").await).await.unwrap();
    assert!(matches!(
        h.userinfo(&ok.access_token, NOW + 1 + 300).await,
        Err(BearerError::InvalidToken(_))
    ));
    // The ID token is not an access token.
    assert!(matches!(
        h.userinfo(ok.id_token.as_ref().unwrap(), NOW + 2).await,
        Err(BearerError::InvalidToken(_))
    ));
    // Another tenant's token does not verify here.
    let foreign = Harness::new().await;
    let theirs = foreign.redeem(&foreign.code("openid").await).await.unwrap();
    assert!(matches!(
        h.userinfo(&theirs.access_token, NOW + 2).await,
        Err(BearerError::InvalidToken(_))
    ));
    // No openid scope: 403.
    let no_openid = h.redeem(&h.code("email").await).await.unwrap();
    assert!(no_openid.id_token.is_none());
    assert!(matches!(
        h.userinfo(&no_openid.access_token, NOW + 2).await,
        Err(BearerError::InsufficientScope(_))
    ));
    // A client credentials token has the client as subject.
    let mut cc = (*h.client).clone();
    cc.grant_types = vec![GrantType::ClientCredentials];
    let token = issue_client_credentials(
        &h.snapshot,
        &cc,
        Some("openid"),
        &[],
        Binding::default(),
        NOW,
    )
    .unwrap()
    .response;
    assert!(matches!(
        h.userinfo(&token.access_token, NOW + 2).await,
        Err(BearerError::InvalidToken(_))
    ));
    assert!(matches!(
        h.userinfo("garbage", NOW + 2).await,
        Err(BearerError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn eddsa_id_tokens_hash_the_access_token_with_sha512() {
    let h = Harness::with(SigningAlg::EdDsa, |_| {}).await;
    let mut client = (*h.client).clone();
    client.id_token_alg = SigningAlg::EdDsa;
    let client = Arc::new(client);
    let code = h.code("openid").await;
    let response = h
        .exchange(
            &client,
            &[
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            NOW + 1,
        )
        .await
        .unwrap();
    let id_token = response.id_token.unwrap();
    assert_eq!(header(&id_token)["alg"], "EdDSA");
    assert_eq!(
        h.claims(&id_token)["at_hash"],
        token_hash(SigningAlg::EdDsa, &response.access_token)
    );
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_yield_one_success_and_revoke_it() {
    let h = Harness::new().await;
    let code = h.code("openid").await;
    let (a, b) = tokio::join!(h.redeem(&code), h.redeem(&code));
    let winner = match (a, b) {
        (Ok(w), Err(e)) | (Err(e), Ok(w)) => {
            assert_eq!(e.code(), OAuthErrorCode::InvalidGrant);
            w
        }
        other => panic!("expected one success, got {other:?}"),
    };
    // The loser saw a consumed code: the winner's family is revoked as for any replay.
    grant_error(
        h.refresh(winner.refresh_token.as_ref().unwrap(), None, NOW + 5)
            .await,
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_without_grace_revoke_the_family() {
    let h = Harness::new().await;
    let first = h.redeem(&h.code("openid").await).await.unwrap();
    let r1 = first.refresh_token.unwrap();
    let (a, b) = tokio::join!(
        h.refresh(&r1, None, NOW + 10),
        h.refresh(&r1, None, NOW + 10)
    );
    let winner = match (a, b) {
        (Ok(w), Err(_)) | (Err(_), Ok(w)) => w,
        other => panic!("expected one success, got {other:?}"),
    };
    grant_error(
        h.refresh(winner.refresh_token.as_ref().unwrap(), None, NOW + 11)
            .await,
    );
}

/// The harness's code client (or the other one), also allowed the device grant (RFC 8628).
fn with_device_grant(client: &Arc<ClientRecord>) -> Arc<ClientRecord> {
    let mut c = (**client).clone();
    c.grant_types.push(GrantType::DeviceCode);
    Arc::new(c)
}

impl Harness {
    async fn poll(
        &self,
        client: &Arc<ClientRecord>,
        device_code: &str,
        now: i64,
    ) -> Result<TokenResponse, TokenError> {
        let body = serde_urlencoded::to_string([("device_code", device_code)]).unwrap();
        let req = parse_token_form(body.as_bytes())?;
        poll_device_code(
            &self.store,
            &self.snapshot,
            client,
            &req,
            Binding::default(),
            now,
        )
        .await?
        .sign(&self.snapshot)?
        .persist(&self.store)
        .await
    }

    async fn device_codes(&self, client: &ClientRecord, scope: &str) -> DeviceAuthorization {
        let body = serde_urlencoded::to_string([("scope", scope)]).unwrap();
        let req = parse_token_form(body.as_bytes()).unwrap();
        authorize_device(&self.store, &self.snapshot, client, &req, NOW)
            .await
            .unwrap()
    }

    fn approval(&self, scopes: &str) -> tessera_store::device_codes::DeviceApproval {
        tessera_store::device_codes::DeviceApproval {
            user_id: self.user,
            scopes: ScopeSet::parse(scopes).unwrap(),
            sid: Some("sid-1".to_owned()),
            auth_time: NOW - 5,
            acr: Some("1".to_owned()),
            amr: vec!["pwd".to_owned()],
        }
    }
}

fn error_code(result: Result<TokenResponse, TokenError>) -> OAuthErrorCode {
    match result {
        Err(e) => e.code(),
        Ok(t) => panic!("expected an error, got tokens for {:?}", t.scope),
    }
}

#[tokio::test]
async fn device_polls_are_pending_then_slowed_down_then_redeem_the_granted_scopes_once() {
    let h = Harness::new().await;
    let tv = with_device_grant(&h.client);
    let auth = h.device_codes(&tv, "openid profile email").await;
    assert_eq!((auth.expires_in, auth.interval), (600, 5));
    let code = UserCode::parse(&auth.user_code).unwrap();
    let tenant = h.snapshot.tenant.id;

    // RFC 8628 §3.5: pending; too soon is slow_down, and the interval grows by 5 s each time.
    assert_eq!(
        error_code(h.poll(&tv, &auth.device_code, NOW).await),
        OAuthErrorCode::AuthorizationPending
    );
    assert!(matches!(
        h.poll(&tv, &auth.device_code, NOW + 1).await,
        Err(TokenError::SlowDown(10))
    ));
    assert!(matches!(
        h.poll(&tv, &auth.device_code, NOW + 6).await,
        Err(TokenError::SlowDown(15))
    ));
    assert_eq!(
        error_code(h.poll(&tv, &auth.device_code, NOW + 21).await),
        OAuthErrorCode::AuthorizationPending
    );

    // Another client cannot poll with it, and does not disturb it.
    let other = with_device_grant(&h.other);
    let e = grant_error(h.poll(&other, &auth.device_code, NOW + 22).await);
    assert!(e.contains("another client"), "{e}");

    // Approving more than was asked grants only what was asked; a code is decided once.
    assert!(
        pending_device_code(&h.store, &h.snapshot, &code, NOW + 30)
            .await
            .unwrap()
            .is_some()
    );
    let wider = h.approval("openid profile offline_access");
    assert!(
        approve_device_code(&h.store, tenant, &code, wider, NOW + 30)
            .await
            .unwrap()
    );
    assert!(
        !deny_device_code(&h.store, tenant, &code, NOW + 31)
            .await
            .unwrap()
    );
    assert!(
        pending_device_code(&h.store, &h.snapshot, &code, NOW + 31)
            .await
            .unwrap()
            .is_none()
    );

    let tokens = h.poll(&tv, &auth.device_code, NOW + 40).await.unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("openid profile"));
    assert!(tokens.refresh_token.is_some());
    let id = h.claims(tokens.id_token.as_deref().unwrap());
    assert_eq!(id["aud"], json!([tv.client_id.to_string()]));
    assert_eq!(
        (id["sid"].clone(), id["auth_time"].clone()),
        (json!("sid-1"), json!(NOW - 5))
    );
    assert_eq!(id["amr"], json!(["pwd"]));

    // Single use, even after the interval.
    let e = grant_error(h.poll(&tv, &auth.device_code, NOW + 60).await);
    assert!(e.contains("already used"), "{e}");
}

#[tokio::test]
async fn denied_expired_and_unknown_device_codes_and_clients_without_the_grant_fail() {
    let h = Harness::new().await;
    let tv = with_device_grant(&h.client);
    let tenant = h.snapshot.tenant.id;

    let denied = h.device_codes(&tv, "openid").await;
    let code = UserCode::parse(&denied.user_code).unwrap();
    assert!(
        deny_device_code(&h.store, tenant, &code, NOW + 1)
            .await
            .unwrap()
    );
    assert_eq!(
        error_code(h.poll(&tv, &denied.device_code, NOW + 2).await),
        OAuthErrorCode::AccessDenied
    );

    let expiring = h.device_codes(&tv, "openid").await;
    let code = UserCode::parse(&expiring.user_code).unwrap();
    assert_eq!(
        error_code(h.poll(&tv, &expiring.device_code, NOW + 600).await),
        OAuthErrorCode::ExpiredToken
    );
    assert!(
        !approve_device_code(&h.store, tenant, &code, h.approval("openid"), NOW + 600)
            .await
            .unwrap(),
        "an expired code cannot be approved"
    );

    grant_error(h.poll(&tv, "not-a-device-code", NOW).await);

    // Without the grant: unauthorized_client at both endpoints.
    let req = parse_token_form(b"scope=openid").unwrap();
    let refused = authorize_device(&h.store, &h.snapshot, &h.client, &req, NOW).await;
    assert!(matches!(refused, Err(TokenError::UnauthorizedClient(_))));
    assert_eq!(
        error_code(h.poll(&h.client, &denied.device_code, NOW + 30).await),
        OAuthErrorCode::UnauthorizedClient
    );

    // Scopes as at the authorization endpoint: required, and allowed for the client.
    for body in ["", "scope=openid+admin"] {
        let req = parse_token_form(body.as_bytes()).unwrap();
        let refused = authorize_device(&h.store, &h.snapshot, &tv, &req, NOW).await;
        assert!(
            matches!(refused, Err(TokenError::InvalidScope(_))),
            "{body}"
        );
    }
}
