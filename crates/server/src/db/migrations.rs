//! Schema migrations: one ordered list of SQL files, the same for both
//! backends, embedded in the binary and applied in a transaction each.
//!
//! On PostgreSQL an advisory lock serialises instances that start at the
//! same moment; on SQLite the writer's `BEGIN IMMEDIATE` does the same.

use super::{Backend, Db, DbError};

/// `(version, sql)`, in order. Never edit an applied file: add a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    ("0002_pipeline", include_str!("../../migrations/0002_pipeline.sql")),
    ("0003_chat", include_str!("../../migrations/0003_chat.sql")),
    (
        "0004_analyzed_at",
        include_str!("../../migrations/0004_analyzed_at.sql"),
    ),
    (
        "0005_drop_span_texts",
        include_str!("../../migrations/0005_drop_span_texts.sql"),
    ),
];

/// PostgreSQL-only objects SQLite has no syntax for (a trigger function), written to be re-applied at every
/// start; SQLite needs no counterpart (see `SqliteDb::data_version`).
const POSTGRES_EXTRA: &str = include_str!("../../migrations/postgres/change_notify.sql");

const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// Applies what is missing; returns how many migrations ran.
pub async fn run(db: &Db) -> Result<usize, DbError> {
    let mut tx = db.begin().await?;
    if db.backend() == Backend::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(7308613726947)", &[]).await?;
    }
    tx.execute(CREATE, &[]).await?;
    let applied: Vec<String> = tx
        .fetch_all("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get::<String>("version"))
        .collect::<Result<_, _>>()?;
    let mut ran = 0;
    for (version, sql) in MIGRATIONS {
        if applied.iter().any(|v| v == version) {
            continue;
        }
        tx.execute_batch(sql).await.map_err(|e| DbError::Migration {
            version: version.to_string(),
            detail: e.to_string(),
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &crate::params![*version, super::now()],
        )
        .await?;
        ran += 1;
    }
    if db.backend() == Backend::Postgres {
        tx.execute_batch(POSTGRES_EXTRA).await.map_err(|e| DbError::Migration {
            version: "postgres/change_notify".into(),
            detail: e.to_string(),
        })?;
    }
    tx.commit().await?;
    Ok(ran)
}

/// How many migrations are not applied yet.
pub async fn pending(db: &Db) -> Result<usize, DbError> {
    let rows = match db.fetch_all("SELECT version FROM schema_migrations", &[]).await {
        Ok(rows) => rows,
        // No table yet: nothing is applied.
        Err(DbError::Other(_)) => return Ok(MIGRATIONS.len()),
        Err(e) => return Err(e),
    };
    let applied: Vec<String> = rows.iter().filter_map(|r| r.get::<String>("version").ok()).collect();
    Ok(MIGRATIONS
        .iter()
        .filter(|(v, _)| !applied.iter().any(|a| a == v))
        .count())
}
