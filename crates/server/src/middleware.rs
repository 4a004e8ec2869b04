//! Cross-cutting layers: request ids, metrics, timeouts, panics, and the
//! rewriting of any bare error response into a problem document.

use crate::error::problem;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::time::{Duration, Instant};

/// Records `http_requests_total` and `http_request_duration_seconds` by
/// route template (not raw path, which would explode the label set).
///
/// The metric handles are looked up once per (method, route, status) and
/// thread, then reused: building the label set and hashing it into the
/// registry on every request cost several allocations and a locked map lookup.
pub async fn metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let elapsed = start.elapsed().as_secs_f64();
    HANDLES.with(|cell| {
        let mut map = cell.borrow_mut();
        if let Some(h) = map
            .get(route)
            .and_then(|v| v.iter().find(|h| h.method == method && h.status == status))
        {
            h.requests.increment(1);
            h.duration.record(elapsed);
            return;
        }
        let labels = [
            ("method", method.as_str().to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        let h = Handles {
            method,
            status,
            requests: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels[..2]),
        };
        h.requests.increment(1);
        h.duration.record(elapsed);
        if map.len() >= 1024 {
            map.clear(); // bounded, whatever the routes
        }
        let per_route = map.entry(route.into()).or_default();
        if per_route.len() >= 64 {
            per_route.clear(); // clients can invent methods
        }
        per_route.push(h);
    });
    resp
}

struct Handles {
    method: axum::http::Method,
    status: u16,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

thread_local! {
    /// Metric handles by route, then (method, status) (a few per route: a linear search).
    static HANDLES: std::cell::RefCell<std::collections::HashMap<Box<str>, Vec<Handles>>> = Default::default();
}

/// Bounds the time a request may take; uploads and other long routes carry
/// their own, longer bound.
pub async fn timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request took longer than {} s and was cancelled", limit.as_secs()),
        ),
    }
}

/// Turns error responses made by layers and the router (413 from the body
/// limit, 405, 404 of unmatched paths, …) into problem documents, so every
/// error a client sees has the same shape.
pub async fn problem_bodies(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read, so hyper drops the connection after this response; saying so
        // keeps keep-alive clients from sending their next request down a socket that is about to close.
        resp.headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if is_problem {
        return resp;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "no such route".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this route".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this route accepts".to_string(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_string(),
    };
    let (parts, _) = resp.into_parts();
    let mut fresh = problem(status, detail);
    for name in [
        header::ALLOW,
        header::RETRY_AFTER,
        header::WWW_AUTHENTICATE,
        header::CONNECTION,
    ] {
        if let Some(v) = parts.headers.get(&name) {
            fresh.headers_mut().insert(name, v.clone());
        }
    }
    fresh
}

/// A panic in a handler becomes a 500 problem; the server keeps serving.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = what, "handler panicked");
    let mut resp = problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "an internal error occurred; it has been logged",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Total size of request headers accepted (names and values). hyper itself
/// refuses far larger ones (~400 KiB) with a bare 431; this answers the
/// merely huge with a problem document before any handler runs.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn header_limit(req: Request, next: Next) -> Response {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if size > MAX_HEADER_BYTES {
        return problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers total {size} bytes; at most {MAX_HEADER_BYTES} are accepted"),
        );
    }
    next.run(req).await
}
