//! `/tenants/{slug}/users`: create, list, read, update, disable, enable and delete a tenant's
//! users and set their passwords. Users are addressed by username (case-insensitive). A password
//! goes in, never out: responses carry no hash, only whether the user has a password. A user may
//! hold an admin role (`role`) that lets it use the admin API through the admin console.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tessera_authn::{Authenticator, AuthnError, NewUser, UserPatch};
use tessera_core::{AdminRole, UserId, UserStatus};
use tessera_store::{StandardClaims, TenantRecord, UserRecord};
use tessera_tenants::TenantAdmin;

use crate::events::{Subject, record_in};
use crate::{AdminError, AdminPrincipal, Body, PREFIX, Query};

/// Page size when `limit` is absent, in the listings paged by [`page_limit`].
const DEFAULT_LIMIT: u64 = 50;
/// Largest page size of the user and client listings.
pub(crate) const MAX_LIMIT: u64 = 1000;
/// Longest `search` of a user or client listing, characters.
const MAX_SEARCH_CHARS: usize = 200;

/// The page size a listing's `limit` asks for: [`DEFAULT_LIMIT`] when absent, else 1 to `max`.
pub(crate) fn page_limit(limit: Option<u64>, max: u64) -> Result<u64, AdminError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=max).contains(&limit) {
        return Err(AdminError::InvalidRequest(format!(
            "limit must be between 1 and {max}"
        )));
    }
    Ok(limit)
}

/// A listing's `search` text: none when empty, refused beyond [`MAX_SEARCH_CHARS`].
pub(crate) fn checked_search(search: Option<&str>) -> Result<Option<&str>, AdminError> {
    let search = search.filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
        return Err(AdminError::InvalidRequest(format!(
            "search must be at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    Ok(search)
}

/// The cursor of the page after `items`: the last item's `key` when the page is full (there may
/// be more), else none.
pub(crate) fn next_cursor<T, K>(items: &[T], limit: u64, key: impl Fn(&T) -> K) -> Option<K> {
    let full = u64::try_from(items.len()).is_ok_and(|n| n == limit);
    if full { items.last().map(key) } else { None }
}

impl From<AuthnError> for AdminError {
    fn from(err: AuthnError) -> Self {
        match err {
            AuthnError::NotFound => AdminError::NotFound("user"),
            AuthnError::Conflict => {
                AdminError::Conflict("a user with this username already exists".into())
            }
            AuthnError::Invalid(why) => AdminError::InvalidRequest(why),
            AuthnError::Unavailable => AdminError::Unavailable,
            AuthnError::Unexpected(e) => AdminError::Unexpected(e),
        }
    }
}

/// A user as the admin API shows it: the record without its password hash, plus whether it has
/// a password at all.
#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    #[serde(flatten)]
    user: UserRecord,
    has_password: bool,
    /// The admin role (`null` for none); absent where it was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Option<AdminRole>>,
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        Self {
            has_password: user.password_hash.is_some(),
            user,
            role: None,
        }
    }
}

impl UserView {
    /// The view with the user's admin role.
    fn with_role(user: UserRecord, role: Option<AdminRole>) -> Self {
        Self {
            role: Some(role),
            ..Self::from(user)
        }
    }
}

/// Checks that users of `tenant` may hold `role`: `operator` and `auditor` (of every tenant) in
/// the system tenant, `tenant_admin` and `auditor` (of that tenant) elsewhere.
fn check_role(tenant: &TenantRecord, role: Option<AdminRole>) -> Result<(), AdminError> {
    match (role, tenant.is_system) {
        (None, _)
        | (Some(AdminRole::Operator | AdminRole::Auditor), true)
        | (Some(AdminRole::TenantAdmin | AdminRole::Auditor), false) => Ok(()),
        (Some(AdminRole::TenantAdmin), true) => Err(AdminError::InvalidRequest(
            "users of the system tenant hold operator or auditor, not tenant_admin".into(),
        )),
        (Some(AdminRole::Operator), false) => Err(AdminError::InvalidRequest(
            "only users of the system tenant may be operators; use tenant_admin or auditor".into(),
        )),
    }
}

/// A store failure of the role queries.
fn role_store_error(err: tessera_store::StoreError) -> AdminError {
    match err {
        tessera_store::StoreError::NotFound => AdminError::NotFound("user"),
        e if e.is_unavailable() => AdminError::Unavailable,
        e => AdminError::Unexpected(anyhow::Error::new(e).context("user admin role")),
    }
}

/// The admin role of `user`, read from the store.
async fn role_of(admin: &TenantAdmin, user: &UserRecord) -> Result<Option<AdminRole>, AdminError> {
    tessera_store::users::admin_role(admin.store().conn(), user.tenant_id, user.id)
        .await
        .map_err(role_store_error)
}

/// Sets the admin role of `user` (already checked with [`check_role`]) and records
/// `user.role_changed` when it changed.
async fn change_role(
    req: &HttpRequest,
    principal: &AdminPrincipal,
    admin: &TenantAdmin,
    user: &UserRecord,
    from: Option<AdminRole>,
    to: Option<AdminRole>,
) -> Result<(), AdminError> {
    if from == to {
        return Ok(());
    }
    tessera_store::users::set_admin_role(
        admin.store().conn(),
        user.tenant_id,
        user.id,
        to,
        tessera_core::Clock.now(),
    )
    .await
    .map_err(role_store_error)?;
    tracing::info!(admin = %principal, user = %user.id, from = ?from, to = ?to, "admin API changed a user's admin role");
    let details = serde_json::json!({ "username": user.username, "from": from, "to": to });
    record_in(
        admin,
        user.tenant_id,
        principal,
        req,
        "user.role_changed",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(())
}

/// One page of users in creation order; `next` is the `after` of the following page, `null` on
/// the last one.
#[derive(Serialize)]
struct Page {
    items: Vec<UserView>,
    next: Option<UserId>,
}

/// `GET /tenants/{slug}/users` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Return users created after the user with this id (the previous page's `next`).
    after: Option<UserId>,
    /// Only users whose username or e-mail address starts with this (case-insensitive).
    search: Option<String>,
    /// Page size, 1 to 1000.
    limit: Option<u64>,
    /// Only users holding this admin role (not combined with `search`).
    role: Option<AdminRole>,
}

/// `POST /tenants/{slug}/users` body. Standard claims go in `claims`, or directly as top-level
/// members (`"given_name": "Alice"`); any other member is refused.
#[derive(Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct CreateUser {
    username: String,
    email: Option<String>,
    email_verified: bool,
    claims: StandardClaims,
    /// Without one, the user cannot sign in with a password until one is set.
    password: Option<SecretString>,
    /// An admin role for the admin console; `null` or absent for none.
    role: Option<AdminRole>,
}

impl TryFrom<Map<String, Value>> for CreateUser {
    type Error = String;

    fn try_from(mut body: Map<String, Value>) -> Result<Self, String> {
        let username = member(&mut body, "username")?.ok_or("missing field `username`")?;
        let email = member(&mut body, "email")?;
        let email_verified = member(&mut body, "email_verified")?.unwrap_or(false);
        let password = member(&mut body, "password")?;
        let role = member(&mut body, "role")?;
        let claims = claims_members(body)?;
        let claims = serde_json::from_value(Value::Object(claims)).map_err(|e| e.to_string())?;
        Ok(Self {
            username,
            email,
            email_verified,
            claims,
            password,
            role,
        })
    }
}

/// `PATCH /tenants/{slug}/users/{username}` body. `claims` (or claims given as top-level members)
/// is a JSON Merge Patch (RFC 7396) over the current claims: a member set to `null` removes that
/// claim.
#[derive(Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct PatchUser {
    /// Absent: unchanged; `null`: removed; a string: replaced.
    email: Option<Option<String>>,
    email_verified: Option<bool>,
    claims: Option<Value>,
    /// Absent: unchanged; `null`: removed; a role: granted.
    role: Option<Option<AdminRole>>,
}

impl TryFrom<Map<String, Value>> for PatchUser {
    type Error = String;

    fn try_from(mut body: Map<String, Value>) -> Result<Self, String> {
        let email = match body.remove("email") {
            None => None,
            Some(v) => Some(serde_json::from_value(v).map_err(|e| format!("email: {e}"))?),
        };
        let email_verified = member(&mut body, "email_verified")?;
        let role = match body.remove("role") {
            None => None,
            Some(v) => Some(serde_json::from_value(v).map_err(|e| format!("role: {e}"))?),
        };
        let claims = if body.is_empty() {
            None
        } else {
            Some(Value::Object(claims_members(body)?))
        };
        Ok(Self {
            email,
            email_verified,
            claims,
            role,
        })
    }
}

/// Removes and parses one member; `null` counts as absent.
fn member<T: serde::de::DeserializeOwned>(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, String> {
    match body.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// The claims of a body: its `claims` object plus every other remaining member (a standard
/// claim given at the top level). Whether each is a standard claim is checked when they are
/// parsed into [`StandardClaims`].
pub(crate) fn claims_members(mut body: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut claims = match body.remove("claims") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(claims)) => claims,
        Some(_) => return Err("claims must be a JSON object".into()),
    };
    for (name, value) in body {
        if claims.contains_key(&name) {
            return Err(format!("claim `{name}` is given twice"));
        }
        claims.insert(name, value);
    }
    Ok(claims)
}

/// `POST /tenants/{slug}/users/{username}/password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPassword {
    password: SecretString,
}

/// Applies an RFC 7396 JSON Merge Patch to `target`.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(members) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(map) = target {
        for (name, value) in members {
            if value.is_null() {
                map.remove(&name);
            } else {
                merge_patch(map.entry(name).or_insert(Value::Null), value);
            }
        }
    }
}

/// The claims after merging `patch` into `current`; refused unless the result is a valid
/// standard-claims document.
fn merged_claims(current: &StandardClaims, patch: Value) -> Result<StandardClaims, AdminError> {
    if !patch.is_object() {
        return Err(AdminError::InvalidRequest(
            "claims must be a JSON object".into(),
        ));
    }
    let mut doc = serde_json::to_value(current).map_err(|e| AdminError::Unexpected(e.into()))?;
    merge_patch(&mut doc, patch);
    serde_json::from_value(doc).map_err(|e| AdminError::InvalidRequest(format!("claims: {e}")))
}

/// Percent-encodes a username for a path segment (RFC 3986 §3.3: unreserved characters stay).
pub(crate) fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The tenant named by the path, once the caller may administer it.
async fn tenant(
    principal: &AdminPrincipal,
    admin: &TenantAdmin,
    raw_slug: &str,
) -> Result<TenantRecord, AdminError> {
    let slug = principal.authorize_tenant(raw_slug).await?;
    Ok(admin.tenant(slug.as_ref()).await?)
}

/// The user named by the path.
async fn user(
    authn: &Authenticator,
    tenant: &TenantRecord,
    username: &str,
) -> Result<UserRecord, AdminError> {
    authn
        .user_by_username(tenant.id, username)
        .await?
        .ok_or(AdminError::NotFound("user"))
}

/// Lists a tenant's users in creation order (keyset pagination by id).
pub(crate) async fn list(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &admin, &path).await?;
    let query = query?.into_inner();
    let limit = page_limit(query.limit, MAX_LIMIT)?;
    let search = checked_search(query.search.as_deref())?;
    let db = admin.store().conn();
    let users = match (query.role, search) {
        (None, _) => {
            authn
                .list_users(tenant.id, query.after, search, limit)
                .await?
        }
        (Some(role), None) => {
            tessera_store::users::list_with_role(db, tenant.id, role, query.after, limit)
                .await
                .map_err(role_store_error)?
        }
        (Some(_), Some(_)) => {
            return Err(AdminError::InvalidRequest(
                "role and search cannot be combined".into(),
            ));
        }
    };
    let next = next_cursor(&users, limit, |u| u.id);
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let roles = tessera_store::users::admin_roles(db, tenant.id, &ids)
        .await
        .map_err(role_store_error)?;
    let items = users
        .into_iter()
        .map(|u| {
            let role = roles.get(&u.id).copied();
            UserView::with_role(u, role)
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// Creates a user, with a password checked against the tenant's policy if one is given.
pub(crate) async fn create(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<String>,
    body: Body<CreateUser>,
) -> Result<HttpResponse, AdminError> {
    let tenant = tenant(&principal, &admin, &path).await?;
    let body = body?.into_inner();
    check_role(&tenant, body.role)?;
    let new = NewUser {
        username: body.username,
        email: body.email,
        email_verified: body.email_verified,
        claims: body.claims,
        password: body.password,
    };
    let user = authn.create_user(&tenant, new).await?;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, "admin API created a user");
    let details = serde_json::json!({ "username": user.username, "has_password": user.password_hash.is_some(), "role": body.role });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.created",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    change_role(&req, &principal, &admin, &user, None, body.role).await?;
    let location = format!(
        "{PREFIX}/tenants/{}/users/{}",
        tenant.slug,
        path_segment(&user.username)
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(UserView::with_role(user, body.role)))
}

/// Reads one user.
pub(crate) async fn show(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let role = role_of(&admin, &user).await?;
    Ok(HttpResponse::Ok().json(UserView::with_role(user, role)))
}

/// Changes a user's e-mail address, its verification flag and claims.
pub(crate) async fn update(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
    body: Body<PatchUser>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let body = body?.into_inner();
    if let Some(role) = body.role {
        check_role(&tenant, role)?;
    }
    let current = user(&authn, &tenant, &username).await?;
    let old_role = role_of(&admin, &current).await?;
    let claims = body
        .claims
        .map(|patch| merged_claims(&current.claims, patch))
        .transpose()?;
    let changed: Vec<&str> = [
        ("email", body.email.is_some()),
        ("email_verified", body.email_verified.is_some()),
        ("claims", claims.is_some()),
        ("role", body.role.is_some_and(|r| r != old_role)),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let patch = UserPatch {
        email: body.email,
        email_verified: body.email_verified,
        claims,
    };
    let user = authn.update_user(tenant.id, current.id, patch).await?;
    let new_role = body.role.unwrap_or(old_role);
    change_role(&req, &principal, &admin, &user, old_role, new_role).await?;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, "admin API updated a user");
    let details = serde_json::json!({ "fields": changed });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.updated",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(HttpResponse::Ok().json(UserView::with_role(user, new_role)))
}

/// Deletes a user with its sessions, grants and tokens; the clients of its sessions get
/// back-channel logout tokens.
pub(crate) async fn delete(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    // The notices are queued first: deleting the user deletes the token families that say
    // which clients took part in its sessions.
    let sids = authn.session_sids(tenant.id, user.id).await?;
    sessions_ended(&admin, &tenant, user.id, &sids, false).await;
    authn.delete_user(tenant.id, user.id).await?;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, "admin API deleted a user");
    let details = serde_json::json!({ "username": user.username });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.deleted",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a user's password; the user's sessions end.
pub(crate) async fn set_password(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
    body: Body<SetPassword>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let body = body?.into_inner();
    let user = user(&authn, &tenant, &username).await?;
    let sids = authn.session_sids(tenant.id, user.id).await?;
    authn.set_password(&tenant, user.id, body.password).await?;
    sessions_ended(&admin, &tenant, user.id, &sids, false).await;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, "admin API set a user's password");
    let details = serde_json::json!({ "sessions_ended": sids.len() });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.password_set",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of a user (signing the user out everywhere); the clients of those
/// sessions get back-channel logout tokens.
pub(crate) async fn end_sessions(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let sids = authn.session_sids(tenant.id, user.id).await?;
    authn.end_user_sessions(tenant.id, user.id).await?;
    sessions_ended(&admin, &tenant, user.id, &sids, true).await;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, sessions = sids.len(), "admin API ended a user's sessions");
    let details = serde_json::json!({ "sessions": sids.len() });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.sessions_ended",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// One SSO session as the admin API shows it: public facts only. `id` is the session's `sid`
/// (the claim its ID tokens carry, OpenID Connect Front-Channel Logout 1.0 §3); the cookie
/// value and its hash never leave the store.
#[derive(Debug, Serialize)]
struct SessionView {
    id: String,
    created_at: i64,
    /// `auth_time` (OIDC Core §2): when the user last authenticated in this session.
    authenticated_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    /// RFC 8176 authentication method references.
    amr: Vec<String>,
    acr: Option<String>,
}

impl From<tessera_store::SessionRecord> for SessionView {
    fn from(s: tessera_store::SessionRecord) -> Self {
        Self {
            id: s.sid,
            created_at: s.created_at,
            authenticated_at: s.auth_time,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            amr: s.amr,
            acr: s.acr,
        }
    }
}

/// Lists a user's live sessions, newest first.
pub(crate) async fn list_sessions(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let now = tessera_core::Clock.now();
    let items = authn
        .user_sessions(&tenant, user.id, now)
        .await?
        .into_iter()
        .map(SessionView::from)
        .collect();
    Ok(HttpResponse::Ok().json(crate::Items::<SessionView> { items }))
}

/// Ends one session of a user, with what ending all of them does for it: its tokens without
/// `offline_access` are revoked and its clients get back-channel logout tokens.
pub(crate) async fn end_session(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username, sid) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    // Only a session of this user ends: another user's session id is as unknown as a made-up one.
    if !authn.end_user_session(tenant.id, user.id, &sid).await? {
        return Err(AdminError::NotFound("session"));
    }
    sessions_ended(&admin, &tenant, user.id, std::slice::from_ref(&sid), true).await;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, "admin API ended a user's session");
    let details = serde_json::json!({ "session": sid });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        "user.session_ended",
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Resets a user's second factors (a lost phone): the authenticator app, recovery codes and
/// passkeys are removed, recorded in the audit log as `mfa.removed` (when there was something
/// to remove) and `user.mfa_reset` by this admin. The user signs in with the password alone
/// again, or enrols anew where the tenant requires a second factor. 204 also when there was
/// nothing to remove.
pub(crate) async fn reset_mfa(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    directory: web::Data<tessera_tenants::Directory>,
    outbox: web::Data<tessera_mail::Outbox>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let snapshot = directory
        .resolve(tenant.slug.as_ref())
        .await?
        .ok_or(AdminError::NotFound("tenant"))?;
    let lifecycle = crate::lifecycle::Lifecycle {
        store: admin.store(),
        authn: &authn,
        outbox: &outbox,
    };
    let actor = principal.actor();
    let removed = lifecycle.reset_mfa(&snapshot, &user, &actor).await?;
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, removed, "admin API reset a user's second factors");
    Ok(HttpResponse::NoContent().finish())
}

/// Queues back-channel logout notices for the clients of the ended sessions `sids` (OpenID
/// Connect Back-Channel Logout 1.0 §2.5), after revoking their tokens when `revoke` (as logout
/// does). Failures only log: the sessions have ended either way.
async fn sessions_ended(
    admin: &TenantAdmin,
    tenant: &TenantRecord,
    user: UserId,
    sids: &[String],
    revoke: bool,
) {
    let now = tessera_core::Clock.now();
    for sid in sids {
        if revoke
            && let Err(e) =
                tessera_tokens::revoke_families_of_session(admin.store(), tenant.id, sid, now).await
        {
            tracing::warn!(error = %e, "revoking an ended session's tokens failed");
        }
        if let Err(e) =
            tessera_tokens::logout::session_ended(admin.store(), tenant.id, user, sid, now).await
        {
            tracing::warn!(error = %e, "queueing logout notices failed");
        }
    }
}

/// Disables a user: sign-in is refused and the user's sessions end.
pub(crate) async fn disable(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    set_status(req, principal, admin, authn, path, UserStatus::Disabled).await
}

/// Enables a disabled (or administratively locked) user.
pub(crate) async fn enable(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    set_status(req, principal, admin, authn, path, UserStatus::Active).await
}

async fn set_status(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    authn: web::Data<Authenticator>,
    path: web::Path<(String, String)>,
    status: UserStatus,
) -> Result<HttpResponse, AdminError> {
    let (slug, username) = path.into_inner();
    let tenant = tenant(&principal, &admin, &slug).await?;
    let user = user(&authn, &tenant, &username).await?;
    let sids = authn.session_sids(tenant.id, user.id).await?;
    authn.set_status(tenant.id, user.id, status).await?;
    if status != UserStatus::Active {
        sessions_ended(&admin, &tenant, user.id, &sids, false).await;
    }
    tracing::info!(admin = %principal, tenant = %tenant.slug, user = %user.id, status = %status, "admin API changed a user's status");
    let action = if status == UserStatus::Active {
        "user.enabled"
    } else {
        "user.disabled"
    };
    let details = serde_json::json!({ "status": status.to_string() });
    record_in(
        &admin,
        tenant.id,
        &principal,
        &req,
        action,
        Subject {
            user: Some(user.id),
            client: None,
        },
        details,
    )
    .await;
    let user = authn
        .user(tenant.id, user.id)
        .await?
        .ok_or(AdminError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_tells_a_null_email_from_an_absent_one() {
        let p: PatchUser = serde_json::from_value(json!({})).expect("empty patch");
        assert_eq!(p.email, None);
        let p: PatchUser = serde_json::from_value(json!({"email": null})).expect("null");
        assert_eq!(p.email, Some(None));
        let p: PatchUser = serde_json::from_value(json!({"email": "a@b.c"})).expect("set");
        assert_eq!(p.email, Some(Some("a@b.c".into())));
        assert!(p.claims.is_none());
        let p: PatchUser =
            serde_json::from_value(json!({"nickname": null, "claims": {"name": "A"}}))
                .expect("claims");
        assert_eq!(p.claims, Some(json!({"name": "A", "nickname": null})));
    }

    #[test]
    fn claims_patches_merge_per_rfc_7396() {
        let current = StandardClaims {
            given_name: Some("Alice".into()),
            nickname: Some("Al".into()),
            ..Default::default()
        };
        let merged = merged_claims(
            &current,
            json!({"family_name": "Liddell", "nickname": null, "address": {"locality": "Oxford"}}),
        )
        .expect("a valid patch");
        assert_eq!(merged.given_name.as_deref(), Some("Alice"));
        assert_eq!(merged.family_name.as_deref(), Some("Liddell"));
        assert_eq!(merged.nickname, None);
        assert_eq!(
            merged.address.and_then(|a| a.locality).as_deref(),
            Some("Oxford")
        );
        assert!(matches!(
            merged_claims(&current, json!({"favourite_colour": "blue"})),
            Err(AdminError::InvalidRequest(_))
        ));
        assert!(matches!(
            merged_claims(&current, json!("x")),
            Err(AdminError::InvalidRequest(_))
        ));
    }

    #[test]
    fn create_body_takes_claims_nested_or_at_the_top_level_but_nothing_unknown() {
        let body: CreateUser = serde_json::from_value(json!({
            "username": "alice",
            "password": "pw",
            "given_name": "Alice",
            "claims": {"family_name": "Liddell"},
        }))
        .expect("body");
        assert!(body.password.is_some());
        assert!(!body.email_verified);
        assert_eq!(body.claims.given_name.as_deref(), Some("Alice"));
        assert_eq!(body.claims.family_name.as_deref(), Some("Liddell"));
        for bad in [
            json!({"username": "a", "status": "active"}),
            json!({"username": "a", "given_name": "A", "claims": {"given_name": "B"}}),
            json!({"username": "a", "claims": "x"}),
            json!({"username": 7}),
            json!({"email": "a@b.c"}),
        ] {
            assert!(
                serde_json::from_value::<CreateUser>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let err = serde_json::from_value::<CreateUser>(json!({"username": "a", "colour": "x"}))
            .err()
            .expect("unknown member refused")
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn usernames_are_percent_encoded_in_locations() {
        assert_eq!(path_segment("alice"), "alice");
        assert_eq!(path_segment("a.b@c/d é"), "a.b%40c%2Fd%20%C3%A9");
    }

    #[test]
    fn views_never_carry_the_password_hash() {
        let user = UserRecord {
            tenant_id: tessera_core::TenantId::new(),
            id: UserId::new(),
            username: "alice".into(),
            email: None,
            email_verified: false,
            claims: StandardClaims::default(),
            password_hash: Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into()),
            status: UserStatus::Active,
            created_at: 1,
            updated_at: 1,
        };
        let json = serde_json::to_value(UserView::from(user)).expect("json");
        assert_eq!(json["has_password"], true);
        assert_eq!(json["username"], "alice");
        assert!(!json.to_string().contains("argon2"));
        assert!(json.get("password_hash").is_none());
    }
}
