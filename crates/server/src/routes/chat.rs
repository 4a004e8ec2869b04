//! Chat with a character: `POST /characters/{id}/chat` and the conversations
//! it keeps. Every turn answers JSON, or Server-Sent Events when the client
//! sends `Accept: text/event-stream` (`start`, then `token`s, then `message`
//! or `error`). The work is in [`crate::chat`].

use crate::auth::AuthUser;
use crate::chat::store::{self, Conversation, Message};
use crate::chat::{self, Reply, Start, Turn};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPairPath, IdPath, PageParams, Paginated};
use crate::params;
use crate::routes::characters;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use std::convert::Infallible;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat))
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation, patch_conversation, delete_conversation))
        .routes(routes!(regenerate))
        .routes(routes!(edit_message))
}

/// A message to a character.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message": "What do you think of Mr. Darcy?"}))]
pub struct ChatRequest {
    /// 1–8000 characters.
    pub message: String,
    /// Continue this conversation; absent starts a new one.
    pub conversation_id: Option<Uuid>,
    /// For a new conversation: the character knows the story only up to this section index (spoiler limit).
    pub max_section: Option<u32>,
    /// For a new conversation: its title (default: the start of the message).
    pub title: Option<String>,
}

/// A conversation with its messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// Changes to a conversation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchConversation {
    pub title: Option<String>,
    /// A section index, or null for the whole book.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub max_section: Option<Option<u32>>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The new text of a user message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub content: String,
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

fn check_title(t: &str) -> Result<String, ApiError> {
    let t = t.trim();
    if t.chars().count() > 200 {
        return Err(ApiError::Unprocessable("title must be at most 200 characters".into()));
    }
    Ok(t.to_string())
}

/// A spoiler limit must name one of the book's sections.
async fn check_section(state: &AppState, c: &characters::Character, s: Option<u32>) -> Result<(), ApiError> {
    let Some(s) = s else { return Ok(()) };
    let Some(doc) = c.document_id else {
        return Err(ApiError::Unprocessable(
            "max_section needs a character linked to a document".into(),
        ));
    };
    let n = state
        .db
        .fetch_optional("SELECT sections FROM documents WHERE id = $1", &params![doc])
        .await?
        .map(|r| r.get::<String>("sections"))
        .transpose()?
        .map(|s| serde_json::from_str::<Vec<serde_json::Value>>(&s).map_or(0, |v| v.len()))
        .unwrap_or(0);
    if (s as usize) >= n {
        return Err(ApiError::Unprocessable(format!(
            "max_section must be a section index below {n} (the document's section count)"
        )));
    }
    Ok(())
}

/// Runs a turn and answers as JSON or as a stream of events.
async fn respond(state: AppState, turn: Turn, stream: bool) -> Result<Response, ApiError> {
    if !stream {
        let reply = chat::answer(&state, turn, None).await?;
        return Ok(Json(reply).into_response());
    }
    let conversation_id = turn.conversation.id;
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    let task = tokio::spawn(async move {
        let start = json!({ "conversation_id": conversation_id });
        if tx
            .send(SseEvent::default().event("start").data(start.to_string()))
            .await
            .is_err()
        {
            return;
        }
        let token = |t: String| {
            SseEvent::default()
                .event("token")
                .data(json!({ "delta": t }).to_string())
        };
        let Some(result) = chat::answer_streamed(&state, turn, &tx, token).await else {
            return;
        };
        let last = match result {
            Ok(reply) => SseEvent::default()
                .event("message")
                .data(serde_json::to_string(&reply).unwrap_or_default()),
            Err(e) => SseEvent::default().event("error").data(problem_json(&e).to_string()),
        };
        let _ = tx.send(last).await;
    });
    let events = futures_util::stream::unfold((rx, AbortOnDrop(task)), |(mut rx, guard)| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), (rx, guard)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// The problem document of an error, for streams that cannot change their status any more.
pub fn problem_json(e: &ApiError) -> serde_json::Value {
    let status = e.status();
    let detail = match e {
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "internal error in a stream");
            "an internal error occurred; it has been logged".to_string()
        }
        other => other.to_string(),
    };
    json!({"type": "about:blank", "title": status.canonical_reason().unwrap_or("Error"),
           "status": status.as_u16(), "detail": detail})
}

/// Aborts the task when the response stream is dropped (client gone), which
/// drops the token receiver, which stops the turn.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Says something to a character and gets its reply.
///
/// Without a configured model the reply is extractive: the character's own
/// most relevant lines from the book, cited. With `Accept: text/event-stream`
/// the reply streams: `start` (`{conversation_id}`), `token`s (`{delta}`),
/// then `message` (the stored reply, as the JSON answer) or `error` (a problem).
#[utoipa::path(post, path = "/characters/{id}/chat", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id")),
    request_body = ChatRequest,
    responses(
        (status = 200, description = "the reply (or text/event-stream)", body = Reply),
        (status = 404, description = "no such character or conversation of yours", body = Problem),
        (status = 422, description = "bad message or spoiler limit", body = Problem),
        (status = 502, description = "the model server failed", body = Problem),
        (status = 504, description = "the model server did not answer in time", body = Problem),
    ))]
async fn chat(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let turn = start_turn(&state, &user, id, req).await?;
    respond(state, turn, wants_stream(&headers)).await
}

/// Checks a chat request, finds or creates its conversation and prepares the
/// turn (shared by the HTTP route and the WebSocket).
pub async fn start_turn(
    state: &AppState,
    user: &AuthUser,
    character: Uuid,
    req: ChatRequest,
) -> Result<Turn, ApiError> {
    let character = characters::load(state, user, character).await?;
    let message = chat::check_message(&req.message)?;
    let conversation = match req.conversation_id {
        Some(cid) => {
            let c = chat::load_conversation(state, user, cid).await?;
            if c.character_id != character.id {
                return Err(ApiError::Unprocessable(
                    "conversation_id belongs to another character".into(),
                ));
            }
            c
        }
        None => {
            check_section(state, &character, req.max_section).await?;
            let title = match &req.title {
                Some(t) => check_title(t)?,
                None => message.chars().take(60).collect(),
            };
            store::create(&state.db, user.id, character.id, &title, req.max_section).await?
        }
    };
    chat::prepare(state, conversation, character, Start::Message(message)).await
}

/// The character's conversations, most recently active first.
#[utoipa::path(get, path = "/characters/{id}/conversations", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id"), PageParams),
    responses(
        (status = 200, description = "a page of conversations", body = Paginated<Conversation>),
        (status = 404, description = "no such character of yours", body = Problem),
    ))]
async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Paginated<Conversation>>, ApiError> {
    let page = page.validate()?;
    characters::load(&state, &user, id).await?;
    let (items, total) = store::list(&state.db, id, page.skip, page.limit).await?;
    Ok(Json(Paginated {
        items,
        total,
        skip: page.skip,
        limit: page.limit,
    }))
}

/// A conversation with all its messages.
#[utoipa::path(get, path = "/conversations/{id}", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "conversation id")),
    responses(
        (status = 200, description = "the conversation", body = ConversationDetail),
        (status = 404, description = "no such conversation of yours", body = Problem),
    ))]
async fn get_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<ConversationDetail>, ApiError> {
    let conversation = chat::load_conversation(&state, &user, id).await?;
    let messages = store::messages(&state.db, id).await?;
    Ok(Json(ConversationDetail { conversation, messages }))
}

/// Renames a conversation or changes its spoiler limit.
#[utoipa::path(patch, path = "/conversations/{id}", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "conversation id")),
    request_body = PatchConversation,
    responses(
        (status = 200, description = "the conversation", body = Conversation),
        (status = 404, description = "no such conversation of yours", body = Problem),
        (status = 422, description = "bad title or section", body = Problem),
    ))]
async fn patch_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<PatchConversation>,
) -> Result<Json<Conversation>, ApiError> {
    let conversation = chat::load_conversation(&state, &user, id).await?;
    let title = req.title.as_deref().map(check_title).transpose()?;
    if let Some(Some(s)) = req.max_section {
        let character = characters::load(&state, &user, conversation.character_id).await?;
        check_section(&state, &character, Some(s)).await?;
    }
    store::update(&state.db, id, title.as_deref(), req.max_section).await?;
    Ok(Json(chat::load_conversation(&state, &user, id).await?))
}

/// Deletes a conversation and its messages.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "conversation id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "no such conversation of yours", body = Problem),
    ))]
async fn delete_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    chat::load_conversation(&state, &user, id).await?;
    store::delete(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answers the last user message again, replacing the reply it had.
#[utoipa::path(post, path = "/conversations/{id}/regenerate", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "conversation id")),
    responses(
        (status = 200, description = "the new reply (or text/event-stream)", body = Reply),
        (status = 404, description = "no such conversation of yours", body = Problem),
        (status = 409, description = "nothing to answer yet", body = Problem),
    ))]
async fn regenerate(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let conversation = chat::load_conversation(&state, &user, id).await?;
    let character = characters::load(&state, &user, conversation.character_id).await?;
    let turn = chat::prepare(&state, conversation, character, Start::Regenerate).await?;
    respond(state, turn, wants_stream(&headers)).await
}

/// Changes one of the user's messages, drops everything after it, and answers it anew.
#[utoipa::path(patch, path = "/conversations/{id}/messages/{message_id}", tag = "chat",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "conversation id"), ("message_id" = Uuid, Path, description = "message id")),
    request_body = EditMessage,
    responses(
        (status = 200, description = "the new reply (or text/event-stream)", body = Reply),
        (status = 404, description = "no such conversation or message", body = Problem),
        (status = 422, description = "not a user message, or bad content", body = Problem),
    ))]
async fn edit_message(
    State(state): State<AppState>,
    user: AuthUser,
    IdPairPath(id, message): IdPairPath,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EditMessage>,
) -> Result<Response, ApiError> {
    let content = chat::check_message(&req.content)?;
    let conversation = chat::load_conversation(&state, &user, id).await?;
    let character = characters::load(&state, &user, conversation.character_id).await?;
    let turn = chat::prepare(&state, conversation, character, Start::Edit { message, content }).await?;
    respond(state, turn, wants_stream(&headers)).await
}
