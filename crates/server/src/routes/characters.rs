//! `/characters`: a user's personas. Create, list, get, patch, delete.

use crate::auth::AuthUser;
use crate::db::{DbError, FromRow, PageCache, Row, TOTAL, Value, now};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath, PageParams, Paginated};
use crate::params;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_character, list_characters))
        .routes(routes!(get_character, patch_character, delete_character))
}

/// A character: the persona a user chats with.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "6a1d…", "name": "Elizabeth Bennet", "description": "The second of the five Bennet sisters.",
    "personality": "witty, proud of her judgement", "speech_style": "quick, ironic", "scenario": "",
    "greeting": "How do you do?", "example_dialogue": "", "tags": ["austen"], "avatar_url": null,
    "document_id": null, "aliases": ["Lizzy", "Eliza"], "gender": "she/her", "stats": {}, "edited": false, "owner_id": "3f0c…", "created_at": "2026-11-27T16:43:01.123456Z", "updated_at": "2026-11-27T16:43:01.123456Z"}))]
pub struct Character {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub personality: String,
    pub speech_style: String,
    pub scenario: String,
    pub greeting: String,
    pub example_dialogue: String,
    pub tags: Vec<String>,
    pub avatar_url: Option<String>,
    /// The document this character was found in, if any.
    pub document_id: Option<Uuid>,
    /// Other names the book uses for the character.
    pub aliases: Vec<String>,
    /// `she/her`, `he/him`, `they/them` or null.
    pub gender: Option<String>,
    /// What the analysis measured (mentions, lines of dialogue, first appearance).
    #[schema(value_type = Object)]
    pub stats: serde_json::Value,
    /// True once the user changed a character made from a book: re-analysis leaves it alone.
    pub edited: bool,
    /// Model settings for chatting with this character (override the server's).
    pub llm: LlmSettings,
    pub owner_id: Uuid,
    pub created_at: String,
    pub updated_at: String,
}

const COLS: &str = "id, user_id, document_id, name, description, personality, speech_style, scenario, greeting, \
                    example_dialogue, tags, avatar_url, aliases, gender, stats, edited, llm, created_at, updated_at";

/// Per-character model settings; absent ones use the server's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"model": "llama3.1", "temperature": 0.8, "max_tokens": 400}))]
pub struct LlmSettings {
    /// The model name the server asks for (else `DRAMATIS_LLM_MODEL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// 1 to 32768 tokens per reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl LlmSettings {
    pub fn check(&self) -> Result<String, ApiError> {
        if let Some(m) = &self.model
            && (m.trim().is_empty() || m.chars().count() > 200)
        {
            return Err(ApiError::Unprocessable("llm.model must be 1-200 characters".into()));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(ApiError::Unprocessable(
                "llm.temperature must be between 0 and 2".into(),
            ));
        }
        if let Some(n) = self.max_tokens
            && !(1..=32_768).contains(&n)
        {
            return Err(ApiError::Unprocessable(
                "llm.max_tokens must be between 1 and 32768".into(),
            ));
        }
        serde_json::to_string(self).map_err(ApiError::internal)
    }
}

impl FromRow for Character {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        let tags: String = r.get("tags")?;
        Ok(Character {
            id: r.get("id")?,
            name: r.get("name")?,
            description: r.get("description")?,
            personality: r.get("personality")?,
            speech_style: r.get("speech_style")?,
            scenario: r.get("scenario")?,
            greeting: r.get("greeting")?,
            example_dialogue: r.get("example_dialogue")?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            avatar_url: r.get("avatar_url")?,
            document_id: r.get("document_id")?,
            aliases: serde_json::from_str(&r.get::<String>("aliases")?).unwrap_or_default(),
            gender: r.get("gender")?,
            stats: serde_json::from_str(&r.get::<String>("stats")?).unwrap_or_default(),
            edited: r.get("edited")?,
            llm: serde_json::from_str(&r.get::<String>("llm")?).unwrap_or_default(),
            owner_id: r.get("user_id")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

/// A new character; only `name` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Elizabeth Bennet", "description": "Second daughter", "tags": ["austen"]}))]
pub struct CreateCharacter {
    /// 1–200 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub personality: String,
    #[serde(default)]
    pub speech_style: String,
    #[serde(default)]
    pub scenario: String,
    #[serde(default)]
    pub greeting: String,
    #[serde(default)]
    pub example_dialogue: String,
    /// At most 50 tags of at most 64 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// An http(s) URL.
    pub avatar_url: Option<String>,
    /// One of the caller's documents.
    pub document_id: Option<Uuid>,
    #[serde(default)]
    pub llm: LlmSettings,
}

/// Absent fields are left alone; `null` clears `avatar_url`/`document_id`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"personality": "witty"}))]
pub struct PatchCharacter {
    /// Cannot be null or empty.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    pub description: Option<String>,
    pub personality: Option<String>,
    pub speech_style: Option<String>,
    pub scenario: Option<String>,
    pub greeting: Option<String>,
    pub example_dialogue: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub document_id: Option<Option<Uuid>>,
    /// Replaces the model settings as a whole.
    pub llm: Option<LlmSettings>,
}

/// Tells "absent" (outer None, by `default`) from "null" (Some(None)).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 20_000;

pub(crate) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX {
        return Err(ApiError::Unprocessable(format!(
            "name must be 1–{NAME_MAX} characters, got {n}"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(
            "name must not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}

pub(crate) fn check_text(field: &str, v: &str) -> Result<(), ApiError> {
    let n = v.chars().count();
    if n > TEXT_MAX {
        return Err(ApiError::Unprocessable(format!(
            "{field} must be at most {TEXT_MAX} characters, got {n}"
        )));
    }
    if v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::Unprocessable(format!(
            "{field} must not contain control characters such as NUL"
        )));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[String]) -> Result<String, ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::Unprocessable(format!("at most 50 tags, got {}", tags.len())));
    }
    for t in tags {
        let n = t.chars().count();
        if n == 0 || n > 64 || t.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(
                "each tag must be 1–64 characters without control characters".into(),
            ));
        }
    }
    serde_json::to_string(tags).map_err(ApiError::internal)
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let ok = url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            "avatar_url must be an http(s) URL of at most 2048 characters".into(),
        ))
    }
}

async fn check_document(state: &AppState, user: &AuthUser, id: Uuid) -> Result<(), ApiError> {
    let found = state
        .db
        .fetch_optional("SELECT user_id FROM documents WHERE id = $1", &params![id])
        .await?;
    match found {
        Some(r) if user.is_admin() || r.get::<Uuid>("user_id")? == user.id => Ok(()),
        _ => Err(ApiError::Unprocessable(format!("document {id} does not exist"))),
    }
}

/// Loads a character the caller may see; another user's is "not found".
pub async fn load(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Character, ApiError> {
    let c: Option<Character> = state
        .db
        .fetch_optional_as(&format!("SELECT {COLS} FROM characters WHERE id = $1"), &params![id])
        .await?;
    match c {
        Some(c) if user.is_admin() || c.owner_id == user.id => Ok(c),
        _ => Err(ApiError::not_found("character")),
    }
}

/// A character the analysis of a document made, as search and the lorebook name it.
#[derive(Debug, Clone)]
pub struct FromBook {
    pub name: String,
    pub description: String,
}

/// `owner`'s characters made from `document`, by the id the document's analysis gave each (`c3`, kept in
/// `stats.analysis_id`): how the stored analysis' quotes and relationships are matched to characters.
pub async fn by_analysis_id(
    db: &crate::db::Db,
    document: Uuid,
    owner: Uuid,
) -> Result<std::collections::HashMap<String, FromBook>, DbError> {
    let rows = db
        .fetch_all(
            "SELECT name, description, stats FROM characters WHERE document_id = $1 AND user_id = $2",
            &params![document, owner],
        )
        .await?;
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        let stats: serde_json::Value = serde_json::from_str(&r.get::<String>("stats")?).unwrap_or_default();
        if let Some(id) = stats.get("analysis_id").and_then(|v| v.as_str()) {
            out.insert(
                id.to_string(),
                FromBook {
                    name: r.get("name")?,
                    description: r.get("description")?,
                },
            );
        }
    }
    Ok(out)
}

/// Creates a character.
#[utoipa::path(post, path = "/characters", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    request_body = CreateCharacter,
    responses(
        (status = 201, description = "created", body = Character),
        (status = 401, description = "not authenticated", body = Problem),
        (status = 422, description = "invalid field", body = Problem),
    ))]
async fn create_character(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateCharacter>,
) -> Result<(StatusCode, Json<Character>), ApiError> {
    let name = check_name(&req.name)?;
    for (f, v) in [
        ("description", &req.description),
        ("personality", &req.personality),
        ("speech_style", &req.speech_style),
        ("scenario", &req.scenario),
        ("greeting", &req.greeting),
        ("example_dialogue", &req.example_dialogue),
    ] {
        check_text(f, v)?;
    }
    let tags = check_tags(&req.tags)?;
    let llm = req.llm.check()?;
    if let Some(u) = &req.avatar_url {
        check_url(u)?;
    }
    if let Some(d) = req.document_id {
        check_document(&state, &user, d).await?;
    }
    let id = Uuid::new_v4();
    let t = now();
    state
        .db
        .execute(
            "INSERT INTO characters (id, user_id, document_id, name, description, personality, speech_style, scenario, \
             greeting, example_dialogue, tags, avatar_url, llm, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $13, $13)",
            &params![
                id,
                user.id,
                req.document_id,
                name,
                req.description,
                req.personality,
                req.speech_style,
                req.scenario,
                req.greeting,
                req.example_dialogue,
                tags,
                req.avatar_url,
                t,
                llm
            ],
        )
        .await?;
    Ok((StatusCode::CREATED, Json(load(&state, &user, id).await?)))
}

/// Lists the caller's characters, newest first (an admin sees everyone's).
#[utoipa::path(get, path = "/characters", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "a page of characters", body = Paginated<Character>),
        (status = 401, description = "not authenticated", body = Problem),
        (status = 422, description = "bad skip or limit", body = Problem),
    ))]
async fn list_characters(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = page.validate()?;
    // Between two writes every request for this page would make the same bytes: reuse them while the
    // database's data version is unchanged (see `db::pages`). The version is read before the query.
    let cache = state.db.page_cache();
    let version = if cache.enabled() { state.db.data_version() } else { None };
    let scope: &dyn std::fmt::Display = if user.is_admin() { &"*" } else { &user.id };
    let key = PageCache::key("characters", &[scope, &page.skip, &page.limit]);
    if let Some(body) = version.and_then(|v| cache.get(&key, v)) {
        return Ok(json_body(body));
    }
    // The page and its exact total from one snapshot in one database call (see `Db::fetch_page`).
    let (rows, total) = if user.is_admin() {
        let sql =
            format!("SELECT {COLS}, {TOTAL} FROM characters ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2");
        let count = "SELECT COUNT(*) FROM characters";
        state
            .db
            .fetch_page(&sql, &params![page.limit, page.skip], count)
            .await?
    } else {
        let sql = format!(
            "SELECT {COLS}, {TOTAL} FROM characters WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let count = "SELECT COUNT(*) FROM characters WHERE user_id = $1";
        state
            .db
            .fetch_page(&sql, &params![user.id, page.limit, page.skip], count)
            .await?
    };
    let items = rows.iter().map(Character::from_row).collect::<Result<Vec<_>, _>>()?;
    let body = serde_json::to_vec(&Paginated {
        items,
        total,
        skip: page.skip,
        limit: page.limit,
    })
    .map_err(|e| ApiError::Internal(format!("cannot encode the page: {e}")))?;
    let body = Bytes::from(body);
    if let Some(v) = version {
        cache.put(key, v, body.clone());
    }
    Ok(json_body(body))
}

fn json_body(body: Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// One character.
#[utoipa::path(get, path = "/characters/{id}", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id")),
    responses(
        (status = 200, description = "the character", body = Character),
        (status = 404, description = "no such character of yours", body = Problem),
        (status = 422, description = "malformed id", body = Problem),
    ))]
async fn get_character(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<Character>, ApiError> {
    Ok(Json(load(&state, &user, id).await?))
}

/// Updates the fields given; leaves the others.
#[utoipa::path(patch, path = "/characters/{id}", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id")),
    request_body = PatchCharacter,
    responses(
        (status = 200, description = "the updated character", body = Character),
        (status = 404, description = "no such character of yours", body = Problem),
        (status = 422, description = "invalid field", body = Problem),
    ))]
async fn patch_character(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<PatchCharacter>,
) -> Result<Json<Character>, ApiError> {
    load(&state, &user, id).await?;
    let mut sets: Vec<(&str, Value)> = Vec::new();
    match &req.name {
        Some(Some(n)) => sets.push(("name", check_name(n)?.into())),
        Some(None) => return Err(ApiError::Unprocessable("name cannot be null".into())),
        None => {}
    }
    for (f, v) in [
        ("description", &req.description),
        ("personality", &req.personality),
        ("speech_style", &req.speech_style),
        ("scenario", &req.scenario),
        ("greeting", &req.greeting),
        ("example_dialogue", &req.example_dialogue),
    ] {
        if let Some(v) = v {
            check_text(f, v)?;
            sets.push((f, v.as_str().into()));
        }
    }
    if let Some(tags) = &req.tags {
        sets.push(("tags", check_tags(tags)?.into()));
    }
    if let Some(llm) = &req.llm {
        sets.push(("llm", llm.check()?.into()));
    }
    if let Some(url) = &req.avatar_url {
        if let Some(u) = url {
            check_url(u)?;
        }
        sets.push(("avatar_url", url.clone().into()));
    }
    if let Some(doc) = req.document_id {
        if let Some(d) = doc {
            check_document(&state, &user, d).await?;
        }
        sets.push(("document_id", doc.into()));
    }
    if !sets.is_empty() {
        sets.push(("edited", 1i64.into()));
        sets.push(("updated_at", now().into()));
        let assignments: Vec<String> = sets
            .iter()
            .enumerate()
            .map(|(i, (col, _))| format!("{col} = ${}", i + 2))
            .collect();
        let mut values: Vec<Value> = vec![id.into()];
        values.extend(sets.into_iter().map(|(_, v)| v));
        state
            .db
            .execute(
                &format!("UPDATE characters SET {} WHERE id = $1", assignments.join(", ")),
                &values,
            )
            .await?;
    }
    Ok(Json(load(&state, &user, id).await?))
}

/// Deletes a character.
#[utoipa::path(delete, path = "/characters/{id}", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "no such character of yours", body = Problem),
    ))]
async fn delete_character(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    load(&state, &user, id).await?;
    state
        .db
        .execute("DELETE FROM characters WHERE id = $1", &params![id])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
