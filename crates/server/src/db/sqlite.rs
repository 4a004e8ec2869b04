//! The SQLite backend: one writer connection, a pool of read-only readers.
//!
//! Statements run inline on the calling task: with WAL, cached prepared
//! statements and indexed queries they take microseconds, less than a hop to
//! a blocking thread would. The writer is behind an async mutex so a task
//! waiting for it yields instead of blocking a runtime thread.

use super::{DbError, Kind, Row, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Clone)]
pub struct SqliteDb {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    /// `None` for a private in-memory database, where readers would see a
    /// different database: then everything goes through the writer.
    memory: bool,
    writer: Arc<AsyncMutex<Connection>>,
    readers: Mutex<Vec<Reader>>,
    /// The watch on other processes' commits (see [`SqliteDb::data_version`]): the connection, the value it
    /// last gave and when (nanoseconds after `epoch`, plus one; 0: no valid value).
    watch: Mutex<Watch>,
    watch_value: AtomicU64,
    watch_at: AtomicU64,
    epoch: Instant,
    /// Commits made through this handle's writer, counted the moment they return.
    local_commits: Arc<AtomicU64>,
}

/// A read-only connection used for nothing but `PRAGMA data_version`, and how many times it was opened (a
/// reopened connection counts afresh, so that number is mixed into what it reports).
#[derive(Default)]
struct Watch {
    conn: Option<Connection>,
    opened: u64,
}

/// How often another process's commits are looked for: they show in [`SqliteDb::data_version`] at most this
/// late. Asking on every request took a shared lock on the database file (four `fcntl` calls), a tenth of the
/// CPU of a cached list page.
const WATCH_INTERVAL: Duration = Duration::from_millis(1);

/// A read-only connection and the totals it counted, each with the `PRAGMA data_version` it was counted at:
/// that number changes when any other connection (this process's writer, or another process) commits, so a
/// total whose version is still current is exact for the snapshot being read.
struct Reader {
    conn: Connection,
    counts: HashMap<String, (i64, i64)>,
}

/// Totals remembered per reader connection (count SQL and parameters distinguish them).
const COUNTS_KEPT: usize = 4096;

const READERS_KEPT: usize = 32;

fn map_err(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(code, msg) = &e {
        match code.extended_code {
            // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
            2067 | 1555 => {
                return DbError::Unique(msg.clone().unwrap_or_else(|| "already exists".into()));
            }
            _ => {}
        }
        if matches!(
            code.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked | rusqlite::ErrorCode::CannotOpen
        ) {
            return DbError::Unavailable(e.to_string());
        }
    }
    DbError::Other(e.to_string())
}

fn configure(conn: &Connection, writer: bool) -> Result<(), DbError> {
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(256);
    // The query planner stability guarantee: without it SQLite 3.47+ plans `LIMIT $n` (and LIKE, STAT4) with
    // the bound value and marks the statement expired whenever that parameter is bound again, so every
    // paginated read was parsed and planned anew (14% of the CPU of the character list). We keep one plan.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(map_err)?;
    let pragmas = if writer {
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
    } else {
        "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;"
    };
    conn.execute_batch(pragmas).map_err(map_err)
}

impl SqliteDb {
    pub fn open(path: &str) -> Result<Self, DbError> {
        let memory = path.is_empty() || path == ":memory:" || path == "memory:";
        let path = if memory {
            PathBuf::from(":memory:")
        } else {
            let p = PathBuf::from(path);
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
            p
        };
        let writer = if memory {
            Connection::open_in_memory()
        } else {
            Connection::open(&path)
        }
        .map_err(map_err)?;
        configure(&writer, true)?;
        Ok(SqliteDb {
            shared: Arc::new(Shared {
                path,
                memory,
                writer: Arc::new(AsyncMutex::new(writer)),
                readers: Mutex::new(Vec::new()),
                watch: Mutex::new(Watch::default()),
                watch_value: AtomicU64::new(0),
                watch_at: AtomicU64::new(0),
                epoch: Instant::now(),
                local_commits: Arc::new(AtomicU64::new(0)),
            }),
        })
    }

    fn open_reader(&self) -> Result<Connection, DbError> {
        let conn = Connection::open_with_flags(
            Path::new(&self.shared.path),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(map_err)?;
        configure(&conn, false)?;
        Ok(conn)
    }

    fn take_reader(&self) -> Result<Reader, DbError> {
        if let Some(r) = self.shared.readers.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(r);
        }
        Ok(Reader {
            conn: self.open_reader()?,
            counts: HashMap::new(),
        })
    }

    /// A number that changes whenever anything is committed to the database: at once for commits through
    /// this handle's writer (counted as they return), within [`WATCH_INTERVAL`] for any other connection or
    /// process (`PRAGMA data_version` on a connection that itself never writes, which SQLite defines as
    /// changing exactly when another connection commits). `None` for a private in-memory database or if the
    /// file cannot be read.
    pub fn data_version(&self) -> Option<u128> {
        if self.shared.memory {
            return None;
        }
        let local = self.shared.local_commits.load(Ordering::Acquire);
        // The common case takes no lock: the value looked at less than WATCH_INTERVAL ago. `watch_at` is
        // stored after `watch_value`, so a fresh time comes with its value (or a newer one).
        let now = self.shared.epoch.elapsed().as_nanos() as u64 + 1;
        let at = self.shared.watch_at.load(Ordering::Acquire);
        if at == 0 || now.saturating_sub(at) >= WATCH_INTERVAL.as_nanos() as u64 {
            match self.shared.watch.try_lock() {
                Ok(mut w) => {
                    let value = self.look(&mut w)?;
                    self.shared.watch_value.store(value, Ordering::Release);
                    self.shared.watch_at.store(now, Ordering::Release);
                }
                // Another thread is looking right now: its value is at most that look old.
                Err(std::sync::TryLockError::WouldBlock) if at != 0 => {}
                Err(_) => return None,
            }
        }
        Some(((local as u128) << 64) | self.shared.watch_value.load(Ordering::Acquire) as u128)
    }

    /// `PRAGMA data_version` on the watch connection, mixed with how many times it was opened.
    fn look(&self, w: &mut Watch) -> Option<u64> {
        if w.conn.is_none() {
            w.conn = Some(self.open_reader().ok()?);
            w.opened += 1;
        }
        let version = w
            .conn
            .as_ref()?
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
        match version {
            Ok(v) => Some((v as u64).wrapping_add(w.opened << 48)),
            Err(_) => {
                // Reopened next time; until then nothing is served from a cache.
                w.conn = None;
                self.shared.watch_at.store(0, Ordering::Release);
                None
            }
        }
    }

    fn put_reader(&self, reader: Reader) {
        if let Ok(mut v) = self.shared.readers.lock()
            && v.len() < READERS_KEPT
        {
            v.push(reader);
        }
    }

    pub async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        if is_read(sql) && !self.shared.memory {
            let reader = self.take_reader()?;
            let out = query(&reader.conn, sql, params);
            self.put_reader(reader);
            out
        } else {
            let conn = self.shared.writer.lock().await;
            let out = query(&conn, sql, params);
            self.shared.local_commits.fetch_add(1, Ordering::AcqRel);
            out
        }
    }

    /// A page and its total from one read transaction (see [`Db::fetch_page`](super::Db::fetch_page)). The
    /// total is counted only when this reader has no count for the snapshot's `data_version`, so pages of
    /// unchanged data skip the `COUNT` (a scan of every matching index entry).
    pub async fn fetch_page(&self, sql: &str, params: &[Value], count_sql: &str) -> Result<(Vec<Row>, i64), DbError> {
        // The total reaches the page as one more bound parameter, so the statement text (and its prepared
        // statement) stays the same whatever the count.
        let sql = sql.replacen(super::TOTAL, &format!("${} AS total_count", params.len() + 1), 1);
        if self.shared.memory {
            let conn = self.shared.writer.lock().await;
            let total = count(&conn, count_sql, params)?;
            return query(&conn, &sql, &with_total(params, total)).map(|rows| (rows, total));
        }
        let mut reader = self.take_reader()?;
        let out = page_in_tx(&mut reader, &sql, params, count_sql);
        if out.is_err() {
            let _ = reader.conn.execute_batch("ROLLBACK");
        }
        self.put_reader(reader);
        out
    }

    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let conn = self.shared.writer.lock().await;
        let out = execute(&conn, sql, params);
        self.shared.local_commits.fetch_add(1, Ordering::AcqRel);
        out
    }

    pub async fn begin(&self) -> Result<SqliteTx, DbError> {
        let conn = self.shared.writer.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
        Ok(SqliteTx {
            conn,
            done: false,
            commits: self.shared.local_commits.clone(),
        })
    }
}

fn with_total(params: &[Value], total: i64) -> Vec<Value> {
    let mut all = Vec::with_capacity(params.len() + 1);
    all.extend_from_slice(params);
    all.push(Value::Int(total));
    all
}

/// `count_sql`'s one integer, binding as many of `params` as it has slots (numbered, so unused lower ones are
/// slots too).
fn count(conn: &Connection, count_sql: &str, params: &[Value]) -> Result<i64, DbError> {
    let mut stmt = conn.prepare_cached(&rewrite(count_sql)).map_err(map_err)?;
    let n = stmt.parameter_count().min(params.len());
    bind(&mut stmt, &params[..n])?;
    let mut rows = stmt.raw_query();
    match rows.next().map_err(map_err)? {
        Some(row) => row.get::<_, i64>(0).map_err(map_err),
        None => Err(DbError::Other("count query returned no row".into())),
    }
}

fn page_in_tx(reader: &mut Reader, sql: &str, params: &[Value], count_sql: &str) -> Result<(Vec<Row>, i64), DbError> {
    let conn = &reader.conn;
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.raw_execute())
        .map_err(map_err)?;
    // `BEGIN` is deferred: this pragma's read starts the snapshot (and refreshes the connection's data version
    // from it), which the count and the page below then share.
    let version: i64 = conn
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    let count_params = &params[..params.len().min(super::max_param(count_sql))];
    let key = format!("{count_sql}\u{0}{count_params:?}");
    let total = match reader.counts.get(&key) {
        Some(&(v, total)) if v == version => total,
        _ => {
            let total = count(conn, count_sql, count_params)?;
            if reader.counts.len() >= COUNTS_KEPT {
                reader.counts.clear();
            }
            reader.counts.insert(key, (version, total));
            total
        }
    };
    let rows = query(conn, sql, &with_total(params, total))?;
    conn.prepare_cached("COMMIT")
        .and_then(|mut s| s.raw_execute())
        .map_err(map_err)?;
    Ok((rows, total))
}

/// A transaction holding the writer connection.
pub struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    done: bool,
    commits: Arc<AtomicU64>,
}

impl SqliteTx {
    pub fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        query(&self.conn, sql, params)
    }

    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        execute(&self.conn, sql, params)
    }

    pub fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(map_err)
    }

    pub fn commit(mut self) -> Result<(), DbError> {
        self.done = true;
        let out = self.conn.execute_batch("COMMIT").map_err(map_err);
        self.commits.fetch_add(1, Ordering::AcqRel);
        out
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Reads are statements that cannot write; they may run on a reader.
fn is_read(sql: &str) -> bool {
    let head = sql.trim_start();
    let upper = |n: usize| head.get(..n).map(|s| s.to_ascii_uppercase());
    upper(6).as_deref() == Some("SELECT") && !contains_ci(sql, "RETURNING")
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Rewrites `$N` placeholders to SQLite's numbered `?N`, which bind by number
/// exactly as PostgreSQL's do (plain `$N` would bind by first appearance).
fn rewrite(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_str = !in_str;
        }
        if c == '$' && !in_str && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out.into()
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null(_) => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<(), DbError> {
    for (i, v) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, Param(v)).map_err(map_err)?;
    }
    Ok(())
}

fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
    let mut stmt = conn.prepare_cached(&rewrite(sql)).map_err(map_err)?;
    bind(&mut stmt, params)?;
    let columns = column_names(sql, &stmt);
    let n = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(match row.get_ref(i).map_err(map_err)? {
                ValueRef::Null => Value::Null(Kind::Text),
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row::new(columns.clone(), values));
    }
    Ok(out)
}

thread_local! {
    /// Column names per SQL text, shared by every row of every result, so a
    /// query does not allocate its column names again each time.
    static COLUMNS: std::cell::RefCell<std::collections::HashMap<String, Arc<[String]>>> = Default::default();
}

fn column_names(sql: &str, stmt: &rusqlite::CachedStatement<'_>) -> Arc<[String]> {
    COLUMNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(c) = cache.get(sql) {
            return c.clone();
        }
        let cols: Arc<[String]> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        if cache.len() >= 1024 {
            cache.clear(); // bounded: dynamic SQL texts cannot grow it forever
        }
        cache.insert(sql.to_string(), cols.clone());
        cols
    })
}

fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, DbError> {
    let mut stmt = conn.prepare_cached(&rewrite(sql)).map_err(map_err)?;
    bind(&mut stmt, params)?;
    stmt.raw_execute().map(|n| n as u64).map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_placeholders_outside_strings() {
        assert_eq!(rewrite("SELECT $1, '$2', $10"), "SELECT ?1, '$2', ?10");
        assert_eq!(rewrite("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn classifies_reads() {
        assert!(is_read("  select * from users"));
        assert!(!is_read("INSERT INTO t VALUES (1)"));
        assert!(!is_read("SELECT 1; DELETE FROM t RETURNING id"));
    }
}
