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
