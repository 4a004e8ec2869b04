//! Health, docs, metrics and the cross-cutting layers, on SQLite and
//! PostgreSQL.

mod common;

use common::{Backend, TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::Value;

backend_tests!(
    health_endpoints,
    readiness_follows_state,
    openapi_document_is_complete,
    docs_pages_are_self_contained,
    metrics_count_requests,
    request_ids_are_returned,
    cors_allows_configured_origins_only,
    unknown_routes_and_methods_are_problems,
    huge_headers_are_refused,
    migrations_are_idempotent,
    in_flight_upload_finishes_on_shutdown,
);

async fn health_endpoints(app: TestApp) {
    let h: Value = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "healthy");
    let d: Value = app
        .client
        .get(app.url("/health/detailed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "healthy", "{d}");
    assert_eq!(d["database"]["status"], "ok");
    assert!(d["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
    let want = if app.backend == Backend::Postgres {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(d["database_backend"], want);
    assert_eq!(d["storage"]["status"], "ok");
    assert_eq!(d["redis"]["status"], "disabled");
    assert!(d["uptime_seconds"].is_u64());
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    for p in ["/health/ready", "/health/live"] {
        assert_eq!(
            app.client.get(app.url(p)).send().await.unwrap().status(),
            StatusCode::OK,
            "{p}"
        );
    }
}

async fn readiness_follows_state(app: TestApp) {
    dramatis_server::set_ready(&app.state, false);
    assert_problem(app.client.get(app.url("/health/ready")).send().await.unwrap(), 503).await;
    assert_eq!(
        app.client.get(app.url("/health/live")).send().await.unwrap().status(),
        StatusCode::OK
    );
    dramatis_server::set_ready(&app.state, true);
    assert_eq!(
        app.client.get(app.url("/health/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

async fn openapi_document_is_complete(app: TestApp) {
    let spec: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/auth/register", &["post"][..]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/auth/refresh", &["post"]),
        ("/api/v1/auth/me", &["get"]),
        ("/api/v1/auth/logout", &["post"]),
        ("/api/v1/characters", &["get", "post"]),
        ("/api/v1/characters/{id}", &["get", "patch", "delete"]),
        ("/api/v1/documents", &["get", "post"]),
        ("/api/v1/documents/{id}", &["get", "delete"]),
        ("/api/v1/users", &["get"]),
        ("/health", &["get"]),
        ("/health/detailed", &["get"]),
        ("/health/ready", &["get"]),
        ("/health/live", &["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the spec"));
        for m in methods {
            let op = item.get(*m).unwrap_or_else(|| panic!("{m} {path} missing"));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {path} has no responses"
            );
        }
    }
    let me = &paths["/api/v1/auth/me"]["get"];
    assert!(
        me["security"].as_array().is_some_and(|s| !s.is_empty()),
        "me is secured"
    );
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(
        schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/login"
    );
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let login = &paths["/api/v1/auth/login"]["post"]["requestBody"]["content"];
    assert!(
        login.get("application/x-www-form-urlencoded").is_some(),
        "login takes the OAuth2 form"
    );
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    assert!(
        spec["components"]["schemas"]["Character"]["example"].is_object(),
        "schemas carry examples"
    );
}

async fn docs_pages_are_self_contained(app: TestApp) {
    for (page, asset) in [
        ("/api/v1/docs", "/api/v1/docs/swagger-ui-bundle.js"),
        ("/api/v1/redoc", "/api/v1/redoc/redoc.standalone.js"),
    ] {
        let r = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "{page} loads nothing from outside"
        );
        assert!(html.contains(asset), "{page} references {asset}");
        let js = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(js.status(), StatusCode::OK, "{asset}");
        assert!(js.bytes().await.unwrap().len() > 100_000, "{asset} is the real bundle");
    }
    let css = app
        .client
        .get(app.url("/api/v1/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
}

async fn metrics_count_requests(app: TestApp) {
    for _ in 0..3 {
        app.client.get(app.url("/health")).send().await.unwrap();
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("route=\"/health\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "latency histogram"
    );
}

async fn request_ids_are_returned(app: TestApp) {
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    let id = r.headers().get("x-request-id").expect("generated id").to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let r = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "trace-me-123");
    // Also on errors.
    let r = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("x-request-id", "err-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "err-1");
}

async fn cors_allows_configured_origins_only(app: TestApp) {
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/characters"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let r = preflight("http://localhost:8501").await.unwrap();
    assert_eq!(
        r.headers().get("access-control-allow-origin").unwrap(),
        "http://localhost:8501"
    );
    let r = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(
        r.headers().get("access-control-allow-origin").unwrap(),
        "http://localhost:3000"
    );
    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    assert_problem(
        app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap(),
        404,
    )
    .await;
    assert_problem(app.client.put(app.url("/health")).send().await.unwrap(), 405).await;
}

async fn huge_headers_are_refused(app: TestApp) {
    let r = app
        .client
        .get(app.url("/health"))
        .header("x-big", "a".repeat(100_000))
        .send()
        .await
        .unwrap();
    let d = assert_problem(r, 431).await;
    assert!(d.contains("headers"), "{d}");
    // Far larger ones are cut off by hyper itself; either way the server lives on.
    let _ = app
        .client
        .get(app.url("/health"))
        .header("x-big", "a".repeat(1_000_000))
        .send()
        .await;
    assert_eq!(
        app.client.get(app.url("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

async fn migrations_are_idempotent(app: TestApp) {
    assert_eq!(app.state.db.migrate().await.unwrap(), 0);
    assert!(app.state.db.is_migrated().await.unwrap());
}

async fn in_flight_upload_finishes_on_shutdown(mut app: TestApp) {
    let t = app.token("slowpoke").await;
    // A body that trickles in over ~600 ms.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let boundary = "XyZbOuNdArY";
    let client = app.client.clone();
    let url = app.url("/api/v1/documents");
    let req = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(t)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
    });
    tx.send(Ok(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes()))
    .await
    .unwrap();
    for _ in 0..6 {
        tx.send(Ok(b"It was the best of times, it was the worst of times.\n".to_vec()))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Shut down while the upload is still streaming.
        app.begin_shutdown();
    }
    tx.send(Ok(format!("\r\n--{boundary}--\r\n").into_bytes()))
        .await
        .unwrap();
    drop(tx);
    let resp = req.await.unwrap().expect("the in-flight request completes");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let server = app.server.take().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops after the last request")
        .unwrap()
        .unwrap();
}

/// The schema as the migrations before `upto` (exclusive) left it, recorded as applied: a database made by an
/// older binary. Statements are run one by one (the files are plain `;`-separated SQL).
async fn old_schema(db: &dramatis_server::db::Db, upto: &str) {
    let files = [
        ("0001_init", include_str!("../migrations/0001_init.sql")),
        ("0002_pipeline", include_str!("../migrations/0002_pipeline.sql")),
        ("0003_chat", include_str!("../migrations/0003_chat.sql")),
        ("0004_analyzed_at", include_str!("../migrations/0004_analyzed_at.sql")),
    ];
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    for (version, sql) in files.iter().take_while(|(v, _)| *v < upto) {
        for stmt in sql.split(";\n") {
            let code = stmt
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<String>();
            if !code.trim().is_empty() {
                tx.execute(stmt, &[])
                    .await
                    .unwrap_or_else(|e| panic!("{version}: {e}\n{stmt}"));
            }
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &dramatis_server::params![*version, dramatis_server::db::now()],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// A database made before passages and quotes lost their `text` column (migration 0005), holding an analysed
/// document, migrates at start: every row and column but those two is kept, and the document is searched,
/// quoted and read from its stored text as before.
async fn pre_0005_database_migrates(backend: Backend) {
    use dramatis_server::db::{Db, DbOptions, now};
    use dramatis_server::params;
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.path().join("old.db").display()), None),
        Backend::Postgres => {
            let (url, pg) = common::PgDatabase::create().await;
            (url, Some(pg))
        }
    };
    let text = "Alice walked down to the river and sat on the mossy bank.\n\n\
                \"I could watch these boats for ever,\" said Alice.";
    let para = text.find("\n\n").unwrap();
    let (q0, q1) = (text.find('"').unwrap(), text.rfind('"').unwrap() + 1);
    let (user, doc, char_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let passages = [
        (uuid::Uuid::new_v4(), 0usize, para),
        (uuid::Uuid::new_v4(), para + 2, text.len()),
    ];
    let quote = uuid::Uuid::new_v4();
    {
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        old_schema(&db, "0005").await;
        let t = now();
        let sections = format!(r#"[{{"title":"Chapter 1","start":0,"end":{}}}]"#, text.len());
        for (sql, values) in [
            (
                "INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) \
                 VALUES ($1, 'oldtimer', 'oldtimer', 'x', $2, $2)",
                params![user, t.as_str()].to_vec(),
            ),
            (
                "INSERT INTO documents (id, user_id, filename, format, content_type, size_bytes, sha256, status, \
                 created_at, updated_at, sections, analyzed_at) \
                 VALUES ($1, $2, 'river.txt', 'text', 'text/plain', 100, 'abc', 'ready', $3, $3, $4, $3)",
                params![doc, user, t.as_str(), sections.as_str()].to_vec(),
            ),
            (
                "INSERT INTO document_texts (document_id, text, sections, char_count) VALUES ($1, $2, $3, $4)",
                params![doc, text, sections.as_str(), text.len() as i64].to_vec(),
            ),
            (
                "INSERT INTO analyses (document_id, data, created_at) VALUES ($1, '{}', $2)",
                params![doc, t.as_str()].to_vec(),
            ),
            (
                "INSERT INTO characters (id, user_id, document_id, name, source_key, stats, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'Alice', 'alice', '{\"analysis_id\": \"c1\"}', $4, $4)",
                params![char_id, user, doc, t.as_str()].to_vec(),
            ),
            (
                "INSERT INTO quotes (id, document_id, idx, speaker, start_char, end_char, text) \
                 VALUES ($1, $2, 0, 'c1', $3, $4, 'a stale copy')",
                params![quote, doc, q0 as i64, q1 as i64].to_vec(),
            ),
        ] {
            db.execute(sql, &values).await.unwrap();
        }
        for (i, (id, s, e)) in passages.iter().enumerate() {
            db.execute(
                "INSERT INTO passages (id, document_id, user_id, idx, section_idx, start_char, end_char, text) \
                 VALUES ($1, $2, $3, $4, 0, $5, $6, 'a stale copy')",
                &params![*id, doc, user, i as i64, *s as i64, *e as i64],
            )
            .await
            .unwrap();
        }
        db.close().await;
    }

    let app = match backend {
        Backend::Sqlite => {
            TestApp::spawn_with_db(Backend::Sqlite, &url, &[("DRAMATIS_DATABASE_URL", url.as_str())]).await
        }
        Backend::Postgres => TestApp::spawn_with_db(Backend::Postgres, &url, &[]).await,
    };
    let db = &app.state.db;
    assert!(db.is_migrated().await.unwrap());
    let versions: Vec<String> = db
        .fetch_all("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("version").unwrap())
        .collect();
    assert!(versions.iter().any(|v| v.starts_with("0005")), "{versions:?}");
    for table in ["passages", "quotes"] {
        assert!(
            db.fetch_all(&format!("SELECT text FROM {table}"), &[]).await.is_err(),
            "{table}.text is dropped"
        );
    }
    // Everything else is as it was.
    let rows = db
        .fetch_all(
            "SELECT id, document_id, user_id, idx, section_idx, start_char, end_char FROM passages ORDER BY idx",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), passages.len());
    for (r, (id, s, e)) in rows.iter().zip(&passages) {
        assert_eq!(r.get::<uuid::Uuid>("id").unwrap(), *id);
        assert_eq!(r.get::<uuid::Uuid>("document_id").unwrap(), doc);
        assert_eq!(r.get::<uuid::Uuid>("user_id").unwrap(), user);
        assert_eq!(r.get::<Option<i64>>("section_idx").unwrap(), Some(0));
        assert_eq!(r.get::<i64>("start_char").unwrap(), *s as i64);
        assert_eq!(r.get::<i64>("end_char").unwrap(), *e as i64);
    }
    let q = db
        .fetch_one(
            "SELECT id, document_id, idx, speaker, start_char, end_char FROM quotes",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(q.get::<uuid::Uuid>("id").unwrap(), quote);
    assert_eq!(q.get::<Option<String>>("speaker").unwrap().as_deref(), Some("c1"));
    assert_eq!(q.get::<i64>("start_char").unwrap(), q0 as i64);
    assert_eq!(q.get::<i64>("end_char").unwrap(), q1 as i64);
    // And the API reads them as before: texts sliced from the document's text.
    let admin = app.admin_token().await;
    let hits: Value = app
        .get(&format!("/api/v1/search?q=boats&document_id={doc}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hits["items"][0]["id"], passages[1].0.to_string(), "{hits}");
    assert!(
        hits["items"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("watch these boats"),
        "{hits}"
    );
    let hits: Value = app
        .get(&format!("/api/v1/search?q=boats&kind=quotes&document_id={doc}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hits["items"][0]["id"], quote.to_string(), "{hits}");
    assert_eq!(hits["items"][0]["speaker"], "Alice", "{hits}");
    let r = app.get(&format!("/api/v1/documents/{doc}/text"), &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("mossy bank"));
    drop(app);
    if let Some(pg) = pg {
        pg.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_0005_database_migrates_sqlite() {
    pre_0005_database_migrates(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_0005_database_migrates_postgres() {
    pre_0005_database_migrates(Backend::Postgres).await;
}
