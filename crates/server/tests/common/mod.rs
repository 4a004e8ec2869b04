//! Test harness: each test starts the real application on a random port with
//! its own fresh database (a SQLite file in a temporary directory, or a new
//! PostgreSQL database created on the server named by
//! `DRAMATIS_TEST_POSTGRES_URL`) and talks HTTP to it.
//!
//! `backend_tests!(a, b, …)` runs each listed `async fn(TestApp)` once per
//! backend. The PostgreSQL variants fail (they never skip) when the variable
//! is unset: CI sets it, and a skipped database test would hide a failure.
#![allow(dead_code)]

use dramatis_server::config::{Config, Sources};
use dramatis_server::state::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pg: Option<(String, String)>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("DRAMATIS_TEST_POSTGRES_URL").expect(
        "DRAMATIS_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite needs a server \
         (e.g. postgres://postgres@127.0.0.1:5432/test); see README.md",
    )
}

async fn create_pg_database() -> (String, String, String) {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let name = format!("dramatis_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let (prefix, _) = admin.rsplit_once('/').expect("database URL with a path");
    (format!("{prefix}/{name}"), admin, name)
}

/// A PostgreSQL database created for a test, shared by several apps.
pub struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> (String, PgDatabase) {
        let (url, admin, name) = create_pg_database().await;
        (url, PgDatabase { admin, name })
    }

    pub async fn drop_database(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Settings for a test app; `extra` overrides the defaults.
pub fn test_config(backend: Backend, dir: &std::path::Path, db_url: Option<&str>, extra: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("DRAMATIS_DATA_DIR".into(), dir.display().to_string());
    vars.insert("DRAMATIS_BIND".into(), "127.0.0.1:0".into());
    vars.insert("DRAMATIS_HASH_CONCURRENCY".into(), "2".into());
    if backend == Backend::Postgres {
        vars.insert("DRAMATIS_DATABASE_URL".into(), db_url.expect("postgres url").into());
        vars.insert("DRAMATIS_DB_MAX_CONNECTIONS".into(), "4".into());
    }
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_sources(&Sources { vars }).expect("valid test config")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        let (db_url, pg) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let (url, admin, name) = create_pg_database().await;
                (Some(url), Some((admin, name)))
            }
        };
        let mut app = Self::start(backend, db_url.as_deref(), extra).await;
        app.pg = pg;
        app
    }

    /// An app on an existing database (several apps may share one); the
    /// database is not dropped with the app.
    pub async fn spawn_with_db(backend: Backend, db_url: &str, extra: &[(&str, &str)]) -> TestApp {
        Self::start(backend, Some(db_url), extra).await
    }

    async fn start(backend: Backend, db_url: Option<&str>, extra: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config(backend, dir.path(), db_url, extra);
        let state = dramatis_server::start(config).await.expect("app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(dramatis_server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            state,
            dir,
            backend,
            shutdown: Some(tx),
            server: Some(server),
            pg: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Starts graceful shutdown (in-flight requests finish).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Registers and logs in; returns the token response.
    pub async fn user(&self, username: &str) -> Value {
        let pw = format!("{username}-Pa55word!");
        let r = self.register(username, &pw).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "register {username}: {}",
            r.text().await.unwrap()
        );
        let r = self.login(username, &pw).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Registers and logs in; returns the access token.
    pub async fn token(&self, username: &str) -> String {
        self.user(username).await["access_token"].as_str().unwrap().to_string()
    }

    /// An admin created directly (as `dramatis user create --admin` does).
    pub async fn admin_token(&self) -> String {
        let pw = "Admin-Pa55word!";
        dramatis_server::users::create_with(
            &self.state.db,
            &self.state.hasher,
            dramatis_server::users::NewUser {
                username: "root-admin".into(),
                password: pw.into(),
                email: None,
                admin: true,
            },
        )
        .await
        .unwrap();
        let r: Value = self.login("root-admin", pw).await.json().await.unwrap();
        r["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, path: &str, token: &str, form: reqwest::multipart::Form) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts `bytes` as the `file` field of a form named `name`.
    pub async fn post_file(&self, path: &str, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        self.post_form(path, token, reqwest::multipart::Form::new().part("file", part))
            .await
    }

    pub async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.post_file("/api/v1/documents", token, name, bytes).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.begin_shutdown();
        if let Some((admin, name)) = self.pg.take() {
            // Drop the test database from a thread of its own: Drop cannot await.
            let db = self.state.db.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    use sqlx::Connection;
                    db.close().await;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Asserts an RFC 9457 problem response with `status`; returns its detail.
pub async fn assert_problem(resp: reqwest::Response, status: u16) -> String {
    let got = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "want {status}, got {got}: {body}");
    assert!(
        ctype.starts_with("application/problem+json"),
        "content-type {ctype}: {body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("problem body is JSON: {body}"));
    assert_eq!(v["status"], status, "{body}");
    assert!(v["title"].is_string(), "{body}");
    let detail = v["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("problem has a detail: {body}"));
    assert!(!detail.is_empty());
    detail.to_string()
}

/// Runs each test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestApp::spawn($crate::common::Backend::Postgres).await).await;
                }
            )+
        }
    };
}

/// A WebSocket client of the test server.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `/api/v1/ws` with the token in the query (as browsers do), replaying after `since` if given.
pub async fn connect_ws(app: &TestApp, token: &str, since: Option<&str>) -> Ws {
    let mut url = format!(
        "{}/api/v1/ws?access_token={token}",
        app.base.replace("http://", "ws://")
    );
    if let Some(s) = since {
        url.push_str(&format!("&since={s}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
    ws
}

/// The next JSON text message within `within`, or None.
pub async fn next_event(ws: &mut Ws, within: std::time::Duration) -> Option<Value> {
    use futures_util::StreamExt;
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                return Some(serde_json::from_str(&t).unwrap());
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// A file of the shared corpus (`../shared/data`, beside the repository).
pub fn shared(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(path)
}

/// *Pride and Prejudice* as EPUB, from the shared corpus.
pub fn pride() -> Vec<u8> {
    std::fs::read(shared("docs/bench/pride_and_prejudice.epub")).expect("the P&P EPUB of the shared corpus")
}

/// Polls a document until it has status `want` (and, for `ready`, its job has succeeded); fails on `failed`
/// (unless wanted) or after two minutes.
pub async fn wait_status(app: &TestApp, token: &str, id: &str, want: &str) -> Value {
    let start = Instant::now();
    loop {
        let d: Value = app
            .get(&format!("/api/v1/documents/{id}"), token)
            .await
            .json()
            .await
            .unwrap();
        if d["status"] == want {
            // The job is marked done just after the document: wait for both.
            let job = d["job_id"].as_str().unwrap_or_default();
            let j: Value = app
                .get(&format!("/api/v1/jobs/{job}"), token)
                .await
                .json()
                .await
                .unwrap();
            if want != "ready" || j["status"] == "succeeded" {
                return d;
            }
        }
        assert!(
            d["status"] != "failed" || want == "failed",
            "document failed: {}",
            d["error"]
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "document stuck in {}",
            d["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
