//! `/tenants/{slug}/settings` and `/tenants/{slug}/templates`: a tenant's settings document
//! (branding and policies) and its page templates: list, read, replace (validated: a refused
//! template answers 400 `invalid_template` with line and column), preview and roll back.
//! A template travels as raw text (`Content-Type: text/x-handlebars`), so a file can be sent as
//! is, or as JSON `{"source": "…"}`.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::TenantSettings;
use tessera_tenants::pages::MAX_SOURCE_BYTES;
use tessera_tenants::{TemplateChangeError, TemplateProblem, TenantAdmin};

use crate::events::{Subject, record};
use crate::{AdminError, AdminPrincipal, Body, Items};

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

/// Reads a template body: raw UTF-8 text of an accepted media type, or JSON
/// `{"source": "…"}`; the source is at most [`MAX_SOURCE_BYTES`] (413 otherwise). `None` when
/// the body is empty.
async fn template_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<String>, AdminError> {
    let too_large = || AdminError::PayloadTooLarge(MAX_SOURCE_BYTES);
    let bytes = payload
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| too_large())?
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
    let source = if media_type == "application/json" {
        serde_json::from_slice::<TemplateBody>(&bytes)
            .map_err(|e| AdminError::InvalidRequest(format!("invalid request body: {e}")))?
            .source
    } else if TEMPLATE_MEDIA_TYPES.contains(&media_type.as_str()) {
        if bytes.len() > MAX_SOURCE_BYTES {
            return Err(too_large());
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| AdminError::InvalidRequest("the template must be UTF-8 text".into()))?
    } else {
        return Err(AdminError::InvalidRequest(
            "send the template as the raw body with Content-Type: text/x-handlebars, or as JSON \
             {\"source\": \"…\"}"
                .into(),
        ));
    };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(too_large());
    }
    Ok(Some(source))
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
    let current = admin.settings(slug.as_ref()).await?;
    let stored = admin.set_settings(slug.as_ref(), settings).await?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API replaced tenant settings");
    settings_updated(&admin, &slug, &principal, &req, &current, &stored).await;
    Ok(HttpResponse::Ok().json(stored))
}

/// Records `settings.updated` with the names of the sections that changed (never values).
async fn settings_updated(
    admin: &TenantAdmin,
    slug: &tessera_core::TenantSlug,
    principal: &AdminPrincipal,
    req: &HttpRequest,
    before: &TenantSettings,
    after: &TenantSettings,
) {
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
    record(
        admin,
        slug.as_ref(),
        principal,
        req,
        "settings.updated",
        Subject::default(),
        details,
    )
    .await;
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
    let current = admin.settings(slug.as_ref()).await?;
    let mut document = serde_json::to_value(&current)
        .map_err(|e| AdminError::Unexpected(anyhow::Error::new(e).context("tenant settings")))?;
    merge_patch(&mut document, patch);
    let settings: TenantSettings = serde_json::from_value(document)
        .map_err(|e| AdminError::InvalidRequest(format!("invalid settings: {e}")))?;
    let stored = admin.set_settings(slug.as_ref(), settings).await?;
    tracing::info!(admin = %principal, tenant = %slug, "admin API patched tenant settings");
    settings_updated(&admin, &slug, &principal, &req, &current, &stored).await;
    Ok(HttpResponse::Ok().json(stored))
}

// ---------------------------------------------------------------------------------------------
// Templates

/// `GET /tenants/{slug}/templates`: every overridable template and whether it is overridden.
pub(crate) async fn list_templates(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = principal.authorize_tenant(&path).await?;
    let items = admin.list_templates(slug.as_ref()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// `GET /tenants/{slug}/templates/{name}`: the source in use, override or default.
pub(crate) async fn show_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    Ok(HttpResponse::Ok().json(admin.template(slug.as_ref(), &name).await?))
}

/// `PUT /tenants/{slug}/templates/{name}`: stores an override from the raw body.
pub(crate) async fn replace_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    let Some(source) = template_body(&req, payload).await? else {
        return Err(AdminError::InvalidRequest(
            "the body is the template source; to roll back to the default, DELETE the template"
                .into(),
        ));
    };
    match admin.set_template(slug.as_ref(), &name, source).await {
        Ok(stored) => {
            tracing::info!(admin = %principal, tenant = %slug, template = %stored.name, "admin API stored a template");
            let details = serde_json::json!({ "template": stored.name });
            record(
                &admin,
                slug.as_ref(),
                &principal,
                &req,
                "template.published",
                Subject::default(),
                details,
            )
            .await;
            Ok(HttpResponse::Ok().json(stored))
        }
        Err(e) => template_failure(e),
    }
}

/// `DELETE /tenants/{slug}/templates/{name}`: rolls back to the default.
pub(crate) async fn reset_template(
    req: HttpRequest,
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    admin.reset_template(slug.as_ref(), &name).await?;
    tracing::info!(admin = %principal, tenant = %slug, template = %name, "admin API rolled a template back");
    let details = serde_json::json!({ "template": name });
    record(
        &admin,
        slug.as_ref(),
        &principal,
        &req,
        "template.reset",
        Subject::default(),
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /tenants/{slug}/templates/{name}/preview`: renders the body's source (or, without a
/// body, the version in use) with sample data and the tenant's branding. The page is served
/// sandboxed: even a preview can run no script on this origin.
pub(crate) async fn preview_template(
    principal: AdminPrincipal,
    admin: web::Data<TenantAdmin>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let (slug, name) = path.into_inner();
    let slug = principal.authorize_tenant(&slug).await?;
    let source = template_body(&req, payload).await?;
    let nonce = tessera_core::secret::random_token(16);
    match admin
        .preview_template(slug.as_ref(), &name, source, &nonce)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

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
