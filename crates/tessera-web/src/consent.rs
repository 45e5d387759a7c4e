//! `POST /t/{tenant}/consent`: the consent form. The user may untick any scope but `openid`;
//! the grant records exactly what was ticked (never more than was asked), is remembered for the
//! next request, and the code carries only those scopes. `deny` answers `access_denied`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use tessera_core::{Clock, OAuthErrorCode, ScopeSet};

use crate::ActiveTenant;
use crate::flow::{FlowDeps, is_optional};
use crate::form::{field, read_form};
use crate::login::open_form;

/// What a consent form grants: the requested scopes that were ticked, plus the required ones;
/// never a scope that was not requested.
pub fn granted_scopes(requested: &ScopeSet, form: &[(String, String)]) -> ScopeSet {
    let ticked: Vec<&str> = form
        .iter()
        .filter(|(name, _)| name == "scope")
        .map(|(_, value)| value.as_str())
        .collect();
    requested
        .iter()
        .filter(|s| !is_optional(s.as_ref()) || ticked.contains(&s.as_ref()))
        .cloned()
        .collect()
}

/// Stores the grant and its `consent.granted` event in one transaction.
async fn record_consent(
    store: &tessera_store::Store,
    tenant: tessera_core::TenantId,
    user: tessera_core::UserId,
    client: &tessera_core::ClientId,
    granted: &ScopeSet,
    event: &tessera_store::AuditEventRecord,
) -> Result<(), tessera_store::StoreError> {
    let txn = store.begin().await?;
    tessera_consent::record(&txn, tenant, user, client, granted, Clock.now()).await?;
    tessera_store::audit::insert(&txn, event).await?;
    txn.commit().await?;
    Ok(())
}

/// `POST /t/{tenant}/consent`.
pub async fn consent(
    tenant: ActiveTenant,
    req: HttpRequest,
    payload: web::Payload,
    deps: FlowDeps,
) -> HttpResponse {
    let flow = deps.flow(&tenant.0);
    let Some(form) = read_form(&req, payload).await else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "The form is malformed.",
        );
    };
    let pending = match open_form(&flow, &req, &form) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    // A device authorization (RFC 8628) is confirmed at `/device/confirm`, never here: refuse
    // before anything is recorded.
    if pending.return_to.mode == crate::interaction::ResponseMode::Device {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "A device sign-in is confirmed on the device page.",
        );
    }
    let active = match flow.session(&req).await {
        Ok(Some(active)) => active,
        Ok(None) => return flow.proceed(&req, pending, None, false, vec![]).await,
        Err(response) => return response,
    };
    // The consent belongs to the session it was shown to.
    if pending.sid.as_deref() != Some(active.session.sid.as_str()) {
        return flow.error(
            StatusCode::FORBIDDEN,
            OAuthErrorCode::AccessDenied,
            "You signed in again in another window. Go back to the application and try again.",
        );
    }
    match field(&form, "decision") {
        Some("allow") => {}
        Some("deny") => {
            return flow.refuse(
                &pending,
                OAuthErrorCode::AccessDenied,
                "the user denied the request",
            );
        }
        _ => {
            return flow.error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidRequest,
                "The form is malformed.",
            );
        }
    }
    let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
    let granted = granted_scopes(&requested, &form);
    let Some(client) = flow.snapshot.client(&pending.client_id) else {
        return flow.error(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            "The application is no longer registered with this provider.",
        );
    };
    let event = flow
        .audit_event(
            &req,
            crate::flow::CONSENT_GRANTED,
            format!("user:{}", active.user.id),
        )
        .user(active.user.id)
        .client(client.client_id.clone())
        .details(serde_json::json!({ "scopes": granted.to_wire() }));
    if let Err(e) = record_consent(
        flow.store,
        tenant.tenant.id,
        active.user.id,
        &client.client_id,
        &granted,
        &event,
    )
    .await
    {
        tracing::error!(error = %e, "recording consent failed");
        return flow.unavailable();
    }
    tracing::info!(
        tenant = %tenant.tenant.slug,
        client_id = %client.client_id,
        granted = %granted.to_wire(),
        "consent recorded"
    );
    flow.issue(&pending, &active, granted, vec![]).await
}
