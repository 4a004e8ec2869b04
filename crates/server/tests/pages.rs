//! The list-page cache (`db::pages`) never serves what the database no longer says: after a write through
//! the same instance the next list shows it; through another instance on the same database, or straight into
//! the database by another program, within a bound (SQLite: its next look, every millisecond; PostgreSQL: the
//! trigger's notification).

#[macro_use]
mod common;

use common::{Backend, TestApp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get(&format!("/api/v1/characters{query}"), token).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Polls `list` until `want` holds, for at most `bound`. Another instance's write is seen when SQLite's
/// watch next looks (every millisecond) or PostgreSQL's notification arrives; the bounds leave room for a
/// loaded CI machine.
async fn eventually(app: &TestApp, token: &str, query: &str, bound: Duration, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let page = list(app, token, query).await;
        if want(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "still stale after {bound:?}: {page}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

const SQLITE_BOUND: Duration = Duration::from_millis(200);
const POSTGRES_BOUND: Duration = Duration::from_secs(3);

async fn writes_through_this_instance_show_at_once(app: TestApp) {
    assert!(app.state.db.page_cache().enabled());
    let t = app.token("pager").await;
    for i in 0..3 {
        let r = app
            .post_json("/api/v1/characters", &t, json!({"name": format!("C{i}")}))
            .await;
        assert_eq!(r.status(), 201);
    }
    // Twice, so the second is served from the cache.
    assert_eq!(list(&app, &t, "?limit=2").await, list(&app, &t, "?limit=2").await);
    assert!(app.state.db.page_cache().used() > 0, "nothing was cached");

    let created: Value = app
        .post_json("/api/v1/characters", &t, json!({"name": "Newest"}))
        .await
        .json()
        .await
        .unwrap();
    let page = list(&app, &t, "?limit=2").await;
    assert_eq!(page["total"], 4);
    assert_eq!(names(&page)[0], "Newest");

    let id = created["id"].as_str().unwrap();
    let r = app
        .patch_json(&format!("/api/v1/characters/{id}"), &t, json!({"name": "Renamed"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(names(&list(&app, &t, "?limit=2").await)[0], "Renamed");

    assert_eq!(app.delete(&format!("/api/v1/characters/{id}"), &t).await.status(), 204);
    let page = list(&app, &t, "?limit=2").await;
    assert_eq!(page["total"], 3);
    assert!(!names(&page).contains(&"Renamed".to_string()));

    // Another user's page is another entry: nothing of the first user's leaks into it.
    let other = app.token("pager-two").await;
    let page = list(&app, &other, "?limit=2").await;
    assert_eq!(page["total"], 0, "{page}");
}

backend_tests!(writes_through_this_instance_show_at_once);

/// Two instances on one SQLite file (as `dramatis serve` and a `dramatis worker` process would be).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_by_another_instance_show_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let extra = [
        ("DRAMATIS_DATABASE_URL", url.as_str()),
        ("DRAMATIS_SECRET_KEY", "shared-secret-of-the-cluster-0123456789abcdef"),
    ];
    let a = TestApp::spawn_with_db(Backend::Sqlite, &url, &extra).await;
    let b = TestApp::spawn_with_db(Backend::Sqlite, &url, &extra).await;
    let t = a.token("two-instances").await;
    a.post_json("/api/v1/characters", &t, json!({"name": "First"})).await;
    eventually(&b, &t, "", SQLITE_BOUND, |p| p["total"] == 1).await;
    assert_eq!(list(&b, &t, "").await["total"], 1); // cached on b now
    a.post_json("/api/v1/characters", &t, json!({"name": "Second"})).await;
    let page = eventually(&b, &t, "", SQLITE_BOUND, |p| p["total"] == 2).await;
    assert_eq!(names(&page)[0], "Second");
}

/// Two instances on one PostgreSQL database, and a change made by another program (plain SQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_elsewhere_reach_every_instance() {
    let (url, guard) = common::PgDatabase::create().await;
    let extra = [("DRAMATIS_SECRET_KEY", "shared-secret-of-the-cluster-0123456789abcdef")];
    let a = TestApp::spawn_with_db(Backend::Postgres, &url, &extra).await;
    let b = TestApp::spawn_with_db(Backend::Postgres, &url, &extra).await;
    // The listener connects in the background: wait until b can cache at all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.state.db.data_version().is_none() {
        assert!(Instant::now() < deadline, "the change listener never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = a.token("two-instances").await;
    a.post_json("/api/v1/characters", &t, json!({"name": "First"})).await;
    eventually(&b, &t, "", POSTGRES_BOUND, |p| p["total"] == 1).await;
    assert_eq!(list(&b, &t, "").await["total"], 1);

    a.post_json("/api/v1/characters", &t, json!({"name": "Second"})).await;
    let page = eventually(&b, &t, "", POSTGRES_BOUND, |p| p["total"] == 2).await;
    assert_eq!(names(&page)[0], "Second");

    // Not through dramatis at all: the trigger notifies anyway.
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("UPDATE characters SET name = 'Edited in psql' WHERE name = 'Second'")
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
    }
    for app in [&a, &b] {
        let page = eventually(app, &t, "", POSTGRES_BOUND, |p| names(p)[0] == "Edited in psql").await;
        assert_eq!(page["total"], 2);
    }
    drop(a);
    drop(b);
    guard.drop_database().await;
}
