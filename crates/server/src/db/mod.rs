//! Persistence: one schema, one set of SQL texts, two backends.
//!
//! The embedded default is a SQLite file (WAL) driven through `rusqlite`; the
//! scale-out backend is PostgreSQL through `sqlx`. Callers see one small API,
//! [`Db`], that takes SQL written with `$1, $2, …` placeholders and plain
//! [`Value`]s and returns [`Row`]s, so every query is written once and runs on
//! both.
//!
//! Why not `sqlx::Any` for both: it refuses SQLite's BOOLEAN/TIMESTAMP
//! columns, and, more importantly, sqlx runs every SQLite statement on a
//! per-connection worker thread behind a channel. `rusqlite` with cached
//! prepared statements answers the reads that dominate the API (an
//! authenticated list is one indexed page query, its total and — on a token
//! cache miss — a user check) in a few microseconds inline, which is several
//! times the throughput on two cores. [`Db::fetch_page`] reads a page and its
//! exact total in one call (one snapshot; on SQLite the `COUNT` is reused
//! while `PRAGMA data_version` is unchanged).
//! Reads use a pool of read-only connections (WAL lets them run beside the
//! writer); all writes go through the single writer connection, which is what
//! SQLite allows anyway and which spares us `SQLITE_BUSY` storms.
//!
//! Column types are restricted to what both backends store the same way:
//! integers (`BIGINT` on PostgreSQL), floats, text and blobs. Timestamps are
//! RFC 3339 text in UTC with fixed width (sortable), booleans are 0/1,
//! JSON is text, ids are UUID text.

mod migrations;
mod pages;
mod postgres;
mod sqlite;

pub use pages::PageCache;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A parameter or a column value. Nulls carry a type so PostgreSQL can be told
/// what it is binding.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The type of a null parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl From<uuid::Uuid> for Value {
    fn from(v: uuid::Uuid) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&uuid::Uuid> for Value {
    fn from(v: &uuid::Uuid) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null(Kind::Text), Value::Text)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Value::Null(Kind::Text), |s| Value::Text(s.to_string()))
    }
}
impl From<Option<&String>> for Value {
    fn from(v: Option<&String>) -> Self {
        v.map_or(Value::Null(Kind::Text), |s| Value::Text(s.clone()))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::Null(Kind::Int), Value::Int)
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::Null(Kind::Real), Value::Real)
    }
}
impl From<Option<uuid::Uuid>> for Value {
    fn from(v: Option<uuid::Uuid>) -> Self {
        v.map_or(Value::Null(Kind::Text), |u| Value::Text(u.to_string()))
    }
}

/// Builds an array of [`Value`]s from anything convertible:
/// `&params![id, name, 3]` is the `&[Value]` the query methods take.
#[macro_export]
macro_rules! params {
    () => { [] as [$crate::db::Value; 0] };
    ($($v:expr),+ $(,)?) => { [$($crate::db::Value::from($v)),+] };
}

/// One result row; columns are looked up by name.
#[derive(Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
    /// Where the next lookup probably is (one past the last hit): rows are mostly read in column order, so
    /// this makes a lookup one comparison instead of a scan (a 20-row page of 19 columns did 380 scans).
    next: AtomicUsize,
}

impl Clone for Row {
    fn clone(&self) -> Self {
        Row::new(self.columns.clone(), self.values.clone())
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Row {
            columns,
            values,
            next: AtomicUsize::new(0),
        }
    }

    fn value(&self, name: &str) -> Result<&Value, DbError> {
        let hint = self.next.load(Ordering::Relaxed);
        let i = if self.columns.get(hint).is_some_and(|c| c == name) {
            Some(hint)
        } else {
            self.columns.iter().position(|c| c == name)
        };
        i.and_then(|i| {
            self.next.store(i + 1, Ordering::Relaxed);
            self.values.get(i)
        })
        .ok_or_else(|| DbError::Decode(format!("no column `{name}`")))
    }

    /// The first column as an integer (a `COUNT`).
    pub fn first_int(&self) -> Result<i64, DbError> {
        self.values
            .first()
            .ok_or_else(|| DbError::Decode("no column".into()))
            .and_then(|v| i64::from_value(v).map_err(DbError::Decode))
    }

    /// The column `name` converted to `T`.
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, DbError> {
        T::from_value(self.value(name)?).map_err(|e| DbError::Decode(format!("column `{name}`: {e}")))
    }
}

/// Conversion of a column value into a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::Real(f) => Ok(*f as i64),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a float, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl FromValue for uuid::Uuid {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => uuid::Uuid::parse_str(s).map_err(|e| e.to_string()),
            other => Err(format!("expected a uuid, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null(_) => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A type built from one row.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, DbError>;
}

/// Database errors, with the cases callers act on kept apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint was violated; the text names what.
    #[error("{0}")]
    Unique(String),
    /// The database cannot be reached or is shutting down.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("bad database URL: {0}")]
    Url(String),
    #[error("cannot decode row: {0}")]
    Decode(String),
    #[error("migration {version} failed: {detail}")]
    Migration { version: String, detail: String },
    #[error("database error: {0}")]
    Other(String),
}

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

/// The placeholder [`Db::fetch_page`] replaces with the total.
pub const TOTAL: &str = "$total AS total_count";

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Inner,
    shared: Arc<Shared>,
}

/// What every clone of a [`Db`] shares besides the connections.
struct Shared {
    /// Bumped after every statement that writes a table the token check reads (`users`, `revoked_tokens`), in
    /// this process. The [`TokenCache`](crate::auth::cache::TokenCache) tags what it stores with the epoch read
    /// *before* its query, so an entry that might predate a write is never served again.
    auth_epoch: AtomicU64,
    tokens: crate::auth::cache::TokenCache,
    pages: PageCache,
}

/// Whether a statement that may write touches what the token check reads. Deliberately coarse (a text match):
/// a false positive only costs one cache refill, a false negative would serve a deleted user for the TTL.
fn touches_auth(sql: &str) -> bool {
    contains_ci(sql, "users") || contains_ci(sql, "revoked_tokens")
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn is_select(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|h| h.eq_ignore_ascii_case("SELECT"))
        && !contains_ci(sql, "RETURNING")
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Memory for serialised list pages ([`PageCache`]); 0 turns the cache off.
    pub page_cache_bytes: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            page_cache_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Db {
    /// Opens `sqlite://PATH` (created if missing, `sqlite::memory:` for a
    /// private in-memory database) or `postgres://…`.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db, DbError> {
        let inner = if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            Inner::Sqlite(sqlite::SqliteDb::open(rest)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Inner::Postgres(postgres::PgDb::connect(url, opts).await?)
        } else {
            return Err(DbError::Url("expected sqlite://PATH or postgres://USER@HOST/DB".into()));
        };
        Ok(Db {
            inner,
            shared: Arc::new(Shared {
                auth_epoch: AtomicU64::new(0),
                tokens: crate::auth::cache::TokenCache::default(),
                pages: PageCache::new(opts.page_cache_bytes),
            }),
        })
    }

    /// The in-process cache of checked access tokens (see [`crate::auth::cache`]).
    pub fn token_cache(&self) -> &crate::auth::cache::TokenCache {
        &self.shared.tokens
    }

    /// The current auth epoch: read it before querying what the token check reads, store it with the result.
    pub fn auth_epoch(&self) -> u64 {
        self.shared.auth_epoch.load(Ordering::Acquire)
    }

    /// Invalidates every cached token check in this process (done by every write to `users` or
    /// `revoked_tokens` through this handle; call it after changing them by other means).
    pub fn invalidate_auth(&self) {
        self.shared.auth_epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn note_write(&self, sql: &str) {
        if touches_auth(sql) {
            self.invalidate_auth();
        }
        if let Inner::Postgres(db) = &self.inner {
            db.note_write();
        }
    }

    /// Serialised list pages, valid while [`Db::data_version`] is unchanged.
    pub fn page_cache(&self) -> &PageCache {
        &self.shared.pages
    }

    /// A number that changes whenever what the cached lists show may have changed, whoever changed it (this
    /// process, a worker process, another API instance); `None` when that cannot be known right now, and then
    /// nothing may be served from [`Db::page_cache`].
    ///
    /// SQLite: commits through this handle count at once; those of any other connection or process show
    /// within a millisecond (`PRAGMA data_version` on a connection that never writes). PostgreSQL: a counter bumped by every notification of the `characters_changed` trigger
    /// (LISTEN/NOTIFY) and, synchronously, by every write through this handle; a write made through another
    /// instance reaches this one when its notification does (typically well under a millisecond after its
    /// commit), and while the listening connection is down the version is `None`.
    pub fn data_version(&self) -> Option<u128> {
        match &self.inner {
            Inner::Sqlite(db) => db.data_version(),
            Inner::Postgres(db) => db.data_version(),
        }
    }

    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations not yet applied; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        migrations::run(self).await
    }

    /// Whether every migration is applied (for readiness).
    pub async fn is_migrated(&self) -> Result<bool, DbError> {
        migrations::pending(self).await.map(|n| n == 0)
    }

    pub async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let out = match &self.inner {
            Inner::Sqlite(db) => db.fetch_all(sql, params).await,
            Inner::Postgres(db) => db.fetch_all(sql, params).await,
        };
        if !is_select(sql) {
            self.note_write(sql);
        }
        out
    }

    pub async fn fetch_optional(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn fetch_one(&self, sql: &str, params: &[Value]) -> Result<Row, DbError> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or_else(|| DbError::Other("query returned no row".into()))
    }

    /// Rows mapped through [`FromRow`].
    pub async fn fetch_as<T: FromRow>(&self, sql: &str, params: &[Value]) -> Result<Vec<T>, DbError> {
        self.fetch_all(sql, params).await?.iter().map(T::from_row).collect()
    }

    pub async fn fetch_optional_as<T: FromRow>(&self, sql: &str, params: &[Value]) -> Result<Option<T>, DbError> {
        self.fetch_optional(sql, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    /// A page of rows and the exact total they are a page of, read from one snapshot.
    ///
    /// `sql` selects the page and has [`TOTAL`] (`$total AS total_count`) in its select list; `count_sql`
    /// returns one integer, the total, and uses the same `$N` numbering as `sql` (a prefix of `params`).
    /// PostgreSQL runs both as one statement (one round trip). SQLite runs them in one read transaction on one
    /// reader, and counts only when the database changed since that reader last counted the same thing
    /// (`PRAGMA data_version`, which sees commits from any connection or process): a `COUNT` scans every
    /// matching index entry, so for a 1,000-item list it cost more than the page itself.
    pub async fn fetch_page(&self, sql: &str, params: &[Value], count_sql: &str) -> Result<(Vec<Row>, i64), DbError> {
        debug_assert!(sql.contains(TOTAL) && is_select(sql) && is_select(count_sql));
        match &self.inner {
            Inner::Sqlite(db) => db.fetch_page(sql, params, count_sql).await,
            Inner::Postgres(db) => db.fetch_page(sql, params, count_sql).await,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let out = match &self.inner {
            Inner::Sqlite(db) => db.execute(sql, params).await,
            Inner::Postgres(db) => db.execute(sql, params).await,
        };
        self.note_write(sql);
        out
    }

    /// Starts a transaction; it rolls back unless [`Tx::commit`] is called.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        let inner = match &self.inner {
            Inner::Sqlite(db) => TxInner::Sqlite(db.begin().await?),
            Inner::Postgres(db) => TxInner::Postgres(Box::new(db.begin().await?)),
        };
        Ok(Tx {
            inner,
            db: self.clone(),
            touches_auth: false,
        })
    }

    /// One round trip; returns its latency.
    pub async fn ping(&self) -> Result<Duration, DbError> {
        let start = Instant::now();
        self.fetch_one("SELECT 1 AS one", &[]).await?;
        Ok(start.elapsed())
    }

    /// Closes pools (PostgreSQL) so shutdown does not leave sessions behind.
    pub async fn close(&self) {
        if let Inner::Postgres(db) = &self.inner {
            db.close().await;
        }
    }
}

/// A transaction on either backend.
pub struct Tx {
    inner: TxInner,
    db: Db,
    /// Whether a statement wrote what the token check reads: the auth epoch is bumped after the commit.
    touches_auth: bool,
}

enum TxInner {
    Sqlite(sqlite::SqliteTx),
    Postgres(Box<postgres::PgTx>),
}

impl Tx {
    fn note(&mut self, sql: &str) {
        if touches_auth(sql) {
            self.touches_auth = true;
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        if !is_select(sql) {
            self.note(sql);
        }
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.fetch_all(sql, params),
            TxInner::Postgres(tx) => tx.fetch_all(sql, params).await,
        }
    }

    pub async fn fetch_optional(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn fetch_optional_as<T: FromRow>(&mut self, sql: &str, params: &[Value]) -> Result<Option<T>, DbError> {
        self.fetch_optional(sql, params)
            .await?
            .as_ref()
            .map(T::from_row)
            .transpose()
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.note(sql);
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute(sql, params),
            TxInner::Postgres(tx) => tx.execute(sql, params).await,
        }
    }

    /// Runs several statements without parameters (migrations).
    pub(crate) async fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.note(sql);
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute_batch(sql),
            TxInner::Postgres(tx) => tx.execute_batch(sql).await,
        }
    }

    pub async fn commit(self) -> Result<(), DbError> {
        let out = match self.inner {
            TxInner::Sqlite(tx) => tx.commit(),
            TxInner::Postgres(tx) => tx.commit().await,
        };
        if self.touches_auth {
            self.db.invalidate_auth();
        }
        if let Inner::Postgres(db) = &self.db.inner {
            db.note_write();
        }
        out
    }
}

/// The highest `$N` in `sql` (a statement refuses more parameters than it has).
pub(crate) fn max_param(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[start..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    max
}

/// The current time as the fixed-width RFC 3339 text stored in the database.
pub fn now() -> String {
    format_ts(time::OffsetDateTime::now_utc())
}

/// Formats a time as stored: `2026-11-27T16:43:01.123456Z`.
pub fn format_ts(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}
