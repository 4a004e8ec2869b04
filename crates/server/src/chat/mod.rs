//! Talking to a character: grounding each turn in the book, answering with a
//! model or, without one, with the character's own lines, and storing the
//! conversation.
//!
//! One turn: the user's message is stored; the passages of the character's
//! book that matter for it (BM25 over the stored passages, boosted where the
//! character is named) and the character's own lines on the topic are
//! retrieved, never past the conversation's spoiler limit; then either
//!
//! - **llm**: a persona prompt (profile, passages with their chapter, example
//!   lines, as much history as the context window holds — older turns are
//!   dropped whole and their gist noted, never cut mid-message) goes to the
//!   OpenAI-compatible server, streamed back token by token; or
//! - **extractive** (no model configured): the reply is made of the
//!   character's own most relevant lines, each cited.
//!
//! The reply is stored with its citations and token usage. A client that goes
//! away mid-stream cancels the turn: the upstream request is dropped (so the
//! model stops) and no half reply is stored.

pub mod index;
pub mod prompt;
pub mod store;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::params;
use crate::routes::characters::Character;
use crate::state::AppState;
use futures_util::StreamExt;
use index::DocIndex;
use std::sync::Arc;
use store::{Citation, Conversation, Message, NewMessage};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Longest user message, in chars.
pub const MAX_MESSAGE_CHARS: usize = 8_000;
/// Passages put in a prompt.
const PROMPT_PASSAGES: usize = 4;
/// The character's own lines put in a prompt as examples of their voice.
const PROMPT_LINES: usize = 6;
/// Lines an extractive reply is made of, at most, and its length budget.
const EXTRACTIVE_LINES: usize = 3;
const EXTRACTIVE_CHARS: usize = 700;

/// What a turn is grounded in.
#[derive(Debug, Default)]
pub struct Grounding {
    pub book_title: Option<String>,
    /// The last section the character may know about, by title.
    pub known_until: Option<String>,
    /// The passages that matter for the message, best first.
    pub passages: Vec<Citation>,
    /// The character's own lines that matter for the message, best first.
    pub lines: Vec<Citation>,
}

/// Everything needed to answer: stored context plus grounding.
pub struct Turn {
    pub conversation: Conversation,
    pub character: Character,
    /// The conversation up to and including the message being answered.
    pub history: Vec<Message>,
    pub grounding: Grounding,
}

/// What a finished turn returns.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Reply {
    pub conversation_id: Uuid,
    pub message: Message,
}

/// How a turn starts.
pub enum Start {
    /// A new user message.
    Message(String),
    /// Answer the last user message again (its reply is replaced).
    Regenerate,
    /// Replace a user message's text and continue from there.
    Edit { message: Uuid, content: String },
}

pub fn check_message(m: &str) -> Result<String, ApiError> {
    let t = m.trim();
    if t.is_empty() {
        return Err(ApiError::Unprocessable("message must not be empty".into()));
    }
    if t.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "message must be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(t.to_string())
}

/// Loads a conversation the caller may see.
pub async fn load_conversation(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Conversation, ApiError> {
    match store::get(&state.db, id).await? {
        Some(c) if user.is_admin() || c.user_id == user.id => Ok(c),
        _ => Err(ApiError::not_found("conversation")),
    }
}

/// Stores what starts the turn (new message, edit, or nothing for
/// regenerate), drops what it replaces, and gathers the grounding.
pub async fn prepare(
    state: &AppState,
    conversation: Conversation,
    character: Character,
    start: Start,
) -> Result<Turn, ApiError> {
    let mut tx = state.db.begin().await?;
    // The history is read once, in the transaction, and kept up to date with what this turn changes.
    let mut history = store::messages_in(&mut tx, conversation.id).await?;
    match start {
        Start::Message(text) => {
            let m = store::append(
                &mut tx,
                conversation.id,
                NewMessage {
                    role: "user",
                    content: text,
                    ..Default::default()
                },
            )
            .await?;
            history.push(m);
        }
        Start::Regenerate => {
            let Some(i) = history.iter().rposition(|m| m.role == "user") else {
                return Err(ApiError::Conflict("the conversation has no message to answer".into()));
            };
            store::truncate_after(&mut tx, conversation.id, history[i].seq).await?;
            history.truncate(i + 1);
        }
        Start::Edit { message, content } => {
            let Some(i) = history.iter().position(|m| m.id == message) else {
                return Err(ApiError::not_found("message"));
            };
            if history[i].role != "user" {
                return Err(ApiError::Unprocessable(
                    "only the user's own messages can be edited".into(),
                ));
            }
            store::set_content(&mut tx, message, &content).await?;
            store::truncate_after(&mut tx, conversation.id, history[i].seq).await?;
            history[i].content = content;
            // Ordered by `seq`: what follows the edited message is what was just deleted.
            history.truncate(i + 1);
        }
    }
    tx.commit().await?;
    let grounding = ground(state, &character, conversation.max_section, &history).await?;
    Ok(Turn {
        conversation,
        character,
        history,
        grounding,
    })
}

/// The character's document and the version of its analysis, if it has one.
async fn document_of(state: &AppState, c: &Character) -> Result<Option<(Uuid, String, Option<String>)>, ApiError> {
    let Some(doc) = c.document_id else { return Ok(None) };
    let row = state
        .db
        .fetch_optional(
            "SELECT title, analyzed_at FROM documents WHERE id = $1 AND user_id = $2 AND analyzed_at IS NOT NULL",
            &params![doc, c.owner_id],
        )
        .await?;
    Ok(match row {
        Some(r) => Some((doc, r.get("analyzed_at")?, r.get("title")?)),
        None => None,
    })
}

/// Every name the book uses for the character: what passage retrieval boosts.
pub fn names_of(c: &Character) -> Vec<String> {
    let mut v = vec![c.name.clone()];
    for a in &c.aliases {
        if !v.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            v.push(a.clone());
        }
    }
    v
}

/// The analysis id of the character (`c3`): how its quotes are attributed.
pub fn speaker_id(c: &Character) -> Option<String> {
    c.stats.get("analysis_id").and_then(|v| v.as_str()).map(str::to_string)
}

/// The query for this turn: the message being answered, helped by the one
/// before when it has too few words of its own ("And then?").
fn query_of(history: &[Message]) -> String {
    let mut users = history.iter().rev().filter(|m| m.role == "user");
    let last = users.next().map(|m| m.content.clone()).unwrap_or_default();
    if retrieval::terms(&last).len() >= 3 {
        return last;
    }
    match users.next() {
        Some(prev) => format!("{last} {}", prev.content),
        None => last,
    }
}

pub fn citation(doc: &DocIndex, span: &index::Span, text: String, passage: bool) -> Citation {
    let passage_id = if passage {
        span.id
    } else {
        doc.passage_at(span.start).map_or(span.id, |p| p.id)
    };
    Citation {
        passage_id,
        document_id: doc.document_id,
        section: span.section,
        section_title: doc.section_title(span.section),
        start: span.start,
        end: span.end,
        text,
    }
}

async fn ground(
    state: &AppState,
    c: &Character,
    max_section: Option<u32>,
    history: &[Message],
) -> Result<Grounding, ApiError> {
    let Some((doc_id, version, title)) = document_of(state, c).await? else {
        return Ok(Grounding::default());
    };
    let doc = state.indexes.get(&state.db, doc_id, &version).await?;
    let query = query_of(history);
    let mut g = Grounding {
        book_title: title,
        known_until: max_section.and_then(|s| doc.section_title(Some(s))),
        ..Default::default()
    };
    let boundary = doc.spoiler_boundary(max_section);
    let mut passage_hits = doc.passage_index.search(
        &query,
        &retrieval::SearchOptions {
            limit: PROMPT_PASSAGES + 4,
            offset: 0,
            max_section,
            boost_phrases: names_of(c),
            boost: 1.5,
        },
    );
    passage_hits.retain(|h| doc.passages.get(h.item as usize).is_some_and(|p| p.end <= boundary));
    passage_hits.truncate(PROMPT_PASSAGES);
    let speaker = speaker_id(c);
    let mut line_spans: Vec<&index::Span> = Vec::new();
    if let Some(sp) = &speaker {
        let hits = doc.quote_index.search(
            &query,
            &retrieval::SearchOptions {
                limit: doc.quotes.len(),
                offset: 0,
                max_section,
                boost_phrases: Vec::new(),
                boost: 1.0,
            },
        );
        line_spans = hits
            .iter()
            .filter_map(|h| doc.quotes.get(h.item as usize))
            .filter(|q| q.speaker.as_deref() == Some(sp.as_str()) && q.end <= boundary)
            .take(PROMPT_LINES)
            .collect();
        if line_spans.is_empty() {
            // Nothing they said matches: their lines near the matching passages, else their first ones.
            let near: Vec<&index::Span> = passage_hits
                .iter()
                .filter_map(|h| doc.passages.get(h.item as usize))
                .flat_map(|p| {
                    doc.quotes
                        .iter()
                        .filter(move |q| q.start >= p.start && q.end <= p.end && q.speaker.as_deref() == Some(sp))
                })
                .take(PROMPT_LINES)
                .collect();
            line_spans = if near.is_empty() {
                doc.quotes
                    .iter()
                    .filter(|q| q.speaker.as_deref() == Some(sp.as_str()))
                    .filter(|q| {
                        q.end <= boundary
                            && (max_section.is_none() || q.section.is_some_and(|s| Some(s) <= max_section))
                    })
                    .filter(|q| q.end - q.start >= 40)
                    .take(PROMPT_LINES)
                    .collect()
            } else {
                near
            };
        }
    }
    let pspans: Vec<&index::Span> = passage_hits
        .iter()
        .filter_map(|h| doc.passages.get(h.item as usize))
        .collect();
    let ptexts = index::texts(&state.db, "passages", &pspans.iter().map(|p| p.id).collect::<Vec<_>>()).await?;
    let qtexts = index::texts(
        &state.db,
        "quotes",
        &line_spans.iter().map(|q| q.id).collect::<Vec<_>>(),
    )
    .await?;
    g.passages = pspans
        .iter()
        .map(|p| citation(&doc, p, ptexts.get(&p.id).cloned().unwrap_or_default(), true))
        .collect();
    g.lines = line_spans
        .iter()
        .map(|q| citation(&doc, q, clean_line(qtexts.get(&q.id).map_or("", String::as_str)), false))
        .filter(|c| !c.text.is_empty())
        .collect();
    Ok(g)
}

/// A quote as the character would say it: outer quote marks gone, a
/// trailing comma (cut off by a speech tag) made a full stop.
pub fn clean_line(q: &str) -> String {
    let t = q
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '“' | '”' | '‘' | '’' | '\'' | '«' | '»'))
        .trim();
    let mut s: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    while s.ends_with([',', ';', ':', '—', '-', '–']) {
        s.pop();
        s = s.trim_end().to_string();
        if !s.ends_with(['.', '!', '?', '…']) {
            s.push('.');
        }
    }
    if !s.is_empty() && !s.ends_with(['.', '!', '?', '…', '"', '”', '’', ')']) {
        s.push('.');
    }
    s
}

/// The extractive reply: the character's most relevant lines, joined.
pub fn extractive(turn: &Turn) -> (String, Vec<Citation>) {
    let mut used: Vec<Citation> = Vec::new();
    let mut len = 0;
    for l in &turn.grounding.lines {
        if used.len() == EXTRACTIVE_LINES || (len > 0 && len + l.text.len() > EXTRACTIVE_CHARS) {
            break;
        }
        if used.iter().any(|u| u.text == l.text) {
            continue;
        }
        len += l.text.len() + 1;
        used.push(l.clone());
    }
    if used.is_empty() {
        let c = &turn.character;
        let text = if !c.greeting.trim().is_empty() {
            c.greeting.trim().to_string()
        } else if turn.grounding.book_title.is_some() {
            "I have nothing to say about that.".to_string()
        } else {
            format!("I am {}.", c.name)
        };
        return (text, Vec::new());
    }
    // Spoken in the book's order reads more naturally than by score.
    used.sort_by_key(|c| c.start);
    let text = used.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
    (text, used)
}

/// What a running turn sends to its client.
pub enum Progress {
    Token(String),
}

/// The model settings for this character: its overrides over the server's.
fn model_for(state: &AppState, c: &Character) -> Option<String> {
    c.llm.model.clone().or_else(|| state.config.llm_model.clone())
}

/// Runs a prepared turn to its stored reply. Tokens go to `progress` as they
/// come; if its receiver is dropped (the client left), the turn stops, the
/// upstream request is dropped and nothing is stored.
pub async fn answer(state: &AppState, turn: Turn, progress: Option<mpsc::Sender<Progress>>) -> Result<Reply, ApiError> {
    let (content, citations, mode, model, usage) = match &state.llm {
        None => {
            let (text, citations) = extractive(&turn);
            if let Some(tx) = &progress {
                for piece in text.split_inclusive(' ') {
                    if tx.send(Progress::Token(piece.to_string())).await.is_err() {
                        return Err(ApiError::BadRequest("the client went away".into()));
                    }
                }
            }
            (text, citations, "extractive", None, None)
        }
        Some(client) => {
            let model = model_for(state, &turn.character);
            let request = prompt::build(&turn, &state.config, model.clone());
            let citations = turn.grounding.passages.clone();
            match &progress {
                None => {
                    let done = client.complete(&request).await.map_err(upstream)?;
                    (done.content, citations, "llm", Some(done.model), done.usage)
                }
                Some(tx) => {
                    let mut stream = Box::pin(client.stream(&request).await.map_err(upstream)?);
                    let mut text = String::new();
                    let mut usage = None;
                    let mut used_model = model.clone();
                    loop {
                        let next = tokio::select! {
                            _ = tx.closed() => return Err(ApiError::BadRequest("the client went away".into())),
                            n = stream.next() => n,
                        };
                        match next {
                            Some(Ok(llm::Delta::Token(t))) => {
                                text.push_str(&t);
                                if tx.send(Progress::Token(t)).await.is_err() {
                                    return Err(ApiError::BadRequest("the client went away".into()));
                                }
                            }
                            Some(Ok(llm::Delta::Done { usage: u, model: m, .. })) => {
                                usage = u;
                                if !m.is_empty() {
                                    used_model = Some(m);
                                }
                            }
                            Some(Err(e)) => return Err(upstream(e)),
                            None => break,
                        }
                    }
                    (text, citations, "llm", used_model, usage)
                }
            }
        }
    };
    let mut tx = state.db.begin().await?;
    let message = store::append(
        &mut tx,
        turn.conversation.id,
        NewMessage {
            role: "assistant",
            content,
            mode: Some(mode),
            citations,
            model,
            prompt_tokens: usage.as_ref().map(|u| i64::from(u.prompt_tokens)),
            completion_tokens: usage.as_ref().map(|u| i64::from(u.completion_tokens)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Reply {
        conversation_id: turn.conversation.id,
        message,
    })
}

/// Runs a turn, sending each token to `out` as `token(text)` while it comes.
/// Returns `None` once `out` is closed (the client left: the turn was
/// dropped, nothing stored), else the turn's outcome. Shared by the SSE and
/// the WebSocket transports.
pub async fn answer_streamed<T: Send>(
    state: &AppState,
    turn: Turn,
    out: &mpsc::Sender<T>,
    token: impl Fn(String) -> T,
) -> Option<Result<Reply, ApiError>> {
    let (ptx, mut prx) = mpsc::channel::<Progress>(64);
    let run = answer(state, turn, Some(ptx));
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            Some(Progress::Token(t)) = prx.recv() => {
                if out.send(token(t)).await.is_err() { return None; }
            }
        }
    };
    while let Ok(Progress::Token(t)) = prx.try_recv() {
        if out.send(token(t)).await.is_err() {
            return None;
        }
    }
    Some(result)
}

/// An upstream failure as the client should see it: 504 for a timeout, 502 otherwise.
fn upstream(e: llm::LlmError) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout(format!("the language model did not answer in time: {e}"))
    } else {
        ApiError::BadGateway(format!("the language model failed: {e}"))
    }
}

/// The client for the configured model server, if any.
pub fn client(config: &crate::config::Config) -> Result<Option<Arc<llm::Client>>, String> {
    let Some(base) = &config.llm_base_url else {
        return Ok(None);
    };
    let cfg = llm::Config {
        api_key: config.llm_api_key.clone(),
        request_timeout: config.llm_timeout,
        idle_timeout: config.llm_timeout,
        max_retries: config.llm_max_retries,
        ..llm::Config::new(base.clone(), config.llm_model.clone().unwrap_or_default())
    };
    llm::Client::new(cfg)
        .map(|c| Some(Arc::new(c)))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cleaned_for_speaking() {
        assert_eq!(clean_line("“I do not know,”"), "I do not know.");
        assert_eq!(clean_line("\"Is he married or single?\""), "Is he married or single?");
        assert_eq!(clean_line("‘Oh!  Single,   my dear’"), "Oh! Single, my dear.");
        assert_eq!(clean_line("“”"), "");
        assert_eq!(clean_line("“Well—”"), "Well.");
    }
}
