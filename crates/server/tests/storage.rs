//! Storage: the `Storage` API on a local directory and on a real
//! S3-compatible server, the whole upload → analysis → delete flow on S3,
//! health, and the removal of orphaned files by maintenance.
//!
//! The S3 tests read the endpoint from `DRAMATIS_TEST_S3_URL` (e.g.
//! `http://127.0.0.1:5055`, a `moto_server` that `.ci/run` starts) and fail
//! when it is unset: a skipped test would hide a failure. Each test makes a
//! bucket of its own, so they run in parallel.

mod common;

use common::{Backend, TestApp, wait_status};
use dramatis_server::storage::{PART_BYTES, Storage};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

fn s3_endpoint() -> String {
    std::env::var("DRAMATIS_TEST_S3_URL")
        .expect(
            "DRAMATIS_TEST_S3_URL is not set: the S3 storage tests need an S3-compatible server \
             (e.g. `moto_server -H 127.0.0.1 -p 5055` and DRAMATIS_TEST_S3_URL=http://127.0.0.1:5055); see README.md",
        )
        .trim_end_matches('/')
        .to_string()
}

/// Creates a fresh bucket and returns an `s3://` storage URL in it.
async fn s3_url() -> String {
    let endpoint = s3_endpoint();
    let bucket = format!("dramatis-t-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("S3 server at {endpoint} does not answer: {e}"));
    assert!(r.status().is_success(), "create bucket {bucket}: {}", r.status());
    format!("s3://{bucket}/originals?endpoint={endpoint}&access_key_id=test&secret_access_key=test&region=us-east-1")
}

/// Deterministic bytes that do not compress or repeat.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn spool_is_empty(s: &Storage) -> bool {
    std::fs::read_dir(s.spool_dir()).map_or(true, |mut d| d.next().is_none())
}

async fn store(s: &Storage, bytes: &[u8]) -> String {
    let mut p = s.begin().await.unwrap();
    for chunk in bytes.chunks(64 * 1024 + 7) {
        p.write(chunk).await.unwrap();
    }
    let sha = p.finish().await.unwrap();
    s.commit(p, &sha).await.unwrap();
    sha
}

/// Write/commit/read/exists/delete, dedup, and that a dropped upload leaves nothing.
async fn storage_api(s: Storage) {
    s.check_writable().await.expect("writable");
    assert!(s.blobs().await.unwrap().is_empty());

    let small = b"It is a truth universally acknowledged".to_vec();
    // Larger than two parts: a multipart upload on S3.
    let large = noise(2 * PART_BYTES + 12_345, 7);
    let a = store(&s, &small).await;
    let b = store(&s, &large).await;
    assert_eq!(a, sha256_hex(&small));
    assert_eq!(b, sha256_hex(&large));
    assert!(s.exists(&a).await && s.exists(&b).await);
    assert_eq!(s.read(&a).await.unwrap(), small);
    assert!(s.read(&b).await.unwrap() == large, "large blob round-trips");
    assert!(s.modified(&a).await.unwrap().is_some());

    // The same content again is stored once.
    assert_eq!(store(&s, &large).await, b);
    let mut listed: Vec<(String, u64)> = s
        .blobs()
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.sha256, b.size))
        .collect();
    listed.sort();
    let mut want = vec![(a.clone(), small.len() as u64), (b.clone(), large.len() as u64)];
    want.sort();
    assert_eq!(listed, want);

    // An upload dropped before commit (client gone, too large, crash of the
    // handler) leaves nothing behind, finished or not.
    let mut p = s.begin().await.unwrap();
    p.write(b"half an upload").await.unwrap();
    let tmp = p.path().to_path_buf();
    assert!(tmp.exists());
    drop(p);
    assert!(!tmp.exists());
    let mut p = s.begin().await.unwrap();
    p.write(b"finished but never committed").await.unwrap();
    let never = p.finish().await.unwrap();
    drop(p);
    assert!(!s.exists(&never).await);
    assert_eq!(s.blobs().await.unwrap().len(), 2);
    assert!(
        spool_is_empty(&s),
        "no temporary files left in {}",
        s.spool_dir().display()
    );

    // Delete, idempotently.
    s.delete(&a).await.unwrap();
    s.delete(&a).await.unwrap();
    assert!(!s.exists(&a).await);
    assert!(s.read(&a).await.is_err());
    assert!(s.exists(&b).await);
    s.delete(&b).await.unwrap();
    assert!(s.blobs().await.unwrap().is_empty());
    assert_eq!(s.remove_stale_temp(SystemTime::now()).await.unwrap(), 0);
}

#[tokio::test]
async fn storage_api_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path().join("files").to_str().unwrap()).unwrap();
    assert!(s.describe().starts_with("local:"));
    storage_api(s).await;
}

#[tokio::test]
async fn storage_api_on_s3() {
    let s = Storage::open(&s3_url().await).unwrap();
    assert!(s.describe().starts_with("s3://dramatis-t-"), "{}", s.describe());
    assert!(!s.describe().contains("secret"), "credentials stay out of descriptions");
    storage_api(s).await;
}

#[tokio::test]
async fn s3_health_reports_a_missing_bucket() {
    let endpoint = s3_endpoint();
    let url = format!(
        "s3://no-such-bucket-{}?endpoint={endpoint}",
        uuid::Uuid::new_v4().simple()
    );
    let s = Storage::open(&format!("{url}&access_key_id=test&secret_access_key=test")).unwrap();
    let t = Instant::now();
    assert!(s.check_writable().await.is_err());
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "a failing check answers promptly"
    );
}

/// A short story with a cast, quick to analyse.
fn story(variant: &str) -> Vec<u8> {
    let mut s = format!("# The Visit ({variant})\n\n");
    for i in 0..40 {
        s.push_str(&format!(
            "Elizabeth Bennet walked to the window. \"Mr. Darcy is here again,\" said Elizabeth to Jane. \
             Jane Bennet smiled and said, \"He comes every day, Lizzy.\" Mr. Darcy bowed to Elizabeth \
             and spoke of Pemberley, and Jane watched them both. ({i})\n\n"
        ));
    }
    s.into_bytes()
}

async fn upload_ready(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let r = app.upload(token, name, bytes).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    wait_status(app, token, d["id"].as_str().unwrap(), "ready").await
}

/// On S3: upload → analysis → text and analysis; identical content stored
/// once; a delete removes the object only with its last document.
async fn s3_upload_analyse_dedup_delete(backend: Backend) {
    let url = s3_url().await;
    let app = TestApp::spawn_with(backend, &[("DRAMATIS_STORAGE_URL", &url)]).await;
    let s = &app.state.storage;
    assert!(s.describe().starts_with("s3://"));
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;

    let bytes = story("one");
    let sha = sha256_hex(&bytes);
    let d1 = upload_ready(&app, &alice, "visit.md", bytes.clone()).await;
    let id1 = d1["id"].as_str().unwrap().to_string();
    assert!(s.exists(&sha).await, "the original is in the bucket");
    assert!(spool_is_empty(s), "the spooled upload is gone");

    let text = app.get(&format!("/api/v1/documents/{id1}/text"), &alice).await;
    assert_eq!(text.status(), StatusCode::OK);
    let text = text.text().await.unwrap();
    assert!(text.contains("Pemberley"), "{text}");
    let analysis = app.get(&format!("/api/v1/documents/{id1}/analysis"), &alice).await;
    assert_eq!(analysis.status(), StatusCode::OK);
    let analysis: Value = analysis.json().await.unwrap();
    let names = analysis["characters"].to_string();
    assert!(names.contains("Elizabeth") && names.contains("Darcy"), "{names}");

    // The same content from another user, and a different file: two objects.
    let d2 = upload_ready(&app, &bob, "same.md", bytes.clone()).await;
    let id2 = d2["id"].as_str().unwrap().to_string();
    let d3 = upload_ready(&app, &alice, "other.md", story("two")).await;
    let id3 = d3["id"].as_str().unwrap().to_string();
    let blobs = s.blobs().await.unwrap();
    assert_eq!(blobs.len(), 2, "identical content is stored once: {blobs:?}");

    // Re-analysis reads the object back.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id2}/analyze")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(50)).await;
    wait_status(&app, &bob, &id2, "ready").await;

    // Health checks the bucket.
    let h: Value = app
        .client
        .get(app.url("/health/detailed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["storage"]["status"], "ok", "{h}");

    // Delete: the object stays while another document refers to it.
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{id1}"), &alice).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(s.exists(&sha).await, "bob's document still needs it");
    assert_eq!(s.read(&sha).await.unwrap(), bytes);
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{id2}"), &bob).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!s.exists(&sha).await, "removed with its last document");
    assert_eq!(s.blobs().await.unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{id3}"), &alice).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(s.blobs().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_analyse_dedup_delete_sqlite() {
    s3_upload_analyse_dedup_delete(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_analyse_dedup_delete_postgres() {
    s3_upload_analyse_dedup_delete(Backend::Postgres).await;
}

/// Maintenance removes blobs no row refers to and stale temporary uploads,
/// but spares young ones and every referenced blob.
async fn orphans_are_removed(backend: Backend, storage_url: Option<String>) {
    let extra: Vec<(&str, &str)> = storage_url
        .as_deref()
        .map(|u| vec![("DRAMATIS_STORAGE_URL", u)])
        .unwrap_or_default();
    let app = TestApp::spawn_with(backend, &extra).await;
    let state = &app.state;
    let s = &state.storage;
    let token = app.token("carol").await;
    let bytes = story("kept");
    let kept = sha256_hex(&bytes);
    let d = upload_ready(&app, &token, "kept.md", bytes).await;

    // A blob whose row was never written (a crash between commit and insert),
    // and a temporary upload a killed process left.
    let orphan = store(s, &noise(100_000, 3)).await;
    let mut p = s.begin().await.unwrap();
    p.write(b"an upload cut off by a crash").await.unwrap();
    let stale = p.path().to_path_buf();
    p.finish().await.unwrap();
    std::mem::forget(p); // as if the process died: no Drop runs
    assert!(stale.exists());

    // Younger than the grace period: nothing goes (uploads in flight are safe).
    let (blobs, temp) = dramatis_server::worker::remove_orphans(state, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!((blobs, temp), (0, 0));
    assert!(s.exists(&orphan).await && stale.exists());
    // The periodic maintenance (default grace of two hours) reports what it did.
    let m = dramatis_server::worker::maintenance_once(state).await.unwrap();
    assert_eq!(m["orphaned_blobs_removed"], 0, "{m}");
    assert_eq!(m["temp_files_removed"], 0, "{m}");

    // Older than the grace period: the orphan and the temporary file go.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (blobs, temp) = dramatis_server::worker::remove_orphans(state, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!((blobs, temp), (1, 1));
    assert!(!s.exists(&orphan).await, "orphan removed");
    assert!(!stale.exists(), "stale temporary upload removed");
    assert!(s.exists(&kept).await, "a referenced blob is never removed");
    let listed: Vec<String> = s.blobs().await.unwrap().into_iter().map(|b| b.sha256).collect();
    assert_eq!(listed, vec![kept.clone()]);
    // The kept document still reads and re-analyses.
    let id = d["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/analyze")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(50)).await;
    wait_status(&app, &token, id, "ready").await;
    assert_eq!(
        dramatis_server::worker::remove_orphans(state, Duration::ZERO)
            .await
            .unwrap(),
        (0, 0)
    );
    assert!(s.exists(&kept).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_removed_local_sqlite() {
    orphans_are_removed(Backend::Sqlite, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_removed_s3_sqlite() {
    orphans_are_removed(Backend::Sqlite, Some(s3_url().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_removed_s3_postgres() {
    orphans_are_removed(Backend::Postgres, Some(s3_url().await)).await;
}

#[test]
fn s3_endpoint_setting_goes_into_the_storage_url() {
    let dir = tempfile::tempdir().unwrap();
    let c = common::test_config(
        Backend::Sqlite,
        dir.path(),
        None,
        &[
            ("DRAMATIS_STORAGE_URL", "s3://books/originals"),
            ("DRAMATIS_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ],
    );
    assert_eq!(c.storage_url, "s3://books/originals?endpoint=http://127.0.0.1:9000");
    assert_eq!(c.orphan_grace, Duration::from_secs(7200));
    let s = Storage::open(&c.storage_url).unwrap();
    assert_eq!(s.describe(), "s3://books/originals at http://127.0.0.1:9000");
}
