//! Search indexes of a document's passages and quotes, built from the
//! database on demand and kept in a memory-bounded cache.
//!
//! Why not store the index: it is rebuilt from the stored passages in a few
//! milliseconds, so the database stays the only truth and every API instance
//! stays stateless — a cache miss on another instance costs one rebuild, never
//! a wrong answer. An entry is keyed by the document and the time its analysis
//! was stored, so a re-analysis is picked up by the next request.
//!
//! Entries hold offsets, sections, the index and the document's text:
//! passages and quotes are char ranges of that text (stored once, in
//! `document_texts`, not again per row), so snippets and citations are sliced
//! from it ([`DocIndex::text_of`]) without another query.

use crate::db::{Db, DbError};
use crate::params;
use crate::pipeline::{CharIndex, slice};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use uuid::Uuid;

/// Where a passage or quote sits in its document.
#[derive(Debug, Clone)]
pub struct Span {
    pub id: Uuid,
    pub section: Option<u32>,
    pub start: usize,
    pub end: usize,
    /// For quotes: the analysis id of the speaker (`c3`), if attributed.
    pub speaker: Option<String>,
}

/// One document's indexes.
pub struct DocIndex {
    pub document_id: Uuid,
    /// When its analysis was stored: the cache key's version part.
    pub version: String,
    pub passages: Vec<Span>,
    pub passage_index: retrieval::Index,
    pub quotes: Vec<Span>,
    pub quote_index: retrieval::Index,
    /// Section titles by index, for citations.
    pub section_titles: Vec<String>,
    /// Where each section starts (char offset), for the spoiler boundary.
    pub section_starts: Vec<usize>,
    /// The document's text, which `passages` and `quotes` are char ranges of.
    text: String,
    chars: CharIndex,
}

impl DocIndex {
    fn bytes(&self) -> usize {
        self.passage_index.memory_bytes()
            + self.quote_index.memory_bytes()
            + (self.passages.len() + self.quotes.len()) * std::mem::size_of::<Span>()
            + self.section_titles.iter().map(|s| s.len() + 24).sum::<usize>()
            + self.section_starts.len() * 8
            + self.text.len()
            + self.chars.memory_bytes()
    }

    /// The text of a passage or quote of this document.
    pub fn text_of(&self, span: &Span) -> &str {
        slice(&self.text, &self.chars, span.start, span.end)
    }

    /// The passage holding char offset `at` (passages are sorted and disjoint).
    pub fn passage_at(&self, at: usize) -> Option<&Span> {
        let i = self.passages.partition_point(|p| p.end <= at);
        self.passages.get(i).filter(|p| p.start <= at)
    }

    /// Where the text after section `max` begins: nothing at or past it may be shown under that spoiler limit.
    /// (A passage is filed under the section it starts in, but may run on past the section's end.)
    pub fn spoiler_boundary(&self, max: Option<u32>) -> usize {
        max.and_then(|m| self.section_starts.get(m as usize + 1).copied())
            .unwrap_or(usize::MAX)
    }

    pub fn section_title(&self, section: Option<u32>) -> Option<String> {
        section.and_then(|s| self.section_titles.get(s as usize).cloned())
    }
}

struct Entry {
    index: Arc<DocIndex>,
    bytes: usize,
    used: u64,
}

/// The cache: least recently used entries go first once over budget.
pub struct IndexCache {
    budget: usize,
    inner: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Uuid, Entry>,
    bytes: usize,
    clock: u64,
}

impl IndexCache {
    pub fn new(budget_bytes: usize) -> Self {
        IndexCache {
            budget: budget_bytes,
            inner: Mutex::new(Cache::default()),
        }
    }

    fn lookup(&self, doc: Uuid, version: &str) -> Option<Arc<DocIndex>> {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.clock += 1;
        let clock = c.clock;
        let e = c.entries.get_mut(&doc)?;
        if e.index.version != version {
            return None;
        }
        e.used = clock;
        Some(e.index.clone())
    }

    fn insert(&self, index: Arc<DocIndex>) {
        register(&index);
        let bytes = index.bytes();
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.clock += 1;
        let used = c.clock;
        if let Some(old) = c.entries.insert(index.document_id, Entry { index, bytes, used }) {
            c.bytes -= old.bytes;
        }
        c.bytes += bytes;
        while c.bytes > self.budget && c.entries.len() > 1 {
            let Some((&victim, _)) = c.entries.iter().min_by_key(|(_, e)| e.used) else {
                break;
            };
            if let Some(e) = c.entries.remove(&victim) {
                c.bytes -= e.bytes;
            }
        }
    }

    /// Forgets a document (deleted or re-analysed).
    pub fn forget(&self, doc: Uuid) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = c.entries.remove(&doc) {
            c.bytes -= e.bytes;
        }
    }

    /// Bytes held now (for metrics and tests).
    pub fn held_bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// The document's indexes at analysis `version`, built if missing or stale.
    pub async fn get(&self, db: &Db, doc: Uuid, version: &str) -> Result<Arc<DocIndex>, DbError> {
        if let Some(hit) = self.lookup(doc, version) {
            return Ok(hit);
        }
        let built = Arc::new(build(db, doc, version).await?);
        self.insert(built.clone());
        Ok(built)
    }
}

fn section_of(starts: &[usize], at: usize) -> Option<u32> {
    let n = starts.partition_point(|&s| s <= at);
    (n > 0).then(|| (n - 1) as u32)
}

/// Indexes alive in this process (held by a cache), by document: [`texts`] slices from one of them when its
/// version is the document's current one instead of reading the document's text again.
static LIVE: Mutex<Option<HashMap<Uuid, Weak<DocIndex>>>> = Mutex::new(None);

fn register(index: &Arc<DocIndex>) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let map = live.get_or_insert_with(HashMap::new);
    if map.len() >= 1024 {
        map.retain(|_, w| w.strong_count() > 0);
    }
    map.insert(index.document_id, Arc::downgrade(index));
}

fn live(doc: Uuid, version: &str) -> Option<Arc<DocIndex>> {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.as_ref()?.get(&doc)?.upgrade().filter(|d| d.version == version)
}

/// The document's extracted text, if it was analysed.
pub async fn document_text(db: &Db, doc: Uuid) -> Result<Option<String>, DbError> {
    db.fetch_optional("SELECT text FROM document_texts WHERE document_id = $1", &params![doc])
        .await?
        .map(|r| r.get::<String>("text"))
        .transpose()
}

async fn build(db: &Db, doc: Uuid, version: &str) -> Result<DocIndex, DbError> {
    let sections = db
        .fetch_optional("SELECT sections FROM documents WHERE id = $1", &params![doc])
        .await?
        .map(|r| r.get::<String>("sections"))
        .transpose()?
        .unwrap_or_default();
    let sections: Vec<serde_json::Value> = serde_json::from_str(&sections).unwrap_or_default();
    let section_starts: Vec<usize> = sections
        .iter()
        .map(|s| s["start"].as_u64().unwrap_or(0) as usize)
        .collect();
    let section_titles: Vec<String> = sections
        .iter()
        .map(|s| s["title"].as_str().unwrap_or_default().to_string())
        .collect();
    let text = document_text(db, doc).await?.unwrap_or_default();
    let prows = db
        .fetch_all(
            "SELECT id, section_idx, start_char, end_char FROM passages WHERE document_id = $1 ORDER BY idx",
            &params![doc],
        )
        .await?;
    let qrows = db
        .fetch_all(
            "SELECT id, speaker, start_char, end_char FROM quotes WHERE document_id = $1 ORDER BY idx",
            &params![doc],
        )
        .await?;
    let mut passages = Vec::with_capacity(prows.len());
    for r in &prows {
        passages.push(Span {
            id: r.get("id")?,
            section: r.get::<Option<i64>>("section_idx")?.map(|s| s as u32),
            start: r.get::<i64>("start_char")? as usize,
            end: r.get::<i64>("end_char")? as usize,
            speaker: None,
        });
    }
    let mut quotes = Vec::with_capacity(qrows.len());
    for r in &qrows {
        let start = r.get::<i64>("start_char")? as usize;
        quotes.push(Span {
            id: r.get("id")?,
            section: section_of(&section_starts, start),
            start,
            end: r.get::<i64>("end_char")? as usize,
            speaker: r.get("speaker")?,
        });
    }
    // Tokenising a novel is milliseconds of CPU: off the async threads.
    let version = version.to_string();
    tokio::task::spawn_blocking(move || {
        let chars = CharIndex::new(&text);
        let passage_index = retrieval::Index::build(passages.iter().map(|p| retrieval::Item {
            text: slice(&text, &chars, p.start, p.end),
            section: p.section,
        }));
        let quote_index = retrieval::Index::build(quotes.iter().map(|q| retrieval::Item {
            text: slice(&text, &chars, q.start, q.end),
            section: q.section,
        }));
        DocIndex {
            document_id: doc,
            version,
            passages,
            passage_index,
            quotes,
            quote_index,
            section_titles,
            section_starts,
            text,
            chars,
        }
    })
    .await
    .map_err(|e| DbError::Other(format!("index build failed: {e}")))
}

type DocSpans = (Option<String>, Vec<(Uuid, usize, usize)>);

/// Texts of passages or quotes by id (`table` is `passages` or `quotes`), sliced from their documents' texts.
/// A caller holding the [`DocIndex`] has them at hand: [`DocIndex::text_of`].
pub async fn texts(db: &Db, table: &str, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let values: Vec<crate::db::Value> = ids.iter().map(|id| crate::db::Value::from(*id)).collect();
    let rows = db
        .fetch_all(
            &format!(
                "SELECT x.id, x.document_id, x.start_char, x.end_char, d.analyzed_at FROM {table} x \
                 JOIN documents d ON d.id = x.document_id WHERE x.id IN ({})",
                marks.join(", ")
            ),
            &values,
        )
        .await?;
    // Per document: its analysis version and the wanted `(id, start, end)`.
    let mut by_doc: HashMap<Uuid, DocSpans> = HashMap::new();
    for r in rows {
        let e = by_doc
            .entry(r.get("document_id")?)
            .or_insert_with(|| (None, Vec::new()));
        e.0 = r.get("analyzed_at")?;
        e.1.push((
            r.get("id")?,
            r.get::<i64>("start_char")? as usize,
            r.get::<i64>("end_char")? as usize,
        ));
    }
    let mut out = HashMap::with_capacity(ids.len());
    for (doc, (version, spans)) in by_doc {
        if let Some(d) = version.as_deref().and_then(|v| live(doc, v)) {
            for (id, s, e) in spans {
                out.insert(id, slice(&d.text, &d.chars, s, e).to_string());
            }
        } else if let Some(text) = document_text(db, doc).await? {
            let chars = CharIndex::new(&text);
            for (id, s, e) in spans {
                out.insert(id, slice(&text, &chars, s, e).to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_by_offset() {
        let starts = [0, 100, 250];
        assert_eq!(section_of(&starts, 0), Some(0));
        assert_eq!(section_of(&starts, 99), Some(0));
        assert_eq!(section_of(&starts, 100), Some(1));
        assert_eq!(section_of(&starts, 10_000), Some(2));
        assert_eq!(section_of(&[50], 10), None);
        assert_eq!(section_of(&[], 10), None);
    }
}
