//! Accounts and tokens over HTTP, on SQLite and PostgreSQL.

mod common;

use common::{TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

backend_tests!(
    register_login_me,
    register_rejects_bad_input,
    login_failures_and_rate_limit,
    refresh_rotates_and_reuse_revokes_family,
    logout_revokes_access_and_refresh,
    bad_tokens_are_401_with_www_authenticate,
    deleted_users_token_is_401,
    admin_lists_users_and_users_cannot,
    dev_user_exists_in_development,
);

async fn register_login_me(app: TestApp) {
    let r = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": "lizzy", "password": "Pemberley-1813", "email": "lizzy@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let user: Value = r.json().await.unwrap();
    assert_eq!(user["username"], "lizzy");
    assert_eq!(user["role"], "user");
    assert!(user.get("password_hash").is_none());
    // Stored hash is Argon2id.
    let hash: String = app
        .state
        .db
        .fetch_one(
            "SELECT password_hash FROM users WHERE username = $1",
            &dramatis_server::params!["lizzy"],
        )
        .await
        .unwrap()
        .get("password_hash")
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    let tokens: Value = app.login("lizzy", "Pemberley-1813").await.json().await.unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    let me: Value = app.get("/api/v1/auth/me", access).await.json().await.unwrap();
    assert_eq!(me["username"], "lizzy");
    assert_eq!(me["email"], "lizzy@example.com");
    // Usernames are unique regardless of case.
    assert_problem(app.register("LIZZY", "Another-Pa55word").await, 409).await;
    // Login is case-insensitive on the username too.
    assert_eq!(app.login("Lizzy", "Pemberley-1813").await.status(), StatusCode::OK);
}

async fn register_rejects_bad_input(app: TestApp) {
    let post = |body: String, ctype: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let d = assert_problem(
        post(
            r#"{"username":"ab","password":"Pemberley-1813"}"#.into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("username"), "{d}");
    let d = assert_problem(
        post(r#"{"username":"mary","password":"short"}"#.into(), "application/json")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("password"), "{d}");
    assert_problem(
        post(
            r#"{"username":"mary","password":"password123"}"#.into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    let d = assert_problem(
        post(r#"{"username":"mary"}"#.into(), "application/json").await.unwrap(),
        422,
    )
    .await;
    assert!(d.contains("password"), "missing field named: {d}");
    let d = assert_problem(
        post(
            r#"{"username":"mary","password":"Pemberley-1813","is_admin":true}"#.into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("is_admin"), "extra field named: {d}");
    assert_problem(
        post(r#"{"username":"mary","#.into(), "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_problem(
        post(
            r#"{"username":"mary","password":"Pemberley-1813"}"#.into(),
            "text/plain",
        )
        .await
        .unwrap(),
        415,
    )
    .await;
    assert_problem(
        post(
            r#"{"username":"m\u0000ry","password":"Pemberley-1813"}"#.to_string(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_problem(
        post(
            format!(r#"{{"username":"{}","password":"Pemberley-1813"}}"#, "x".repeat(10_000)),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_problem(
        post(
            r#"{"username":"mary","password":"Pemberley-1813","email":"not-an-email"}"#.into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_problem(post(r#"[1,2,3]"#.into(), "application/json").await.unwrap(), 422).await;
}

async fn login_failures_and_rate_limit(app: TestApp) {
    app.user("kitty").await;
    let r = app.login("kitty", "wrong-password").await;
    assert_eq!(r.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_problem(r, 401).await;
    // Unknown user: the same answer.
    let d = assert_problem(app.login("nobody-here", "wrong-password").await, 401).await;
    assert_eq!(d, "incorrect username or password");
    // JSON instead of the OAuth2 form.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "kitty", "password": "kitty-Pa55word!"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 415).await;
    // Four more failures reach the per-account limit of five.
    for _ in 0..4 {
        assert_eq!(
            app.login("kitty", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("kitty", "kitty-Pa55word!").await;
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    assert_problem(r, 429).await;
    // Another account is not blocked by kitty's failures.
    app.user("lydia").await;
}

async fn refresh_rotates_and_reuse_revokes_family(app: TestApp) {
    let t = app.user("jane").await;
    let first = t["refresh_token"].as_str().unwrap().to_string();
    let refresh = |tok: String| {
        app.client
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": tok}))
            .send()
    };
    let r = refresh(first.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let second: Value = r.json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first);
    assert_eq!(
        app.get("/api/v1/auth/me", second["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    // Replaying the first token: refused, and the whole family is revoked…
    let d = assert_problem(refresh(first).await.unwrap(), 401).await;
    assert!(d.contains("already used"), "{d}");
    // …so the second token, never used, no longer works either.
    assert_problem(refresh(second_refresh).await.unwrap(), 401).await;
    // A separate login (another family) is unaffected.
    let other: Value = app.login("jane", "jane-Pa55word!").await.json().await.unwrap();
    assert_eq!(
        refresh(other["refresh_token"].as_str().unwrap().into())
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_problem(refresh("garbage".into()).await.unwrap(), 401).await;
    assert_problem(refresh("x".repeat(5000)).await.unwrap(), 401).await;
}

async fn logout_revokes_access_and_refresh(app: TestApp) {
    let t = app.user("charlotte").await;
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/api/v1/auth/me", access).await, 401).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
    // Logout without a body revokes every refresh token of the user.
    let a: Value = app
        .login("charlotte", "charlotte-Pa55word!")
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .login("charlotte", "charlotte-Pa55word!")
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(a["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": b["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
    // b's access token is still valid until it expires (only a's was revoked).
    assert_eq!(
        app.get("/api/v1/auth/me", b["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn bad_tokens_are_401_with_www_authenticate(app: TestApp) {
    let t = app.token("maria").await;
    let me = app.url("/api/v1/auth/me");
    let check = |r: reqwest::Response| async move {
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string())
                .as_deref(),
            Some("Bearer")
        );
        assert_problem(r, 401).await
    };
    check(app.client.get(&me).send().await.unwrap()).await;
    check(app.client.get(&me).bearer_auth("not-a-jwt").send().await.unwrap()).await;
    check(app.client.get(&me).bearer_auth(format!("{t}x")).send().await.unwrap()).await;
    check(
        app.client
            .get(&me)
            .header("authorization", format!("Basic {t}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // alg: none with the real user's id and admin role.
    let claims: Value = {
        let payload = t.split('.').nth(1).unwrap();
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    for k in ["sub", "exp", "iat", "jti"] {
        assert!(claims.get(k).is_some(), "claim {k} missing: {claims}");
    }
    let forged = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&json!({"sub": claims["sub"], "exp": 9999999999u64, "iat": 1, "jti": "x", "role": "admin"}).to_string())
    );
    check(app.client.get(&me).bearer_auth(&forged).send().await.unwrap()).await;
    // Signed with another key.
    let other = dramatis_server::auth::tokens::TokenService::new(
        b"some-other-secret-some-other-secret",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(60),
    );
    let (foreign, _) = other
        .issue_access(claims["sub"].as_str().unwrap().parse().unwrap(), "user")
        .unwrap();
    check(app.client.get(&me).bearer_auth(&foreign).send().await.unwrap()).await;
    // Expired, signed with the server's own key.
    let secret = std::fs::read_to_string(app.dir.path().join("secret_key")).unwrap();
    let past = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": claims["sub"], "exp": 1_000_000, "iat": 999_000, "jti": "old", "role": "user"}),
        &jsonwebtoken::EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap();
    let d = check(app.client.get(&me).bearer_auth(&past).send().await.unwrap()).await;
    assert!(d.contains("expired"), "{d}");
    // The browser form for WebSocket/EventSource clients also works.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/auth/me?access_token={t}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn deleted_users_token_is_401(app: TestApp) {
    let t = app.token("georgiana").await;
    let me: Value = app.get("/api/v1/auth/me", &t).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap().parse().unwrap();
    assert!(dramatis_server::users::delete(&app.state.db, id).await.unwrap());
    let d = assert_problem(app.get("/api/v1/auth/me", &t).await, 401).await;
    assert!(d.contains("no longer exists"), "{d}");
    assert_problem(app.get("/api/v1/characters", &t).await, 401).await;
}

async fn admin_lists_users_and_users_cannot(app: TestApp) {
    let user = app.token("fitzwilliam").await;
    assert_problem(app.get("/api/v1/users", &user).await, 403).await;
    let admin = app.admin_token().await;
    let page: Value = app.get("/api/v1/users?limit=100", &admin).await.json().await.unwrap();
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"fitzwilliam") && names.contains(&"root-admin") && names.contains(&"testuser"),
        "{names:?}"
    );
    assert_eq!(page["total"], 3);
}

async fn dev_user_exists_in_development(app: TestApp) {
    let r = app.login("testuser", "testpass123").await;
    assert_eq!(r.status(), StatusCode::OK);
}
