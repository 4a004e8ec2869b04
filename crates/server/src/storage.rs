//! Original files, content-addressed by SHA-256: identical uploads are
//! stored once.
//!
//! An upload streams into a temporary file under the storage root while its
//! hash is computed, then is renamed into `blobs/ab/cd/<sha256>`; a rename on
//! one filesystem is atomic, so a blob is either whole or absent, never half
//! written. Deleting a blob is the caller's decision (only when no document
//! refers to it any more).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("storage URL not supported yet: {0}")]
    Unsupported(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Local directory storage.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
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

    /// The temporary file, for inspection before commit.
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
        // Still here means it was not committed: remove the temporary file.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Storage {
    /// Opens the storage named by `DRAMATIS_STORAGE_URL` (a directory).
    pub fn open(url: &str) -> Result<Storage, StorageError> {
        if url.starts_with("s3://") {
            return Err(StorageError::Unsupported(url.to_string()));
        }
        let root = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        for dir in [root.join("blobs"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        Ok(Storage { root })
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        let (a, b) = (
            &sha256[..2.min(sha256.len())],
            &sha256[2.min(sha256.len())..4.min(sha256.len())],
        );
        self.root.join("blobs").join(a).join(b).join(sha256)
    }

    pub async fn begin(&self) -> Result<PendingBlob, StorageError> {
        let path = self.root.join("tmp").join(format!("{}.part", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&path).await.map_err(io(&path))?;
        Ok(PendingBlob {
            path,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Moves a finished upload to its content address (or drops it if that
    /// content is already stored).
    pub async fn commit(&self, pending: PendingBlob, sha256: &str) -> Result<(), StorageError> {
        let dest = self.blob_path(sha256);
        if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            return Ok(()); // identical content already stored; `pending` removes its file on drop
        }
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        }
        tokio::fs::rename(&pending.path, &dest).await.map_err(io(&dest))?;
        Ok(())
    }

    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let p = self.blob_path(sha256);
        tokio::fs::read(&p).await.map_err(io(&p))
    }

    pub fn local_path(&self, sha256: &str) -> PathBuf {
        self.blob_path(sha256)
    }

    pub async fn exists(&self, sha256: &str) -> bool {
        tokio::fs::try_exists(self.blob_path(sha256)).await.unwrap_or(false)
    }

    pub async fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        let p = self.blob_path(sha256);
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// Writes and removes a probe file (for `/health/detailed`).
    pub async fn check_writable(&self) -> Result<(), StorageError> {
        let p = self.root.join("tmp").join(format!(".probe-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&p, b"ok").await.map_err(io(&p))?;
        tokio::fs::remove_file(&p).await.map_err(io(&p))
    }

    pub fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}
