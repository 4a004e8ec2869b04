//! Real time: `GET /ws` (WebSocket) and `GET /events` (Server-Sent Events)
//! deliver the caller's events, `{id, type, …}`. `?since=ID` (or SSE's
//! `Last-Event-ID`) first replays what was missed.
//!
//! Each connection subscribes before it replays, so no event falls between
//! the two; events already replayed are skipped when they arrive live. A
//! client too slow to take an event within [`SEND_TIMEOUT`] is dropped; one
//! that lags the broadcast buffer catches up from the database.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::events::Event;
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(20);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ws)).routes(routes!(sse))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Replay the caller's events after this event id first.
    pub since: Option<String>,
    /// The access token, for browsers that cannot set headers.
    pub access_token: Option<String>,
}

fn valid_since(since: Option<String>) -> Result<Option<String>, ApiError> {
    match since {
        Some(s) if Uuid::parse_str(&s).is_err() => {
            Err(ApiError::Unprocessable("since must be an event id (a UUID)".into()))
        }
        other => Ok(other),
    }
}

/// The caller's events as a WebSocket (`{"type":"ping"}` is answered with a pong event).
#[utoipa::path(get, path = "/ws", tag = "events",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(StreamParams),
    responses((status = 101, description = "switching to WebSocket"), (status = 401, description = "not authenticated")))]
async fn ws(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<StreamParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let since = valid_since(params.since)?;
    Ok(upgrade
        .on_upgrade(move |socket| run_ws(state, user.id, since, socket))
        .into_response())
}

async fn send(socket: &mut WebSocket, e: &Event) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(e.to_json().into()))).await,
        Ok(Ok(()))
    )
}

async fn run_ws(state: AppState, user: Uuid, since: Option<String>, mut socket: WebSocket) {
    let mut rx = state.events.subscribe();
    let mut last = since.unwrap_or_default();
    if !last.is_empty() {
        match state.events.since(user, &last).await {
            Ok(missed) => {
                for e in missed {
                    if !send(&mut socket, &e).await {
                        return;
                    }
                    last = e.id.clone();
                }
            }
            Err(e) => tracing::warn!(error = %e, "replay failed"),
        }
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Ok(e) if e.user_id == user && e.id > last => {
                    if !send(&mut socket, &e).await { return; }
                    last = e.id.clone();
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Fell behind the buffer: catch up from the database.
                    let Ok(missed) = state.events.since(user, &last).await else { return };
                    for e in missed {
                        if !send(&mut socket, &e).await { return; }
                        last = e.id.clone();
                    }
                }
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.contains("\"ping\"") {
                        let pong = format!("{{\"type\":\"pong\",\"id\":\"{last}\"}}");
                        if socket.send(Message::Text(pong.into())).await.is_err() { return; }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Vec::new().into()))).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The caller's events as Server-Sent Events (`id:` is the event id, so
/// `Last-Event-ID` resumes).
#[utoipa::path(get, path = "/events", tag = "events",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(StreamParams),
    responses((status = 200, description = "text/event-stream of events"), (status = 401, description = "not authenticated")))]
async fn sse(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let since = params.since.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let since = valid_since(since)?;
    let rx = state.events.subscribe();
    let replay = match &since {
        Some(s) => state.events.since(user.id, s).await?,
        None => Vec::new(),
    };
    let last = replay.last().map(|e| e.id.clone()).or(since).unwrap_or_default();
    struct S {
        state: AppState,
        user: Uuid,
        rx: tokio::sync::broadcast::Receiver<Arc<Event>>,
        pending: std::collections::VecDeque<Arc<Event>>,
        last: String,
    }
    let init = S {
        state,
        user: user.id,
        rx,
        pending: replay.into(),
        last,
    };
    let stream = futures_util::stream::unfold(init, |mut s| async move {
        loop {
            if let Some(e) = s.pending.pop_front() {
                s.last = e.id.clone();
                let ev = SseEvent::default()
                    .id(e.id.clone())
                    .event(e.kind.clone())
                    .data(e.to_json());
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            }
            match s.rx.recv().await {
                Ok(e) if e.user_id == s.user && e.id > s.last => s.pending.push_back(e),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    let missed = s.state.events.since(s.user, &s.last).await.ok()?;
                    s.pending.extend(missed);
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(PING_EVERY))
        .into_response())
}
