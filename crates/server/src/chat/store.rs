//! Conversations and messages in the database.
//!
//! A conversation belongs to one user and one character; its messages are
//! numbered (`seq`) so "everything after this message" (edit, regenerate) is
//! one indexed range.

use crate::db::{Db, DbError, FromRow, Row, Tx, now};
use crate::params;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A passage of the book a reply rests on; `GET /documents/{document_id}/text?start=&end=` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Citation {
    pub passage_id: Uuid,
    pub document_id: Uuid,
    /// Index into the document's sections (chapters), if it has any.
    pub section: Option<u32>,
    pub section_title: Option<String>,
    /// Char range in the document's text.
    pub start: usize,
    pub end: usize,
    /// The cited words: the character's line, or the passage.
    pub text: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// `llm` or `extractive` (assistant messages).
    pub mode: Option<String>,
    pub citations: Vec<Citation>,
    /// The model that wrote it (llm mode).
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub created_at: String,
    #[serde(skip)]
    pub seq: i64,
}

impl FromRow for Message {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        Ok(Message {
            id: r.get("id")?,
            role: r.get("role")?,
            content: r.get("content")?,
            mode: r.get("mode")?,
            citations: serde_json::from_str(&r.get::<String>("citations")?).unwrap_or_default(),
            model: r.get("model")?,
            prompt_tokens: r.get("prompt_tokens")?,
            completion_tokens: r.get("completion_tokens")?,
            created_at: r.get("created_at")?,
            seq: r.get("seq")?,
        })
    }
}

const MCOLS: &str = "id, role, content, mode, citations, model, prompt_tokens, completion_tokens, created_at, seq";

/// A conversation without its messages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub character_id: Uuid,
    pub title: String,
    /// The character knows the story up to this section (inclusive); null = all of it.
    pub max_section: Option<u32>,
    pub message_count: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub user_id: Uuid,
}

impl FromRow for Conversation {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        Ok(Conversation {
            id: r.get("id")?,
            character_id: r.get("character_id")?,
            title: r.get("title")?,
            max_section: r.get::<Option<i64>>("max_section")?.map(|s| s as u32),
            message_count: r.get("message_count")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
            user_id: r.get("user_id")?,
        })
    }
}

const CCOLS: &str = "c.id, c.user_id, c.character_id, c.title, c.max_section, c.created_at, c.updated_at, \
                     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count";

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Conversation>, DbError> {
    db.fetch_optional_as(
        &format!("SELECT {CCOLS} FROM conversations c WHERE c.id = $1"),
        &params![id],
    )
    .await
}

pub async fn list(db: &Db, character: Uuid, skip: i64, limit: i64) -> Result<(Vec<Conversation>, i64), DbError> {
    let items = db
        .fetch_as(
            &format!(
                "SELECT {CCOLS} FROM conversations c WHERE c.character_id = $1 \
                 ORDER BY c.updated_at DESC, c.id DESC LIMIT $2 OFFSET $3"
            ),
            &params![character, limit, skip],
        )
        .await?;
    let total = db
        .fetch_one(
            "SELECT COUNT(*) AS n FROM conversations WHERE character_id = $1",
            &params![character],
        )
        .await?
        .get("n")?;
    Ok((items, total))
}

pub async fn create(
    db: &Db,
    user: Uuid,
    character: Uuid,
    title: &str,
    max_section: Option<u32>,
) -> Result<Conversation, DbError> {
    let id = Uuid::new_v4();
    let t = now();
    db.execute(
        "INSERT INTO conversations (id, user_id, character_id, title, max_section, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &params![id, user, character, title, max_section.map(i64::from), t],
    )
    .await?;
    get(db, id)
        .await?
        .ok_or_else(|| DbError::Other("conversation vanished after insert".into()))
}

pub async fn update(db: &Db, id: Uuid, title: Option<&str>, max_section: Option<Option<u32>>) -> Result<(), DbError> {
    if let Some(t) = title {
        db.execute(
            "UPDATE conversations SET title = $2, updated_at = $3 WHERE id = $1",
            &params![id, t, now()],
        )
        .await?;
    }
    if let Some(m) = max_section {
        db.execute(
            "UPDATE conversations SET max_section = $2, updated_at = $3 WHERE id = $1",
            &params![id, m.map(i64::from), now()],
        )
        .await?;
    }
    Ok(())
}

pub async fn delete(db: &Db, id: Uuid) -> Result<bool, DbError> {
    Ok(db
        .execute("DELETE FROM conversations WHERE id = $1", &params![id])
        .await?
        > 0)
}

pub async fn messages(db: &Db, conversation: Uuid) -> Result<Vec<Message>, DbError> {
    db.fetch_as(&messages_sql(), &params![conversation]).await
}

/// A conversation's messages in order (`$1`: the conversation).
fn messages_sql() -> String {
    format!("SELECT {MCOLS} FROM messages WHERE conversation_id = $1 ORDER BY seq")
}

/// [`messages`], read in a transaction.
pub async fn messages_in(tx: &mut Tx, conversation: Uuid) -> Result<Vec<Message>, DbError> {
    tx.fetch_all(&messages_sql(), &params![conversation])
        .await?
        .iter()
        .map(Message::from_row)
        .collect()
}

/// A message about to be stored.
#[derive(Debug, Default, Clone)]
pub struct NewMessage {
    pub role: &'static str,
    pub content: String,
    pub mode: Option<&'static str>,
    pub citations: Vec<Citation>,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
}

/// Appends a message; `seq` is one past the last, taken inside the
/// transaction so two concurrent turns cannot collide silently (the unique
/// index turns a race into an error, not a lost message).
pub async fn append(tx: &mut Tx, conversation: Uuid, m: NewMessage) -> Result<Message, DbError> {
    let next: i64 = tx
        .fetch_optional(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM messages WHERE conversation_id = $1",
            &params![conversation],
        )
        .await?
        .map(|r| r.get("n"))
        .transpose()?
        .unwrap_or(1);
    let id = Uuid::new_v4();
    let t = now();
    let citations = serde_json::to_string(&m.citations).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO messages (id, conversation_id, seq, role, content, mode, citations, model, prompt_tokens, \
         completion_tokens, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &params![
            id,
            conversation,
            next,
            m.role,
            m.content.as_str(),
            m.mode,
            citations,
            m.model.as_deref(),
            m.prompt_tokens,
            m.completion_tokens,
            t.as_str()
        ],
    )
    .await?;
    tx.execute(
        "UPDATE conversations SET updated_at = $2 WHERE id = $1",
        &params![conversation, t.as_str()],
    )
    .await?;
    Ok(Message {
        id,
        role: m.role.to_string(),
        content: m.content,
        mode: m.mode.map(str::to_string),
        citations: m.citations,
        model: m.model,
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        created_at: t,
        seq: next,
    })
}

/// Removes every message after `seq` (edit and regenerate start from there).
pub async fn truncate_after(tx: &mut Tx, conversation: Uuid, seq: i64) -> Result<u64, DbError> {
    tx.execute(
        "DELETE FROM messages WHERE conversation_id = $1 AND seq > $2",
        &params![conversation, seq],
    )
    .await
}

pub async fn set_content(tx: &mut Tx, message: Uuid, content: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE messages SET content = $2 WHERE id = $1",
        &params![message, content],
    )
    .await?;
    Ok(())
}
