//! The dramatis HTTP service: an axum application with auth, documents,
//! characters, health and API docs, on SQLite (embedded default) or
//! PostgreSQL.
//!
//! What it is: routes (thin handlers in [`routes`]), the services they call
//! ([`users`], [`auth`]), persistence ([`db`]), original-file storage
//! ([`storage`]) and the cross-cutting layers ([`middleware`]). What it is
//! not: the document reader (`reader` crate) or the NLP engine (`nlp`
//! crate), which are pure libraries this service calls.
//!
//! [`start`] builds everything from a [`config::Config`]; [`serve`] runs it
//! until a shutdown signal, letting in-flight requests finish.

pub mod auth;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod extract;
pub mod jobs;
pub mod middleware;
pub mod openapi;
pub mod pipeline;
pub mod routes;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod users;
pub mod worker;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use config::Config;
use db::{Db, DbOptions};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use state::AppState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Db(#[from] db::DbError),
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("{0}")]
    Other(String),
}

/// Largest JSON or form body outside uploads.
const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Uploads may take long on slow links; everything else gets the configured timeout.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn metrics_handle() -> Option<PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// The signing secret: configured, or in development generated once and
/// kept in the data directory (so tokens survive restarts).
fn load_secret(config: &Config) -> Result<String, StartError> {
    if let Some(s) = &config.secret_key {
        return Ok(s.clone());
    }
    if config.is_production() {
        return Err(StartError::Other(
            "DRAMATIS_SECRET_KEY is required in production".into(),
        ));
    }
    let path = config.data_dir.join("secret_key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::Other(format!("cannot create {}: {e}", config.data_dir.display())))?;
    let secret = hex::encode(auth::random_bytes::<32>());
    write_private(&path, &secret).map_err(|e| StartError::Other(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), "generated a development secret key");
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Connects to the database and applies pending migrations.
pub async fn connect_and_migrate(config: &Config) -> Result<Db, StartError> {
    let db = Db::connect(
        &config.database_url,
        &DbOptions {
            max_connections: config.db_max_connections,
            page_cache_bytes: config.page_cache_bytes,
            ..DbOptions::default()
        },
    )
    .await?;
    let ran = db.migrate().await?;
    if ran > 0 {
        tracing::info!(ran, backend = db.backend().name(), "applied migrations");
    }
    Ok(db)
}

/// Builds the application state: database (migrated), storage, keys and,
/// in development, the old app's test user.
pub async fn start(config: Config) -> Result<AppState, StartError> {
    let secret = load_secret(&config)?;
    let db = connect_and_migrate(&config).await?;
    let storage = storage::Storage::open(&config.storage_url)?;
    let hasher =
        auth::password::PasswordHasher::new(config.hash_concurrency).map_err(|e| StartError::Other(e.to_string()))?;
    if !config.is_production() {
        users::ensure_dev_user(&db, &hasher)
            .await
            .map_err(|e| StartError::Other(format!("cannot create the development user: {e}")))?;
    }
    let events = match &config.redis_url {
        Some(url) => events::EventBus::with_redis(db.clone(), url)
            .await
            .map_err(StartError::Other)?,
        None => events::EventBus::new(db.clone()),
    };
    let tokens = auth::tokens::TokenService::new(secret.as_bytes(), config.access_token_ttl, config.refresh_token_ttl);
    let llm = chat::client(&config).map_err(StartError::Other)?;
    let indexes = chat::index::IndexCache::new(config.retrieval_cache_bytes);
    Ok(AppState::new(state::Inner {
        config: Arc::new(config),
        db: db.clone(),
        storage,
        tokens: Arc::new(tokens),
        hasher,
        limiter: Arc::new(auth::rate_limit::LoginLimiter::default()),
        queue: jobs::Queue::new(db.clone()),
        events,
        ready: Arc::new(AtomicBool::new(true)),
        started: Instant::now(),
        metrics: metrics_handle(),
        indexes,
        llm,
    }))
}

/// The OpenAPI document and the router, built together from the handlers.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let max_upload = state.config.max_upload_bytes as usize;
    let api = OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::characters::router())
        .merge(routes::documents::router())
        .merge(routes::users::router())
        .merge(routes::jobs::router())
        .merge(routes::search::router())
        .merge(routes::cards::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(timeout, middleware::timeout));
    // Long-lived streams get no request timeout; a chat turn waits for the
    // model at most DRAMATIS_LLM_TIMEOUT_SECS (the client's own timeouts end
    // it), so it is not cut by the ordinary request timeout either.
    let streams = routes::events::router().merge(routes::chat::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)));
    let card_import = routes::cards::import_router()
        .layer(DefaultBodyLimit::max(routes::cards::MAX_CARD_BYTES + 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(timeout, middleware::timeout));
    let uploads = routes::documents::upload_router()
        .layer(DefaultBodyLimit::max(max_upload.saturating_add(1024 * 1024)))
        .layer(axum::middleware::from_fn_with_state(
            UPLOAD_TIMEOUT,
            middleware::timeout,
        ));
    let (app, spec) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api.merge(uploads).merge(streams).merge(card_import))
        .merge(routes::health::router())
        .split_for_parts();
    let spec = Arc::new(spec.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    let app = app
        .route("/metrics", axum::routing::get(routes::health::metrics))
        .route_layer(axum::middleware::from_fn(middleware::metrics))
        .merge(routes::docs::router(spec))
        .fallback(|| async { error::problem(StatusCode::NOT_FOUND, "no such route") })
        .with_state(state.clone());
    with_layers(app, &state.config)
}

/// The layers every request passes, outermost first: request id, tracing, CORS, problem bodies for bare
/// errors, the header-size limit and panic catching.
///
/// They wrap the router once, as one service, rather than through `Router::layer`, which wraps every route's
/// endpoint separately: each of those seven levels cost a boxed clone of the route and a boxed future on every
/// request (a fifth of the CPU of a cached list page). The router's own routing is unchanged inside.
pub fn with_layers(app: Router, config: &Config) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let service = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::make_span))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(cors(config))
        .layer(axum::middleware::from_fn(middleware::problem_bodies))
        .layer(axum::middleware::from_fn(middleware::header_limit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .service(app);
    Router::new().fallback_service(service)
}

/// The OpenAPI document as JSON (for `dramatis openapi` and tests).
pub fn openapi_json() -> String {
    let (_, spec) = OpenApiRouter::<AppState>::with_openapi(openapi::ApiDoc::openapi())
        .nest(
            "/api/v1",
            routes::auth::router()
                .merge(routes::characters::router())
                .merge(routes::documents::router())
                .merge(routes::documents::upload_router())
                .merge(routes::users::router())
                .merge(routes::jobs::router())
                .merge(routes::search::router())
                .merge(routes::cards::router())
                .merge(routes::cards::import_router())
                .merge(routes::chat::router())
                .merge(routes::events::router()),
        )
        .merge(routes::health::router())
        .split_for_parts();
    spec.to_pretty_json().unwrap_or_default()
}

fn cors(config: &Config) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    if config.cors_origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(origins).allow_credentials(true)
    }
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let db = state.db.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = worker::spawn(&state, state.config.workers, stop_rx);
    // `install_recorder` leaves upkeep to us: without it every latency sample stays queued in its histogram
    // until the next scrape, so an unscraped server under load grows by 8 bytes per request.
    if let Some(handle) = state.metrics.clone() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    }
    let state_lease = state.config.job_lease;
    let app = router(state);
    // Nagle's algorithm would hold each streamed token (SSE, WebSocket) back ~40 ms waiting for an ACK; small
    // writes are the point of streaming, so every accepted connection sends at once.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    // Workers finish the job in hand (bounded: its lease makes it safe to abandon).
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(state_lease, futures_util::future::join_all(workers)).await;
    db.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// A Redis `PING` over RESP (enough for health; the event bus brings a
/// full client).
pub async fn redis_ping(url: &str) -> Result<Duration, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| "only redis:// URLs are checked".to_string())?;
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host = host.split('/').next().unwrap_or("127.0.0.1:6379");
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:6379")
    };
    let start = Instant::now();
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(&host).await.map_err(|e| e.to_string())?;
        if let Some(a) = auth {
            let pw = a.rsplit(':').next().unwrap_or(a);
            let cmd = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{}\r\n", pw.len(), pw);
            s.write_all(cmd.as_bytes()).await.map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
            if !buf[..n].starts_with(b"+OK") {
                return Err("Redis refused AUTH".to_string());
            }
        }
        s.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
        if buf[..n].starts_with(b"+PONG") {
            Ok(())
        } else {
            Err(format!("unexpected reply {:?}", String::from_utf8_lossy(&buf[..n])))
        }
    };
    match tokio::time::timeout(Duration::from_secs(2), fut).await {
        Ok(Ok(())) => Ok(start.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("timed out after 2 s".into()),
    }
}

/// Marks the state not ready (tests of readiness).
pub fn set_ready(state: &AppState, ready: bool) {
    state.ready.store(ready, Ordering::Release);
}
