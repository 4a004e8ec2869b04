//! Argon2id password hashing off the async runtime, with bounded concurrency.
//!
//! Hashes run on a small pool of dedicated threads (one per permitted
//! concurrent hash) rather than on tokio's blocking pool: each Argon2id hash
//! allocates 19 MiB, and the allocator keeps a per-thread arena, so spreading
//! hashes over the blocking pool's many threads let the process grow to
//! hundreds of MB under a login flood. With a fixed pool, memory stays at
//! about `concurrency × 19 MiB`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords on blocking threads, at most `permits` at a
/// time (each hash takes ~19 MiB and a core for tens of milliseconds).
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    pool: std::sync::mpsc::Sender<Task>,
    /// Verified against when the user does not exist, so an unknown username
    /// takes as long as a wrong password and usernames cannot be probed.
    dummy: Arc<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing was cancelled")]
    Cancelled,
}

type Task = Box<dyn FnOnce() + Send>;

/// Starts `n` threads that run tasks from one queue.
fn start_pool(n: usize) -> std::sync::mpsc::Sender<Task> {
    let (tx, rx) = std::sync::mpsc::channel::<Task>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        let _ = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
            loop {
                let task = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                match task {
                    Ok(task) => task(),
                    Err(_) => return, // every hasher is gone
                }
            }
        });
    }
    tx
}

fn hash_sync(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&super::random_bytes::<16>()).map_err(|e| HashError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

fn verify_sync(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            pool: start_pool(concurrency.max(1)),
            dummy: Arc::new(hash_sync("dramatis-dummy-password")?),
        })
    }

    /// Waits for a permit (cancellable: a request that goes away never
    /// hashes), then runs `f` on the pool.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Cancelled)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| HashError::Cancelled)?;
        rx.await.map_err(|_| HashError::Cancelled)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let pw = password.to_string();
        self.run(move || hash_sync(&pw)).await?
    }

    /// Whether `password` matches `hash`; `None` verifies against a dummy hash
    /// and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, HashError> {
        let pw = password.to_string();
        let (hash, real) = match hash {
            Some(h) => (h.to_string(), true),
            None => (self.dummy.as_str().to_string(), false),
        };
        let ok = self.run(move || verify_sync(&pw, &hash)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = PasswordHasher::new(2).unwrap();
        let hash = h.hash("testpass123").await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(h.verify("testpass123", Some(&hash)).await.unwrap());
        assert!(!h.verify("testpass124", Some(&hash)).await.unwrap());
        assert!(!h.verify("testpass123", None).await.unwrap());
        assert!(!h.verify("x", Some("not a hash")).await.unwrap());
    }
}
