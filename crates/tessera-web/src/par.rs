//! `POST /t/{tenant}/par`: pushed authorization requests (RFC 9126 §2). The client
//! authenticates as at the token endpoint, pushes the parameters of an authorization request
//! (or a request object, RFC 9101), which are checked at once exactly as `/authorize` would
//! check them, and gets back a one-time `request_uri` to send the browser to `/authorize` with.
//! A DPoP proof sent along binds the code to its key (RFC 9449 §10.1).
//! Every error is JSON (RFC 9126 §2.3), never a redirect.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_core::{Clock, OAuthErrorCode};
use tessera_keys::MasterKey;
use tessera_store::Store;
use tessera_tokens::{
    ClientAuthentication, MAX_BODY_BYTES, TokenError, parse_token_form, push_request,
};

use crate::authorize::{Params, Source, open_request_object, return_to, validate};
use crate::body::{is_form, read_limited};
use crate::{ActiveTenant, OAuthError, dpop};

/// Form parameters that authenticate the client rather than describe the request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// The RFC 9126 §2.2 success response.
#[derive(Serialize)]
struct Created {
    request_uri: String,
    expires_in: i64,
}

/// Handles a pushed authorization request.
pub async fn push(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    master: web::Data<MasterKey>,
) -> Result<HttpResponse, OAuthError> {
    let snapshot = tenant.0;
    if !is_form(&req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_limited(payload, MAX_BODY_BYTES).await?;
    let fail = |e: TokenError| OAuthError::from_token_error(e, &snapshot.issuer);

    // RFC 9126 §2: the client authenticates exactly as at the token endpoint.
    let mut credentials = parse_token_form(&body).map_err(fail)?;
    // Client ID Metadata Documents: a URL client_id may be fetched first, into a new snapshot.
    let snapshot =
        crate::client_metadata::for_backchannel(&req, &snapshot, credentials.client_id.as_deref())
            .await?;
    let authorization = match req.headers().get(AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| fail(TokenError::InvalidClient))?),
        None => None,
    };
    let auth = ClientAuthentication::from_request(authorization, &mut credentials).map_err(fail)?;
    let cert = crate::client_certificate(&req);
    let client = Arc::clone(
        crate::introspect::authenticate_client_of(&req, &snapshot, &auth, cert.as_ref())
            .await
            .map_err(fail)?,
    );
    tracing::Span::current().record("client_id", client.client_id.as_ref());

    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))?;
    let mut pairs: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| !CREDENTIALS.contains(&name.as_str()))
        .collect();
    // RFC 9126 §2.1: `client_id` is an authorization request parameter too; with
    // `client_secret_basic` the header carries it, and a body one must be the same.
    if !pairs.iter().any(|(n, v)| n == "client_id" && !v.is_empty()) {
        pairs.push(("client_id".to_owned(), client.client_id.to_string()));
    }
    let outer = Params::parse(pairs);
    let refused = |code: OAuthErrorCode, description: String| {
        OAuthError::new(StatusCode::BAD_REQUEST, code, description)
    };
    if let Some(name) = outer.repeated.as_deref() {
        return Err(refused(
            OAuthErrorCode::InvalidRequest,
            format!("{name} is repeated"),
        ));
    }
    if outer.get("client_id") != Some(client.client_id.as_ref()) {
        return Err(refused(
            OAuthErrorCode::InvalidRequest,
            "client_id is not the authenticated client".to_owned(),
        ));
    }
    // RFC 9126 §2.1: the request itself must be pushed, not a reference to it.
    if outer.get("request_uri").is_some() {
        return Err(refused(
            OAuthErrorCode::InvalidRequest,
            "request_uri is not allowed in a pushed authorization request".to_owned(),
        ));
    }

    let now = Clock.now();
    // RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key, as
    // `dpop_jkt` would.
    let proof = match dpop::check(&req, &snapshot, &master, &store, "/par", None, now).await {
        Ok(proof) => proof,
        Err(failure) => return Ok(dpop::token_endpoint_refusal(failure)),
    };
    let (mut params, source) =
        match open_request_object(&req, &snapshot, &outer, &client, now).await {
            Ok(Some(opened)) => opened,
            Ok(None) => (outer, Source::Plain),
            Err((code, description)) => return Err(refused(code, description)),
        };
    // RFC 9101 §10.5 (and RFC 9126 §3): such a client pushes a signed request object.
    if client.options.require_signed_request_object
        && source != (Source::RequestObject { signed: true })
    {
        return Err(refused(
            OAuthErrorCode::InvalidRequest,
            "this client must push a signed request object".to_owned(),
        ));
    }
    if let Some(proof) = proof {
        match params.get("dpop_jkt") {
            // RFC 9449 §10.1: both present, they must name the same key.
            Some(jkt) if jkt != proof.jkt => {
                return Err(refused(
                    OAuthErrorCode::InvalidDpopProof,
                    "dpop_jkt is not the thumbprint of the DPoP proof's key".to_owned(),
                ));
            }
            Some(_) => {}
            None => params.set("dpop_jkt", proof.jkt),
        }
    }
    // The same checks as /authorize, answered as JSON (RFC 9126 §2.3).
    let to = return_to(&params, &client)
        .map_err(|message| refused(OAuthErrorCode::InvalidRequest, message.to_owned()))?;
    validate(&snapshot, &params, &client, to, now)
        .map_err(|(code, description)| refused(code, description))?;

    let ttl = snapshot
        .tenant
        .settings
        .authorization
        .pushed_request_ttl_secs;
    let pushed = push_request(
        &store,
        snapshot.tenant.id,
        client.client_id.as_ref(),
        params.to_json(),
        ttl,
        now,
    )
    .await
    .map_err(fail)?;
    Ok(HttpResponse::Created()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(Created {
            request_uri: pushed.request_uri,
            expires_in: pushed.expires_in,
        }))
}
