//! The tokens the authorization endpoint itself returns in the implicit flow (OIDC Core §3.2:
//! `id_token`, `id_token token`) and the hybrid flow (§3.3: `code id_token`, `code token`,
//! `code id_token token`). Both are off by default: a client needs the `implicit` grant.
//!
//! - The code is the same single-use, PKCE-bound code as the code flow's ([`issue_code`]).
//! - An access token belongs to a token family of its own, so revoking the grant, logging out
//!   or withdrawing consent kills it like any other; no refresh token is ever issued here
//!   (RFC 6749 §4.2.2). It is a bearer token: nothing at the authorization endpoint can prove
//!   possession of a key, so clients that must use sender-constrained tokens are refused it.
//! - The ID token carries the request's `nonce` (required, OIDC Core §3.2.2.1), `at_hash` when
//!   an access token comes with it (§3.2.2.10) and `c_hash` when a code does (§3.3.2.11). With
//!   `response_type=id_token` no access token exists to call userinfo with, so the claims of the
//!   granted scopes go into the ID token itself (§5.4).

use std::sync::Arc;

use tessera_core::ResponseType;
use tessera_store::{AccessTokenRecord, ClientRecord, Store, UserRecord, access_tokens};
use tessera_tenants::TenantSnapshot;

use crate::access::{Binding, mint};
use crate::code::{CodeGrant, issue_code};
use crate::family::{NewFamily, UserGrant};
use crate::{Issuance, TokenError};

/// An access token returned by the authorization endpoint (OIDC Core §3.2.2.5).
#[derive(Debug, Clone)]
pub struct FrontChannelAccessToken {
    /// The token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime, seconds.
    pub expires_in: i64,
    /// The granted scopes, space-delimited.
    pub scope: String,
}

/// What the authorization response carries besides `state` and `iss`.
#[derive(Debug, Clone, Default)]
pub struct FrontChannelResponse {
    /// The authorization code, for `code …` response types.
    pub code: Option<String>,
    /// The access token, for `… token` response types.
    pub access_token: Option<FrontChannelAccessToken>,
    /// The ID token, for `… id_token …` response types.
    pub id_token: Option<String>,
}

impl FrontChannelResponse {
    /// The response parameters (OIDC Core §3.2.2.5, §3.3.2.5), in a stable order.
    pub fn into_params(self) -> Vec<(&'static str, String)> {
        let mut params = Vec::with_capacity(6);
        if let Some(code) = self.code {
            params.push(("code", code));
        }
        if let Some(at) = self.access_token {
            params.push(("access_token", at.access_token));
            params.push(("token_type", at.token_type.to_owned()));
            params.push(("expires_in", at.expires_in.to_string()));
            params.push(("scope", at.scope));
        }
        if let Some(id_token) = self.id_token {
            params.push(("id_token", id_token));
        }
        params
    }
}

/// A front-channel authorization whose database work is done (the code stored, the access
/// token's family created) and whose tokens remain to be signed with
/// [`FrontChannelIssuance::sign`], on whichever thread the caller chooses.
#[derive(Debug)]
pub struct FrontChannelIssuance {
    response_type: ResponseType,
    code: Option<String>,
    issuance: Issuance,
}

/// Signed tokens whose opaque access token, if any, must be stored before the client sees it.
#[derive(Debug)]
pub struct FrontChannelSigned {
    response: FrontChannelResponse,
    opaque: Option<AccessTokenRecord>,
}

/// Why a client may not use `response_type`, as `(unauthorized_client, description)`; `None`
/// when it may. Checked at the authorization request, before any sign-in.
pub fn front_channel_refusal(
    client: &ClientRecord,
    response_type: ResponseType,
) -> Option<&'static str> {
    use tessera_core::GrantType;
    if response_type.code && !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Some("the client may not use the authorization code grant");
    }
    if response_type.has_front_channel_token() && !client.grant_types.contains(&GrantType::Implicit)
    {
        return Some(
            "the client may not receive tokens from the authorization endpoint (implicit grant)",
        );
    }
    // RFC 9449 §5, RFC 8705 §3: a token handed out in a redirect is bound to nothing.
    let options = &client.options;
    if response_type.token
        && (options.require_dpop || options.tls_client_certificate_bound_access_tokens)
    {
        return Some(
            "the client must use sender-constrained access tokens, which the authorization endpoint cannot issue",
        );
    }
    None
}

/// Does the database work of a front-channel authorization of `grant` by the signed-in `user`
/// for `client`: stores the code and opens the access token's token family.
pub async fn authorize_front_channel(
    store: &Store,
    snapshot: &TenantSnapshot,
    client: &Arc<ClientRecord>,
    user: &UserRecord,
    grant: CodeGrant,
    response_type: ResponseType,
    now: i64,
) -> Result<FrontChannelIssuance, TokenError> {
    if front_channel_refusal(client, response_type).is_some() {
        return Err(TokenError::UnauthorizedClient("implicit"));
    }
    let claims_request = grant.claims_request.clone();
    let id_token_member = claims_request.as_ref().and_then(|c| c.get("id_token"));
    let id_token_claims = if response_type.token || response_type.code {
        // An access token comes now or from the token endpoint: scope claims are for userinfo.
        tessera_userinfo::id_token_claims(user, &grant.scopes, id_token_member)
    } else {
        tessera_userinfo::id_token_claims_without_access_token(user, &grant.scopes, id_token_member)
    };
    let userinfo_claims = tessera_userinfo::requested_names(
        claims_request.as_ref().and_then(|c| c.get("userinfo")),
        &grant.scopes,
    )
    .map(str::to_owned)
    .collect();
    let code = if response_type.code {
        Some(issue_code(store, snapshot, grant.clone(), now).await?)
    } else {
        None
    };
    // The access token's family: created only when one is issued, never with a refresh token.
    let family_id = if response_type.token {
        let mut new = NewFamily::open(
            snapshot,
            client,
            UserGrant {
                user_id: grant.user_id,
                sid: grant.sid.clone(),
                scopes: grant.scopes.clone(),
                auth_time: grant.auth_time,
                acr: grant.acr.clone(),
                amr: grant.amr.clone(),
                resources: grant.resources.clone(),
            },
            &Binding::default(),
            now,
        );
        new.refresh_token = None;
        let txn = store.begin().await?;
        new.insert(&txn, &snapshot.tenant.settings.tokens, now)
            .await?;
        txn.commit()
            .await
            .map_err(tessera_store::StoreError::from)?;
        new.family.id
    } else {
        // No access token is minted from this issuance: the ID token names no family.
        String::new()
    };
    Ok(FrontChannelIssuance {
        response_type,
        code,
        issuance: Issuance {
            client: Arc::clone(client),
            user: grant.user_id,
            family_id,
            scopes: grant.scopes,
            sid: grant.sid,
            auth_time: grant.auth_time,
            acr: grant.acr,
            amr: grant.amr,
            nonce: grant.nonce,
            id_token_claims,
            userinfo_claims,
            resources: grant.resources,
            refresh_token: None,
            binding: Binding::default(),
            now,
            encryption: None,
        },
    })
}

impl FrontChannelIssuance {
    /// Whether signing needs an RSA key (then keep it off the async reactor).
    pub fn signs_with_rsa(&self, snapshot: &TenantSnapshot) -> bool {
        self.issuance.signs_with_rsa(snapshot)
    }

    /// The issuance of the ID token, to resolve what it needs before signing (such as the
    /// client's encryption key).
    pub fn issuance_mut(&mut self) -> &mut Issuance {
        &mut self.issuance
    }

    /// Mints the access token (when asked for) and signs the ID token (when asked for) with
    /// `at_hash` and `c_hash` binding it to them.
    pub fn sign(self, snapshot: &TenantSnapshot) -> Result<FrontChannelSigned, TokenError> {
        let rt = self.response_type;
        let issuance = &self.issuance;
        let sub = snapshot.subject_for(&issuance.client, issuance.user);
        let (access_token, opaque) = if rt.token {
            let token = issuance.access_token(snapshot, &sub)?;
            let minted = mint(snapshot, &token, issuance.now)?;
            (
                Some(FrontChannelAccessToken {
                    access_token: minted.token,
                    token_type: "Bearer",
                    expires_in: token.target.ttl,
                    scope: token.target.scopes.to_wire(),
                }),
                minted.record,
            )
        } else {
            (None, None)
        };
        let id_token = if rt.id_token {
            Some(issuance.id_token(
                snapshot,
                &sub,
                access_token.as_ref().map(|a| a.access_token.as_str()),
                self.code.as_deref(),
            )?)
        } else {
            None
        };
        Ok(FrontChannelSigned {
            response: FrontChannelResponse {
                code: self.code,
                access_token,
                id_token,
            },
            opaque,
        })
    }
}

impl FrontChannelSigned {
    /// Stores the opaque access token's record (a JWT needs nothing) and hands out the
    /// response: the client never holds a handle the database does not know.
    pub async fn persist(self, store: &Store) -> Result<FrontChannelResponse, TokenError> {
        if let Some(record) = self.opaque {
            let work = {
                let store = store.clone();
                async move { access_tokens::insert(store.conn(), &record).await }
            };
            store.write(work).await?;
        }
        Ok(self.response)
    }
}
