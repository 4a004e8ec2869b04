//! API documentation pages, served entirely by the binary: Swagger UI (from
//! `utoipa-swagger-ui`'s vendored copy) at `/api/v1/docs`, ReDoc (the npm
//! `redoc@2.5.4` standalone bundle, checked in under `assets/`) at
//! `/api/v1/redoc`, and the spec at `/api/v1/openapi.json`. Nothing is
//! loaded from a CDN, so both pages work on a machine with no internet.
//!
//! The pages are answered directly at their documented paths (no redirect
//! to a trailing slash), with asset URLs that are absolute.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc.standalone.js");

const SWAGGER_HTML: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>dramatis API — Swagger UI</title>
  <link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/v1/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/v1/docs/swagger-ui-bundle.js"></script>
  <script src="/api/v1/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/api/v1/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: "none",
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
      oauth2RedirectUrl: window.location.origin + "/api/v1/docs/oauth2-redirect.html"
    });
  </script>
</body>
</html>"##;

const REDOC_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>dramatis API — ReDoc</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/api/v1/openapi.json" hide-download-button="false"></redoc>
  <script src="/api/v1/redoc/redoc.standalone.js"></script>
</body>
</html>"#;

/// Routes for the docs pages and the spec.
pub fn router<S: Clone + Send + Sync + 'static>(spec: Arc<String>) -> Router<S> {
    let swagger_config = Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"));
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], spec.as_str().to_owned()) }
            }),
        )
        .route("/api/v1/docs", get(|| async { Html(SWAGGER_HTML) }))
        .route("/api/v1/docs/", get(|| async { Html(SWAGGER_HTML) }))
        .route(
            "/api/v1/docs/{file}",
            get(move |Path(file): Path<String>| {
                let config = swagger_config.clone();
                async move { swagger_asset(&file, config) }
            }),
        )
        .route("/api/v1/redoc", get(|| async { Html(REDOC_HTML) }))
        .route(
            "/api/v1/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    REDOC_JS,
                )
            }),
        )
}

fn swagger_asset(file: &str, config: Arc<utoipa_swagger_ui::Config<'static>>) -> Response {
    if file == "index.html" {
        return Html(SWAGGER_HTML).into_response();
    }
    match utoipa_swagger_ui::serve(file, config) {
        Ok(Some(f)) => (
            [
                (header::CONTENT_TYPE, f.content_type),
                (header::CACHE_CONTROL, "public, max-age=86400".to_string()),
            ],
            f.bytes.into_owned(),
        )
            .into_response(),
        Ok(None) => crate::error::problem(StatusCode::NOT_FOUND, "no such documentation asset"),
        Err(e) => crate::error::problem(StatusCode::INTERNAL_SERVER_ERROR, format!("docs asset: {e}")),
    }
}
