//! The analysis pipeline, run as a job: extract (reader) → analyse (nlp) →
//! persist (text, sections, passages, quotes, the analysis) → characters.
//!
//! Every step is idempotent: persisting replaces whatever an earlier attempt
//! or an earlier analysis stored for the document, in one transaction, and
//! characters are matched by their canonical name (`source_key`), so a
//! retried or repeated job never duplicates anything. Characters the user
//! edited are left as they are.
//!
//! The CPU-bound steps run on blocking threads; progress is reported after
//! each stage, and a cancellation request is honoured between stages.

use crate::db::{Tx, Value as DbValue, now};
use crate::jobs::Job;
use crate::params;
use crate::state::AppState;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// Why a job attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Retrying cannot help (a corrupt or unsupported file): the job is dead at once.
    #[error("{0}")]
    Permanent(String),
    /// May succeed on a later attempt (database or storage trouble).
    #[error("{0}")]
    Retry(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<crate::db::DbError> for JobError {
    fn from(e: crate::db::DbError) -> Self {
        JobError::Retry(e.to_string())
    }
}

/// The job kind that runs this pipeline.
pub const KIND: &str = "analyze_document";

/// Enqueues an analysis of `document_id` and links the job to the document.
pub async fn enqueue(state: &AppState, user_id: Uuid, document_id: Uuid) -> Result<Uuid, crate::db::DbError> {
    // Announced first, so `job.queued` precedes every event of the job.
    let job = Uuid::new_v4();
    let _ = state
        .events
        .publish(
            user_id,
            "job.queued",
            json!({"job_id": job, "document_id": document_id, "kind": KIND}),
        )
        .await;
    state
        .db
        .execute(
            "UPDATE documents SET job_id = $2, status = 'queued', error = NULL, updated_at = $3 WHERE id = $1",
            &params![document_id, job, now()],
        )
        .await?;
    state
        .queue
        .enqueue(job, KIND, Some(user_id), json!({"document_id": document_id}), 3)
        .await?;
    Ok(job)
}

struct Progress<'a> {
    state: &'a AppState,
    job: &'a Job,
    user: Uuid,
    document: Uuid,
}

impl Progress<'_> {
    async fn report(&self, stage: &str, percent: u32, counts: Value) -> Result<(), JobError> {
        let p = json!({"stage": stage, "percent": percent, "counts": counts});
        self.state.queue.set_progress(self.job.id, &p).await?;
        let _ = self
            .state
            .events
            .publish(
                self.user,
                "job.progress",
                json!({"job_id": self.job.id, "document_id": self.document, "stage": stage,
                       "percent": percent, "counts": counts}),
            )
            .await;
        if self.state.queue.cancel_requested(self.job.id).await? {
            return Err(JobError::Cancelled);
        }
        Ok(())
    }
}

/// Runs the pipeline for the job's document. The CPU-bound stages (extraction and analysis) run while holding
/// one of `cpu`'s permits, the writing stages without: a worker storing one book does not keep another book's
/// analysis from the core it would use (see [`crate::worker::spawn`]).
pub async fn run(state: &AppState, job: &Job, cpu: &tokio::sync::Semaphore) -> Result<Value, JobError> {
    let document: Uuid = job
        .payload
        .get("document_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Permanent("the job has no document_id".into()))?;
    let row = state
        .db
        .fetch_optional(
            "SELECT user_id, filename, sha256 FROM documents WHERE id = $1",
            &params![document],
        )
        .await?
        .ok_or_else(|| JobError::Permanent("the document was deleted".into()))?;
    let user: Uuid = row.get("user_id")?;
    let filename: String = row.get("filename")?;
    let sha: String = row.get("sha256")?;
    let slot = cpu
        .acquire()
        .await
        .map_err(|_| JobError::Retry("the worker is stopping".into()))?;
    let p = Progress {
        state,
        job,
        user,
        document,
    };
    set_status(state, document, "processing", None).await?;
    p.report("extract", 5, json!({})).await?;
    let started = std::time::Instant::now();
    let mut timings = serde_json::Map::new();
    let mut lap = {
        let mut last = started;
        move |stage: &str, timings: &mut serde_json::Map<String, Value>| {
            let now = std::time::Instant::now();
            timings.insert(stage.to_string(), json!((now - last).as_millis() as u64));
            last = now;
        }
    };

    let bytes = state
        .storage
        .read(&sha)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    let doc = tokio::task::spawn_blocking(move || reader::read(&bytes, Some(&filename), &reader::Limits::default()))
        .await
        .map_err(|e| JobError::Retry(format!("extraction crashed: {e}")))?
        .map_err(|e| JobError::Permanent(format!("cannot read the document: {e}")))?;
    let char_count = doc.text.chars().count();
    lap("extract_ms", &mut timings);
    p.report(
        "extract",
        30,
        json!({"chars": char_count, "sections": doc.sections.len()}),
    )
    .await?;

    let sections: Vec<nlp::Section> = doc
        .sections
        .iter()
        .map(|s| nlp::Section {
            title: s.title.clone(),
            start: s.start,
            end: s.end,
        })
        .collect();
    let run = tokio::task::spawn_blocking(move || {
        let mut analysis = nlp::analyze(&doc.text, &sections);
        // A second copy of the text is not needed (it is `doc.text`) nor stored.
        analysis.text = String::new();
        // Char offsets → byte offsets, once for both steps that slice the text.
        let starts = CharIndex::new(&doc.text);
        Arc::new(Analysed { doc, starts, analysis })
    })
    .await
    .map_err(|e| JobError::Retry(format!("analysis crashed: {e}")))?;
    drop(slot);
    lap("analyze_ms", &mut timings);
    p.report(
        "analyze",
        60,
        json!({"characters": run.analysis.characters.len(), "quotes": run.analysis.quotes.len(),
               "mentions": run.analysis.mentions.len()}),
    )
    .await?;

    let stored = persist(state, user, document, &run).await?;
    lap("persist_ms", &mut timings);
    p.report(
        "persist",
        85,
        json!({"passages": stored.passages, "quotes": stored.quotes}),
    )
    .await?;

    let created = characters(state, user, document, &run).await?;
    lap("characters_ms", &mut timings);
    set_status(state, document, "ready", None).await?;
    tracing::info!(%document, total_ms = started.elapsed().as_millis() as u64, timings = %serde_json::Value::Object(timings.clone()),
                   persist = %stored.detail, "document analysed");
    let result = json!({"document_id": document, "passages": stored.passages, "quotes": stored.quotes,
                        "characters": run.analysis.characters.len(), "characters_created": created.len(),
                        "timings": timings});
    for (id, name, fresh) in &created {
        let kind = if *fresh {
            "character.created"
        } else {
            "character.updated"
        };
        let _ = state
            .events
            .publish(
                user,
                kind,
                json!({"character_id": id, "name": name, "document_id": document}),
            )
            .await;
    }
    let _ = state
        .events
        .publish(
            user,
            "document.ready",
            json!({"document_id": document, "job_id": job.id}),
        )
        .await;
    Ok(result)
}

pub async fn set_status(
    state: &AppState,
    document: Uuid,
    status: &str,
    error: Option<&str>,
) -> Result<(), crate::db::DbError> {
    state
        .db
        .execute(
            "UPDATE documents SET status = $2, error = $3, updated_at = $4 WHERE id = $1",
            &params![document, status, error, now()],
        )
        .await?;
    Ok(())
}

struct Stored {
    passages: usize,
    quotes: usize,
    /// Where persisting spent its time (ms): preparing the rows, waiting for the writer, writing, committing.
    detail: Value,
}

/// Char offset → byte offset for one text, sparse: the byte offset of every [`CharIndex::STEP`]th char, so a
/// lookup walks at most `STEP - 1` chars. (A table of every char's offset cost 8 bytes a char: 16 MB of freshly
/// faulted memory for a long novel.)
pub(crate) struct CharIndex {
    marks: Vec<usize>,
    chars: usize,
}

impl CharIndex {
    const STEP: usize = 32;

    pub(crate) fn new(text: &str) -> Self {
        let mut marks = Vec::with_capacity(text.len() / Self::STEP + 2);
        let mut chars = 0;
        for (b, _) in text.char_indices() {
            if chars % Self::STEP == 0 {
                marks.push(b);
            }
            chars += 1;
        }
        CharIndex { marks, chars }
    }

    /// Chars in the text.
    pub(crate) fn len(&self) -> usize {
        self.chars
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.marks.capacity() * std::mem::size_of::<usize>()
    }

    /// Byte offset of char `at` (the text's length past its end).
    fn byte(&self, text: &str, at: usize) -> usize {
        if at >= self.chars {
            return text.len();
        }
        let b = self.marks[at / Self::STEP];
        match at % Self::STEP {
            0 => b,
            n => text[b..].char_indices().nth(n).map_or(text.len(), |(i, _)| b + i),
        }
    }
}

/// The text of a char range (clamped to the text).
pub(crate) fn slice<'a>(text: &'a str, index: &CharIndex, start: usize, end: usize) -> &'a str {
    let s = index.byte(text, start);
    let e = index.byte(text, end.max(start)).max(s);
    &text[s..e]
}

/// Splits text into passages of about [`retrieval::PASSAGE_CHARS`] at
/// paragraph breaks (char ranges); blank ones (runs of empty lines) are not
/// worth storing or retrieving.
pub fn passages(text: &str) -> Vec<(usize, usize)> {
    passages_with(text, &CharIndex::new(text))
}

/// [`passages`] with the text's char starts already at hand.
fn passages_with(text: &str, starts: &CharIndex) -> Vec<(usize, usize)> {
    retrieval::chunk(text, retrieval::PASSAGE_CHARS)
        .into_iter()
        .filter(|(s, e)| !slice(text, starts, *s, *e).trim().is_empty())
        .collect()
}

fn section_of(sections: &[reader::Section], at: usize) -> Option<usize> {
    sections.iter().rposition(|s| s.start <= at)
}

/// Rows per multi-row `INSERT`: one statement per few hundred rows instead of one per row. Every full chunk
/// uses the same SQL, so it is prepared once per connection; 256 rows of at most 7 columns bind 1,792
/// parameters, far under SQLite's 32,766 (and PostgreSQL's 65,535).
const INSERT_ROWS: usize = 256;

/// `head VALUES ($1, …, $width), (…)` for `rows` rows of `width` parameters each.
fn values_sql(head: &str, width: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + 8 + rows * width * 6);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    sql
}

/// Inserts `values` (row after row, `width` columns each) with multi-row statements.
async fn insert_rows(tx: &mut Tx, head: &str, width: usize, values: &[DbValue]) -> Result<(), crate::db::DbError> {
    debug_assert_eq!(values.len() % width, 0);
    let full = values_sql(head, width, INSERT_ROWS);
    for chunk in values.chunks(width * INSERT_ROWS) {
        let rows = chunk.len() / width;
        if rows == INSERT_ROWS {
            tx.execute(&full, chunk).await?;
        } else {
            tx.execute(&values_sql(head, width, rows), chunk).await?;
        }
    }
    Ok(())
}

/// What the analysis step hands to the steps after it, shared by them (not copied).
struct Analysed {
    doc: reader::Document,
    /// char → byte offsets of `doc.text`
    starts: CharIndex,
    analysis: nlp::Analysis,
}

/// Runs CPU work `f` on the analysed document on a blocking thread. A panic in `f` fails the attempt as
/// retryable: "`step` crashed: …".
async fn off_runtime<T: Send + 'static>(
    step: &str,
    run: &Arc<Analysed>,
    f: impl FnOnce(&Analysed) -> T + Send + 'static,
) -> Result<T, JobError> {
    let run = run.clone();
    tokio::task::spawn_blocking(move || f(&run))
        .await
        .map_err(|e| JobError::Retry(format!("{step} crashed: {e}")))
}

/// Everything `persist` writes, prepared before the writer is taken.
struct Prepared {
    text: DbValue,
    sections: String,
    data: String,
    passages: Vec<DbValue>,
    passage_count: usize,
    quotes: Vec<DbValue>,
    quote_count: usize,
    stats: String,
    authors: String,
}

const PASSAGE_COLS: usize = 7;
const QUOTE_COLS: usize = 6;

fn prepare(
    user: Uuid,
    document: Uuid,
    doc: &reader::Document,
    starts: &CharIndex,
    analysis: &nlp::Analysis,
) -> Result<Prepared, JobError> {
    let ranges = passages_with(&doc.text, starts);
    // Serialised straight to text (no `Value` tree: megabytes of mentions on a long novel); the text itself was
    // taken out of the analysis by the caller, it is stored once in `document_texts`.
    let data = serde_json::to_string(analysis).map_err(|e| JobError::Permanent(e.to_string()))?;
    let sections = serde_json::to_string(&doc.sections).unwrap_or_else(|_| "[]".into());
    let (doc_id, user_id) = (DbValue::from(document), DbValue::from(user));
    // Time-ordered ids (UUID v7): a book's thousands of rows then go to the end of the primary-key index instead
    // of to random places all over it, so a commit writes a few index pages rather than one per row.
    let mut passages = Vec::with_capacity(ranges.len() * PASSAGE_COLS);
    for (i, (s, e)) in ranges.iter().enumerate() {
        passages.extend([
            DbValue::from(Uuid::now_v7()),
            doc_id.clone(),
            user_id.clone(),
            DbValue::from(i),
            DbValue::from(section_of(&doc.sections, *s).map(|x| x as i64)),
            DbValue::from(*s),
            DbValue::from(*e),
        ]);
    }
    let mut quotes = Vec::with_capacity(analysis.quotes.len() * QUOTE_COLS);
    for (i, q) in analysis.quotes.iter().enumerate() {
        quotes.extend([
            DbValue::from(Uuid::now_v7()),
            doc_id.clone(),
            DbValue::from(i),
            DbValue::from(q.speaker.as_deref()),
            DbValue::from(q.start),
            DbValue::from(q.end),
        ]);
    }
    Ok(Prepared {
        text: DbValue::from(doc.text.as_str()),
        sections,
        data,
        passage_count: ranges.len(),
        passages,
        quote_count: analysis.quotes.len(),
        quotes,
        stats: serde_json::to_string(&analysis.stats).unwrap_or_else(|_| "{}".into()),
        authors: serde_json::to_string(&doc.authors).unwrap_or_else(|_| "[]".into()),
    })
}

async fn persist(state: &AppState, user: Uuid, document: Uuid, run: &Arc<Analysed>) -> Result<Stored, JobError> {
    // Serialising the analysis and building the rows is CPU work (tens of milliseconds on a long novel): done on
    // a blocking thread and before the transaction, so the single SQLite writer is held only for the writes.
    let t0 = std::time::Instant::now();
    let p = off_runtime("persist", run, move |r| {
        prepare(user, document, &r.doc, &r.starts, &r.analysis)
    })
    .await??;
    let words = run.analysis.stats.words as i64;
    // The analysis version (cached search indexes are keyed by it), on the analysis and on the document.
    let analyzed_at = now();
    let t1 = std::time::Instant::now();
    let mut tx: Tx = state.db.begin().await?;
    let t2 = std::time::Instant::now();
    for table in ["document_texts", "analyses", "passages", "quotes"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE document_id = $1"),
            &params![document],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO document_texts (document_id, text, sections, char_count) VALUES ($1, $2, $3, $4)",
        &[
            DbValue::from(document),
            p.text,
            DbValue::from(p.sections.as_str()),
            DbValue::from(run.starts.len()),
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO analyses (document_id, data, created_at) VALUES ($1, $2, $3)",
        &params![document, p.data, analyzed_at.as_str()],
    )
    .await?;
    insert_rows(
        &mut tx,
        // A passage is a char range of `document_texts.text`, sliced by its readers.
        "INSERT INTO passages (id, document_id, user_id, idx, section_idx, start_char, end_char)",
        PASSAGE_COLS,
        &p.passages,
    )
    .await?;
    insert_rows(
        &mut tx,
        "INSERT INTO quotes (id, document_id, idx, speaker, start_char, end_char)",
        QUOTE_COLS,
        &p.quotes,
    )
    .await?;
    tx.execute(
        "UPDATE documents SET title = COALESCE($2, title), authors = $3, language = $4, word_count = $5, \
         stats = $6, sections = $7, updated_at = $8, analyzed_at = $9 WHERE id = $1",
        &params![
            document,
            run.doc.title.as_deref(),
            p.authors,
            run.doc.language.as_deref().or(run.analysis.language.as_deref()),
            words,
            p.stats,
            p.sections,
            now(),
            analyzed_at.as_str()
        ],
    )
    .await?;
    let t3 = std::time::Instant::now();
    tx.commit().await?;
    let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_millis() as u64;
    let detail = json!({"prepare": ms(t0, t1), "wait": ms(t1, t2), "write": ms(t2, t3),
                        "commit": ms(t3, std::time::Instant::now())});
    // The old passages' index is stale now; free it rather than wait for eviction.
    state.indexes.forget(document);
    Ok(Stored {
        passages: p.passage_count,
        quotes: p.quote_count,
        detail,
    })
}

/// How many mentions make a character worth a persona of its own.
pub const MIN_MENTIONS: usize = 10;
/// At most this many characters are created per document.
pub const MAX_CHARACTERS: usize = 40;

/// One character of the main cast, ready to be stored.
struct CastMember {
    name: String,
    key: String,
    profile: Persona,
    aliases: String,
    gender: Option<String>,
    stats: String,
}

/// The main cast's profiles, least prominent first (so lists, newest first, open with the lead). CPU only.
fn cast(doc: &reader::Document, starts: &CharIndex, analysis: &nlp::Analysis) -> Vec<CastMember> {
    let title = doc.title.clone().unwrap_or_else(|| "the book".into());
    let main: Vec<&nlp::Character> = analysis
        .characters
        .iter()
        .filter(|c| c.mention_count >= MIN_MENTIONS)
        .take(MAX_CHARACTERS)
        .collect();
    main.into_iter()
        .rev()
        .map(|c| {
            let lines: Vec<&str> = analysis
                .quotes
                .iter()
                .filter(|q| q.speaker.as_deref() == Some(c.id.as_str()))
                .map(|q| slice(&doc.text, starts, q.start, q.end).trim_matches(|ch: char| "\"“”‘’' ".contains(ch)))
                .collect();
            let close = analysis.strongest_ties(&c.id, 3);
            let found = analysis.profiles.iter().find(|p| p.character == c.id);
            CastMember {
                name: c.name.clone(),
                key: c.name.to_lowercase(),
                profile: persona(c, &title, &lines, &close, found),
                aliases: serde_json::to_string(&c.aliases).unwrap_or_else(|_| "[]".into()),
                gender: c.gender.clone(),
                stats: json!({"mention_count": c.mention_count, "quote_count": c.quote_count,
                              "first_mention": c.first_mention, "analysis_id": c.id})
                .to_string(),
            }
        })
        .collect()
}

/// Creates or updates the user's characters for the document's main cast.
/// Returns `(id, name, newly created)` for each.
async fn characters(
    state: &AppState,
    user: Uuid,
    document: Uuid,
    run: &Arc<Analysed>,
) -> Result<Vec<(Uuid, String, bool)>, JobError> {
    let members = off_runtime("building characters", run, |r| cast(&r.doc, &r.starts, &r.analysis)).await?;
    let mut out = Vec::new();
    let mut tx = state.db.begin().await?;
    // What an earlier analysis created, by canonical name (one query, in the transaction).
    let mut existing: std::collections::HashMap<String, (Uuid, bool)> = std::collections::HashMap::new();
    for r in tx
        .fetch_all(
            "SELECT id, edited, source_key FROM characters WHERE user_id = $1 AND document_id = $2 \
             AND source_key IS NOT NULL",
            &params![user, document],
        )
        .await?
    {
        existing
            .entry(r.get("source_key")?)
            .or_insert((r.get("id")?, r.get("edited")?));
    }
    for m in members {
        let CastMember {
            name,
            key,
            profile,
            aliases,
            gender,
            stats,
        } = m;
        let t = now();
        match existing.get(&key) {
            Some((_, true)) => {}
            Some((id, false)) => {
                let id = *id;
                tx.execute(
                    "UPDATE characters SET name = $2, description = $3, speech_style = $4, greeting = $5, \
                     example_dialogue = $6, aliases = $7, gender = $8, stats = $9, updated_at = $10, \
                     personality = $11 WHERE id = $1",
                    &params![
                        id,
                        name.as_str(),
                        profile.description,
                        profile.speech_style,
                        profile.greeting,
                        profile.example_dialogue,
                        aliases,
                        gender,
                        stats,
                        t,
                        profile.personality
                    ],
                )
                .await?;
                out.push((id, name, false));
            }
            None => {
                let id = Uuid::new_v4();
                tx.execute(
                    "INSERT INTO characters (id, user_id, document_id, name, description, speech_style, greeting, \
                     example_dialogue, tags, source_key, aliases, gender, stats, created_at, updated_at, personality) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]', $9, $10, $11, $12, $13, $13, $14)",
                    &params![
                        id,
                        user,
                        document,
                        name.as_str(),
                        profile.description,
                        profile.speech_style,
                        profile.greeting,
                        profile.example_dialogue,
                        key,
                        aliases,
                        gender,
                        stats,
                        t,
                        profile.personality
                    ],
                )
                .await?;
                out.push((id, name, true));
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

struct Persona {
    description: String,
    personality: String,
    speech_style: String,
    greeting: String,
    example_dialogue: String,
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Profile text built from what the analysis found about a character: the
/// sentences that describe it, the words the book uses for it and the verbs
/// it is the agent of, how it talks, and its most representative lines.
fn persona(c: &nlp::Character, title: &str, lines: &[&str], close: &[&str], profile: Option<&nlp::Profile>) -> Persona {
    let clip = |t: &str, n: usize| -> String {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.chars().count() <= n {
            t
        } else {
            let mut out: String = t.chars().take(n).collect();
            if let Some(cut) = out.rfind(' ') {
                out.truncate(cut);
            }
            out + " …"
        }
    };
    let mut description = format!(
        "{} is a character in {title}, mentioned {} times",
        c.name, c.mention_count
    );
    if c.quote_count > 0 {
        description.push_str(&format!(", with {} lines of dialogue", c.quote_count));
    }
    description.push('.');
    let others: Vec<&str> = c
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|a| *a != c.name)
        .take(5)
        .collect();
    if !others.is_empty() {
        description.push_str(&format!(" Also called {}.", others.join(", ")));
    }
    if !close.is_empty() {
        description.push_str(&format!(" Most often found with {}.", close.join(", ")));
    }
    let mut personality = String::new();
    if let Some(p) = profile {
        // The book's own words about them, earliest first (they introduce the character).
        let said: Vec<String> = p.descriptions.iter().take(3).map(|d| clip(&d.text, 300)).collect();
        if !said.is_empty() {
            description.push_str("\n\nIn the book: ");
            description.push_str(&said.join(" "));
        }
        let adjectives: Vec<&str> = p.modifiers.iter().take(8).map(|m| m.term.as_str()).collect();
        if !adjectives.is_empty() {
            personality.push_str(&format!("Described as {}.", adjectives.join(", ")));
        }
        let verbs: Vec<&str> = p
            .agent_verbs
            .iter()
            .map(|v| v.term.as_str())
            .filter(|v| {
                !matches!(
                    *v,
                    "said" | "say" | "says" | "saying" | "was" | "is" | "be" | "had" | "has"
                )
            })
            .take(8)
            .collect();
        if !verbs.is_empty() {
            if !personality.is_empty() {
                personality.push(' ');
            }
            personality.push_str(&format!("In the story they {}.", verbs.join(", ")));
        }
    }
    let speech_style = if lines.is_empty() {
        String::new()
    } else {
        let avg = lines.iter().map(|l| words(l)).sum::<usize>() as f64 / lines.len() as f64;
        let questions = lines.iter().filter(|l| l.contains('?')).count() as f64 / lines.len() as f64;
        let exclaims = lines.iter().filter(|l| l.contains('!')).count() as f64 / lines.len() as f64;
        let length = if avg < 8.0 {
            "short, clipped lines"
        } else if avg < 20.0 {
            "lines of moderate length"
        } else {
            "long, elaborate sentences"
        };
        let mut s = format!("Speaks in {length} (about {avg:.0} words a line)");
        if questions > 0.3 {
            s.push_str(", often asking questions");
        }
        if exclaims > 0.25 {
            s.push_str(", often exclaiming");
        }
        s.push('.');
        s
    };
    // Representative lines (the profile's choice) before merely long ones.
    let representative: Vec<String> = profile
        .map(|p| {
            p.quotes
                .iter()
                .map(|q| q.text.trim_matches(|ch: char| "\"“”‘’' ".contains(ch)).to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut pool: Vec<&str> = representative.iter().map(String::as_str).collect();
    let mut longest: Vec<&str> = lines.iter().copied().filter(|l| (8..=60).contains(&words(l))).collect();
    longest.sort_by_cached_key(|l| std::cmp::Reverse(words(l)));
    pool.extend(longest);
    let greeting = pool
        .iter()
        .chain(lines.iter())
        .find(|l| (4..=40).contains(&words(l)))
        .map(|l| l.to_string())
        .unwrap_or_default();
    let mut examples: Vec<&str> = Vec::new();
    for l in pool {
        if examples.len() == 5 {
            break;
        }
        if (6..=80).contains(&words(l)) && !examples.contains(&l) && l != greeting {
            examples.push(l);
        }
    }
    let example_dialogue = examples
        .iter()
        .map(|l| format!("<START>\n{{{{char}}}}: \"{l}\""))
        .collect::<Vec<_>>()
        .join("\n");
    Persona {
        description,
        personality,
        speech_style,
        greeting,
        example_dialogue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_off_the_runtime_shares_the_analysis_and_a_crash_is_retryable() {
        let doc = reader::read(
            b"Chapter 1\n\nShe said hello.",
            Some("a.txt"),
            &reader::Limits::default(),
        )
        .unwrap();
        let (len, chars) = (doc.text.len(), doc.text.chars().count());
        let starts = CharIndex::new(&doc.text);
        let run = Arc::new(Analysed {
            doc,
            starts,
            analysis: nlp::Analysis::default(),
        });
        let got = off_runtime("counting", &run, |r| (r.doc.text.len(), r.starts.len())).await;
        assert_eq!(got.unwrap(), (len, chars));
        let crashed: Result<u8, JobError> = off_runtime("building characters", &run, |_| panic!("boom")).await;
        match crashed {
            Err(JobError::Retry(m)) => assert!(m.starts_with("building characters crashed: "), "{m}"),
            other => panic!("a panic is a retryable failure, not {other:?}"),
        }
    }

    #[test]
    fn passages_cover_the_text_at_paragraph_breaks() {
        let para = "word ".repeat(100); // 500 chars
        let text = [para.trim_end(); 7].join("\n\n");
        let ps = passages(&text);
        assert!(ps.len() >= 2);
        assert_eq!(ps[0].0, 0);
        assert_eq!(ps.last().unwrap().1, text.chars().count());
        let starts = CharIndex::new(&text);
        for (s, e) in &ps {
            let t = slice(&text, &starts, *s, *e);
            assert!(!t.starts_with('\n') && !t.ends_with('\n'), "{t:?}");
        }
        assert!(passages("").is_empty());
        assert!(passages("\n\n\n\n").is_empty(), "blank passages are dropped");
        assert_eq!(passages("Short."), vec![(0, 6)]);
    }

    #[test]
    fn slicing_uses_char_offsets() {
        let text = "Zoë said “hi”.";
        let starts = CharIndex::new(text);
        assert_eq!(slice(text, &starts, 9, 13), "“hi”");
        assert_eq!(slice(text, &starts, 10, 999), "hi”.");
        // Across the index's steps, against a plain char walk.
        let text: String = (0..500).map(|i| ['a', 'é', '“', '😀'][i % 4]).collect();
        let index = CharIndex::new(&text);
        assert_eq!(index.len(), 500);
        let chars: Vec<char> = text.chars().collect();
        for (s, e) in [
            (0, 0),
            (0, 31),
            (31, 33),
            (32, 64),
            (63, 97),
            (100, 500),
            (499, 500),
            (480, 900),
            (600, 700),
        ] {
            let want: String = chars.iter().skip(s).take(e.max(s) - s).collect();
            assert_eq!(slice(&text, &index, s, e), want, "{s}..{e}");
        }
    }
}
