//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC
//! Core §3.1.3): checks the code against the client, redirect URI and PKCE verifier, redeems it
//! exactly once, and creates the token family its tokens belong to. A replayed code fails and
//! revokes that family (RFC 6749 §4.1.2, RFC 9700 §4.5).

use std::sync::Arc;

use secrecy::ExposeSecret;
use tessera_core::secret::sha256_hex;
use tessera_core::{GrantType, UserStatus};
use tessera_store::{AuthorizationCodeRecord, ClientRecord, Store, codes, families, users};
use tessera_tenants::TenantSnapshot;

use crate::access::Binding;
use crate::client_credentials::check_resources;
use crate::family::{NewFamily, UserGrant, reason};
use crate::{Issuance, TokenError, TokenRequest, pkce};

/// Redeems the authorization code of `req` for the authenticated `client`. The database work is
/// done when this returns; the tokens still have to be signed with [`Issuance::sign`]. Every
/// failure of the code itself is `invalid_grant`, the description saying which check failed.
pub async fn exchange_code(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    req: &TokenRequest,
    binding: Binding,
    now: i64,
) -> Result<Issuance, TokenError> {
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(TokenError::UnauthorizedClient("authorization_code"));
    }
    let code = req
        .code
        .as_ref()
        .ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?;
    check_resources(&req.resource)?;
    let tenant = snapshot.tenant.id;
    let db = store.conn();
    let hash = sha256_hex(code.expose_secret());
    let record = codes::find(db, tenant, &hash)
        .await?
        .ok_or_else(|| TokenError::invalid_grant("the authorization code is invalid"))?;
    if record.consumed_at.is_some() {
        return Err(replayed(store, &record, now).await);
    }
    check_code(&record, client, req, now)?;
    // RFC 9449 §10.1: a code bound with `dpop_jkt` is redeemed only with a proof of that key.
    if let Some(jkt) = &record.dpop_jkt
        && binding.jkt.as_deref() != Some(jkt.as_str())
    {
        return Err(TokenError::InvalidDpopProof(
            "the DPoP proof key does not match the dpop_jkt of the authorization request".into(),
        ));
    }
    let resources = narrowed_resources(&record.resources, &req.resource)?;
    let user = users::find(db, tenant, record.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| TokenError::invalid_grant("the user is no longer active"))?;

    let policy = &snapshot.tenant.settings.tokens;
    let new = NewFamily::open(
        snapshot,
        client,
        UserGrant {
            user_id: record.user_id,
            sid: record.sid.clone(),
            scopes: record.scopes.clone(),
            auth_time: record.auth_time,
            acr: record.acr.clone(),
            amr: record.amr.clone(),
            resources: resources.clone(),
        },
        &binding,
        now,
    );

    // Redeem, create the family and its first refresh token in one transaction whose first
    // statement is the compare-and-set: a concurrent redemption waits for it and then finds the
    // code consumed, with `family_id` naming a committed family it can revoke.
    let txn = store.begin().await?;
    if !codes::consume(&txn, tenant, &hash, &new.family.id, now).await? {
        txn.rollback()
            .await
            .map_err(tessera_store::StoreError::from)?;
        return Err(match codes::find(db, tenant, &hash).await? {
            Some(current) if current.consumed_at.is_some() => replayed(store, &current, now).await,
            _ => TokenError::invalid_grant("the authorization code has expired"),
        });
    }
    new.insert(&txn, policy, now).await?;
    txn.commit()
        .await
        .map_err(tessera_store::StoreError::from)?;

    let claims_request = record.claims_request.as_ref();
    Ok(Issuance {
        client: Arc::clone(client),
        user: record.user_id,
        id_token_claims: tessera_userinfo::id_token_claims(
            &user,
            &record.scopes,
            claims_request.and_then(|c| c.get("id_token")),
        ),
        userinfo_claims: tessera_userinfo::requested_names(
            claims_request.and_then(|c| c.get("userinfo")),
            &record.scopes,
        )
        .map(str::to_owned)
        .collect(),
        family_id: new.family.id,
        scopes: record.scopes,
        sid: record.sid,
        auth_time: record.auth_time,
        acr: record.acr,
        amr: record.amr,
        nonce: record.nonce,
        resources,
        refresh_token: new.refresh_token,
        binding,
        now,
        encryption: None,
    })
}

/// The resources a token request may ask for (RFC 8707 §2.2): any of those the grant was for,
/// or any resource server when the authorization request named none. With none asked, the
/// grant's own.
pub(crate) fn narrowed_resources(
    granted: &[String],
    asked: &[String],
) -> Result<Vec<String>, TokenError> {
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    if !granted.is_empty()
        && let Some(extra) = asked.iter().find(|r| !granted.contains(r))
    {
        return Err(TokenError::InvalidTarget(format!(
            "resource `{}` was not part of the authorization",
            extra.chars().take(200).collect::<String>()
        )));
    }
    Ok(asked.to_vec())
}

/// The checks that bind a code to its client, redirect URI and PKCE challenge.
fn check_code(
    record: &AuthorizationCodeRecord,
    client: &ClientRecord,
    req: &TokenRequest,
    now: i64,
) -> Result<(), TokenError> {
    // RFC 6749 §4.1.3: issued to the authenticated client.
    if record.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.expires_at <= now {
        return Err(TokenError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri is required, and identical, when the authorization
    // request had one.
    match (record.redirect_uri.as_str(), req.redirect_uri.as_deref()) {
        ("", None) => {}
        ("", Some(sent)) if client.redirect_uris.iter().any(|r| r == sent) => {}
        (stored, Some(sent)) if stored == sent => {}
        (_, None) => {
            return Err(TokenError::invalid_grant(
                "redirect_uri is required: the authorization request had one",
            ));
        }
        _ => {
            return Err(TokenError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    let verifier = req.code_verifier.as_ref().map(|v| v.expose_secret());
    match (record.code_challenge.as_deref(), verifier) {
        (Some(challenge), Some(verifier)) => {
            let s256 = record.code_challenge_method.as_deref() == Some(pkce::S256);
            if !s256 || !pkce::verify_s256(challenge, verifier) {
                return Err(TokenError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(TokenError::invalid_grant(
                "code_verifier is required: the authorization request had a code_challenge",
            ));
        }
        // RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade attempt.
        (None, Some(_)) => {
            return Err(TokenError::invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) if client.require_pkce => {
            return Err(TokenError::invalid_grant(
                "this client must use PKCE (code_challenge with S256)",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}

/// A replayed code: revokes the family its first redemption created (RFC 6749 §4.1.2 "SHOULD
/// revoke (when possible) all tokens previously issued based on that authorization code") and
/// returns the error to answer with.
async fn replayed(store: &Store, record: &AuthorizationCodeRecord, now: i64) -> TokenError {
    if let Some(family) = &record.family_id {
        match families::revoke(
            store.conn(),
            record.tenant_id,
            family,
            reason::CODE_REPLAY,
            now,
        )
        .await
        {
            Ok(true) => tracing::warn!(
                client_id = %record.client_id,
                "authorization code replayed: its token family is revoked"
            ),
            Ok(false) => {}
            Err(e) => return e.into(),
        }
    }
    TokenError::invalid_grant("the authorization code was already used")
}
