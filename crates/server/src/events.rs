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
//!
//! With `DRAMATIS_REDIS_URL` set, events travel over Redis pub/sub instead of
//! staying in the process: every instance publishes there and every instance
//! feeds what it hears to its own subscribers, so a WebSocket client on any
//! API instance sees events from any worker. If Redis is unreachable at the
//! moment of publishing, the event still reaches this process's clients and
//! stays in the database for replay.

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
    redis: Option<redis::aio::ConnectionManager>,
}

/// The Redis channel all instances share.
const REDIS_CHANNEL: &str = "dramatis:events";

/// An event as it crosses Redis (with its user, which clients never see).
#[derive(Serialize, serde::Deserialize)]
struct Wire {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    user_id: Uuid,
    data: serde_json::Map<String, Value>,
}

const CHANNEL: usize = 4096;
/// Most events a replay returns.
pub const REPLAY_MAX: i64 = 1000;

impl EventBus {
    /// An in-process bus.
    pub fn new(db: Db) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL);
        EventBus { db, tx, redis: None }
    }

    /// A bus over Redis pub/sub: connects, and starts the task that feeds
    /// what Redis delivers to this process's subscribers.
    pub async fn with_redis(db: Db, url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad Redis URL: {e}"))?;
        let manager = redis::aio::ConnectionManager::new(client.clone())
            .await
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        let (tx, _) = broadcast::channel(CHANNEL);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscribe_loop(client, tx.clone(), ready_tx));
        // Wait for the first subscription, so nothing published after this
        // returns can be missed.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ready_rx).await;
        Ok(EventBus {
            db,
            tx,
            redis: Some(manager),
        })
    }

    pub fn uses_redis(&self) -> bool {
        self.redis.is_some()
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
        if let Some(mut redis) = self.redis.clone() {
            let wire = Wire {
                id: event.id.clone(),
                kind: event.kind.clone(),
                user_id,
                data: event.data.clone(),
            };
            let payload = serde_json::to_string(&wire).unwrap_or_default();
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(REDIS_CHANNEL)
                .arg(payload)
                .query_async(&mut redis)
                .await;
            match sent {
                Ok(_) => return Ok(event),
                Err(e) => tracing::warn!(error = %e, "Redis publish failed; delivering locally only"),
            }
        }
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

/// Subscribes to the shared channel and forwards every event to local
/// subscribers, reconnecting after a second when the connection drops.
async fn subscribe_loop(
    client: redis::Client,
    tx: broadcast::Sender<Arc<Event>>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    use futures_util::StreamExt;
    let mut ready = Some(ready);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(e) = pubsub.subscribe(REDIS_CHANNEL).await {
                    tracing::warn!(error = %e, "Redis subscribe failed");
                } else {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    let mut stream = pubsub.on_message();
                    while let Some(msg) = stream.next().await {
                        let Ok(w) = serde_json::from_slice::<Wire>(msg.get_payload_bytes()) else {
                            continue;
                        };
                        let _ = tx.send(Arc::new(Event {
                            id: w.id,
                            kind: w.kind,
                            user_id: w.user_id,
                            data: w.data,
                        }));
                    }
                    tracing::warn!("Redis subscription ended; reconnecting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to Redis events"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
