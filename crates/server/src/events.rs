//! Events for real-time clients: `job.progress`, `document.ready`, …
//!
//! Every event is stored (so a client that reconnects can ask for what it
//! missed with `?since=ID`) and then fanned out to this process's
//! subscribers through a broadcast channel. Event ids are UUID v7, which
//! sort by time, so "missed since X" is `id > X` for that user.
//!
//! A subscriber that falls behind the channel's buffer is told it lagged and
//! recovers from the database; it never slows the publisher or other
//! subscribers.

use crate::db::{Db, DbError, now};
use crate::params;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast;
use uuid::Uuid;

/// One event as clients receive it: `{id, type, …data}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip)]
    pub user_id: Uuid,
    #[serde(flatten)]
    pub data: serde_json::Map<String, Value>,
}

impl Event {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Publishes and subscribes; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    db: Db,
    tx: broadcast::Sender<Arc<Event>>,
}

const CHANNEL: usize = 4096;
/// Most events a replay returns.
pub const REPLAY_MAX: i64 = 1000;

impl EventBus {
    pub fn new(db: Db) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL);
        EventBus { db, tx }
    }

    /// Stores and delivers an event to `user_id`'s subscribers. `data` must
    /// be a JSON object; its fields sit beside `id` and `type`.
    pub async fn publish(&self, user_id: Uuid, kind: &str, data: Value) -> Result<Arc<Event>, DbError> {
        let data = match data {
            Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("data".into(), other);
                m
            }
        };
        let event = Arc::new(Event {
            id: Uuid::now_v7().to_string(),
            kind: kind.to_string(),
            user_id,
            data,
        });
        self.db
            .execute(
                "INSERT INTO events (id, user_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)",
                &params![
                    event.id.as_str(),
                    user_id,
                    kind,
                    serde_json::to_string(&event.data).unwrap_or_default(),
                    now()
                ],
            )
            .await?;
        // No subscriber is not an error.
        let _ = self.tx.send(event.clone());
        Ok(event)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// `user_id`'s events after `since` (oldest first, at most [`REPLAY_MAX`]).
    pub async fn since(&self, user_id: Uuid, since: &str) -> Result<Vec<Arc<Event>>, DbError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT id, type, data FROM events WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                &params![user_id, since, REPLAY_MAX],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.get("data")?;
                Ok(Arc::new(Event {
                    id: r.get("id")?,
                    kind: r.get("type")?,
                    user_id,
                    data: serde_json::from_str(&data).unwrap_or_default(),
                }))
            })
            .collect()
    }

    /// Deletes events older than `keep` (they can no longer be replayed).
    pub async fn purge_older_than(&self, keep: std::time::Duration) -> Result<u64, DbError> {
        let cutoff = crate::db::format_ts(time::OffsetDateTime::now_utc() - keep);
        self.db
            .execute("DELETE FROM events WHERE created_at < $1", &params![cutoff])
            .await
    }
}
