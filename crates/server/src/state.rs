//! The state every handler receives: handles, no request data. An API
//! instance keeps nothing here that another instance would need (the login
//! limiter is the one per-instance memory, see its module).

use crate::auth::password::PasswordHasher;
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::tokens::TokenService;
use crate::config::Config;
use crate::db::Db;
use crate::events::EventBus;
use crate::jobs::Queue;
use crate::storage::Storage;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Cloned for every request (axum's `State`), so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

pub struct Inner {
    pub config: Arc<Config>,
    pub db: Db,
    pub storage: Storage,
    pub tokens: Arc<TokenService>,
    pub hasher: PasswordHasher,
    pub limiter: Arc<LoginLimiter>,
    pub queue: Queue,
    pub events: EventBus,
    /// Set once migrations are applied; `/health/ready` answers 503 before.
    pub ready: Arc<AtomicBool>,
    pub started: Instant,
    pub metrics: Option<PrometheusHandle>,
    /// Per-document search indexes (a cache; the database is the truth).
    pub indexes: crate::chat::index::IndexCache,
    /// The model server's client, when `DRAMATIS_LLM_BASE_URL` is set; chat is extractive without it.
    pub llm: Option<Arc<llm::Client>>,
}
