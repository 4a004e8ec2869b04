//! The job queue, stored in the database, and the workers that run it.
//!
//! Delivery is at least once: a worker claims a job by setting a lease
//! (`lease_until`) and renews it with heartbeats while it runs; a job whose
//! lease ran out (its worker died) is claimed again by any worker. A failed
//! attempt is retried after an exponential backoff until `max_attempts`,
//! then the job is `dead` with its last error kept. Job steps are idempotent
//! (the pipeline replaces what an earlier attempt wrote), so a repeated
//! delivery never duplicates results.
//!
//! Claiming is one atomic statement: on PostgreSQL `FOR UPDATE SKIP LOCKED`
//! lets many workers on many machines claim without blocking each other; on
//! SQLite the single writer serialises claims.
//!
//! Why not a queue crate: apalis (the one that speaks both SQLite and
//! PostgreSQL) brings sqlx's SQLite driver, which cannot share the process
//! with the `rusqlite` the rest of the service uses for SQLite, and its own
//! tables; this queue is a few statements on the schema we already migrate.

use crate::db::{Backend, Db, DbError, FromRow, Row, format_ts, now};
use crate::params;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `dead` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Stage, percent and counts of the running attempt.
    #[schema(value_type = Object)]
    pub progress: Value,
    pub last_error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub cancel_requested: bool,
    pub run_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    #[serde(skip)]
    pub user_id: Option<Uuid>,
}

pub const COLS: &str = "id, user_id, kind, status, attempts, max_attempts, payload, progress, last_error, result, \
                        cancel_requested, run_at, created_at, updated_at, finished_at";

impl FromRow for Job {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        let json = |s: String| serde_json::from_str(&s).unwrap_or(Value::Null);
        Ok(Job {
            id: r.get("id")?,
            user_id: r.get("user_id")?,
            kind: r.get("kind")?,
            status: r.get("status")?,
            attempts: r.get("attempts")?,
            max_attempts: r.get("max_attempts")?,
            payload: json(r.get("payload")?),
            progress: json(r.get("progress")?),
            last_error: r.get("last_error")?,
            result: r.get::<Option<String>>("result")?.map(json),
            cancel_requested: r.get("cancel_requested")?,
            run_at: r.get("run_at")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
            finished_at: r.get("finished_at")?,
        })
    }
}

fn after(d: Duration) -> String {
    format_ts(time::OffsetDateTime::now_utc() + d)
}

/// Delay before retry number `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 10 min.
pub fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 20) as u32;
    Duration::from_secs((1u64 << exp).min(600))
}

/// Queue operations on a database.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    /// Wakes local workers when a job is enqueued (others poll).
    notify: std::sync::Arc<tokio::sync::Notify>,
}

impl Queue {
    pub fn new(db: Db) -> Self {
        Queue {
            db,
            notify: Default::default(),
        }
    }

    pub fn notified(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.notify.clone()
    }

    /// Stores a job under `id` (chosen by the caller, so it can announce
    /// the job before a worker can pick it up) and wakes local workers.
    pub async fn enqueue(
        &self,
        id: Uuid,
        kind: &str,
        user_id: Option<Uuid>,
        payload: Value,
        max_attempts: i64,
    ) -> Result<Uuid, DbError> {
        let t = now();
        self.db
            .execute(
                "INSERT INTO jobs (id, user_id, kind, payload, status, max_attempts, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6, $6)",
                &params![id, user_id, kind, payload.to_string(), max_attempts, t],
            )
            .await?;
        self.notify.notify_waiters();
        Ok(id)
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, DbError> {
        self.db
            .fetch_optional_as(&format!("SELECT {COLS} FROM jobs WHERE id = $1"), &params![id])
            .await
    }

    /// Takes the next runnable job (queued and due, or running with an
    /// expired lease) for `worker`, with a lease of `lease`.
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Job>, DbError> {
        let t = now();
        let until = after(lease);
        let sql = match self.db.backend() {
            Backend::Postgres => format!(
                "UPDATE jobs SET status = 'running', worker = $1, lease_until = $2, attempts = attempts + 1, \
                 updated_at = $3 WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
                 OR (status = 'running' AND lease_until < $3) ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING {COLS}"
            ),
            Backend::Sqlite => format!(
                "UPDATE jobs SET status = 'running', worker = $1, lease_until = $2, attempts = attempts + 1, \
                 updated_at = $3 WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
                 OR (status = 'running' AND lease_until < $3) ORDER BY run_at LIMIT 1) \
                 RETURNING {COLS}"
            ),
        };
        let mut rows = self.db.fetch_all(&sql, &params![worker, until, t]).await?;
        rows.pop().map(|r| Job::from_row(&r)).transpose()
    }

    /// Renews the lease; false when the job is no longer this worker's (it
    /// was cancelled, or its lease expired and another worker took it).
    pub async fn heartbeat(&self, id: Uuid, worker: &str, lease: Duration) -> Result<bool, DbError> {
        let n = self
            .db
            .execute(
                "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND worker = $2 AND status = 'running'",
                &params![id, worker, after(lease)],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn set_progress(&self, id: Uuid, progress: &Value) -> Result<(), DbError> {
        self.db
            .execute(
                "UPDATE jobs SET progress = $2, updated_at = $3 WHERE id = $1",
                &params![id, progress.to_string(), now()],
            )
            .await?;
        Ok(())
    }

    pub async fn cancel_requested(&self, id: Uuid) -> Result<bool, DbError> {
        Ok(self
            .db
            .fetch_optional("SELECT cancel_requested FROM jobs WHERE id = $1", &params![id])
            .await?
            .map(|r| r.get::<bool>("cancel_requested"))
            .transpose()?
            .unwrap_or(true))
    }

    pub async fn succeed(&self, id: Uuid, worker: &str, result: &Value) -> Result<(), DbError> {
        let t = now();
        self.db
            .execute(
                "UPDATE jobs SET status = 'succeeded', result = $3, lease_until = NULL, updated_at = $4, \
                 finished_at = $4 WHERE id = $1 AND worker = $2 AND status = 'running'",
                &params![id, worker, result.to_string(), t],
            )
            .await?;
        Ok(())
    }

    /// Records a failed attempt: retried later, or dead after the last one.
    /// Returns the new status.
    pub async fn fail(&self, job: &Job, worker: &str, error: &str) -> Result<&'static str, DbError> {
        let t = now();
        let (status, run_at, finished) = if job.attempts >= job.max_attempts {
            ("dead", t.clone(), Some(t.clone()))
        } else {
            ("queued", after(backoff(job.attempts)), None)
        };
        self.db
            .execute(
                "UPDATE jobs SET status = $3, last_error = $4, run_at = $5, lease_until = NULL, updated_at = $6, \
                 finished_at = $7 WHERE id = $1 AND worker = $2 AND status = 'running'",
                &params![job.id, worker, status, error, run_at, t, finished],
            )
            .await?;
        Ok(status)
    }

    pub async fn mark_cancelled(&self, id: Uuid) -> Result<(), DbError> {
        let t = now();
        self.db
            .execute(
                "UPDATE jobs SET status = 'cancelled', lease_until = NULL, updated_at = $2, finished_at = $2 \
                 WHERE id = $1 AND status IN ('queued', 'running')",
                &params![id, t],
            )
            .await?;
        Ok(())
    }

    /// Cancels: a queued job at once, a running one at its next checkpoint.
    /// Returns false when the job had already finished.
    pub async fn cancel(&self, id: Uuid) -> Result<bool, DbError> {
        let t = now();
        let queued = self
            .db
            .execute(
                "UPDATE jobs SET status = 'cancelled', cancel_requested = 1, updated_at = $2, finished_at = $2 \
                 WHERE id = $1 AND status = 'queued'",
                &params![id, t.as_str()],
            )
            .await?;
        if queued > 0 {
            return Ok(true);
        }
        let running = self
            .db
            .execute(
                "UPDATE jobs SET cancel_requested = 1, updated_at = $2 WHERE id = $1 AND status = 'running'",
                &params![id, t],
            )
            .await?;
        Ok(running > 0)
    }

    /// Puts back jobs whose lease expired long ago (a safety net beside
    /// claiming, which takes them too).
    pub async fn requeue_stuck(&self) -> Result<u64, DbError> {
        let t = now();
        self.db
            .execute(
                "UPDATE jobs SET status = 'queued', lease_until = NULL, updated_at = $1 \
                 WHERE status = 'running' AND lease_until < $1 AND attempts < max_attempts",
                &params![t],
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(15), Duration::from_secs(600));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }
}
