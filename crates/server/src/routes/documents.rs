//! `/documents`: streaming upload, list, get, delete.
//!
//! An upload is streamed to storage chunk by chunk while it is hashed, so a
//! 100 MB file never sits in memory; its type is decided from its content
//! (the reader's magic-byte detection), not from its name; identical content
//! is stored once and shared by the documents that refer to it.

use crate::auth::AuthUser;
use crate::db::{DbError, FromRow, Row, now};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, FileForm, IdPath, PageParams, Paginated};
use crate::params;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_documents))
        .routes(routes!(get_document, delete_document))
        .routes(routes!(analyze_document))
        .routes(routes!(document_text))
        .routes(routes!(document_analysis))
        .routes(routes!(document_graph))
        .routes(routes!(export_document))
}

/// The upload route alone: it gets its own body limit and timeout.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_document))
}

/// A stored document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "9b2e…", "filename": "pride_and_prejudice.epub", "format": "epub",
    "content_type": "application/epub+zip", "size_bytes": 310245, "sha256": "4be1…", "status": "queued",
    "error": null, "title": null, "authors": [], "language": null, "word_count": null, "owner_id": "3f0c…",
    "created_at": "2026-11-27T16:43:01.123456Z", "updated_at": "2026-11-27T16:43:01.123456Z"}))]
pub struct DocumentOut {
    pub id: Uuid,
    /// The uploaded name, sanitised.
    pub filename: String,
    /// `pdf`, `docx`, `epub`, `markdown` or `text`, decided from the content.
    pub format: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `queued`, `processing`, `ready` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub word_count: Option<i64>,
    /// Document statistics from the analysis (words, sentences, reading time, …).
    #[schema(value_type = Option<Object>)]
    pub stats: Option<serde_json::Value>,
    /// Headings and chapters: `{title, level, start, end}` in chars.
    #[schema(value_type = Vec<Object>)]
    pub sections: serde_json::Value,
    /// The latest analysis job.
    pub job_id: Option<Uuid>,
    pub owner_id: Uuid,
    pub created_at: String,
    pub updated_at: String,
}

const COLS: &str = "id, user_id, filename, format, content_type, size_bytes, sha256, status, error, title, authors, \
                    language, word_count, stats, sections, job_id, created_at, updated_at";

impl FromRow for DocumentOut {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        let authors: String = r.get("authors")?;
        Ok(DocumentOut {
            id: r.get("id")?,
            filename: r.get("filename")?,
            format: r.get("format")?,
            content_type: r.get("content_type")?,
            size_bytes: r.get("size_bytes")?,
            sha256: r.get("sha256")?,
            status: r.get("status")?,
            error: r.get("error")?,
            title: r.get("title")?,
            authors: serde_json::from_str(&authors).unwrap_or_default(),
            language: r.get("language")?,
            word_count: r.get("word_count")?,
            stats: r
                .get::<Option<String>>("stats")?
                .and_then(|s| serde_json::from_str(&s).ok()),
            sections: serde_json::from_str(&r.get::<String>("sections")?).unwrap_or_default(),
            job_id: r.get("job_id")?,
            owner_id: r.get("user_id")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

/// The multipart form of an upload (for the spec).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The document: PDF, DOCX, EPUB, Markdown or plain text.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// Makes an uploaded file name safe to store and show: the last path
/// component only, no control or bidirectional-override characters, at most
/// 255 bytes.
pub fn sanitize_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut out = String::new();
    for c in trimmed.chars() {
        if out.len() + c.len_utf8() > 255 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "upload".to_string() } else { out }
}

fn format_info(f: reader::Format) -> (&'static str, &'static str) {
    match f {
        reader::Format::Pdf => ("pdf", "application/pdf"),
        reader::Format::Docx => (
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        reader::Format::Epub => ("epub", "application/epub+zip"),
        reader::Format::Markdown => ("markdown", "text/markdown"),
        reader::Format::Text => ("text", "text/plain"),
    }
}

/// Decides the format from the content. Zip containers (DOCX, EPUB) are
/// told apart by their entries, read through a memory map so a large file is
/// not loaded; everything else from its first bytes.
fn detect(head: &[u8], path: &std::path::Path, name: &str) -> Result<reader::Format, ApiError> {
    let unsupported = |e: reader::Error| {
        ApiError::UnsupportedMediaType(format!(
            "unsupported file type ({e}); accepted: PDF, DOCX, EPUB, Markdown, plain text"
        ))
    };
    if head.starts_with(b"PK") {
        let file = std::fs::File::open(path).map_err(ApiError::internal)?;
        // SAFETY: the file is our own temporary upload; nothing else writes it.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(ApiError::internal)?;
        reader::detect(&map, Some(name)).map_err(unsupported)
    } else {
        reader::detect(head, Some(name)).map_err(unsupported)
    }
}

/// Uploads a document (multipart field `file`). The type is decided by
/// content; the file is stored once per distinct content.
#[utoipa::path(post, path = "/documents", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "stored", body = DocumentOut),
        (status = 400, description = "no `file` field or a broken multipart body", body = Problem),
        (status = 413, description = "larger than DRAMATIS_MAX_UPLOAD_MB", body = Problem),
        (status = 415, description = "not PDF, DOCX, EPUB, Markdown or text", body = Problem),
    ))]
async fn upload_document(
    State(state): State<AppState>,
    user: AuthUser,
    form: FileForm,
) -> Result<(StatusCode, Json<DocumentOut>), ApiError> {
    let max = state.config.max_upload_bytes;
    let too_large = format!("the file is larger than {} MiB", max / (1024 * 1024));
    let (filename, mut pending) = form
        .read_file(max, too_large, async |mut field| {
            let filename = sanitize_filename(field.file_name().unwrap_or("upload"));
            let mut pending = state.storage.begin().await?;
            while let Some(chunk) = field.chunk().await? {
                pending.write(&chunk).await?;
            }
            Ok((filename, pending))
        })
        .await?;
    if pending.size == 0 {
        return Err(ApiError::Unprocessable("the file is empty".into()));
    }
    let sha = pending.finish().await?;
    let format = detect(&pending.head, pending.path(), &filename)?;
    let (format_name, content_type) = format_info(format);
    let size = pending.size as i64;
    state.storage.commit(pending, &sha).await?;
    let id = Uuid::new_v4();
    let t = now();
    // Register the row under the blob's lock and make sure the blob is
    // still there: identical content deleted by another document's
    // removal between our commit and now would otherwise leave a row
    // without its file.
    let mut tx = state.db.begin().await?;
    crate::storage::lock_blob(&mut tx, state.db.backend(), &sha).await?;
    if !state.storage.exists(&sha).await {
        return Err(ApiError::Unavailable(
            "identical content was being deleted at the same moment; please upload again".into(),
        ));
    }
    tx.execute(
        "INSERT INTO documents (id, user_id, filename, format, content_type, size_bytes, sha256, status, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8)",
        &params![id, user.id, filename, format_name, content_type, size, sha, t],
    )
    .await?;
    tx.commit().await?;
    crate::pipeline::enqueue(&state, user.id, id).await?;
    Ok((StatusCode::CREATED, Json(load(&state, &user, id).await?)))
}

/// Loads a document the caller may see; another user's is "not found".
pub async fn load(state: &AppState, user: &AuthUser, id: Uuid) -> Result<DocumentOut, ApiError> {
    let d: Option<DocumentOut> = state
        .db
        .fetch_optional_as(&format!("SELECT {COLS} FROM documents WHERE id = $1"), &params![id])
        .await?;
    match d {
        Some(d) if user.is_admin() || d.owner_id == user.id => Ok(d),
        _ => Err(ApiError::not_found("document")),
    }
}

/// Filters and order for the document list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentFilter {
    /// `queued`, `processing`, `ready` or `failed`.
    pub status: Option<String>,
    /// `pdf`, `docx`, `epub`, `markdown` or `text`.
    pub format: Option<String>,
    /// `created_at` (default, newest first), `title`, `filename` or `size`; prefix `-` to reverse.
    pub sort: Option<String>,
    pub skip: Option<i64>,
    pub limit: Option<i64>,
}

const STATUSES: &[&str] = &["queued", "processing", "ready", "failed"];
const FORMATS: &[&str] = &["pdf", "docx", "epub", "markdown", "text"];

/// The ORDER BY for a `sort` value; only fixed texts reach the SQL.
fn order_by(sort: Option<&str>) -> Result<&'static str, ApiError> {
    Ok(match sort.unwrap_or("created_at") {
        "created_at" | "-created_at" => "created_at DESC, id DESC",
        "+created_at" | "oldest" => "created_at ASC, id ASC",
        "title" => "COALESCE(title, filename) ASC, id ASC",
        "-title" => "COALESCE(title, filename) DESC, id DESC",
        "filename" => "filename ASC, id ASC",
        "-filename" => "filename DESC, id DESC",
        "size" => "size_bytes ASC, id ASC",
        "-size" => "size_bytes DESC, id DESC",
        other => {
            return Err(ApiError::Unprocessable(format!(
                "sort must be created_at, title, filename or size (prefix - to reverse), not `{}`",
                other.chars().take(32).collect::<String>()
            )));
        }
    })
}

/// Lists the caller's documents (an admin sees everyone's), newest first
/// unless `sort` says otherwise, optionally filtered by status and format.
#[utoipa::path(get, path = "/documents", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(DocumentFilter),
    responses(
        (status = 200, description = "a page of documents", body = Paginated<DocumentOut>),
        (status = 401, description = "not authenticated", body = Problem),
        (status = 422, description = "bad filter, sort, skip or limit", body = Problem),
    ))]
async fn list_documents(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(f): ApiQuery<DocumentFilter>,
) -> Result<Json<Paginated<DocumentOut>>, ApiError> {
    let page = PageParams {
        skip: f.skip,
        limit: f.limit,
    }
    .validate()?;
    let order = order_by(f.sort.as_deref())?;
    if let Some(s) = f.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::Unprocessable(format!(
            "status must be one of {}, not `{s}`",
            STATUSES.join(", ")
        )));
    }
    if let Some(s) = f.format.as_deref().filter(|s| !FORMATS.contains(s)) {
        return Err(ApiError::Unprocessable(format!(
            "format must be one of {}, not `{s}`",
            FORMATS.join(", ")
        )));
    }
    // $1 owner ('' for an admin: everyone), $2 status, $3 format ('' = any).
    let owner = if user.is_admin() {
        String::new()
    } else {
        user.id.to_string()
    };
    let filter = "($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR format = $3)";
    let args = params![
        owner.as_str(),
        f.status.as_deref().unwrap_or(""),
        f.format.as_deref().unwrap_or(""),
        page.limit,
        page.skip
    ];
    let items = state
        .db
        .fetch_as(
            &format!("SELECT {COLS} FROM documents WHERE {filter} ORDER BY {order} LIMIT $4 OFFSET $5"),
            &args,
        )
        .await?;
    let total = state
        .db
        .fetch_one(
            &format!("SELECT COUNT(*) AS n FROM documents WHERE {filter}"),
            &args[..3],
        )
        .await?
        .get("n")?;
    Ok(Json(Paginated {
        items,
        total,
        skip: page.skip,
        limit: page.limit,
    }))
}

/// One document's metadata and status.
#[utoipa::path(get, path = "/documents/{id}", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id")),
    responses(
        (status = 200, description = "the document", body = DocumentOut),
        (status = 404, description = "no such document of yours", body = Problem),
        (status = 422, description = "malformed id", body = Problem),
    ))]
async fn get_document(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<DocumentOut>, ApiError> {
    Ok(Json(load(&state, &user, id).await?))
}

/// Deletes a document; its file goes when no other document shares it.
#[utoipa::path(delete, path = "/documents/{id}", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "no such document of yours", body = Problem),
    ))]
async fn delete_document(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let doc = load(&state, &user, id).await?;
    // Characters made from the document go with it unless the user edited
    // them or talked to them (their conversations are the user's); those stay,
    // unlinked (the foreign key sets it null).
    let mut tx = state.db.begin().await?;
    tx.execute(
        "DELETE FROM characters WHERE document_id = $1 AND edited = 0 \
         AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.character_id = characters.id)",
        &params![id],
    )
    .await?;
    tx.execute("DELETE FROM documents WHERE id = $1", &params![id]).await?;
    tx.commit().await?;
    state.indexes.forget(id);
    if let Some(job) = doc.job_id {
        let _ = state.queue.cancel(job).await;
    }
    // Count and delete under the blob's lock (see `storage::lock_blob`).
    let mut tx = state.db.begin().await?;
    crate::storage::lock_blob(&mut tx, state.db.backend(), &doc.sha256).await?;
    let others = match tx
        .fetch_optional(
            "SELECT COUNT(*) AS n FROM documents WHERE sha256 = $1",
            &params![doc.sha256.as_str()],
        )
        .await?
    {
        Some(r) => r.get::<i64>("n")?,
        None => 0,
    };
    if others == 0 {
        state.storage.delete(&doc.sha256).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::sanitize_filename;

    #[test]
    fn filenames_are_sanitised() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\book.epub"), "book.epub");
        assert_eq!(sanitize_filename("evil\u{202E}txt.exe"), "eviltxt.exe");
        assert_eq!(sanitize_filename("a\0b.txt"), "ab.txt");
        assert_eq!(sanitize_filename(".hidden"), "hidden");
        assert_eq!(sanitize_filename(""), "upload");
        assert!(sanitize_filename(&"é".repeat(300)).len() <= 255);
    }
}

/// The job that (re-)analyses a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: Uuid,
    pub document_id: Uuid,
    pub status: &'static str,
}

/// Re-runs the analysis of a document (202 with the job id).
#[utoipa::path(post, path = "/documents/{id}/analyze", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id")),
    responses(
        (status = 202, description = "queued", body = JobAccepted),
        (status = 404, description = "no such document of yours", body = Problem),
    ))]
async fn analyze_document(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let doc = load(&state, &user, id).await?;
    let job_id = crate::pipeline::enqueue(&state, doc.owner_id, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            job_id,
            document_id: id,
            status: "queued",
        }),
    ))
}

/// A char range of the text.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TextRange {
    /// First char (default 0).
    pub start: Option<i64>,
    /// One past the last char (default: the end).
    pub end: Option<i64>,
}

/// Extracted text, or a char range of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentText {
    pub document_id: Uuid,
    pub start: i64,
    pub end: i64,
    /// Chars in the whole text.
    pub total_chars: i64,
    pub text: String,
}

async fn stored_text(state: &AppState, doc: &DocumentOut) -> Result<(String, i64), ApiError> {
    let row = state
        .db
        .fetch_optional(
            "SELECT text, char_count FROM document_texts WHERE document_id = $1",
            &params![doc.id],
        )
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("the document is not analysed yet (status: {})", doc.status)))?;
    Ok((row.get("text")?, row.get("char_count")?))
}

/// The extracted text (`?start=&end=` in chars for a part of it).
#[utoipa::path(get, path = "/documents/{id}/text", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id"), TextRange),
    responses(
        (status = 200, description = "the text", body = DocumentText),
        (status = 404, description = "no such document of yours", body = Problem),
        (status = 409, description = "not extracted yet", body = Problem),
        (status = 422, description = "bad range", body = Problem),
    ))]
async fn document_text(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiQuery(range): ApiQuery<TextRange>,
) -> Result<Json<DocumentText>, ApiError> {
    let doc = load(&state, &user, id).await?;
    let (text, total) = stored_text(&state, &doc).await?;
    let start = range.start.unwrap_or(0);
    let end = range.end.unwrap_or(total);
    if start < 0 || end < start || end > total {
        return Err(ApiError::Unprocessable(format!(
            "the range must satisfy 0 <= start <= end <= {total}; got start={start}, end={end}"
        )));
    }
    let text = if start == 0 && end == total {
        text
    } else {
        text.chars().skip(start as usize).take((end - start) as usize).collect()
    };
    Ok(Json(DocumentText {
        document_id: id,
        start,
        end,
        total_chars: total,
        text,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalysisParams {
    /// `text` to include the extracted text.
    pub include: Option<String>,
}

/// The analysis JSON: stats, sections, characters, mentions, quotes,
/// relationships (char offsets into the text).
#[utoipa::path(get, path = "/documents/{id}/analysis", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id"), AnalysisParams),
    responses(
        (status = 200, description = "the analysis", body = Object),
        (status = 404, description = "no such document of yours", body = Problem),
        (status = 409, description = "not analysed yet", body = Problem),
    ))]
async fn document_analysis(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiQuery(params): ApiQuery<AnalysisParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let doc = load(&state, &user, id).await?;
    let mut data = stored_analysis(&state, &doc).await?;
    if params
        .include
        .as_deref()
        .is_some_and(|i| i.split(',').any(|p| p.trim() == "text"))
    {
        let (text, _) = stored_text(&state, &doc).await?;
        if let Some(o) = data.as_object_mut() {
            o.insert("text".into(), serde_json::Value::String(text));
        }
    }
    Ok(Json(data))
}

async fn stored_analysis(state: &AppState, doc: &DocumentOut) -> Result<serde_json::Value, ApiError> {
    let row = state
        .db
        .fetch_optional("SELECT data FROM analyses WHERE document_id = $1", &params![doc.id])
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("the document is not analysed yet (status: {})", doc.status)))?;
    let mut data: serde_json::Value = serde_json::from_str(&row.get::<String>("data")?).map_err(ApiError::internal)?;
    // The text is stored once, in `document_texts`; the analysis keeps an empty placeholder.
    if let Some(o) = data.as_object_mut()
        && o.get("text").is_some_and(|t| t.as_str().is_some_and(str::is_empty))
    {
        o.remove("text");
    }
    Ok(data)
}

/// The relationship graph: characters as nodes, weighted ties as edges.
#[utoipa::path(get, path = "/documents/{id}/graph", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id")),
    responses(
        (status = 200, description = "nodes and edges", body = crate::export::Graph),
        (status = 404, description = "no such document of yours", body = Problem),
        (status = 409, description = "not analysed yet", body = Problem),
    ))]
async fn document_graph(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<crate::export::Graph>, ApiError> {
    let doc = load(&state, &user, id).await?;
    Ok(Json(crate::export::graph(&stored_analysis(&state, &doc).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json`, `md`, `txt`, `csv`, `graphml`, `gexf` or `cypher`.
    pub format: Option<String>,
}

/// Exports the analysis: `json`, `md` (report), `txt` (text), `csv`
/// (characters), `graphml`/`gexf` (graph for Gephi), `cypher` (Neo4j).
#[utoipa::path(get, path = "/documents/{id}/export", tag = "documents",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "document id"), ExportParams),
    responses(
        (status = 200, description = "the export, as a download"),
        (status = 404, description = "no such document of yours", body = Problem),
        (status = 409, description = "not analysed yet", body = Problem),
        (status = 422, description = "unknown format", body = Problem),
    ))]
async fn export_document(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let format = params.format.unwrap_or_else(|| "json".into());
    let doc = load(&state, &user, id).await?;
    let analysis = stored_analysis(&state, &doc).await?;
    let title = doc.title.clone().unwrap_or_else(|| doc.filename.clone());
    let (body, ctype, ext) = match format.as_str() {
        "json" => (
            serde_json::to_string_pretty(&analysis).map_err(ApiError::internal)?,
            "application/json",
            "json",
        ),
        "md" => (
            crate::export::markdown(&analysis, &title, &doc.authors),
            "text/markdown; charset=utf-8",
            "md",
        ),
        "txt" => (stored_text(&state, &doc).await?.0, "text/plain; charset=utf-8", "txt"),
        "csv" => (crate::export::csv(&analysis), "text/csv; charset=utf-8", "csv"),
        "graphml" => (
            crate::export::graphml(&crate::export::graph(&analysis)),
            "application/graphml+xml",
            "graphml",
        ),
        "gexf" => (
            crate::export::gexf(&crate::export::graph(&analysis), &title),
            "application/gexf+xml",
            "gexf",
        ),
        "cypher" => (
            crate::export::cypher(&crate::export::graph(&analysis), &id.to_string(), &title),
            "application/x-cypher-query; charset=utf-8",
            "cypher",
        ),
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown export format `{}`; use json, md, txt, csv, graphml, gexf or cypher",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    let stem: String = doc
        .filename
        .rsplit_once('.')
        .map_or(doc.filename.as_str(), |(s, _)| s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}.{ext}\"",
        if stem.is_empty() { "document" } else { &stem }
    );
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, ctype.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
