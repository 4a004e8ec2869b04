//! Workers: loops that claim jobs and run them, inside `serve` or in a
//! `dramatis worker` process, plus the periodic maintenance jobs.

use crate::jobs::Job;
use crate::pipeline::{self, JobError};
use crate::state::AppState;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// How long a claim lasts without a heartbeat by default
/// (`DRAMATIS_JOB_LEASE_SECS`); a worker that died is replaced after this.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often idle workers look for work queued by other processes.
const POLL: Duration = Duration::from_millis(500);

/// Starts `n` workers; they stop claiming when `stop` turns true and finish
/// the job in hand.
///
/// A worker is two job loops sharing one CPU slot: at most `n` jobs extract or analyse at a time (the CPU-bound
/// stages, one core each), while up to `n` more store their results. Storing a book is mostly waiting — for the
/// single SQLite writer, for the disk — and with one loop per slot that wait left the slot's core idle between
/// two analyses; now the next book is analysed meanwhile.
pub fn spawn(state: &AppState, n: usize, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    let cpu = Arc::new(Semaphore::new(n));
    let mut handles: Vec<_> = (0..n * 2)
        .map(|i| {
            let name = format!("{host}-{}-{i}", std::process::id());
            tokio::spawn(worker_loop(state.clone(), name, stop.clone(), cpu.clone()))
        })
        .collect();
    if n > 0 {
        handles.push(tokio::spawn(maintenance(state.clone(), stop)));
    }
    handles
}

async fn worker_loop(state: AppState, name: String, mut stop: watch::Receiver<bool>, cpu: Arc<Semaphore>) {
    let notify = state.queue.notified();
    while !*stop.borrow() {
        match state.queue.claim(&name, state.config.job_lease).await {
            Ok(Some(job)) => run_one(&state, &name, job, &cpu).await,
            Ok(None) => {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "cannot claim jobs");
                tokio::time::sleep(POLL * 4).await;
            }
        }
    }
}

async fn run_one(state: &AppState, worker: &str, job: Job, cpu: &Semaphore) {
    tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
    let lease = state.config.job_lease;
    let hb = {
        let queue = state.queue.clone();
        let (id, w) = (job.id, worker.to_string());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match queue.heartbeat(id, &w, lease).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => tracing::warn!(job = %id, error = %e, "heartbeat failed"),
                }
            }
        })
    };
    let outcome = match job.kind.as_str() {
        pipeline::KIND => pipeline::run(state, &job, cpu).await,
        "maintenance" => maintenance_once(state).await,
        other => Err(JobError::Permanent(format!("unknown job kind `{other}`"))),
    };
    hb.abort();
    let user = job.user_id;
    let document = job.payload.get("document_id").cloned().unwrap_or(Value::Null);
    let publish = |kind: &'static str, data: Value| async move {
        if let Some(u) = user {
            let _ = state.events.publish(u, kind, data).await;
        }
    };
    match outcome {
        Ok(result) => {
            if let Err(e) = state.queue.succeed(job.id, worker, &result).await {
                tracing::error!(job = %job.id, error = %e, "cannot record success");
            }
            publish(
                "job.completed",
                json!({"job_id": job.id, "document_id": document, "result": result}),
            )
            .await;
            tracing::info!(job = %job.id, "job succeeded");
        }
        Err(JobError::Cancelled) => {
            let _ = state.queue.mark_cancelled(job.id).await;
            if let Some(d) = document.as_str().and_then(|d| d.parse().ok()) {
                let _ = pipeline::set_status(state, d, "failed", Some("analysis cancelled")).await;
            }
            publish("job.cancelled", json!({"job_id": job.id, "document_id": document})).await;
        }
        Err(e) => {
            let permanent = matches!(e, JobError::Permanent(_));
            let mut job = job;
            if permanent {
                job.attempts = job.max_attempts;
            }
            let msg = e.to_string();
            let status = state.queue.fail(&job, worker, &msg).await.unwrap_or("queued");
            tracing::warn!(job = %job.id, error = %msg, status, "job attempt failed");
            if status == "dead" {
                if let Some(d) = document.as_str().and_then(|d| d.parse().ok()) {
                    let _ = pipeline::set_status(state, d, "failed", Some(&msg)).await;
                }
                publish(
                    "job.failed",
                    json!({"job_id": job.id, "document_id": document, "error": msg}),
                )
                .await;
            } else {
                publish(
                    "job.retrying",
                    json!({"job_id": job.id, "document_id": document, "error": msg, "attempt": job.attempts}),
                )
                .await;
            }
        }
    }
}

/// Purges expired tokens and old events, puts back jobs stuck with an
/// expired lease, and removes orphaned files (see [`remove_orphans`]).
pub async fn maintenance_once(state: &AppState) -> Result<Value, JobError> {
    let tokens = state.tokens.purge_expired(&state.db).await?;
    let events = state.events.purge_older_than(Duration::from_secs(7 * 86_400)).await?;
    let requeued = state.queue.requeue_stuck().await?;
    let (blobs, temp) = remove_orphans(state, state.config.orphan_grace).await?;
    Ok(json!({
        "tokens_purged": tokens,
        "events_purged": events,
        "jobs_requeued": requeued,
        "orphaned_blobs_removed": blobs,
        "temp_files_removed": temp,
    }))
}

/// Removes stored blobs that no `documents` row refers to, and temporary
/// uploads, once they are older than `grace`; returns (blobs, temp files).
///
/// A blob is committed before its row is written, so a blob without a row is
/// either an upload between the two steps (young: the grace period spares
/// it; a re-upload of existing content refreshes a local blob's time) or an
/// orphan left by a crash or a failed delete. Each candidate's row and time
/// are checked again just before it is removed, which leaves only the
/// milliseconds between that check and the delete for an identical upload to
/// race with.
pub async fn remove_orphans(state: &AppState, grace: Duration) -> Result<(usize, usize), JobError> {
    let storage_err = |e: crate::storage::StorageError| JobError::Retry(e.to_string());
    let cutoff = std::time::SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(std::time::UNIX_EPOCH);
    let temp = state.storage.remove_stale_temp(cutoff).await.map_err(storage_err)?;
    let old: Vec<String> = state
        .storage
        .blobs()
        .await
        .map_err(storage_err)?
        .into_iter()
        .filter(|b| b.modified < cutoff)
        .map(|b| b.sha256)
        .collect();
    if old.is_empty() {
        return Ok((0, temp));
    }
    let referenced: std::collections::HashSet<String> = state
        .db
        .fetch_all("SELECT DISTINCT sha256 FROM documents", &[])
        .await?
        .iter()
        .map(|r| r.get::<String>("sha256"))
        .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for sha in old.into_iter().filter(|s| !referenced.contains(s)) {
        // Check and delete under the blob's lock, so an upload registering
        // the same content waits or sees the blob gone (and says so).
        let mut tx = state.db.begin().await?;
        crate::storage::lock_blob(&mut tx, state.db.backend(), &sha).await?;
        let rows = match tx
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM documents WHERE sha256 = $1",
                &crate::params![sha.as_str()],
            )
            .await?
        {
            Some(r) => r.get::<i64>("n")?,
            None => 0,
        };
        let still_old = state
            .storage
            .modified(&sha)
            .await
            .map_err(storage_err)?
            .is_some_and(|t| t < cutoff);
        if rows == 0 && still_old {
            state.storage.delete(&sha).await.map_err(storage_err)?;
            tracing::info!(sha256 = %sha, "removed an orphaned blob");
            removed += 1;
        }
        tx.commit().await?;
    }
    Ok((removed, temp))
}

/// Runs maintenance every hour (every process does; the work is idempotent).
async fn maintenance(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {
                match maintenance_once(&state).await {
                    Ok(v) => tracing::debug!(result = %v, "maintenance"),
                    Err(e) => tracing::warn!(error = %e, "maintenance failed"),
                }
            }
            _ = stop.changed() => {
                if *stop.borrow() { return; }
            }
        }
    }
}
