//! `GET|POST /t/{tenant}/authorize` (RFC 6749 §3.1, OIDC Core §3.1.2). The client and its exact
//! redirect URI are checked before anything is redirected: an unknown client or unregistered URI
//! gets an HTML error page and never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11). Every other
//! fault is reported to the verified client with `error`, `error_description`, `state` and `iss`.
//! The request may come as a request object (`request`, RFC 9101) or as the `request_uri` of a
//! pushed request (RFC 9126 §4); the checks here are also those of `/par`. A valid request
//! continues in [`crate::flow`]: login, consent, code.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use tessera_core::{ClientType, Clock, OAuthErrorCode, ResponseType, ScopeSet};
use tessera_store::ClientRecord;
use tessera_tenants::TenantSnapshot;
use tessera_tokens::client_keys::ClientKeyResolver;
use tessera_tokens::{
    TokenError, is_pushed_request_uri, take_pushed_request, verify_request_object,
};

use crate::ActiveTenant;
use crate::flow::{Flow, FlowDeps};
use crate::form::read_form;
use crate::interaction::{INTERACTION_TTL, PendingAuthorization, ResponseMode, ReturnTo};

/// Parameters that must not repeat (RFC 6749 §3.1); the first value of each is kept.
const SINGLE: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "claims_locales",
    "acr_values",
    "display",
    "claims",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "registration",
    "dpop_jkt",
];

/// The request's parameters: first value of each, and the first single-valued one repeated.
pub(crate) struct Params {
    values: HashMap<String, String>,
    /// The first single-valued parameter that was repeated.
    pub(crate) repeated: Option<String>,
    /// Every `resource` (RFC 8707 §2: it may repeat).
    resources: Vec<String>,
}

impl Params {
    /// Reads form or query pairs.
    pub(crate) fn parse(pairs: Vec<(String, String)>) -> Self {
        let mut values = HashMap::new();
        let mut repeated = None;
        let mut resources = Vec::new();
        for (name, value) in pairs {
            // OAuth 2.1 §3.1: parameters sent without a value are treated as omitted.
            if value.is_empty() {
                continue;
            }
            if name == "resource" {
                resources.push(value);
                continue;
            }
            if values.contains_key(&name) {
                if SINGLE.contains(&name.as_str()) && repeated.is_none() {
                    repeated = Some(name);
                }
                continue;
            }
            values.insert(name, value);
        }
        Self {
            values,
            repeated,
            resources,
        }
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Sets `name` to `value`.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_owned(), value);
    }

    /// The parameters as stored for a pushed request.
    pub(crate) fn to_json(&self) -> Value {
        json!({ "values": self.values, "resources": self.resources })
    }

    /// Parameters stored by [`Params::to_json`].
    fn from_json(stored: Value) -> Option<Self> {
        let values = serde_json::from_value(stored.get("values")?.clone()).ok()?;
        let resources = serde_json::from_value(stored.get("resources")?.clone()).ok()?;
        Some(Self {
            values,
            repeated: None,
            resources,
        })
    }

    /// The parameters of a verified request object (RFC 9101 §5): only its own count, except
    /// `client_id`, which the outer request carries and the object may only repeat, and
    /// `response_type`, which OIDC Core §6.1 also requires outside: taken from outside when
    /// the object has none, refused when the two differ.
    fn from_request_object(outer: &Params, inner: Vec<(String, String)>) -> Result<Self, Refusal> {
        let mut params = Self::parse(inner);
        if let Some(name) = params.repeated.take() {
            return Err((
                OAuthErrorCode::InvalidRequestObject,
                format!("{name} is repeated in the request object"),
            ));
        }
        if let Some(id) = outer.get("client_id") {
            params.values.insert("client_id".to_owned(), id.to_owned());
        }
        match (outer.get("response_type"), params.get("response_type")) {
            (Some(o), Some(i)) if o != i => {
                return Err(refuse(
                    OAuthErrorCode::InvalidRequest,
                    "response_type differs inside and outside the request object",
                ));
            }
            (Some(o), None) => {
                params
                    .values
                    .insert("response_type".to_owned(), o.to_owned());
            }
            _ => {}
        }
        Ok(params)
    }
}

/// Where the authorization request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Plain query or form parameters.
    Plain,
    /// A request object by value (RFC 9101 §5.1); `signed` is false for `alg: none`.
    RequestObject {
        /// Whether it was signed.
        signed: bool,
    },
    /// A pushed request (RFC 9126 §4).
    Pushed,
}

/// The parameters of the request object of `params`, if it has one (RFC 9101 §5), and where
/// they came from.
pub(crate) async fn open_request_object(
    req: &HttpRequest,
    snapshot: &TenantSnapshot,
    params: &Params,
    client: &ClientRecord,
    now: i64,
) -> Result<Option<(Params, Source)>, Refusal> {
    let Some(jwt) = params.get("request") else {
        return Ok(None);
    };
    let Some(keys) = req.app_data::<web::Data<ClientKeyResolver>>() else {
        return Err(refuse(
            OAuthErrorCode::ServerError,
            "request objects cannot be checked",
        ));
    };
    let object = verify_request_object(jwt, client, &snapshot.issuer, now, keys)
        .await
        .map_err(|e| (OAuthErrorCode::InvalidRequestObject, e.0))?;
    let inner = Params::from_request_object(params, object.params)?;
    Ok(Some((
        inner,
        Source::RequestObject {
            signed: object.signed,
        },
    )))
}

/// `GET /t/{tenant}/authorize`.
pub async fn authorize_get(tenant: ActiveTenant, req: HttpRequest, deps: FlowDeps) -> HttpResponse {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).ok();
    handle(&deps.flow(&tenant.0), &req, pairs).await
}

/// `POST /t/{tenant}/authorize` (OIDC Core §3.1.2.1 allows form-encoded POST).
pub async fn authorize_post(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let pairs = read_form(&req, payload).await;
    handle(&deps.flow(&tenant.0), &req, pairs).await
}

async fn handle(
    flow: &Flow<'_>,
    req: &HttpRequest,
    pairs: Option<Vec<(String, String)>>,
) -> HttpResponse {
    let bad = |message: &str| {
        flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            message,
        )
    };
    let Some(pairs) = pairs else {
        return bad("The request is malformed.");
    };
    let outer = Params::parse(pairs);
    // A repeated client_id or redirect_uri leaves the redirect target unverified: no redirect.
    if matches!(
        outer.repeated.as_deref(),
        Some("client_id" | "redirect_uri")
    ) {
        return bad("A parameter is repeated.");
    }
    // Client ID Metadata Documents: a URL client_id may be fetched first, into a new snapshot.
    let refreshed =
        match crate::client_metadata::for_authorize(flow, req, outer.get("client_id")).await {
            Ok(refreshed) => refreshed,
            Err(page) => return page,
        };
    let flow = &crate::client_metadata::with_snapshot(flow, refreshed.as_ref());
    let Some(client) = outer
        .get("client_id")
        .and_then(|id| flow.snapshot.client(id))
    else {
        return bad("The application that sent you here is not registered with this provider.");
    };
    let now = Clock.now();
    let (params, source) = match resolve(flow, req, outer, client, now).await {
        Ok(resolved) => resolved,
        Err(Unresolved::Unavailable) => return flow.unavailable(),
        Err(Unresolved::Refused(outer, (code, description))) => {
            // The request's own redirect URI is unknown: answer at the outer one if it is
            // registered, else on the error page.
            return match return_to(&outer, client) {
                Ok(to) => crate::page::respond_error(
                    flow.templates,
                    flow.snapshot,
                    &to,
                    code,
                    &description,
                ),
                Err(_) => flow.error(StatusCode::BAD_REQUEST, code, &description),
            };
        }
    };
    let return_to = match return_to(&params, client) {
        Ok(to) => to,
        Err(message) => return bad(message),
    };
    let checked = policy(flow.snapshot, client, source)
        .and_then(|()| validate(flow.snapshot, &params, client, return_to.clone(), now));
    let pending = match checked {
        Ok(p) => p,
        Err((code, description)) => {
            return crate::page::respond_error(
                flow.templates,
                flow.snapshot,
                &return_to,
                code,
                &description,
            );
        }
    };
    let session = match flow.session(req).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    flow.proceed(req, pending, session, false, vec![]).await
}

/// Why the effective parameters could not be worked out.
enum Unresolved {
    /// Refused; the outer parameters say where the error may be sent.
    Refused(Box<Params>, Refusal),
    /// The database is unreachable.
    Unavailable,
}

/// The effective parameters of the request: those of the pushed request its `request_uri`
/// names (RFC 9126 §4: only `client_id` and `request_uri` count outside), of its request
/// object (RFC 9101 §5), or its own.
async fn resolve(
    flow: &Flow<'_>,
    req: &HttpRequest,
    outer: Params,
    client: &ClientRecord,
    now: i64,
) -> Result<(Params, Source), Unresolved> {
    use OAuthErrorCode as E;
    let Some(request_uri) = outer.get("request_uri") else {
        return match open_request_object(req, flow.snapshot, &outer, client, now).await {
            Ok(Some(opened)) => Ok(opened),
            Ok(None) => Ok((outer, Source::Plain)),
            Err(refusal) => Err(Unresolved::Refused(Box::new(outer), refusal)),
        };
    };
    if outer.get("request").is_some() {
        return Err(Unresolved::Refused(
            Box::new(outer),
            refuse(E::InvalidRequest, "send request or request_uri, not both"),
        ));
    }
    // Remote request URIs are never fetched; only those of our pushed requests are accepted.
    if !is_pushed_request_uri(request_uri) {
        return Err(Unresolved::Refused(
            Box::new(outer),
            refuse(
                E::RequestUriNotSupported,
                "only request_uri values from the pushed authorization request endpoint are supported",
            ),
        ));
    }
    let taken = take_pushed_request(
        flow.store,
        flow.snapshot.tenant.id,
        request_uri,
        client.client_id.as_ref(),
        now,
    )
    .await;
    match taken {
        Ok(Some(stored)) => match Params::from_json(stored) {
            Some(params) => Ok((params, Source::Pushed)),
            None => Err(Unresolved::Unavailable),
        },
        Ok(None) => Err(Unresolved::Refused(
            Box::new(outer),
            refuse(
                E::InvalidRequestUri,
                "the request_uri is unknown, expired, already used or not this client's",
            ),
        )),
        Err(TokenError::Unavailable) => Err(Unresolved::Unavailable),
        Err(e) => {
            tracing::error!(error = %e, "reading a pushed authorization request failed");
            Err(Unresolved::Unavailable)
        }
    }
}

/// The client's and the tenant's policies on how requests arrive: pushed only (RFC 9126 §6),
/// signed request objects only (RFC 9101 §10.5; a pushed request was checked when pushed).
fn policy(snapshot: &TenantSnapshot, client: &ClientRecord, source: Source) -> Result<(), Refusal> {
    let par_required = client.options.require_pushed_authorization_requests
        || snapshot
            .tenant
            .settings
            .authorization
            .require_pushed_authorization_requests;
    if par_required && source != Source::Pushed {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "this client must push its authorization requests to the pushed authorization request endpoint",
        ));
    }
    let signed = matches!(
        source,
        Source::RequestObject { signed: true } | Source::Pushed
    );
    if client.options.require_signed_request_object && !signed {
        return Err(refuse(
            OAuthErrorCode::InvalidRequest,
            "this client must send its authorization requests as a signed request object",
        ));
    }
    Ok(())
}

/// The verified redirect target of `params`: the `redirect_uri`, matched exactly against the
/// registration, or the one registered URI when it may be omitted. The error is for the page.
pub(crate) fn return_to(params: &Params, client: &ClientRecord) -> Result<ReturnTo, &'static str> {
    let redirect_uri = match params.get("redirect_uri") {
        // Exact string comparison (RFC 9700 §2.1, OIDC Core §3.1.2.1).
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        Some(_) => return Err("The redirect URI is not registered for this application."),
        // OIDC Core requires redirect_uri; plain OAuth may omit it with one registered URI.
        None if client.redirect_uris.len() == 1
            && !params
                .get("scope")
                .is_some_and(|s| s.split(' ').any(|x| x == "openid")) =>
        {
            client.redirect_uris[0].clone()
        }
        None => return Err("The request does not say where to return to (redirect_uri)."),
    };
    // Multiple Response Type Encoding Practices §5: the default for a response carrying tokens
    // is the fragment, and they are never put in the query, not even in an error to a request
    // that asked for it (`validate` refuses that request).
    let tokens = params
        .get("response_type")
        .and_then(ResponseType::parse)
        .is_some_and(ResponseType::has_front_channel_token);
    let mode = match params.get("response_mode").and_then(ResponseMode::parse) {
        Some(ResponseMode::Query) | None if tokens => ResponseMode::Fragment,
        Some(mode) => mode,
        None => ResponseMode::Query,
    };
    Ok(ReturnTo {
        redirect_uri,
        mode,
        state: params.get("state").map(str::to_owned),
    })
}

/// A refused request: the error code and its description.
pub(crate) type Refusal = (OAuthErrorCode, String);

fn refuse(code: OAuthErrorCode, description: &str) -> Refusal {
    (code, description.to_owned())
}

/// The checks after the client and redirect URI are verified (OIDC Core §3.1.2.2).
pub(crate) fn validate(
    snapshot: &TenantSnapshot,
    params: &Params,
    client: &ClientRecord,
    return_to: ReturnTo,
    now: i64,
) -> Result<PendingAuthorization, Refusal> {
    use OAuthErrorCode as E;
    if let Some(name) = &params.repeated {
        return Err((E::InvalidRequest, format!("{name} is repeated")));
    }
    if params
        .get("response_mode")
        .is_some_and(|m| ResponseMode::parse(m).is_none())
    {
        return Err(refuse(E::InvalidRequest, "unsupported response_mode"));
    }
    // Request objects and request URIs were opened before; one left here is nested or stray.
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(refuse(
            E::InvalidRequest,
            "request and request_uri cannot be used here",
        ));
    }
    if params.get("registration").is_some() {
        return Err(refuse(
            E::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    let response_type = match params.get("response_type") {
        None => return Err(refuse(E::InvalidRequest, "response_type is required")),
        Some(raw) => ResponseType::parse(raw).ok_or_else(|| {
            refuse(
                E::UnsupportedResponseType,
                "response_type must be code, or for clients allowed the implicit grant \
                 id_token, id_token token, code id_token, code token or code id_token token",
            )
        })?,
    };
    if let Some(why) = tessera_tokens::front_channel_refusal(client, response_type) {
        return Err(refuse(E::UnauthorizedClient, why));
    }
    if response_type.has_front_channel_token() {
        // Multiple Response Type Encoding Practices §5: tokens never travel in the query.
        if params.get("response_mode") == Some("query") {
            return Err(refuse(
                E::InvalidRequest,
                "response_mode=query cannot carry tokens; use fragment or form_post",
            ));
        }
        // OIDC Core §3.2.2.1, §3.3.2.11: nonce is required when an ID token comes from here.
        if response_type.requires_nonce() && params.get("nonce").is_none() {
            return Err(refuse(
                E::InvalidRequest,
                "nonce is required when the authorization endpoint returns an ID token",
            ));
        }
        // The implicit and hybrid flows are OpenID Connect flows (OIDC Core §3.2.2.1).
        if !params
            .get("scope")
            .is_some_and(|s| s.split(' ').any(|x| x == "openid"))
        {
            return Err(refuse(
                E::InvalidRequest,
                "the implicit and hybrid flows need the openid scope",
            ));
        }
    }

    let Some(raw_scope) = params.get("scope") else {
        return Err(refuse(E::InvalidScope, "scope is required"));
    };
    let mut requested = ScopeSet::parse(raw_scope).map_err(|e| (E::InvalidScope, e.to_string()))?;
    if let Some(scope) = requested.first_missing_from(&client.scopes) {
        return Err((
            E::InvalidScope,
            format!("the client may not request scope `{scope}`"),
        ));
    }

    let prompt: Vec<String> = params
        .get("prompt")
        .map(|p| {
            p.split(' ')
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for value in &prompt {
        if !matches!(
            value.as_str(),
            "none" | "login" | "consent" | "select_account"
        ) {
            return Err((
                E::InvalidRequest,
                format!("unsupported prompt value `{value}`"),
            ));
        }
    }
    // OIDC Core §3.1.2.1: `none` must stand alone.
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(refuse(
            E::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    // OIDC Core §11: offline_access is ignored unless the user is asked for consent.
    if requested.contains("offline_access") && !prompt.iter().any(|p| p == "consent") {
        requested = requested
            .iter()
            .filter(|s| s.as_ref() != "offline_access")
            .cloned()
            .collect();
    }

    let max_age = match params.get("max_age") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(refuse(
                    E::InvalidRequest,
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };

    // RFC 7636 §4.3; `plain` is refused (RFC 9700 §2.1.1), so the method is required.
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(refuse(
                E::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(_), m) if m != Some("S256") => {
            return Err(refuse(
                E::InvalidRequest,
                "code_challenge_method must be S256",
            ));
        }
        (Some(challenge), _) => {
            let ok = challenge.len() == 43 && pkce_charset(challenge);
            if !ok {
                return Err(refuse(
                    E::InvalidRequest,
                    "code_challenge is not a base64url SHA-256",
                ));
            }
            Some(challenge.to_owned())
        }
    };
    // Without a code (implicit flow) there is nothing for PKCE to protect.
    let code_challenge = code_challenge.filter(|_| response_type.code);
    if response_type.code
        && code_challenge.is_none()
        && (client.require_pkce || client.client_type == ClientType::Public)
    {
        return Err(refuse(
            E::InvalidRequest,
            "PKCE is required: send code_challenge with S256",
        ));
    }

    // RFC 8707 §2: each resource an absolute URI without fragment, and here one of the
    // tenant's resource servers (else `invalid_target`).
    if params.resources.len() > 10 {
        return Err(refuse(E::InvalidTarget, "too many resource indicators"));
    }
    for resource in &params.resources {
        if snapshot.resource_server(resource).is_none() {
            return Err(refuse(
                E::InvalidTarget,
                "resource is not an API registered with this provider",
            ));
        }
    }
    // RFC 9449 §10: the JWK thumbprint (base64url SHA-256) of the key the code is bound to.
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(jkt) if jkt.len() == 43 && pkce_charset(jkt) => Some(jkt.to_owned()),
        Some(_) => {
            return Err(refuse(
                E::InvalidRequest,
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
            ));
        }
    };

    let claims = match params.get("claims") {
        None => None,
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => return Err(refuse(E::InvalidRequest, "claims must be a JSON object")),
        },
    };

    let hint_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(
            hint_subject(snapshot, hint, client.client_id.as_ref()).ok_or_else(|| {
                refuse(
                    E::InvalidRequest,
                    "id_token_hint is not a valid ID token of this provider",
                )
            })?,
        ),
    };

    Ok(PendingAuthorization {
        tenant_id: snapshot.tenant.id,
        expires_at: now + INTERACTION_TTL,
        client_id: client.client_id.to_string(),
        redirect_uri_sent: params.get("redirect_uri").is_some(),
        return_to,
        response_type,
        scope: requested.to_wire(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: params
            .get("login_hint")
            .map(|h| h.chars().take(255).collect()),
        hint_sub,
        acr_values: params.get("acr_values").map(str::to_owned),
        claims,
        ui_locales: params.get("ui_locales").map(str::to_owned),
        sid: None,
        resources: params.resources.clone(),
        dpop_jkt,
    })
}

/// Whether `value` is made of base64url characters only.
fn pkce_charset(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Verifies an ID token we issued to `client_id` (OIDC Core §3.1.2.1: it may have expired) and
/// returns its `sub`.
fn hint_subject(snapshot: &TenantSnapshot, hint: &str, client_id: &str) -> Option<String> {
    let claims = snapshot.keys.verify(hint).ok()?;
    if claims.get("iss").and_then(Value::as_str) != Some(snapshot.issuer.as_str()) {
        return None;
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return None;
    }
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}
