//! Operational endpoints: liveness, readiness (the database, and Redis when configured, answer),
//! and Prometheus metrics.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde_json::json;
use tessera_tenants::Directory;

use crate::Metrics;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers within two seconds, and so does Redis when configured
/// (the replay cache and the throttling counters live there).
pub async fn readyz(directory: web::Data<Directory>) -> HttpResponse {
    let store = directory.store();
    let database = matches!(tokio_timeout(store.ping()).await, Some(Ok(())));
    let redis = match store.redis() {
        Some(redis) => matches!(tokio_timeout(redis.ping()).await, Some(Ok(()))),
        None => true,
    };
    let (status, body) = match (database, redis) {
        (true, true) => (StatusCode::OK, json!({"status": "ready"})),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "reason": "database unreachable"}),
        ),
        (true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "reason": "redis unreachable"}),
        ),
    };
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(body)
}

async fn tokio_timeout<F: std::future::Future>(f: F) -> Option<F::Output> {
    actix_web::rt::time::timeout(Duration::from_secs(2), f)
        .await
        .ok()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(metrics: web::Data<Metrics>, directory: web::Data<Directory>) -> HttpResponse {
    metrics.tenants_cached.set(directory.cached() as i64);
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(metrics.render())
}
