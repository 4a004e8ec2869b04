//! `GET /search`: the caller's passages or quotes ranked for a query, with
//! highlighted snippets. The same indexes and ranking the chat grounds its
//! turns in ([`crate::chat::index`]); scores are comparable across documents
//! because the statistics are global to the searched set.

use crate::auth::AuthUser;
use crate::chat::{self, index};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::params;
use crate::routes::characters;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Hits ranked before paging; `total` counts at most this many.
pub const MAX_CANDIDATES: usize = 1000;
const SNIPPET_CHARS: usize = 240;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for (1–500 characters).
    pub q: String,
    /// Only this document.
    pub document_id: Option<Uuid>,
    /// Only this character's book; with `kind=quotes`, only their lines.
    pub character_id: Option<Uuid>,
    /// `passages` (default) or `quotes`.
    pub kind: Option<String>,
    /// Hits to skip (0 or more).
    pub skip: Option<i64>,
    /// Hits to return (1–100, default 20).
    pub limit: Option<i64>,
}

/// One ranked passage or quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// `passage` or `quote`.
    pub kind: &'static str,
    pub id: Uuid,
    pub document_id: Uuid,
    pub document_title: Option<String>,
    pub section: Option<u32>,
    pub section_title: Option<String>,
    /// Char range in the document's text.
    pub start: usize,
    pub end: usize,
    pub score: f32,
    /// Text around the best match, at most 240 characters.
    pub snippet: String,
    /// Char ranges in `snippet` of the matched words.
    pub highlights: Vec<[usize; 2]>,
    /// For quotes: the speaking character's name, when one of yours.
    pub speaker: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Matches found (at most 1000).
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
}

struct Target {
    id: Uuid,
    owner: Uuid,
    title: Option<String>,
    version: String,
}

async fn targets(state: &AppState, user: &AuthUser, document: Option<Uuid>) -> Result<Vec<Target>, ApiError> {
    let rows = match document {
        Some(d) => {
            let owner = state
                .db
                .fetch_optional("SELECT user_id FROM documents WHERE id = $1", &params![d])
                .await?;
            match owner {
                Some(r) if user.is_admin() || r.get::<Uuid>("user_id")? == user.id => {}
                _ => return Err(ApiError::not_found("document")),
            }
            state
                .db
                .fetch_all(
                    "SELECT id, user_id, title, analyzed_at FROM documents WHERE id = $1 AND analyzed_at IS NOT NULL",
                    &params![d],
                )
                .await?
        }
        None => state
            .db
            .fetch_all(
                "SELECT id, user_id, title, analyzed_at FROM documents WHERE user_id = $1 AND analyzed_at IS NOT NULL",
                &params![user.id],
            )
            .await?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Target {
            id: r.get("id")?,
            owner: r.get("user_id")?,
            title: r.get("title")?,
            version: r.get("analyzed_at")?,
        });
    }
    Ok(out)
}

/// Searches the caller's books.
#[utoipa::path(get, path = "/search", tag = "search",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "ranked hits", body = SearchResults),
        (status = 404, description = "no such document or character of yours", body = Problem),
        (status = 422, description = "bad query or paging", body = Problem),
    ))]
async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
    let q = p.q.trim();
    if q.is_empty() || q.chars().count() > 500 {
        return Err(ApiError::Unprocessable("q must be 1-500 characters".into()));
    }
    if retrieval::terms(q).is_empty() {
        return Err(ApiError::Unprocessable(
            "q has no searchable words (only stop words or punctuation)".into(),
        ));
    }
    let skip = p.skip.unwrap_or(0);
    let limit = p.limit.unwrap_or(20);
    if skip < 0 {
        return Err(ApiError::Unprocessable("skip must be 0 or more".into()));
    }
    if !(1..=100).contains(&limit) {
        return Err(ApiError::Unprocessable("limit must be between 1 and 100".into()));
    }
    let quotes = match p.kind.as_deref() {
        None | Some("passages") | Some("passage") => false,
        Some("quotes") | Some("quote") => true,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "kind must be passages or quotes, not `{other}`"
            )));
        }
    };
    let mut boost = Vec::new();
    let mut speaker = None;
    let mut document = p.document_id;
    if let Some(cid) = p.character_id {
        let c = characters::load(&state, &user, cid).await?;
        match (c.document_id, document) {
            (None, _) => {
                return Ok(Json(SearchResults {
                    items: Vec::new(),
                    total: 0,
                    skip,
                    limit,
                }));
            }
            (Some(a), Some(b)) if a != b => {
                return Ok(Json(SearchResults {
                    items: Vec::new(),
                    total: 0,
                    skip,
                    limit,
                }));
            }
            (Some(a), _) => document = Some(a),
        }
        boost = chat::names_of(&c);
        speaker = chat::speaker_id(&c);
    }
    let targets = targets(&state, &user, document).await?;
    let mut docs: Vec<Arc<index::DocIndex>> = Vec::with_capacity(targets.len());
    for t in &targets {
        docs.push(state.indexes.get(&state.db, t.id, &t.version).await?);
    }
    let opts = retrieval::SearchOptions {
        limit: MAX_CANDIDATES,
        offset: 0,
        max_section: None,
        boost_phrases: if quotes { Vec::new() } else { boost },
        boost: 1.5,
    };
    let indexes: Vec<&retrieval::Index> = docs
        .iter()
        .map(|d| if quotes { &d.quote_index } else { &d.passage_index })
        .collect();
    let mut hits = retrieval::search_many(&indexes, q, &opts);
    if quotes && let Some(sp) = &speaker {
        hits.retain(|(i, h)| docs[*i].quotes.get(h.item as usize).and_then(|s| s.speaker.as_deref()) == Some(sp));
    }
    let total = hits.len() as i64;
    let page: Vec<(usize, retrieval::Hit)> = hits.into_iter().skip(skip as usize).take(limit as usize).collect();
    let spans: Vec<(usize, &index::Span, f32)> = page
        .iter()
        .filter_map(|(i, h)| {
            let d = &docs[*i];
            let list = if quotes { &d.quotes } else { &d.passages };
            list.get(h.item as usize).map(|s| (*i, s, h.score))
        })
        .collect();
    let names = if quotes {
        let mut on_page: Vec<usize> = spans.iter().map(|(i, _, _)| *i).collect();
        on_page.sort();
        on_page.dedup();
        speaker_names(&state, on_page.iter().map(|i| &targets[*i])).await?
    } else {
        HashMap::new()
    };
    let items = spans
        .into_iter()
        .map(|(i, s, score)| {
            let d = &docs[i];
            let text = d.text_of(s);
            let snip = retrieval::snippet(text, q, SNIPPET_CHARS);
            SearchHit {
                kind: if quotes { "quote" } else { "passage" },
                id: s.id,
                document_id: d.document_id,
                document_title: targets[i].title.clone(),
                section: s.section,
                section_title: d.section_title(s.section),
                start: s.start,
                end: s.end,
                score,
                snippet: snip.text,
                highlights: snip.highlights.into_iter().map(|(a, b)| [a, b]).collect(),
                speaker: s
                    .speaker
                    .as_ref()
                    .and_then(|sp| names.get(&(d.document_id, sp.clone())).cloned()),
            }
        })
        .collect();
    Ok(Json(SearchResults {
        items,
        total,
        skip,
        limit,
    }))
}

/// `(document, analysis id)` → the name of the character the analysis made from it (the document owner's).
async fn speaker_names(
    state: &AppState,
    docs: impl Iterator<Item = &Target>,
) -> Result<HashMap<(Uuid, String), String>, ApiError> {
    let mut out = HashMap::new();
    for d in docs {
        for (id, c) in characters::by_analysis_id(&state.db, d.id, d.owner).await? {
            out.insert((d.id, id), c.name);
        }
    }
    Ok(out)
}
