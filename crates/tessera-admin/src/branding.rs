//! `/tenants/{slug}/settings` and `/tenants/{slug}/templates`: a tenant's settings document
//! (branding and policies) and its page templates: list, read, replace (validated: a refused
//! template answers 400 `invalid_template` with line and column), preview and roll back; and
//! the editing cycle of the console: drafts (saved whatever they hold; pages never see them),
//! publication, the version history and restoring an old version. A template travels as raw
//! text (`Content-Type: text/x-handlebars`), so a file can be sent as is, or as JSON
//! `{"source": "…"}`. The branding (`/tenants/{slug}/branding/…`) has the same cycle: a draft
//! pages never see, publication into the settings document, versions and rollback.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::{Branding, TenantSettings, TenantSlug};
use tessera_tenants::pages::MAX_SOURCE_BYTES;
use tessera_tenants::{
    SettingsChange, TemplateChangeError, TemplateProblem, TenantAdmin, TenantError,
};

use crate::events::{Subject, actor, record};
use crate::{AdminError, AdminPrincipal, Body, Items, Query};

/// Media types a template body may be sent as; `text/x-handlebars` is the documented one.
const TEMPLATE_MEDIA_TYPES: [&str; 3] = ["text/x-handlebars", "text/plain", "text/html"];

/// Largest body read: a JSON-encoded source may be longer than the source (escapes).
const BODY_LIMIT: usize = 4 * MAX_SOURCE_BYTES;

/// A template sent as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    source: String,
}

/// A preview request sent as JSON: the source (omitted: the version in use) and a branding to
/// render it with instead of the tenant's (to see a colour change before saving it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    branding: Option<Branding>,
}

/// The query of a preview: the nonce of the CSP the preview is shown under.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewQuery {
    nonce: Option<String>,
}

/// Whether `nonce` may stand in a CSP `'nonce-…'` source (CSP Level 3 §2.3.1: base64 or
/// base64url characters) and an HTML attribute: 16 to 128 of them.
fn is_nonce(nonce: &str) -> bool {
    (16..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
}

/// The 400 body of a refused template.
#[derive(Serialize)]
struct InvalidTemplate<'a> {
    error: &'static str,
    error_description: String,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

fn invalid_template(problem: &TemplateProblem) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(InvalidTemplate {
            error: "invalid_template",
            error_description: format!("the template was refused: {}", problem.message),
            line: problem.line,
            column: problem.column,
            message: &problem.message,
        })
}

/// Maps a template change failure: a refused template to its 400, the rest as usual.
fn template_failure(err: TemplateChangeError) -> Result<HttpResponse, AdminError> {
    match err {
        TemplateChangeError::Invalid(problem) => Ok(invalid_template(&problem)),
        TemplateChangeError::Tenant(e) => Err(e.into()),
    }
}

/// A request body as sent: template text, or JSON to parse.
enum Sent {
    /// Raw UTF-8 text of an accepted media type.
    Text(String),
    /// An `application/json` body.
    Json(web::Bytes),
}

/// Reads a body holding a template: raw UTF-8 text of an accepted media type, or JSON. `None`
/// when the body is empty.
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<Option<Sent>, AdminError> {
    let bytes = payload
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| AdminError::PayloadTooLarge(MAX_SOURCE_BYTES))?
        .map_err(|_| AdminError::InvalidRequest("the request body could not be read".into()))?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media_type == "application/json" {
        Ok(Some(Sent::Json(bytes)))
    } else if TEMPLATE_MEDIA_TYPES.contains(&media_type.as_str()) {
        let source = String::from_utf8(bytes.to_vec())
            .map_err(|_| AdminError::InvalidRequest("the template must be UTF-8 text".into()))?;
        Ok(Some(Sent::Text(source)))
    } else {
        Err(AdminError::InvalidRequest(
            "send the template as the raw body with Content-Type: text/x-handlebars, or as JSON \
             {\"source\": \"…\"}"
                .into(),
        ))
    }
}

/// Parses a JSON body into `T`; 400 with serde's reason otherwise.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(bytes)
        .map_err(|e| AdminError::InvalidRequest(format!("invalid request body: {e}")))
}

/// A source of at most [`MAX_SOURCE_BYTES`] (413 otherwise).
fn within_limit(source: String) -> Result<String, AdminError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(AdminError::PayloadTooLarge(MAX_SOURCE_BYTES));
    }
    Ok(source)
}

/// Reads a template body: raw UTF-8 text of an accepted media type, or JSON
/// `{"source": "…"}`; the source is at most [`MAX_SOURCE_BYTES`] (413 otherwise). `None` when
/// the body is empty.
async fn template_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<String>, AdminError> {
    let source = match read_body(req, payload).await? {
        None => return Ok(None),
        Some(Sent::Text(source)) => source,
        Some(Sent::Json(bytes)) => parse_json::<TemplateBody>(&bytes)?.source,
    };
    within_limit(source).map(Some)
}

/// Reads a preview body: a raw template, or JSON [`PreviewBody`] (source and branding both
/// optional); nothing when the body is empty.
async fn preview_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Option<String>, Option<Branding>), AdminError> {
    match read_body(req, payload).await? {
        None => Ok((None, None)),
        Some(Sent::Text(source)) => Ok((Some(within_limit(source)?), None)),
        Some(Sent::Json(bytes)) => {
            let body = parse_json::<PreviewBody>(&bytes)?;
            Ok((body.source.map(within_limit).transpose()?, body.branding))
        }
    }
}

/// Where a settings or template change is recorded: the tenant's audit log, with the caller
/// and its request. Such changes concern no user or client.
struct ChangeLog<'a> {
    admin: &'a TenantAdmin,
    slug: &'a TenantSlug,
    principal: &'a AdminPrincipal,
    req: &'a HttpRequest,
}

impl<'a> ChangeLog<'a> {
    /// The log of changes `principal` makes to tenant `slug` in request `req`.
    fn new(
        admin: &'a TenantAdmin,
        slug: &'a TenantSlug,
        principal: &'a AdminPrincipal,
        req: &'a HttpRequest,
    ) -> Self {
        Self {
            admin,
            slug,
            principal,
            req,
        }
    }

    /// Records `action` with `details`.
    async fn record(&self, action: &str, details: Value) {
        let slug = self.slug.as_ref();
        let subject = Subject::default();
        record(
            self.admin,
            slug,
            self.principal,
            self.req,
            action,
            subject,
            details,
        )
        .await;
    }

    /// Records `settings.updated` with the names of the sections that changed (never values).
    async fn settings_updated(&self, before: &TenantSettings, after: &TenantSettings) {
        let (Ok(Value::Object(before)), Ok(Value::Object(after))) =
            (serde_json::to_value(before), serde_json::to_value(after))
        else {
            return;
        };
        let changed: Vec<&String> = after
            .iter()
            .filter(|(name, value)| before.get(*name) != Some(*value))
            .map(|(name, _)| name)
            .chain(before.keys().filter(|name| !after.contains_key(*name)))
            .collect();
        let details = serde_json::json!({ "sections": changed });
        self.record("settings.updated", details).await;
    }

    /// Records what a settings change did: `settings.updated`, and `branding.published` when
    /// it published a new branding version.
    async fn settings_stored(&self, stored: &SettingsChange) {
        self.settings_updated(&stored.before, &stored.settings)
            .await;
        if let Some(version) = stored.branding_version {
            let details = serde_json::json!({ "version": version, "via": "settings" });
            self.record("branding.published", details).await;
        }
    }

    /// Records `template.published` for version `version` of `template`.
    async fn published(&self, template: &str, version: i32) {
        let details = serde_json::json!({ "template": template, "version": version });
        self.record("template.published", details).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

/// `GET /tenants/{slug}/settings`: the settings document.
pub(crate) async fn show_settings(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    Ok(HttpResponse::Ok().json(admin.settings(slug.as_ref()).await?))
}

/// `PUT /tenants/{slug}/settings`: replaces the whole document; omitted fields take their
/// defaults.
pub(crate) async fn replace_settings(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<TenantSettings>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let settings = body?.into_inner();
    let by = actor(&principal);
    let stored = admin
        .set_settings(slug.as_ref(), settings, Some(&by))
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API replaced tenant settings");
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.settings_stored(&stored).await;
    Ok(HttpResponse::Ok().json(stored.settings))
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge_patch(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

/// `PATCH /tenants/{slug}/settings`: a JSON merge patch (RFC 7396) of the document, so one
/// setting changes without restating the others; a removed field takes its default.
pub(crate) async fn patch_settings(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<Value>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let patch = body?.into_inner();
    if !patch.is_object() {
        return Err(AdminError::InvalidRequest(
            "a merge patch of the settings document is a JSON object".into(),
        ));
    }
    let by = actor(&principal);
    // Merged into the stored document under the tenant's row lock, so two patches of different
    // settings sent at once both take effect.
    let stored = admin
        .edit_settings(slug.as_ref(), Some(&by), |current| {
            let mut document = serde_json::to_value(&current).map_err(|e| {
                TenantError::Unexpected(anyhow::Error::new(e).context("tenant settings"))
            })?;
            merge_patch(&mut document, patch.clone());
            serde_json::from_value(document)
                .map_err(|e| TenantError::Invalid(format!("invalid settings: {e}")))
        })
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API patched tenant settings");
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.settings_stored(&stored).await;
    Ok(HttpResponse::Ok().json(stored.settings))
}

// ---------------------------------------------------------------------------------------------
// Templates

/// `GET /tenants/{slug}/templates`: every overridable template, whether it is overridden and
/// whether it has a draft.
pub(crate) async fn list_templates(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.list_templates(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// `GET /tenants/{slug}/templates/{name}`: the source in use (override or default), whether a
/// draft exists and the live version.
pub(crate) async fn show_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    Ok(HttpResponse::Ok().json(admin.template(slug.as_ref(), &name).await?))
}

/// `PUT /tenants/{slug}/templates/{name}`: publishes the raw body at once (checked, recorded as
/// the next version); for API and CLI users who do not need a draft.
pub(crate) async fn replace_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    let Some(source) = template_body(&req, payload).await? else {
        return Err(AdminError::InvalidRequest(
            "the body is the template source; to roll back to the default, DELETE the template"
                .into(),
        ));
    };
    let by = actor(&principal);
    match admin
        .set_template(slug.as_ref(), &name, source, Some(&by))
        .await
    {
        Ok(stored) => {
            tracing::info!(admin = %principal, tenant = %slug, template = %stored.name, "admin API stored a template");
            let version = stored.live_version.unwrap_or_default();
            let log = ChangeLog::new(&admin, &slug, &principal, &req);
            log.published(stored.name.as_str(), version).await;
            Ok(HttpResponse::Ok().json(stored))
        }
        Err(e) => template_failure(e),
    }
}

/// `DELETE /tenants/{slug}/templates/{name}`: rolls back to the default. The version history
/// and any draft are kept and nothing is recorded as a version; no version is live afterwards.
pub(crate) async fn reset_template(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    admin.reset_template(slug.as_ref(), &name).await?;
    tracing::info!(admin = %principal, tenant = %slug, template = %name, "admin API rolled a template back");
    let details = serde_json::json!({ "template": name });
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("template.reset", details).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /tenants/{slug}/templates/{name}/draft`: the draft, or 404 when there is none.
pub(crate) async fn show_draft(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    Ok(HttpResponse::Ok().json(admin.template_draft(slug.as_ref(), &name).await?))
}

/// `PUT /tenants/{slug}/templates/{name}/draft`: saves the body as the draft whatever it holds
/// (an empty body saves an empty draft) and answers `{saved: true, problem}`, the problem being
/// what would stop its publication (message, line, column) or `null`.
pub(crate) async fn save_draft(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    let source = template_body(&req, payload).await?.unwrap_or_default();
    let by = actor(&principal);
    let saved = admin
        .save_template_draft(slug.as_ref(), &name, source, Some(&by))
        .await?;
    let details = serde_json::json!({
        "template": saved.name,
        "compiles": saved.problem.is_none(),
    });
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("template.draft_saved", details).await;
    Ok(HttpResponse::Ok().json(saved))
}

/// `DELETE /tenants/{slug}/templates/{name}/draft`: discards the draft; 404 when there is none.
pub(crate) async fn discard_draft(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    admin.discard_template_draft(slug.as_ref(), &name).await?;
    let details = serde_json::json!({ "template": name });
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("template.draft_discarded", details).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /tenants/{slug}/templates/{name}/publish`: publishes the draft as the next version
/// (400 `invalid_template` when it does not pass the checks, 404 without a draft); it goes
/// live and the draft is deleted. Answers 201 with the new version.
pub(crate) async fn publish_draft(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    let by = actor(&principal);
    match admin
        .publish_template_draft(slug.as_ref(), &name, Some(&by))
        .await
    {
        Ok(version) => {
            tracing::info!(admin = %principal, tenant = %slug, template = %version.name, version = version.version, "admin API published a template draft");
            let log = ChangeLog::new(&admin, &slug, &principal, &req);
            log.published(version.name.as_str(), version.version).await;
            Ok(HttpResponse::Created().json(version))
        }
        Err(e) => template_failure(e),
    }
}

/// `GET /tenants/{slug}/templates/{name}/versions`: every published version, newest first,
/// without sources; `live` marks the one pages use.
pub(crate) async fn list_versions(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    let items = admin.template_versions(slug.as_ref(), &name).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// The `{version}` of a path: a positive number, or 404 like a `what` that does not exist.
fn version_number(raw: &str, what: &'static str) -> Result<i32, AdminError> {
    raw.parse::<i32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or(AdminError::NotFound(what))
}

/// A `/tenants/{slug}/templates/{name}/versions/{version}` path: the tenant (once the caller
/// may act on it), the template name and the version number.
async fn version_path(
    principal: &AdminPrincipal,
    path: web::Path<(String, String, String)>,
) -> Result<(TenantSlug, String, i32), AdminError> {
    let (slug, name, version) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    Ok((slug, name, version_number(&version, "template version")?))
}

/// `GET /tenants/{slug}/templates/{name}/versions/{version}`: one version with its source.
pub(crate) async fn show_version(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name, version) = version_path(&principal, path).await?;
    Ok(HttpResponse::Ok().json(
        admin
            .template_version(slug.as_ref(), &name, version)
            .await?,
    ))
}

/// `POST /tenants/{slug}/templates/{name}/versions/{version}/restore`: rolls back to that
/// version by publishing its source again as a new version (history is append-only), checked
/// under today's rules (400 `invalid_template` otherwise). Answers 201 with the new version.
pub(crate) async fn restore_version(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name, from) = version_path(&principal, path).await?;
    let by = actor(&principal);
    match admin
        .restore_template_version(slug.as_ref(), &name, from, Some(&by))
        .await
    {
        Ok(restored) => {
            tracing::info!(admin = %principal, tenant = %slug, template = %restored.name, from, version = restored.version, "admin API restored a template version");
            let details = serde_json::json!({
                "template": restored.name,
                "from_version": from,
                "version": restored.version,
            });
            let log = ChangeLog::new(&admin, &slug, &principal, &req);
            log.record("template.rolled_back", details).await;
            Ok(HttpResponse::Created().json(restored))
        }
        Err(e) => template_failure(e),
    }
}

/// `POST /tenants/{slug}/templates/{name}/preview`: renders the body's source (or, without one,
/// the version in use) with sample data and the tenant's branding, or the `branding` of a JSON
/// body `{"source": …, "branding": {…}}` to see a change before saving it. `?nonce=` names the
/// CSP nonce of the page that shows the preview (an `<iframe srcdoc>` inherits its CSP), so the
/// preview's inline style is allowed there. The page is served sandboxed: even a preview can
/// run no script on this origin.
pub(crate) async fn preview_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    query: Query<PreviewQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = principal.authorize_tenant_item(path).await?;
    let nonce = match query?.into_inner().nonce {
        Some(nonce) if is_nonce(&nonce) => nonce,
        Some(_) => {
            return Err(AdminError::InvalidRequest(
                "nonce: 16 to 128 base64 or base64url characters".into(),
            ));
        }
        None => tessera_core::secret::random_token(16),
    };
    let (source, branding) = preview_body(&req, payload).await?;
    match admin
        .preview_template(slug.as_ref(), &name, source, branding, &nonce)
        .await
    {
        Ok(html) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                format!(
                    "sandbox; default-src 'none'; style-src 'nonce-{nonce}'; img-src data: https:; \
                     form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
                ),
            ))
            .body(html)),
        Err(e) => template_failure(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Branding drafts, publication and versions

/// `GET /tenants/{slug}/branding/draft`: the branding draft, or 404 when there is none.
pub(crate) async fn show_branding_draft(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    Ok(HttpResponse::Ok().json(admin.branding_draft(slug.as_ref()).await?))
}

/// `PUT /tenants/{slug}/branding/draft`: saves a branding object (the `branding` of the settings
/// document, checked by the same rules: 400 with the refused field otherwise) as the draft.
/// Pages keep the live branding until the draft is published.
pub(crate) async fn save_branding_draft(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
    body: Body<Value>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let body = body?.into_inner();
    // serde would also read a struct from an array of its fields in order; a branding is an
    // object, as in the settings document.
    if !body.is_object() {
        return Err(AdminError::InvalidRequest(
            "a branding is a JSON object such as {\"primary_color\": \"#1f6feb\"}".into(),
        ));
    }
    let branding: Branding = serde_json::from_value(body)
        .map_err(|e| AdminError::InvalidRequest(format!("invalid branding: {e}")))?;
    let by = actor(&principal);
    let saved = admin
        .save_branding_draft(slug.as_ref(), branding, Some(&by))
        .await?;
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("branding.draft_saved", serde_json::json!({}))
        .await;
    Ok(HttpResponse::Ok().json(saved))
}

/// `DELETE /tenants/{slug}/branding/draft`: discards the branding draft; 404 when there is none.
pub(crate) async fn discard_branding_draft(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    admin.discard_branding_draft(slug.as_ref()).await?;
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("branding.draft_discarded", serde_json::json!({}))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /tenants/{slug}/branding/publish`: publishes the draft (checked again; 404 without
/// one): the settings document takes it, it is recorded as the next version, the draft is
/// deleted, and every node's pages follow through the change feed. Answers 201 with the version.
pub(crate) async fn publish_branding(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let by = actor(&principal);
    let version = admin
        .publish_branding_draft(slug.as_ref(), Some(&by))
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, version = version.version, "admin API published the branding draft");
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    let details = serde_json::json!({ "version": version.version });
    log.record("branding.published", details).await;
    Ok(HttpResponse::Created().json(version))
}

/// `GET /tenants/{slug}/branding/versions`: every published branding version, newest first,
/// without the branding; `live` marks the one pages use.
pub(crate) async fn list_branding_versions(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.branding_versions(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// A `/tenants/{slug}/branding/versions/{version}` path: the tenant (once the caller may act on
/// it) and the version number.
async fn branding_version_path(
    principal: &AdminPrincipal,
    path: web::Path<(String, String)>,
) -> Result<(TenantSlug, i32), AdminError> {
    let (slug, version) = principal.authorize_tenant_item(path).await?;
    Ok((slug, version_number(&version, "branding version")?))
}

/// `GET /tenants/{slug}/branding/versions/{version}`: one version with its branding.
pub(crate) async fn show_branding_version(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, version) = branding_version_path(&principal, path).await?;
    Ok(HttpResponse::Ok().json(admin.branding_version(slug.as_ref(), version).await?))
}

/// `POST /tenants/{slug}/branding/versions/{version}/restore`: rolls the branding back by
/// publishing that version again as a new one (history is append-only), checked under today's
/// rules. Answers 201 with the new version.
pub(crate) async fn restore_branding_version(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, from) = branding_version_path(&principal, path).await?;
    let by = actor(&principal);
    let restored = admin
        .restore_branding_version(slug.as_ref(), from, Some(&by))
        .await?;
    tracing::info!(admin = %principal, tenant = %slug, from, version = restored.version, "admin API restored a branding version");
    let details = serde_json::json!({ "from_version": from, "version": restored.version });
    let log = ChangeLog::new(&admin, &slug, &principal, &req);
    log.record("branding.rolled_back", details).await;
    Ok(HttpResponse::Created().json(restored))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{is_nonce, merge_patch, version_number};

    #[test]
    fn nonces_are_base64_of_a_sane_length() {
        assert!(is_nonce("c2FtcGxlLW5vbmNl"));
        assert!(is_nonce("abcDEF0123456789-_+/="));
        assert!(!is_nonce("short"));
        assert!(!is_nonce("abcdefghijklmnop'; script-src *"));
        assert!(!is_nonce(&"a".repeat(129)));
    }

    #[test]
    fn version_numbers_are_positive() {
        assert_eq!(version_number("3", "version").unwrap(), 3);
        for bad in ["0", "-1", "x", "", "99999999999"] {
            assert!(version_number(bad, "version").is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1});
        merge_patch(
            &mut doc,
            json!({"a": {"b": 9, "c": null}, "d": [3], "f": {"g": 1}}),
        );
        assert_eq!(doc, json!({"a": {"b": 9}, "d": [3], "e": 1, "f": {"g": 1}}));
    }
}
