//! Token exchange (RFC 8693): a client trades a token of this tenant (the subject token, and for
//! delegation an actor token) for a new access token for another audience. The client's
//! registered policy says which audiences and subject-token types it may use and whether it may
//! act for others; the new token keeps the subject, its authentication facts and the grant it
//! descends from (so revoking that grant revokes it), never gains scopes, and carries `act` when
//! an actor is named (§4.1). Asking for `requested_token_type=…:jwt` yields a JWT even for an
//! audience that takes opaque tokens: the phantom-token exchange of a gateway (opaque in, JWT out).

use serde_json::{Value, json};
use tessera_core::client::token_type;
use tessera_core::{ClientType, ScopeSet, TokenFormat};
use tessera_store::{ClientRecord, Store};
use tessera_tenants::TenantSnapshot;

use crate::access::{AccessToken, Binding, Minted, mint, resolve_target};
use crate::bearer::{ActiveToken, inspect, is_jwt};
use crate::client_credentials::{TokenResponse, check_resources};
use crate::{BearerError, TokenError, TokenRequest};

/// Subject and actor token types this server can validate: its own access tokens.
const ACCEPTED_TYPES: [&str; 2] = [token_type::ACCESS_TOKEN, token_type::JWT];

/// Performs the token exchange of `req` for the authenticated `client`.
pub async fn token_exchange(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    req: &TokenRequest,
    binding: Binding,
    now: i64,
) -> Result<Minted, TokenError> {
    let policy = client
        .options
        .token_exchange
        .as_ref()
        .ok_or(TokenError::UnauthorizedClient("token-exchange"))?;
    // Anyone can speak as a public client, so its policy would be everyone's: a stolen DPoP- or
    // certificate-bound token could be traded for a bearer token (RFC 8693 §5 asks the server
    // to restrict who may exchange; RFC 9449 §1 is moot if binding can be shed).
    if client.client_type == ClientType::Public {
        return Err(TokenError::UnauthorizedClient("token-exchange"));
    }
    let subject_token = req
        .subject_token
        .as_ref()
        .ok_or_else(|| TokenError::InvalidRequest("subject_token is required".into()))?;
    let subject_type = req
        .subject_token_type
        .as_deref()
        .ok_or_else(|| TokenError::InvalidRequest("subject_token_type is required".into()))?;
    if !ACCEPTED_TYPES.contains(&subject_type) {
        return Err(TokenError::InvalidRequest(
            "subject_token_type must be an access token or JWT access token of this provider"
                .into(),
        ));
    }
    if !policy.subject_token_types.iter().any(|t| t == subject_type) {
        return Err(TokenError::InvalidRequest(
            "this client may not exchange tokens of that subject_token_type".into(),
        ));
    }
    // RFC 8693 §2.1: the requested token type; an access token unless the client asks for a
    // JWT specifically.
    let force_jwt = match req.requested_token_type.as_deref() {
        None | Some(token_type::ACCESS_TOKEN) => false,
        Some(token_type::JWT) => true,
        Some(_) => {
            return Err(TokenError::InvalidRequest(
                "requested_token_type must be an access token or a JWT".into(),
            ));
        }
    };
    // The audiences: `audience` and `resource` together, each allowed by the client's policy
    // (RFC 8693 §2.2.2: else invalid_target).
    check_resources(&req.resource)?;
    let mut audiences: Vec<String> = req.audience.clone();
    for r in &req.resource {
        if !audiences.contains(r) {
            audiences.push(r.clone());
        }
    }
    if audiences.is_empty() {
        return Err(TokenError::InvalidTarget(
            "name the audience of the new token (audience or resource)".into(),
        ));
    }
    if let Some(a) = audiences.iter().find(|a| !policy.audiences.contains(a)) {
        return Err(TokenError::InvalidTarget(format!(
            "this client may not obtain tokens for `{}`",
            a.chars().take(200).collect::<String>()
        )));
    }

    let subject = active(
        store,
        snapshot,
        subject_token,
        subject_type,
        now,
        "subject_token",
    )
    .await?;
    let act = match (&req.actor_token, &req.actor_token_type) {
        (None, None) => subject.claims.get("act").cloned(),
        (Some(_), None) => {
            return Err(TokenError::InvalidRequest(
                "actor_token_type is required with actor_token".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(TokenError::InvalidRequest(
                "actor_token_type without actor_token".into(),
            ));
        }
        (Some(actor_token), Some(actor_type)) => {
            if !policy.allow_delegation {
                return Err(TokenError::InvalidRequest(
                    "this client may not exchange tokens on behalf of an actor".into(),
                ));
            }
            if !ACCEPTED_TYPES.contains(&actor_type.as_str()) {
                return Err(TokenError::InvalidRequest(
                    "actor_token_type must be an access token or JWT access token of this provider"
                        .into(),
                ));
            }
            let actor =
                active(store, snapshot, actor_token, actor_type, now, "actor_token").await?;
            // RFC 8693 §4.1: the current actor outermost; a prior chain nests inside.
            let mut act = json!({ "sub": actor.subject });
            if actor.client_id != actor.subject {
                act["client_id"] = Value::String(actor.client_id.clone());
            }
            if let Some(prior) = subject.claims.get("act") {
                act["act"] = prior.clone();
            }
            Some(act)
        }
    };

    // Never wider than the subject token (RFC 8693 §2.1 scope).
    let scopes = match req.scope.as_deref() {
        Some(raw) => {
            let asked =
                ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if let Some(extra) = asked.first_missing_from(&subject.scopes) {
                return Err(TokenError::InvalidScope(format!(
                    "scope `{extra}` is not in the subject token"
                )));
            }
            asked
        }
        None => subject.scopes.clone(),
    };
    let mut target = resolve_target(snapshot, client, &audiences, &scopes, &snapshot.issuer)?;
    if force_jwt {
        target.format = TokenFormat::Jwt;
    }
    // The new token never outlives the one it was exchanged for, so exchanging cannot extend
    // a token's life.
    target.ttl = target.ttl.min(subject.exp - now).max(1);
    let issued_type = if force_jwt {
        token_type::JWT
    } else {
        token_type::ACCESS_TOKEN
    };
    let claim_str = |name: &str| {
        subject
            .claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let token = AccessToken {
        subject: subject.subject.clone(),
        client_id: client.client_id.clone(),
        user: subject.user.as_ref().map(|u| u.id),
        family_id: subject.family_id.clone(),
        target,
        auth_time: subject.claims.get("auth_time").and_then(Value::as_i64),
        acr: claim_str("acr"),
        amr: subject
            .claims
            .get("amr")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        sid: claim_str("sid"),
        userinfo_claims: subject.userinfo_claims.clone(),
        act,
        binding,
    };
    let token_type = token.binding.token_type();
    let minted = mint(snapshot, &token, now)?;
    let scopes = &token.target.scopes;
    Ok(Minted {
        response: TokenResponse {
            access_token: minted.token,
            token_type,
            expires_in: token.target.ttl,
            scope: (!scopes.is_empty()).then(|| scopes.to_wire()),
            refresh_token: None,
            id_token: None,
            issued_token_type: Some(issued_type),
        },
        opaque: minted.record,
    })
}

/// An active token of this tenant, or `invalid_grant` naming the parameter (RFC 8693 §2.2.2).
/// A token said to be a JWT (`…:token-type:jwt`, RFC 8693 §3) must be one: an opaque handle
/// sent under that type is `invalid_request`.
async fn active(
    store: &Store,
    snapshot: &TenantSnapshot,
    token: &secrecy::SecretString,
    declared_type: &str,
    now: i64,
    what: &str,
) -> Result<ActiveToken, TokenError> {
    let token = secrecy::ExposeSecret::expose_secret(token);
    if declared_type == token_type::JWT && !is_jwt(token) {
        return Err(TokenError::InvalidRequest(format!(
            "the {what} is not a JWT, as its token type says"
        )));
    }
    match inspect(store, snapshot, token, now).await {
        Ok(Some(active)) => Ok(active),
        Ok(None) => Err(TokenError::InvalidGrant(format!(
            "the {what} is invalid, expired or revoked"
        ))),
        Err(BearerError::Unavailable) => Err(TokenError::Unavailable),
        Err(e) => Err(TokenError::Unexpected(anyhow::anyhow!("{e}"))),
    }
}
