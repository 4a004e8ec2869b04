//! Layer behaviour that needs a purpose-built route or setting: panics,
//! timeouts and the upload size limit.

mod common;

use axum::Router;
use axum::routing::get;
use common::{Backend, TestApp, assert_problem};
use std::time::Duration;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(Backend::Sqlite, dir.path(), None, &[]);
    let app = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let base = serve(dramatis_server::with_layers(app, &config)).await;
    let client = reqwest::Client::new();
    let d = assert_problem(client.get(format!("{base}/boom")).send().await.unwrap(), 500).await;
    assert!(!d.contains("kaboom"), "panic text is not leaked: {d}");
    assert_eq!(
        client
            .get(format!("{base}/fine"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "fine"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_a_problem() {
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_millis(200),
            dramatis_server::middleware::timeout,
        ));
    let base = serve(app).await;
    let start = std::time::Instant::now();
    let d = assert_problem(reqwest::get(format!("{base}/slow")).await.unwrap(), 503).await;
    assert!(d.contains("longer than"), "{d}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

async fn upload_over_the_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("DRAMATIS_MAX_UPLOAD_MB", "1")]).await;
    let t = app.token("bigfile").await;
    let mut big = b"Chapter 1\n\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    let d = assert_problem(app.upload(&t, "big.txt", big).await, 413).await;
    assert!(d.contains("1 MiB") || d.contains("larger"), "{d}");
    assert_eq!(
        std::fs::read_dir(app.dir.path().join("files/tmp")).unwrap().count(),
        0,
        "partial file removed"
    );
    // Just under the limit is fine.
    let ok = vec![b'a'; 1000 * 1024];
    assert_eq!(
        app.upload(&t, "ok.txt", ok).await.status(),
        reqwest::StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_over_the_limit_sqlite() {
    upload_over_the_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_over_the_limit_postgres() {
    upload_over_the_limit(Backend::Postgres).await;
}

#[tokio::test]
async fn production_refuses_to_start_without_a_strong_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("DRAMATIS_ENV".to_string(), "production".to_string());
    vars.insert("DRAMATIS_DATA_DIR".to_string(), dir.path().display().to_string());
    let err = dramatis_server::config::Config::from_sources(&dramatis_server::config::Sources { vars }).unwrap_err();
    assert!(err.to_string().contains("DRAMATIS_SECRET_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_has_no_default_user() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("DRAMATIS_ENV", "production"),
            ("DRAMATIS_SECRET_KEY", "q8Vn3xR2bT7mK1pZ9wL4cY6hJ0sD5fG8aE2uI7oN"),
        ],
    )
    .await;
    assert_problem(app.login("testuser", "testpass123").await, 401).await;
    assert!(
        !app.dir.path().join("secret_key").exists(),
        "no generated secret in production"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_secret_is_generated_once_and_kept() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = app.dir.path().join("secret_key");
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let config = common::test_config(Backend::Sqlite, app.dir.path(), None, &[]);
    let again = dramatis_server::start(config).await.unwrap();
    drop(again);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
}

async fn boom() -> &'static str {
    panic!("kaboom")
}
