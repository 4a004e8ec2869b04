//! Real time: `GET /ws` (WebSocket) and `GET /events` (Server-Sent Events)
//! deliver the caller's events, `{id, type, …}`. `?since=ID` (or SSE's
//! `Last-Event-ID`) first replays what was missed.
//!
//! Each connection subscribes before it replays, so no event falls between
//! the two; events already replayed are skipped when they arrive live. A
//! client too slow to take an event within [`SEND_TIMEOUT`] is dropped; one
//! that lags the broadcast buffer catches up from the database.

use crate::auth::AuthUser;
use crate::chat;
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
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
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
///
/// Chat over the same socket: send `{"type":"chat","request_id":"r1","character_id":…,"message":…,
/// "conversation_id"?:…,"max_section"?:…}`; the reply streams back as `chat.start`, `chat.token` (`delta`)
/// and `chat.message` (the stored reply) or `chat.error` (`status`, `detail`), each with the `request_id`.
/// `{"type":"chat.cancel","request_id":"r1"}` stops a reply (the model request is dropped, nothing is stored).
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
        .on_upgrade(move |socket| run_ws(state, user, since, socket))
        .into_response())
}

async fn send(socket: &mut WebSocket, e: &Event) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(e.to_json().into()))).await,
        Ok(Ok(()))
    )
}

/// Chats one socket may run at once.
const MAX_CHATS_PER_SOCKET: usize = 4;

/// What a client sends over the socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum ClientMessage {
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "chat")]
    Chat {
        request_id: String,
        character_id: Uuid,
        #[serde(flatten)]
        request: ChatRequestFields,
    },
    #[serde(rename = "chat.cancel")]
    Cancel { request_id: String },
}

#[derive(Debug, Deserialize)]
struct ChatRequestFields {
    message: String,
    conversation_id: Option<Uuid>,
    max_section: Option<u32>,
    title: Option<String>,
}

/// Runs one chat turn for the socket, sending its events to `out`.
async fn ws_chat(
    state: AppState,
    user: AuthUser,
    request_id: String,
    character: Uuid,
    req: ChatRequestFields,
    out: mpsc::Sender<String>,
) {
    let rid = request_id.clone();
    let fail = |e: ApiError| {
        let p = crate::routes::chat::problem_json(&e);
        json!({"type": "chat.error", "request_id": rid, "status": p["status"], "detail": p["detail"]}).to_string()
    };
    let req = crate::routes::chat::ChatRequest {
        message: req.message,
        conversation_id: req.conversation_id,
        max_section: req.max_section,
        title: req.title,
    };
    let turn = match crate::routes::chat::start_turn(&state, &user, character, req).await {
        Ok(t) => t,
        Err(e) => {
            let _ = out.send(fail(e)).await;
            return;
        }
    };
    let cid = turn.conversation.id;
    let start = json!({"type": "chat.start", "request_id": request_id, "conversation_id": cid});
    if out.send(start.to_string()).await.is_err() {
        return;
    }
    let token = |t: String| {
        json!({"type": "chat.token", "request_id": request_id, "conversation_id": cid, "delta": t}).to_string()
    };
    let Some(result) = chat::answer_streamed(&state, turn, &out, token).await else {
        return;
    };
    let last = match result {
        Ok(reply) => json!({"type": "chat.message", "request_id": request_id, "conversation_id": cid,
                            "message": reply.message})
        .to_string(),
        Err(e) => fail(e),
    };
    let _ = out.send(last).await;
}

async fn run_ws(state: AppState, auth: AuthUser, since: Option<String>, mut socket: WebSocket) {
    let user = auth.id;
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let mut chats: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    // Dropping the socket's task aborts its chats (and so their model requests).
    struct AbortAll<'a>(&'a mut HashMap<String, tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll<'_> {
        fn drop(&mut self) {
            for (_, t) in self.0.drain() {
                t.abort();
            }
        }
    }
    let chats = AbortAll(&mut chats);
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
            Some(text) = out_rx.recv() => {
                if tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await.map_or(true, |r| r.is_err()) {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let reply = match serde_json::from_str::<ClientMessage>(&t) {
                        Ok(ClientMessage::Ping) => Some(json!({"type": "pong", "id": last})),
                        Ok(ClientMessage::Chat { request_id, character_id, request }) => {
                            chats.0.retain(|_, t| !t.is_finished());
                            if request_id.is_empty() || request_id.len() > 100 {
                                Some(json!({"type": "chat.error", "request_id": request_id, "status": 422,
                                            "detail": "request_id must be 1-100 characters"}))
                            } else if chats.0.contains_key(&request_id) {
                                Some(json!({"type": "chat.error", "request_id": request_id, "status": 409,
                                            "detail": "a chat with this request_id is still running"}))
                            } else if chats.0.len() >= MAX_CHATS_PER_SOCKET {
                                Some(json!({"type": "chat.error", "request_id": request_id, "status": 429,
                                            "detail": format!("at most {MAX_CHATS_PER_SOCKET} chats at once per connection")}))
                            } else {
                                let task = tokio::spawn(ws_chat(state.clone(), auth.clone(), request_id.clone(),
                                                                character_id, request, out_tx.clone()));
                                chats.0.insert(request_id, task);
                                None
                            }
                        }
                        Ok(ClientMessage::Cancel { request_id }) => match chats.0.remove(&request_id) {
                            Some(t) => {
                                t.abort();
                                Some(json!({"type": "chat.cancelled", "request_id": request_id}))
                            }
                            None => Some(json!({"type": "chat.error", "request_id": request_id, "status": 404,
                                                "detail": "no running chat with this request_id"})),
                        },
                        Err(e) => Some(json!({"type": "error", "status": 422,
                                              "detail": format!("not a message this socket understands: {e}")})),
                    };
                    if let Some(r) = reply
                        && tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(r.to_string().into()))).await.map_or(true, |r| r.is_err()) {
                        return;
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
