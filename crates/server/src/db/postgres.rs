//! The PostgreSQL backend through `sqlx` (its statement cache keeps every
//! query prepared per connection).

use super::{DbError, DbOptions, Kind, Row, Value};
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::{Column, Executor, Postgres, Row as _, TypeInfo};
use std::sync::Arc;

#[derive(Clone)]
pub struct PgDb {
    pool: sqlx::PgPool,
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
        Ok(PgDb { pool })
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
