//! Health endpoints (no prefix): `/health`, `/health/detailed`,
//! `/health/ready`, `/health/live`; and `/metrics` for Prometheus.

use crate::error::{Problem, problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(detailed))
        .routes(routes!(ready))
        .routes(routes!(live))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "healthy", "version": "0.1.0"}))]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness summary.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`; `disabled` for optional services not configured.
    pub status: &'static str,
    pub latency_ms: Option<f64>,
    pub detail: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Detailed {
    /// `healthy` when every configured dependency answers, else `degraded`.
    pub status: &'static str,
    pub version: &'static str,
    pub environment: &'static str,
    pub uptime_seconds: u64,
    pub database: Check,
    pub database_backend: &'static str,
    pub storage: Check,
    pub redis: Check,
}

fn ok(latency: std::time::Duration) -> Check {
    Check {
        status: "ok",
        latency_ms: Some(latency.as_secs_f64() * 1e3),
        detail: None,
    }
}

fn failed(detail: String) -> Check {
    Check {
        status: "error",
        latency_ms: None,
        detail: Some(detail),
    }
}

/// Every dependency with its round-trip latency.
#[utoipa::path(get, path = "/health/detailed", tag = "health", responses((status = 200, body = Detailed)))]
async fn detailed(State(state): State<AppState>) -> Json<Detailed> {
    let database = match state.db.ping().await {
        Ok(t) => ok(t),
        Err(e) => failed(e.to_string()),
    };
    let start = std::time::Instant::now();
    let storage = match state.storage.check_writable().await {
        Ok(()) => ok(start.elapsed()),
        Err(e) => failed(e.to_string()),
    };
    let redis = match &state.config.redis_url {
        None => Check {
            status: "disabled",
            latency_ms: None,
            detail: Some("DRAMATIS_REDIS_URL is not set; events stay in process".into()),
        },
        Some(url) => match crate::redis_ping(url).await {
            Ok(t) => ok(t),
            Err(e) => failed(e),
        },
    };
    let healthy = [&database, &storage, &redis].iter().all(|c| c.status != "error");
    Json(Detailed {
        status: if healthy { "healthy" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        environment: if state.config.is_production() {
            "production"
        } else {
            "development"
        },
        uptime_seconds: state.started.elapsed().as_secs(),
        database,
        database_backend: state.db.backend().name(),
        storage,
        redis,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
}

/// Ready to serve: migrations applied and the database answering.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, body = Ready),
    (status = 503, description = "starting up or the database is down", body = Problem)))]
async fn ready(State(state): State<AppState>) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "migrations are not applied yet");
    }
    match state.db.ping().await {
        Ok(_) => Json(Ready { status: "ready" }).into_response(),
        Err(e) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        ),
    }
}

/// The process is alive (no dependency checked).
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Ready)))]
async fn live() -> Json<Ready> {
    Json(Ready { status: "alive" })
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(h) => (
            [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => problem(StatusCode::NOT_FOUND, "metrics are not enabled"),
    }
}
