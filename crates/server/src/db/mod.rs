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
//! authenticated list is a user check plus two indexed queries) in a few
//! microseconds inline, which is several times the throughput on two cores.
//! Reads use a pool of read-only connections (WAL lets them run beside the
//! writer); all writes go through the single writer connection, which is what
//! SQLite allows anyway and which spares us `SQLITE_BUSY` storms.
//!
//! Column types are restricted to what both backends store the same way:
//! integers (`BIGINT` on PostgreSQL), floats, text and blobs. Timestamps are
//! RFC 3339 text in UTC with fixed width (sortable), booleans are 0/1,
//! JSON is text, ids are UUID text.

mod migrations;
mod postgres;
mod sqlite;

use std::sync::Arc;
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
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    fn value(&self, name: &str) -> Result<&Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Decode(format!("no column `{name}`")))
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

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Inner,
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
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
        Ok(Db { inner })
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
        match &self.inner {
            Inner::Sqlite(db) => db.fetch_all(sql, params).await,
            Inner::Postgres(db) => db.fetch_all(sql, params).await,
        }
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

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match &self.inner {
            Inner::Sqlite(db) => db.execute(sql, params).await,
            Inner::Postgres(db) => db.execute(sql, params).await,
        }
    }

    /// Starts a transaction; it rolls back unless [`Tx::commit`] is called.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match &self.inner {
            Inner::Sqlite(db) => Tx::Sqlite(db.begin().await?),
            Inner::Postgres(db) => Tx::Postgres(Box::new(db.begin().await?)),
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
pub enum Tx {
    Sqlite(sqlite::SqliteTx),
    Postgres(Box<postgres::PgTx>),
}

impl Tx {
    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Tx::Sqlite(tx) => tx.fetch_all(sql, params),
            Tx::Postgres(tx) => tx.fetch_all(sql, params).await,
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
        match self {
            Tx::Sqlite(tx) => tx.execute(sql, params),
            Tx::Postgres(tx) => tx.execute(sql, params).await,
        }
    }

    /// Runs several statements without parameters (migrations).
    pub(crate) async fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.execute_batch(sql),
            Tx::Postgres(tx) => tx.execute_batch(sql).await,
        }
    }

    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.commit(),
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
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
