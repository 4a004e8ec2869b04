//! The PostgreSQL backend through `sqlx` (its statement cache keeps every
//! query prepared per connection).

use super::{DbError, DbOptions, Kind, Row, Value};
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::{Column, Executor, Postgres, Row as _, TypeInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Clone)]
pub struct PgDb {
    pool: sqlx::PgPool,
    changes: Arc<Changes>,
}

/// What [`watch_changes`] knows: a counter bumped by every notification on `dramatis_changes` (and by every
/// reconnection, since notifications sent while disconnected are lost), and whether it is listening now.
#[derive(Default)]
struct Changes {
    epoch: AtomicU64,
    live: AtomicBool,
}

/// The channel the `characters_changed` trigger (migrations/postgres/change_notify.sql) notifies.
const CHANNEL: &str = "dramatis_changes";

/// Listens for change notifications until the pool closes, reconnecting after a failure. The listener has
/// its own connection (not one of the pool's, which stay for queries).
async fn watch_changes(url: String, pool: sqlx::PgPool, changes: Arc<Changes>) {
    listen_until_closed(&url, &pool, &changes).await;
    changes.live.store(false, Ordering::Release);
}

async fn listen_until_closed(url: &str, pool: &sqlx::PgPool, changes: &Changes) {
    let mut closed = pool.close_event();
    while !pool.is_closed() {
        let listen = async {
            let mut listener = sqlx::postgres::PgListener::connect(url).await.ok()?;
            listener.listen(CHANNEL).await.ok()?;
            Some(listener)
        };
        let listener = tokio::select! {
            _ = &mut closed => return,
            l = listen => l,
        };
        if let Some(mut listener) = listener {
            changes.epoch.fetch_add(1, Ordering::AcqRel);
            changes.live.store(true, Ordering::Release);
            loop {
                let next = tokio::select! {
                    _ = &mut closed => return,
                    n = listener.try_recv() => n,
                };
                match next {
                    Ok(Some(_)) => {
                        changes.epoch.fetch_add(1, Ordering::AcqRel);
                    }
                    // The connection dropped and was re-established: what was sent meanwhile is lost.
                    Ok(None) => {
                        changes.epoch.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(_) => break,
                }
            }
        }
        changes.live.store(false, Ordering::Release);
        changes.epoch.fetch_add(1, Ordering::AcqRel);
        tokio::select! {
            _ = &mut closed => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

fn map_err(e: sqlx::Error) -> DbError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => DbError::Unique(db.message().to_string()),
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            DbError::Unavailable(e.to_string())
        }
        _ => DbError::Other(e.to_string()),
    }
}

fn build(sql: &str, params: &[Value]) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    // Our SQL texts are constants or built from column names, never from input.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for v in params {
        q = match v {
            Value::Null(Kind::Int) => q.bind(None::<i64>),
            Value::Null(Kind::Real) => q.bind(None::<f64>),
            Value::Null(Kind::Text) => q.bind(None::<String>),
            Value::Null(Kind::Blob) => q.bind(None::<Vec<u8>>),
            Value::Int(i) => q.bind(*i),
            Value::Real(f) => q.bind(*f),
            Value::Text(s) => q.bind(s.clone()),
            Value::Blob(b) => q.bind(b.clone()),
        };
    }
    q
}

fn convert(rows: Vec<PgRow>) -> Result<Vec<Row>, DbError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_string()).collect();
    let types: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_string())
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(types.len());
        for (i, ty) in types.iter().enumerate() {
            let err = |e: sqlx::Error| DbError::Decode(e.to_string());
            let v = match ty.as_str() {
                "INT8" => row.try_get::<Option<i64>, _>(i).map_err(err)?.map(Value::Int),
                "INT4" => row
                    .try_get::<Option<i32>, _>(i)
                    .map_err(err)?
                    .map(|v| Value::Int(v.into())),
                "INT2" => row
                    .try_get::<Option<i16>, _>(i)
                    .map_err(err)?
                    .map(|v| Value::Int(v.into())),
                "BOOL" => row
                    .try_get::<Option<bool>, _>(i)
                    .map_err(err)?
                    .map(|v| Value::Int(v.into())),
                "FLOAT8" => row.try_get::<Option<f64>, _>(i).map_err(err)?.map(Value::Real),
                "FLOAT4" => row
                    .try_get::<Option<f32>, _>(i)
                    .map_err(err)?
                    .map(|v| Value::Real(v.into())),
                "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(i).map_err(err)?.map(Value::Blob),
                _ => row.try_get::<Option<String>, _>(i).map_err(err)?.map(Value::Text),
            };
            values.push(v.unwrap_or(Value::Null(Kind::Text)));
        }
        out.push(Row::new(columns.clone(), values));
    }
    Ok(out)
}

impl PgDb {
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Self, DbError> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .connect(url)
            .await
            .map_err(|e| DbError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let changes = Arc::new(Changes::default());
        tokio::spawn(watch_changes(url.to_string(), pool.clone(), changes.clone()));
        Ok(PgDb { pool, changes })
    }

    /// A number that changes whenever `characters` changes, through any process on this database (the
    /// trigger's notifications) — `None` while not listening. Writes through this process also bump it
    /// ([`PgDb::note_write`]) the moment they commit, not when their notification comes back.
    pub fn data_version(&self) -> Option<u128> {
        self.changes
            .live
            .load(Ordering::Acquire)
            .then(|| self.changes.epoch.load(Ordering::Acquire).into())
    }

    /// Called after a statement that may have written commits.
    pub fn note_write(&self) {
        self.changes.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        convert(build(sql, params).fetch_all(&self.pool).await.map_err(map_err)?)
    }

    /// A page and its total in one round trip: the count becomes a scalar subquery of the page's statement
    /// (evaluated once, same snapshot). An empty page has no row to carry it, so then it is counted apart.
    pub async fn fetch_page(&self, sql: &str, params: &[Value], count_sql: &str) -> Result<(Vec<Row>, i64), DbError> {
        let sql = sql.replacen(super::TOTAL, &format!("({count_sql}) AS total_count"), 1);
        let rows = self.fetch_all(&sql, params).await?;
        let total = match rows.first() {
            Some(r) => r.get("total_count")?,
            None => {
                let n = params.len().min(super::max_param(count_sql));
                let rows = self.fetch_all(count_sql, &params[..n]).await?;
                match rows.first() {
                    Some(r) => r.first_int()?,
                    None => 0,
                }
            }
        };
        Ok((rows, total))
    }

    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        build(sql, params)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err)
    }

    pub async fn begin(&self) -> Result<PgTx, DbError> {
        Ok(PgTx {
            tx: self.pool.begin().await.map_err(map_err)?,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl PgTx {
    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        convert(build(sql, params).fetch_all(&mut *self.tx).await.map_err(map_err)?)
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        build(sql, params)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err)
    }

    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        (&mut *self.tx)
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())))
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await.map_err(map_err)
    }
}
