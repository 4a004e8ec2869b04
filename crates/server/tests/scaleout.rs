//! Scale-out on real services: two API instances and a separate worker on
//! one PostgreSQL database and one Redis. A document uploaded through
//! instance A is processed by the worker, and a WebSocket client connected
//! to instance B sees every event of it.

mod common;

use common::{Backend, TestApp};
use futures_util::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

fn redis_url() -> String {
    std::env::var("DRAMATIS_TEST_REDIS_URL")
        .expect("DRAMATIS_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379); see README.md")
}

async fn instance(db_url: &str, storage: &std::path::Path, workers: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        ("DRAMATIS_DATABASE_URL", db_url),
        ("DRAMATIS_REDIS_URL", &redis_url()),
        ("DRAMATIS_STORAGE_URL", storage.to_str().unwrap()),
        ("DRAMATIS_WORKERS", workers),
        ("DRAMATIS_SECRET_KEY", "shared-secret-of-the-cluster-0123456789abcdef"),
    ];
    (TestApp::spawn_with_db(Backend::Postgres, db_url, &extra).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_instances_through_redis() {
    let (db_url, guard) = common::PgDatabase::create().await;
    let storage = tempfile::tempdir().unwrap();
    let (a, _da) = instance(&db_url, storage.path(), "0").await;
    let (b, _db) = instance(&db_url, storage.path(), "0").await;
    let (w, _dw) = instance(&db_url, storage.path(), "1").await; // the worker
    assert!(a.state.events.uses_redis() && b.state.events.uses_redis());
    let health: Value = a
        .client
        .get(a.url("/health/detailed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["redis"]["status"], "ok", "{health}");

    let t = a.token("clustered").await;
    // Tokens from A work on B: same secret, same database.
    assert_eq!(b.get("/api/v1/auth/me", &t).await.status(), reqwest::StatusCode::OK);
    let url = format!("{}/api/v1/ws?access_token={t}", b.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    let book = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/docs/bench/pride_and_prejudice.epub"),
    )
    .unwrap();
    let d: Value = a.upload(&t, "pride.epub", book).await.json().await.unwrap();
    let doc = d["id"].as_str().unwrap().to_string();
    let mut types = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(txt)))) => {
                let e: Value = serde_json::from_str(&txt).unwrap();
                types.push(e["type"].as_str().unwrap().to_string());
                if e["type"] == "job.completed" {
                    break;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("websocket ended early: {other:?}; got {types:?}"),
        }
    }
    for want in [
        "job.queued",
        "job.progress",
        "character.created",
        "document.ready",
        "job.completed",
    ] {
        assert!(types.iter().any(|t| t == want), "{want} missing from {types:?}");
    }
    // The worker did the work.
    let job: Value = b
        .get(&format!("/api/v1/jobs/{}", d["job_id"].as_str().unwrap()), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "succeeded");
    let status: Value = b
        .get(&format!("/api/v1/documents/{doc}"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "ready");
    drop((a, b, w));
    guard.drop_database().await;
}
