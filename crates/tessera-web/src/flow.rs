//! The steps after a request is validated, shared by `/authorize`, `/login` and `/consent`:
//! decide whether the user must sign in (no session, `prompt=login`, `max_age`, a different
//! `id_token_hint` subject), whether consent is needed, then issue the code and answer the client.

use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::json;
use tessera_authn::{ActiveSession, Authenticator};
use tessera_core::encryption::EncryptedResponse;
use tessera_core::{Clock, OAuthErrorCode, ScopeSet};
use tessera_keys::MasterKey;
use tessera_store::Store;
use tessera_store::UserRecord;
use tessera_tenants::TenantSnapshot;
use tessera_tokens::client_keys::{ClientKeyResolver, encryption_recipient};
use tessera_tokens::{CodeGrant, TokenError};

use crate::form::{field, read_form};
use crate::interaction::{PendingAuthorization, ResponseMode};
use crate::page::{self, Page};
use crate::{Templates, cookies};

/// Everything a browser-flow handler needs.
pub struct Flow<'a> {
    /// The tenant.
    pub snapshot: &'a Arc<TenantSnapshot>,
    /// Page templates.
    pub templates: &'a Templates,
    /// Seals pending requests.
    pub master: &'a MasterKey,
    /// Users and sessions.
    pub authn: &'a Authenticator,
    /// The database.
    pub store: &'a Store,
    /// Fetches clients' keys (ID tokens encrypted to them, OIDC Core §10.2).
    pub keys: Option<&'a ClientKeyResolver>,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub proxies: Option<&'a crate::TrustedProxies>,
}

/// The app data every browser-flow handler needs, extracted as one value.
pub struct FlowDeps {
    templates: web::Data<Templates>,
    master: web::Data<MasterKey>,
    authn: web::Data<Authenticator>,
    store: web::Data<Store>,
    proxies: Option<web::Data<crate::TrustedProxies>>,
    keys: Option<web::Data<ClientKeyResolver>>,
}

impl FromRequest for FlowDeps {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let deps = (|| {
            Some(Self {
                templates: req.app_data::<web::Data<Templates>>()?.clone(),
                master: req.app_data::<web::Data<MasterKey>>()?.clone(),
                authn: req.app_data::<web::Data<Authenticator>>()?.clone(),
                store: req.app_data::<web::Data<Store>>()?.clone(),
                proxies: req.app_data::<web::Data<crate::TrustedProxies>>().cloned(),
                keys: req.app_data::<web::Data<ClientKeyResolver>>().cloned(),
            })
        })();
        std::future::ready(deps.ok_or_else(|| {
            actix_web::error::ErrorInternalServerError("sign-in services are not configured")
        }))
    }
}

impl FlowDeps {
    /// The flow for `tenant`.
    pub fn flow<'a>(&'a self, snapshot: &'a Arc<TenantSnapshot>) -> Flow<'a> {
        Flow {
            snapshot,
            templates: &self.templates,
            master: &self.master,
            authn: &self.authn,
            store: &self.store,
            keys: self.keys.as_ref().map(|k| k.get_ref()),
            proxies: self.proxies.as_ref().map(|p| p.get_ref()),
        }
    }

    /// The client's address (through trusted proxies).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<std::net::IpAddr> {
        match &self.proxies {
            Some(p) => p.client_ip(req),
            None => req.peer_addr().map(|a| a.ip()),
        }
    }
}

/// Audit action: a user signed in (a session started; `amr` says how).
pub const SIGNED_IN: &str = "user.signed_in";
/// Audit action: a sign-in was refused (wrong password, unknown user, throttled, disabled).
pub const SIGN_IN_FAILED: &str = "user.sign_in_failed";
/// Audit action: the failed sign-in that locked the account or address.
pub const LOCKED: &str = "user.locked";
/// Audit action: a user granted an application access (the consent page).
pub const CONSENT_GRANTED: &str = "consent.granted";

/// The scope that can never be unticked on the consent page: without it there is no sign-in.
const REQUIRED_SCOPE: &str = "openid";

impl Flow<'_> {
    /// The client's address (through trusted proxies).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<std::net::IpAddr> {
        match self.proxies {
            Some(p) => p.client_ip(req),
            None => req.peer_addr().map(|a| a.ip()),
        }
    }

    /// A new audit event of `action` by `actor` in this tenant, with the request's client
    /// address and user agent.
    pub fn audit_event(
        &self,
        req: &HttpRequest,
        action: &str,
        actor: impl Into<String>,
    ) -> tessera_store::AuditEventRecord {
        tessera_store::AuditEventRecord::new(self.snapshot.tenant.id, action, actor).origin(
            self.client_ip(req).map(|ip| ip.to_string()),
            req.headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        )
    }

    /// The error page.
    pub fn error(&self, status: StatusCode, code: OAuthErrorCode, message: &str) -> HttpResponse {
        page::error(self.templates, self.snapshot, status, code, message)
    }

    /// 503 page when the database is unreachable.
    pub fn unavailable(&self) -> HttpResponse {
        self.error(
            StatusCode::SERVICE_UNAVAILABLE,
            OAuthErrorCode::TemporarilyUnavailable,
            "The service is temporarily unavailable. Please try again in a moment.",
        )
    }

    /// Continues a validated request. `fresh` means the user authenticated in this very request,
    /// so `prompt=login` and `max_age` are already satisfied.
    pub async fn proceed(
        &self,
        req: &HttpRequest,
        mut pending: PendingAuthorization,
        session: Option<ActiveSession>,
        fresh: bool,
        cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        let now = Clock.now();
        let prompt_none = pending.prompts("none");
        let Some(active) = session else {
            if prompt_none {
                return self.refuse(
                    &pending,
                    OAuthErrorCode::LoginRequired,
                    "the user is not signed in",
                );
            }
            return self.login_page(req, &pending, None, StatusCode::OK, None, cookies);
        };
        if !fresh {
            let too_old = pending
                .max_age
                // max_age=0 means "authenticate now" (OIDC Core §3.1.2.1).
                .is_some_and(|max| max == 0 || now - active.session.auth_time > max);
            // The hint's `sub`, and a `sub` requested by value in the `claims` parameter (OIDC
            // Core §5.5.1), are the client's view of the user: pairwise for a pairwise client.
            let sub = self.subject_of(&pending, &active);
            let other_user = pending.hint_sub.as_deref().is_some_and(|h| h != sub)
                || !tessera_userinfo::subject_matches(pending.claims.as_ref(), &sub);
            if prompt_none && (too_old || other_user) {
                return self.refuse(
                    &pending,
                    OAuthErrorCode::LoginRequired,
                    if too_old {
                        "the authentication is older than max_age"
                    } else {
                        "the signed-in user is not the one the id_token_hint names"
                    },
                );
            }
            if too_old
                || other_user
                || pending.prompts("login")
                || pending.prompts("select_account")
            {
                let hint = Some(active.user.username.clone());
                return self.login_page(req, &pending, None, StatusCode::OK, hint, cookies);
            }
        }

        // Step-up (OIDC Core §3.1.2.1 `acr_values`, §5.5.1.1 essential `acr`): a second factor
        // the session lacks is asked for before the flow goes on.
        let cookies = match crate::mfa::step_up(self, req, &pending, &active, cookies).await {
            Ok(cookies) => cookies,
            Err(response) => return *response,
        };
        // RFC 8628 §5.4: a device authorization always asks the signed-in user to compare the
        // code and consent, whatever was remembered.
        if pending.return_to.mode == ResponseMode::Device {
            return crate::device::confirm_page(self, req, pending, &active, cookies);
        }
        let Some(client) = self.snapshot.client(&pending.client_id).cloned() else {
            return self.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "The application is no longer registered with this provider.",
            );
        };
        let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
        let remembered = match tessera_consent::granted(
            self.store.conn(),
            self.snapshot.tenant.id,
            active.user.id,
            &client.client_id,
        )
        .await
        {
            Ok(r) => r,
            Err(e) if e.is_unavailable() => return self.unavailable(),
            Err(e) => {
                tracing::error!(error = %e, "reading consent failed");
                return self.unavailable();
            }
        };
        if tessera_consent::needs_consent(
            &client,
            &requested,
            remembered.as_ref(),
            pending.prompts("consent"),
        ) {
            if prompt_none {
                return self.refuse(
                    &pending,
                    OAuthErrorCode::ConsentRequired,
                    "the user has not consented",
                );
            }
            pending.sid = Some(active.session.sid.clone());
            return self.consent_page(req, &pending, &active, &requested, cookies);
        }
        self.issue(&pending, &active, requested, cookies).await
    }

    /// Issues the code for `granted` and sends it to the client.
    pub async fn issue(
        &self,
        pending: &PendingAuthorization,
        active: &ActiveSession,
        granted: ScopeSet,
        cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        // A device authorization (RFC 8628) is decided at `/device/confirm`, never answered
        // with a code: its sealed request sent to `/consent` gets the error page.
        if pending.return_to.mode == ResponseMode::Device {
            return self.refuse(
                pending,
                OAuthErrorCode::InvalidRequest,
                "a device authorization is confirmed on the device page",
            );
        }
        let Some(client) = self.snapshot.client(&pending.client_id) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "The application is no longer registered with this provider.",
            );
        };
        // OIDC Core §5.5.1: no code for another user than the `sub` the claims request names.
        let sub = self.snapshot.subject_for(client, active.user.id);
        // The user did sign in: the session (its cookies) is kept either way.
        let denied = |description: &str, cookies| {
            page::respond(
                self.templates,
                self.snapshot,
                &pending.return_to,
                vec![
                    ("error", OAuthErrorCode::AccessDenied.as_str().to_owned()),
                    ("error_description", description.to_owned()),
                ],
                cookies,
            )
        };
        if !tessera_userinfo::subject_matches(pending.claims.as_ref(), &sub) {
            return denied(
                "the signed-in user is not the one the claims request names",
                cookies,
            );
        }
        // OIDC Core §5.5.1.1: an essential acr that cannot be met is a failed authentication.
        if !tessera_userinfo::acr_satisfies(pending.claims.as_ref(), active.session.acr.as_deref())
        {
            return denied(
                "the authentication does not meet the essential acr the request requires",
                cookies,
            );
        }
        let grant = CodeGrant {
            client_id: client.client_id.clone(),
            user_id: active.user.id,
            redirect_uri: if pending.redirect_uri_sent {
                pending.return_to.redirect_uri.clone()
            } else {
                String::new()
            },
            scopes: granted,
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            code_challenge_method: pending.code_challenge.as_ref().map(|_| "S256".to_owned()),
            sid: Some(active.session.sid.clone()),
            auth_time: active.session.auth_time,
            acr: active.session.acr.clone(),
            amr: active.session.amr.clone(),
            claims_request: pending.claims.clone(),
            resources: pending.resources.clone(),
            dpop_jkt: pending.dpop_jkt.clone(),
        };
        if pending.response_type.has_front_channel_token() {
            let client = Arc::clone(client);
            return self
                .issue_front_channel(pending, active, &client, grant, cookies)
                .await;
        }
        match tessera_tokens::issue_code(self.store, self.snapshot, grant, Clock.now()).await {
            Ok(code) => page::respond(
                self.templates,
                self.snapshot,
                &pending.return_to,
                vec![("code", code)],
                cookies,
            ),
            Err(e) => {
                tracing::error!(error = %e, "issuing an authorization code failed");
                page::respond_error(
                    self.templates,
                    self.snapshot,
                    &pending.return_to,
                    OAuthErrorCode::TemporarilyUnavailable,
                    "the authorization server could not complete the request",
                )
            }
        }
    }

    /// The implicit and hybrid flows (OIDC Core §3.2–§3.3): the code, access token and ID token
    /// the response type asks for, sent in the fragment or a form post.
    async fn issue_front_channel(
        &self,
        pending: &PendingAuthorization,
        active: &ActiveSession,
        client: &Arc<tessera_store::ClientRecord>,
        grant: CodeGrant,
        cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        let now = Clock.now();
        let failed = |e: TokenError| {
            let (code, description) = match e {
                TokenError::UnauthorizedClient(_) => (
                    OAuthErrorCode::UnauthorizedClient,
                    "the client may not receive tokens from the authorization endpoint".to_owned(),
                ),
                // Its description is safe to show (the encryption key that cannot be had).
                TokenError::InvalidRequest(why) => (OAuthErrorCode::InvalidRequest, why),
                e => {
                    tracing::error!(error = %e, "issuing front-channel tokens failed");
                    (
                        OAuthErrorCode::TemporarilyUnavailable,
                        "the authorization server could not complete the request".to_owned(),
                    )
                }
            };
            page::respond_error(
                self.templates,
                self.snapshot,
                &pending.return_to,
                code,
                &description,
            )
        };
        // OIDC Core §10.2: an ID token for a client registered for encryption is encrypted to
        // its key, found before anything is stored; none goes out unencrypted instead.
        let mut recipient = None;
        if pending.response_type.id_token
            && client
                .options
                .encryption(EncryptedResponse::IdToken)
                .is_some()
        {
            let Some(keys) = self.keys else {
                return failed(TokenError::Unavailable);
            };
            match encryption_recipient(keys, client, EncryptedResponse::IdToken).await {
                Ok(found) => recipient = found,
                Err(e) => {
                    tracing::warn!(client_id = %client.client_id, error = %e, "ID token encryption key unavailable");
                    return failed(tessera_tokens::encryption_key_unavailable(&e));
                }
            }
        }
        let mut issued = match tessera_tokens::authorize_front_channel(
            self.store,
            self.snapshot,
            client,
            &active.user,
            grant,
            pending.response_type,
            now,
        )
        .await
        {
            Ok(issued) => issued,
            Err(e) => return failed(e),
        };
        let encrypting = recipient.is_some();
        issued.issuance_mut().set_encryption(recipient);
        // RSA signing and encryption cost about a millisecond of CPU: off the reactor.
        let signed = if encrypting || issued.signs_with_rsa(self.snapshot) {
            let snap = Arc::clone(self.snapshot);
            match web::block(move || issued.sign(&snap)).await {
                Ok(signed) => signed,
                Err(_) => Err(TokenError::Unavailable),
            }
        } else {
            issued.sign(self.snapshot)
        };
        let response = match signed {
            Ok(signed) => signed.persist(self.store).await,
            Err(e) => Err(e),
        };
        match response {
            Ok(response) => page::respond(
                self.templates,
                self.snapshot,
                &pending.return_to,
                response.into_params(),
                cookies,
            ),
            Err(e) => failed(e),
        }
    }

    /// The `sub` of the signed-in user as the requesting client sees it (OIDC Core §8).
    fn subject_of(&self, pending: &PendingAuthorization, active: &ActiveSession) -> String {
        self.snapshot.client(&pending.client_id).map_or_else(
            || active.user.id.to_string(),
            |c| self.snapshot.subject_for(c, active.user.id),
        )
    }

    /// Answers the client with an error.
    pub fn refuse(
        &self,
        pending: &PendingAuthorization,
        code: OAuthErrorCode,
        description: &str,
    ) -> HttpResponse {
        page::respond_error(
            self.templates,
            self.snapshot,
            &pending.return_to,
            code,
            description,
        )
    }

    fn client_name(&self, pending: &PendingAuthorization) -> String {
        self.snapshot
            .client(&pending.client_id)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    /// The login page, with an optional message.
    pub fn login_page(
        &self,
        req: &HttpRequest,
        pending: &PendingAuthorization,
        error: Option<String>,
        status: StatusCode,
        username: Option<String>,
        mut cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        let Some(sealed) = pending.seal(self.master) else {
            return self.unavailable();
        };
        let (csrf, csrf_cookie) = cookies::csrf_token(req, self.snapshot);
        cookies.extend(csrf_cookie);
        let username = username.or_else(|| pending.login_hint.clone());
        page::render(
            self.templates,
            self.snapshot,
            status,
            Page {
                name: "login",
                title: "Sign in",
                data: json!({
                    "action": format!("{}/login", self.snapshot.issuer),
                    "csrf_token": csrf,
                    "request": sealed,
                    "username": username,
                    "error": error,
                    "client_name": self.client_name(pending),
                    "passkey_action": crate::passkeys::sign_in_action(self.snapshot),
                    "signup_url": crate::signup::signup_url(self.snapshot, Some(&sealed)),
                    "forgot_url": crate::recovery::forgot_url(self.snapshot, Some(&sealed)),
                }),
            },
            cookies,
        )
    }

    /// The consent page listing each requested scope with its description.
    fn consent_page(
        &self,
        req: &HttpRequest,
        pending: &PendingAuthorization,
        active: &ActiveSession,
        requested: &ScopeSet,
        mut cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        let Some(sealed) = pending.seal(self.master) else {
            return self.unavailable();
        };
        let (csrf, csrf_cookie) = cookies::csrf_token(req, self.snapshot);
        cookies.extend(csrf_cookie);
        let scopes: Vec<_> = requested
            .iter()
            .map(|scope| {
                let description = self
                    .snapshot
                    .scopes
                    .iter()
                    .find(|d| &d.name == scope)
                    .map(|d| d.description.clone())
                    .unwrap_or_else(|| scope.to_string());
                json!({
                    "name": scope.as_ref(),
                    "description": description,
                    "required": scope.as_ref() == REQUIRED_SCOPE,
                })
            })
            .collect();
        page::render(
            self.templates,
            self.snapshot,
            StatusCode::OK,
            Page {
                name: "consent",
                title: "Allow access?",
                data: json!({
                    "action": format!("{}/consent", self.snapshot.issuer),
                    "csrf_token": csrf,
                    "request": sealed,
                    "client_name": self.client_name(pending),
                    "username": active.user.username,
                    "scopes": scopes,
                }),
            },
            cookies,
        )
    }

    /// Reads a browser form and checks its CSRF token, or answers with the error page; `retry`
    /// follows "This form has expired or was not sent by this site." and says what to do.
    pub async fn checked_form(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        retry: &str,
    ) -> Result<Vec<(String, String)>, HttpResponse> {
        let Some(form) = read_form(req, payload).await else {
            return Err(self.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "The form is malformed.",
            ));
        };
        if !cookies::csrf_ok(req, self.snapshot, field(&form, "csrf_token")) {
            return Err(self.error(
                StatusCode::FORBIDDEN,
                OAuthErrorCode::AccessDenied,
                &format!("This form has expired or was not sent by this site. {retry}"),
            ));
        }
        Ok(form)
    }

    /// Ends the browser's previous session at this tenant (one session per browser) and starts
    /// a new one for `user` with `amr` (RFC 8176 §2) and `acr`; returns it with its cookie, or
    /// the 503 page.
    pub async fn start_session(
        &self,
        req: &HttpRequest,
        user: UserRecord,
        amr: Vec<String>,
        acr: &str,
        now: i64,
    ) -> Result<(ActiveSession, Cookie<'static>), HttpResponse> {
        let tenant = &self.snapshot.tenant;
        if let Some(old) = cookies::session_value(req, self.snapshot)
            && let Err(e) = self.authn.end_session(tenant.id, &old).await
        {
            tracing::warn!(error = %e, "ending the previous session failed");
        }
        let started = match self
            .authn
            .start_session(tenant, &user, amr, Some(acr.to_owned()), now)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "starting a session failed");
                return Err(self.unavailable());
            }
        };
        let cookie = cookies::session_cookie(self.snapshot, started.cookie_value.expose_secret());
        let event = self
            .audit_event(req, SIGNED_IN, format!("user:{}", user.id))
            .user(user.id)
            .details(serde_json::json!({ "amr": started.session.amr, "acr": acr }));
        tessera_store::audit::record(self.store.conn(), event).await;
        let active = ActiveSession {
            session: started.session,
            user,
        };
        Ok((active, cookie))
    }

    /// After a sign-in: the pending authorization goes on with the new session, or (signed in
    /// from the account page) the account page opens.
    pub async fn signed_in(
        &self,
        req: &HttpRequest,
        pending: Option<PendingAuthorization>,
        active: ActiveSession,
        cookie: Cookie<'static>,
    ) -> HttpResponse {
        match pending {
            Some(pending) => {
                self.proceed(req, pending, Some(active), true, vec![cookie])
                    .await
            }
            None => HttpResponse::SeeOther()
                .cookie(cookie)
                .insert_header((LOCATION, format!("{}/account", self.snapshot.issuer)))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish(),
        }
    }

    /// The live session of the browser at this tenant, if any.
    pub async fn session(&self, req: &HttpRequest) -> Result<Option<ActiveSession>, HttpResponse> {
        let Some(value) = cookies::session_value(req, self.snapshot) else {
            return Ok(None);
        };
        match self
            .authn
            .session(&self.snapshot.tenant, &value, Clock.now())
            .await
        {
            Ok(session) => Ok(session),
            Err(e) => {
                tracing::error!(error = %e, "reading the session failed");
                Err(self.unavailable())
            }
        }
    }
}

/// Whether `scope` may be left out of a consent: everything but `openid`.
pub fn is_optional(scope: &str) -> bool {
    scope != REQUIRED_SCOPE
}
