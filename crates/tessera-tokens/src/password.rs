//! The resource owner password credentials grant (RFC 6749 §4.3), for legacy first-party apps
//! that cannot send the user to a browser. The grant teaches users to type their password into
//! apps, so RFC 9700 §2.4 says it MUST NOT be used and OAuth 2.1 drops it: it is off unless a
//! client is explicitly allowed the `password` grant. The caller checks the password with the
//! sign-in page's throttling (tessera-authn); this module turns the verified user into a grant,
//! recorded like a consent so the user can see and revoke it on the account page, and its tokens.

use std::sync::Arc;

use tessera_core::{GrantType, ScopeSet};
use tessera_store::{ClientRecord, ConsentGrantRecord, Store, UserRecord, grants};
use tessera_tenants::TenantSnapshot;

use crate::access::Binding;
use crate::client_credentials::check_resources;
use crate::family::{NewFamily, UserGrant};
use crate::{Issuance, TokenError};

/// `grant_type` of this grant.
pub const PASSWORD_GRANT: &str = "password";

/// Refuses a client that was not explicitly allowed the grant: `unauthorized_client` (RFC 6749
/// §5.2). Checked before the password is, so a client without the grant cannot even make the
/// server spend a password hash.
pub fn check_password_client(client: &ClientRecord) -> Result<(), TokenError> {
    if client.grant_types.contains(&GrantType::Password) {
        Ok(())
    } else {
        Err(TokenError::UnauthorizedClient(PASSWORD_GRANT))
    }
}

/// The scopes of a password grant: those asked, which must all be allowed for the client, or
/// every scope the client is allowed when none is asked (RFC 6749 §3.3, as for the client
/// credentials grant).
pub fn password_scopes(client: &ClientRecord, scope: Option<&str>) -> Result<ScopeSet, TokenError> {
    let Some(raw) = scope else {
        return Ok(client.scopes.clone());
    };
    let asked = ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
    if let Some(missing) = asked.first_missing_from(&client.scopes) {
        return Err(TokenError::InvalidScope(format!(
            "scope `{missing}` is not allowed for this client"
        )));
    }
    Ok(asked)
}

/// Issues the tokens of a password grant to `client` for `user`, whose password the caller
/// verified just now: a token family (with a refresh token when the client is allowed that
/// grant) and a consent grant for the scopes, in one transaction. The sign-in has no SSO
/// session (no `sid`); it is a password sign-in (`amr` `pwd`, `acr` `1`) at `now`.
#[allow(clippy::too_many_arguments)]
pub async fn issue_for_password(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    user: &UserRecord,
    scopes: ScopeSet,
    resources: &[String],
    binding: Binding,
    now: i64,
) -> Result<Issuance, TokenError> {
    check_password_client(client)?;
    check_resources(resources)?;
    let tenant = snapshot.tenant.id;
    let new = NewFamily::open(
        snapshot,
        client,
        UserGrant {
            user_id: user.id,
            sid: None,
            scopes: scopes.clone(),
            auth_time: now,
            // RFC 8176 §2 `pwd`; a password sign-in meets ISO/IEC 29115 level 1.
            acr: Some("1".to_owned()),
            amr: vec!["pwd".to_owned()],
            resources: resources.to_vec(),
        },
        &binding,
        now,
    );
    let txn = store.begin().await?;
    // The user handed the client their password: that is their consent to these scopes. Keep
    // whatever they granted the client before, so the account page lists it all and a revoke
    // there ends this grant too.
    let previous = grants::find(&txn, tenant, user.id, &client.client_id).await?;
    let mut granted = previous
        .as_ref()
        .map_or_else(ScopeSet::default, |g| g.scopes.clone());
    for scope in scopes.iter() {
        granted.insert(scope.clone());
    }
    grants::upsert(
        &txn,
        &ConsentGrantRecord {
            tenant_id: tenant,
            user_id: user.id,
            client_id: client.client_id.clone(),
            scopes: granted,
            created_at: previous.as_ref().map_or(now, |g| g.created_at),
            updated_at: now,
        },
    )
    .await?;
    new.insert(&txn, &snapshot.tenant.settings.tokens, now)
        .await?;
    txn.commit()
        .await
        .map_err(tessera_store::StoreError::from)?;
    Ok(Issuance {
        client: Arc::clone(client),
        user: user.id,
        id_token_claims: tessera_userinfo::id_token_claims(user, &scopes, None),
        userinfo_claims: Vec::new(),
        family_id: new.family.id,
        scopes,
        sid: None,
        auth_time: now,
        acr: Some("1".to_owned()),
        amr: vec!["pwd".to_owned()],
        nonce: None,
        resources: resources.to_vec(),
        refresh_token: new.refresh_token,
        binding,
        now,
        encryption: None,
    })
}
