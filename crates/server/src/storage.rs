//! Original files, content-addressed by SHA-256: identical uploads are
//! stored once, under `blobs/ab/cd/<sha256>`, in a local directory (the
//! default) or in an S3-compatible bucket (`s3://bucket/prefix`).
//!
//! An upload is never held in memory. It streams into a temporary file while
//! its hash is computed ([`Storage::begin`], [`PendingBlob::write`],
//! [`PendingBlob::finish`]); only then, with the content address known, is it
//! committed:
//!
//! - **local**: the temporary file (under `<root>/tmp`, on the same
//!   filesystem) is renamed to its address. A rename is atomic, so a blob is
//!   whole or absent, never half written.
//! - **S3**: the temporary file (spooled under `$TMPDIR/dramatis-uploads/`)
//!   is uploaded *directly to its final key*, as one PUT when smaller than
//!   [`PART_BYTES`] and as a multipart upload otherwise. We do not write a
//!   temporary key and copy it: S3 makes an object visible only when its PUT
//!   (or `CompleteMultipartUpload`) succeeds, so a reader sees the whole
//!   object or none, which is the atomicity the copy would buy, and the key
//!   is only chosen once the hash is known, so nothing incomplete ever sits at
//!   a content address. A copy would double the bytes moved (and needs
//!   multipart copy above 5 GB). A crash mid-upload leaves at most the parts of
//!   an unfinished multipart upload, invisible to every read and list; failed
//!   uploads are aborted, and a bucket lifecycle rule
//!   (`AbortIncompleteMultipartUpload`) reclaims what a killed process left.
//!
//! The database row is written after the commit, so a row always has its
//! blob; a blob without a row (a crash between the two, or a failed delete)
//! is an orphan that the periodic maintenance removes once it is older than a
//! grace period ([`Storage::blobs`], [`Storage::remove_stale_temp`]).
//! Deleting a blob is otherwise the caller's decision (only when no document
//! refers to it any more).

use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Part size of S3 multipart uploads (S3's minimum, so up to 50 GB in its
/// 10,000 parts). One part is in flight while the next fills, so an upload to
/// S3 holds about two parts in memory.
pub const PART_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("object storage error at {key}: {source}")]
    Object { key: String, source: object_store::Error },
    #[error("invalid storage URL {url}: {why}")]
    Config { url: String, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn obj(key: &ObjectPath) -> impl FnOnce(object_store::Error) -> StorageError + '_ {
    move |source| StorageError::Object {
        key: key.to_string(),
        source,
    }
}

/// Where original files live; cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Backend,
    /// Temporary files of uploads in progress.
    spool: PathBuf,
}

#[derive(Debug, Clone)]
enum Backend {
    Local {
        root: PathBuf,
    },
    S3 {
        store: Arc<dyn ObjectStore>,
        bucket: String,
        /// Key prefix without leading or trailing `/` (may be empty).
        prefix: String,
        endpoint: String,
    },
}

/// A stored blob, as listed for maintenance.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    pub sha256: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// A file being written; dropped without [`Storage::commit`] it is removed.
pub struct PendingBlob {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    pub size: u64,
    /// The first bytes, kept for content sniffing without reading back.
    pub head: Vec<u8>,
}

const HEAD_BYTES: usize = 64 * 1024;

impl PendingBlob {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        if let Some(f) = self.file.as_mut() {
            f.write_all(chunk).await.map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// The temporary file (always local), for inspection before commit.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn finish(&mut self) -> Result<String, StorageError> {
        if let Some(mut f) = self.file.take() {
            f.flush().await.map_err(io(&self.path))?;
            f.sync_all().await.map_err(io(&self.path))?;
        }
        Ok(hex::encode(std::mem::take(&mut self.hasher).finalize()))
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        // Still here means it was not committed (or was uploaded from here):
        // remove the temporary file.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `ab/cd/<sha256>`: two levels keep local directories small.
fn blob_rel(sha256: &str) -> String {
    let a = &sha256[..2.min(sha256.len())];
    let b = &sha256[2.min(sha256.len())..4.min(sha256.len())];
    format!("{a}/{b}/{sha256}")
}

/// An object's time (milliseconds since the epoch) as a `SystemTime`.
fn system_time(millis: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0) as u64)
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl Storage {
    /// Opens the storage named by `DRAMATIS_STORAGE_URL`: a directory
    /// (optionally `file://DIR`), or `s3://bucket/prefix`.
    ///
    /// For S3 the endpoint, credentials and region come from the standard
    /// `AWS_*` environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
    /// `AWS_ALLOW_HTTP`); query parameters on the URL override them, with the
    /// same names in lower case without `aws_` (`?endpoint=http://…&region=…`;
    /// the configuration puts `DRAMATIS_S3_ENDPOINT` there). An `http://`
    /// endpoint allows plain HTTP. Nothing is contacted here: a wrong
    /// endpoint shows in `/health/detailed` and on first use.
    pub fn open(url: &str) -> Result<Storage, StorageError> {
        if url.starts_with("s3://") {
            return Self::open_s3(url);
        }
        let root = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        for dir in [root.join("blobs"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        Ok(Storage {
            spool: root.join("tmp"),
            backend: Backend::Local { root },
        })
    }

    fn open_s3(raw: &str) -> Result<Storage, StorageError> {
        let bad = |why: String| StorageError::Config {
            url: raw.split('?').next().unwrap_or(raw).to_string(),
            why,
        };
        let url = url::Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad("no bucket name".into()))?
            .to_string();
        let prefix = url.path().trim_matches('/').to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        for (k, v) in url.query_pairs() {
            let key: AmazonS3ConfigKey = k.parse().map_err(|_| bad(format!("unknown S3 option `{k}`")))?;
            builder = builder.with_config(key, v.as_ref());
        }
        let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
        if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) {
            builder = builder.with_allow_http(true);
        }
        // A down endpoint must not stall a health check or an upload for the
        // default three minutes of retries.
        let retry = object_store::RetryConfig {
            max_retries: 4,
            retry_timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        let store = builder.with_retry(retry).build().map_err(|e| bad(e.to_string()))?;
        // One spool directory per bucket and prefix, so maintenance of one
        // storage never touches another's uploads.
        let tag: String = format!("{bucket}/{prefix}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let spool = std::env::temp_dir().join("dramatis-uploads").join(tag);
        std::fs::create_dir_all(&spool).map_err(io(&spool))?;
        Ok(Storage {
            spool,
            backend: Backend::S3 {
                store: Arc::new(store),
                bucket,
                prefix,
                endpoint: endpoint.unwrap_or_else(|| "AWS".into()),
            },
        })
    }

    fn key(prefix: &str, rel: &str) -> ObjectPath {
        if prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{prefix}/{rel}"))
        }
    }

    fn blob_path(root: &Path, sha256: &str) -> PathBuf {
        root.join("blobs").join(blob_rel(sha256))
    }

    pub async fn begin(&self) -> Result<PendingBlob, StorageError> {
        let path = self.spool.join(format!("{}.part", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
        Ok(PendingBlob {
            path,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Stores a finished upload at its content address (or drops it if that
    /// content is already stored). The temporary file is gone afterwards.
    pub async fn commit(&self, pending: PendingBlob, sha256: &str) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let dest = Self::blob_path(root, sha256);
                if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
                    // Identical content already stored; `pending` removes its
                    // file on drop. Touch the blob so that maintenance, which
                    // only removes unreferenced blobs older than its grace
                    // period, cannot take it before our row is written.
                    let d = dest.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        std::fs::File::options()
                            .append(true)
                            .open(&d)
                            .and_then(|f| f.set_modified(SystemTime::now()))
                    })
                    .await;
                    return Ok(());
                }
                if let Some(dir) = dest.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
                }
                tokio::fs::rename(&pending.path, &dest).await.map_err(io(&dest))?;
                Ok(())
            }
            Backend::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("blobs/{}", blob_rel(sha256)));
                match store.head(&key).await {
                    Ok(_) => return Ok(()), // identical content already stored
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(obj(&key)(e)),
                }
                let mut file = tokio::fs::File::open(&pending.path).await.map_err(io(&pending.path))?;
                // One PUT below PART_BYTES, a multipart upload above; either
                // way the object appears at `key` only when complete.
                let mut w = BufWriter::with_capacity(store.clone(), key.clone(), PART_BYTES).with_max_concurrency(1);
                let mut buf = vec![0u8; 1024 * 1024];
                let copied: Result<(), StorageError> = async {
                    loop {
                        let n = file.read(&mut buf).await.map_err(io(&pending.path))?;
                        if n == 0 {
                            break;
                        }
                        w.write_all(&buf[..n]).await.map_err(|e| StorageError::Object {
                            key: key.to_string(),
                            source: object_store::Error::Generic {
                                store: "S3",
                                source: Box::new(e),
                            },
                        })?;
                    }
                    w.shutdown().await.map_err(|e| StorageError::Object {
                        key: key.to_string(),
                        source: object_store::Error::Generic {
                            store: "S3",
                            source: Box::new(e),
                        },
                    })
                }
                .await;
                if copied.is_err() {
                    let _ = w.abort().await; // leaves no parts behind
                }
                copied
            }
        }
    }

    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let p = Self::blob_path(root, sha256);
                tokio::fs::read(&p).await.map_err(io(&p))
            }
            Backend::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("blobs/{}", blob_rel(sha256)));
                let got = store.get(&key).await.map_err(obj(&key))?;
                let bytes = got.bytes().await.map_err(obj(&key))?;
                Ok(bytes.to_vec())
            }
        }
    }

    pub async fn exists(&self, sha256: &str) -> bool {
        self.modified(sha256).await.ok().flatten().is_some()
    }

    /// When the blob was stored (or last re-committed), if it exists.
    pub async fn modified(&self, sha256: &str) -> Result<Option<SystemTime>, StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let p = Self::blob_path(root, sha256);
                match tokio::fs::metadata(&p).await {
                    Ok(m) => Ok(Some(m.modified().map_err(io(&p))?)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io(&p)(e)),
                }
            }
            Backend::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("blobs/{}", blob_rel(sha256)));
                match store.head(&key).await {
                    Ok(m) => Ok(Some(system_time(m.last_modified.timestamp_millis()))),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(obj(&key)(e)),
                }
            }
        }
    }

    pub async fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let p = Self::blob_path(root, sha256);
                match tokio::fs::remove_file(&p).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io(&p)(e)),
                }
            }
            Backend::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("blobs/{}", blob_rel(sha256)));
                match store.delete(&key).await {
                    Err(e) if !is_not_found(&e) => Err(obj(&key)(e)),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Every stored blob with its size and time, for maintenance (orphans).
    pub async fn blobs(&self) -> Result<Vec<BlobInfo>, StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let dir = root.join("blobs");
                tokio::task::spawn_blocking(move || list_local_blobs(&dir))
                    .await
                    .map_err(|e| StorageError::Io {
                        path: "blobs".into(),
                        source: std::io::Error::other(e),
                    })?
            }
            Backend::S3 { store, prefix, .. } => {
                let base = Self::key(prefix, "blobs");
                let mut out = Vec::new();
                let mut list = store.list(Some(&base));
                while let Some(m) = list.next().await {
                    let m = m.map_err(obj(&base))?;
                    if let Some(name) = m.location.filename()
                        && is_sha256(name)
                    {
                        out.push(BlobInfo {
                            sha256: name.to_string(),
                            size: m.size,
                            modified: system_time(m.last_modified.timestamp_millis()),
                        });
                    }
                }
                Ok(out)
            }
        }
    }

    /// Removes temporary files (interrupted uploads, health probes) last
    /// written before `cutoff`; returns how many. Uploads in progress are
    /// younger than any sensible cutoff (each write updates the time).
    pub async fn remove_stale_temp(&self, cutoff: SystemTime) -> Result<usize, StorageError> {
        let spool = self.spool.clone();
        let mut removed = tokio::task::spawn_blocking(move || remove_old_files(&spool, cutoff))
            .await
            .map_err(|e| StorageError::Io {
                path: "tmp".into(),
                source: std::io::Error::other(e),
            })??;
        if let Backend::S3 { store, prefix, .. } = &self.backend {
            let base = Self::key(prefix, "tmp");
            let mut old = Vec::new();
            let mut list = store.list(Some(&base));
            while let Some(m) = list.next().await {
                let m = m.map_err(obj(&base))?;
                if system_time(m.last_modified.timestamp_millis()) < cutoff {
                    old.push(m.location);
                }
            }
            for key in old {
                match store.delete(&key).await {
                    Err(e) if !is_not_found(&e) => return Err(obj(&key)(e)),
                    _ => removed += 1,
                }
            }
        }
        Ok(removed)
    }

    /// Writes and removes a probe (for `/health/detailed`).
    pub async fn check_writable(&self) -> Result<(), StorageError> {
        let name = format!(".probe-{}", uuid::Uuid::new_v4());
        match &self.backend {
            Backend::Local { root } => {
                let p = root.join("tmp").join(name);
                tokio::fs::write(&p, b"ok").await.map_err(io(&p))?;
                tokio::fs::remove_file(&p).await.map_err(io(&p))
            }
            Backend::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, &format!("tmp/{name}"));
                store
                    .put(&key, PutPayload::from_static(b"ok"))
                    .await
                    .map_err(obj(&key))?;
                store.delete(&key).await.map_err(obj(&key))
            }
        }
    }

    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local { root } => format!("local:{}", root.display()),
            Backend::S3 {
                bucket,
                prefix,
                endpoint,
                ..
            } => format!("s3://{bucket}/{prefix} at {endpoint}"),
        }
    }

    /// Where uploads in progress are spooled (local in every backend).
    pub fn spool_dir(&self) -> &Path {
        &self.spool
    }
}

fn list_local_blobs(dir: &Path) -> Result<Vec<BlobInfo>, StorageError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&d)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&d))?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // removed meanwhile
                Err(e) => return Err(io(&entry.path())(e)),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Some(name) = entry.file_name().to_str()
                && is_sha256(name)
            {
                out.push(BlobInfo {
                    sha256: name.to_string(),
                    size: meta.len(),
                    modified: meta.modified().map_err(io(&entry.path()))?,
                });
            }
        }
    }
    Ok(out)
}

fn remove_old_files(dir: &Path, cutoff: SystemTime) -> Result<usize, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() && meta.modified().is_ok_and(|t| t < cutoff) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&entry.path())(e)),
            }
        }
    }
    Ok(removed)
}

/// Serialises everything that decides a blob's fate — a new row referring to
/// it, and the check-then-delete of an unreferenced one (document delete,
/// orphan sweep) — within the caller's transaction. Without it a delete could
/// count no rows, an identical upload then register its row (its blob "already
/// stored"), and the delete remove the file under it. On PostgreSQL an advisory
/// lock keyed by the hash; on SQLite the transaction already holds the only
/// writer.
pub async fn lock_blob(
    tx: &mut crate::db::Tx,
    backend: crate::db::Backend,
    sha256: &str,
) -> Result<(), crate::db::DbError> {
    if backend == crate::db::Backend::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &crate::params![sha256])
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_are_parsed_without_contacting_anything() {
        let s = Storage::open("s3://my-bucket/some/prefix/?endpoint=http://127.0.0.1:1&region=eu-west-1").unwrap();
        assert_eq!(s.describe(), "s3://my-bucket/some/prefix at http://127.0.0.1:1");
        assert!(s.spool_dir().ends_with("dramatis-uploads/my-bucket_some_prefix"));
        assert!(matches!(
            Storage::open("s3://b?no_such_option=1"),
            Err(StorageError::Config { .. })
        ));
        assert!(matches!(Storage::open("s3:///x"), Err(StorageError::Config { .. })));
    }

    #[test]
    fn keys_and_paths_share_one_layout() {
        let sha = "ab".repeat(32);
        assert_eq!(blob_rel(&sha), format!("ab/ab/{sha}"));
        assert_eq!(Storage::key("", "blobs/x").as_ref(), "blobs/x");
        assert_eq!(Storage::key("p/q", "blobs/x").as_ref(), "p/q/blobs/x");
        assert!(is_sha256(&sha) && !is_sha256("abc"));
    }
}
