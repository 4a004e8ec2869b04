//! Configuration: `DRAMATIS_*` environment variables, also read from `.env`
//! and an optional `dramatis.toml`, validated once at start.
//!
//! Precedence, highest first: the process environment, `.env` (which never
//! overrides a variable already set), `dramatis.toml` (keys are the variable
//! names without the prefix, in lower case: `bind = "0.0.0.0:8000"`), the
//! defaults. Every bad value is reported with the variable's name and what is
//! wrong with it, all of them at once, so an operator fixes a file in one go.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Development (default) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub storage_url: String,
    /// Unreferenced blobs and temporary uploads older than this are removed
    /// by maintenance (longer than any upload may take).
    pub orphan_grace: Duration,
    pub redis_url: Option<String>,
    /// `None` in development until the generated key is loaded from the data dir.
    pub secret_key: Option<String>,
    pub cors_origins: Vec<String>,
    pub max_upload_bytes: u64,
    pub llm_base_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_api_key: Option<String>,
    pub llm_timeout: Duration,
    pub llm_max_retries: u32,
    pub llm_context_tokens: usize,
    /// Bytes of per-document search indexes kept in memory.
    pub retrieval_cache_bytes: usize,
    /// Bytes of serialised list pages kept in memory (0: none).
    pub page_cache_bytes: usize,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub request_timeout: Duration,
    pub db_max_connections: u32,
    pub log_filter: String,
    /// Concurrent password hashes (Argon2id is memory- and CPU-hungry).
    pub hash_concurrency: usize,
    /// Job workers inside `serve` (0: none, jobs wait for `dramatis worker`).
    pub workers: usize,
    /// How long a claimed job stays a worker's without a heartbeat.
    pub job_lease: Duration,
}

/// Everything wrong with the configuration, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// Every setting: name, default (None = unset), and what it is for.
/// `.env.example` is generated from the same text by hand; keep them in step.
pub const SETTINGS: &[(&str, Option<&str>, &str)] = &[
    ("DRAMATIS_ENV", Some("development"), "development or production"),
    ("DRAMATIS_BIND", Some("127.0.0.1:8000"), "address:port to listen on"),
    (
        "DRAMATIS_DATA_DIR",
        Some("./data"),
        "where the SQLite file, uploads and the dev secret live",
    ),
    (
        "DRAMATIS_DATABASE_URL",
        None,
        "sqlite://PATH (default DATA_DIR/dramatis.db) or postgres://…",
    ),
    (
        "DRAMATIS_STORAGE_URL",
        None,
        "local directory (default DATA_DIR/files) or s3://bucket/prefix",
    ),
    (
        "DRAMATIS_S3_ENDPOINT",
        None,
        "S3-compatible endpoint for s3:// storage (default: AWS_ENDPOINT_URL, else AWS)",
    ),
    (
        "DRAMATIS_ORPHAN_GRACE_SECS",
        Some("7200"),
        "maintenance removes unreferenced files and stale temporary uploads older than this",
    ),
    (
        "DRAMATIS_REDIS_URL",
        None,
        "redis://… for cross-instance events (optional)",
    ),
    (
        "DRAMATIS_SECRET_KEY",
        None,
        "JWT signing key, at least 32 characters; required in production",
    ),
    (
        "DRAMATIS_CORS_ORIGINS",
        Some("http://localhost:8501,http://localhost:3000"),
        "comma-separated allowed origins, or *",
    ),
    ("DRAMATIS_MAX_UPLOAD_MB", Some("100"), "largest accepted upload, in MiB"),
    (
        "DRAMATIS_LLM_BASE_URL",
        None,
        "OpenAI-compatible server, e.g. http://localhost:11434/v1",
    ),
    ("DRAMATIS_LLM_MODEL", None, "model name for chat"),
    (
        "DRAMATIS_LLM_API_KEY",
        None,
        "API key for the LLM server, if it needs one",
    ),
    (
        "DRAMATIS_LLM_TIMEOUT_SECS",
        Some("120"),
        "longest wait for a whole reply, and for each streamed chunk",
    ),
    (
        "DRAMATIS_LLM_MAX_RETRIES",
        Some("2"),
        "retries on 429/5xx/connection errors before the first token",
    ),
    (
        "DRAMATIS_LLM_CONTEXT_TOKENS",
        Some("8192"),
        "the model's context window; the prompt is fitted into it",
    ),
    (
        "DRAMATIS_RETRIEVAL_CACHE_MB",
        Some("256"),
        "memory for cached per-document search indexes",
    ),
    (
        "DRAMATIS_PAGE_CACHE_MB",
        Some("32"),
        "memory for list pages reused while the database is unchanged (0 turns it off)",
    ),
    ("DRAMATIS_ACCESS_TOKEN_MINUTES", Some("15"), "lifetime of access tokens"),
    ("DRAMATIS_REFRESH_TOKEN_DAYS", Some("30"), "lifetime of refresh tokens"),
    (
        "DRAMATIS_REQUEST_TIMEOUT_SECS",
        Some("30"),
        "timeout for ordinary requests (uploads get longer)",
    ),
    ("DRAMATIS_DB_MAX_CONNECTIONS", Some("16"), "PostgreSQL pool size"),
    ("DRAMATIS_LOG", Some("info"), "log filter (tracing EnvFilter syntax)"),
    (
        "DRAMATIS_HASH_CONCURRENCY",
        None,
        "concurrent password hashes (default: number of CPUs)",
    ),
    (
        "DRAMATIS_WORKERS",
        Some("2"),
        "job workers inside serve (0: jobs wait for `dramatis worker`)",
    ),
    (
        "DRAMATIS_JOB_LEASE_SECS",
        Some("30"),
        "how long a claimed job stays a worker's without a heartbeat",
    ),
];

/// Where the raw values come from; tests build one directly.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub vars: BTreeMap<String, String>,
}

impl Sources {
    /// Reads `dramatis.toml` (if present in the working directory or named by
    /// `DRAMATIS_CONFIG`), then `.env`, then the process environment.
    pub fn from_process() -> Result<Sources, ConfigError> {
        let mut vars = BTreeMap::new();
        let toml_path = std::env::var("DRAMATIS_CONFIG").unwrap_or_else(|_| "dramatis.toml".into());
        if Path::new(&toml_path).exists() {
            let text = std::fs::read_to_string(&toml_path)
                .map_err(|e| ConfigError(vec![format!("{toml_path}: cannot read: {e}")]))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| ConfigError(vec![format!("{toml_path}: not valid TOML: {e}")]))?;
            for (k, v) in table {
                let value = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                vars.insert(format!("DRAMATIS_{}", k.to_ascii_uppercase()), value);
            }
        }
        // `.env` never overrides the real environment (dotenvy's rule).
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError(vec![format!(".env: {e}")])),
        }
        for (k, v) in std::env::vars_os() {
            let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else {
                continue;
            };
            if k.starts_with("DRAMATIS_") {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        Ok(Sources { vars })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|s| !s.trim().is_empty())
    }
}

fn default_of(name: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(n, _, _)| *n == name).and_then(|(_, d, _)| *d)
}

struct Checker<'a> {
    src: &'a Sources,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        self.src
            .get(name)
            .map(|s| s.trim().to_string())
            .or_else(|| default_of(name).map(str::to_string))
    }

    fn number<T>(&mut self, name: &str, min: T, max: T) -> Option<T>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let raw = self.raw(name)?;
        match raw.parse::<T>() {
            Ok(v) if v >= min && v <= max => Some(v),
            Ok(_) => {
                self.errors
                    .push(format!("{name}={raw}: must be between {min} and {max}"));
                None
            }
            Err(_) => {
                self.errors.push(format!("{name}={raw}: not a whole number"));
                None
            }
        }
    }

    fn url(&mut self, name: &str, schemes: &[&str]) -> Option<String> {
        let raw = self.raw(name)?;
        if schemes.iter().any(|s| raw.starts_with(&format!("{s}://"))) {
            Some(raw)
        } else {
            self.errors.push(format!(
                "{name}={raw}: must start with {}",
                schemes.join(":// or ") + "://"
            ));
            None
        }
    }
}

/// Why a secret is too weak to sign tokens with, if it is.
pub fn weak_secret(secret: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &[
        "changeme",
        "secret",
        "your-secret-key",
        "dev",
        "development",
        "password",
    ];
    let lower = secret.to_ascii_lowercase();
    if secret.chars().count() < 32 {
        Some("shorter than 32 characters")
    } else if KNOWN.iter().any(|k| lower.contains(k)) {
        Some("contains a well-known placeholder")
    } else if secret.chars().collect::<std::collections::BTreeSet<_>>().len() < 10 {
        Some("has fewer than 10 distinct characters")
    } else {
        None
    }
}

impl Config {
    /// Loads and validates from the process (env, `.env`, `dramatis.toml`).
    pub fn load() -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_process()?)
    }

    /// Validates raw values; every problem is collected before failing.
    pub fn from_sources(src: &Sources) -> Result<Config, ConfigError> {
        let mut c = Checker {
            src,
            errors: Vec::new(),
        };
        let env = match c.raw("DRAMATIS_ENV").as_deref() {
            Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            other => {
                c.errors.push(format!(
                    "DRAMATIS_ENV={}: must be development or production",
                    other.unwrap_or_default()
                ));
                Environment::Development
            }
        };
        let bind_raw = c.raw("DRAMATIS_BIND").unwrap_or_default();
        let bind = match bind_raw.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                c.errors.push(format!(
                    "DRAMATIS_BIND={bind_raw}: not an address:port such as 127.0.0.1:8000"
                ));
                SocketAddr::from(([127, 0, 0, 1], 8000))
            }
        };
        let data_dir = PathBuf::from(c.raw("DRAMATIS_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match c.src.get("DRAMATIS_DATABASE_URL") {
            Some(_) => c
                .url("DRAMATIS_DATABASE_URL", &["sqlite", "postgres", "postgresql"])
                .unwrap_or_default(),
            None => format!("sqlite://{}", data_dir.join("dramatis.db").display()),
        };
        let storage_url = match c.src.get("DRAMATIS_STORAGE_URL") {
            Some(raw) if raw.contains("://") && !raw.starts_with("file://") && !raw.starts_with("s3://") => {
                c.errors.push(format!(
                    "DRAMATIS_STORAGE_URL={raw}: must be a directory, file://DIR or s3://bucket/prefix"
                ));
                String::new()
            }
            Some(raw) => raw.trim().to_string(),
            None => data_dir.join("files").display().to_string(),
        };
        // The endpoint travels as a query parameter of the s3:// URL (see `Storage::open`).
        let storage_url = match c.src.get("DRAMATIS_S3_ENDPOINT") {
            Some(e) if storage_url.starts_with("s3://") && !storage_url.contains("endpoint=") => {
                let sep = if storage_url.contains('?') { '&' } else { '?' };
                format!("{storage_url}{sep}endpoint={}", e.trim())
            }
            _ => storage_url,
        };
        let orphan_grace = c
            .number::<u64>("DRAMATIS_ORPHAN_GRACE_SECS", 0, 30 * 86_400)
            .unwrap_or(7200);
        let redis_url = if c.src.get("DRAMATIS_REDIS_URL").is_some() {
            c.url("DRAMATIS_REDIS_URL", &["redis", "rediss"])
        } else {
            None
        };
        let secret_key = c.src.get("DRAMATIS_SECRET_KEY").map(str::to_string);
        if env == Environment::Production {
            match &secret_key {
                None => c
                    .errors
                    .push("DRAMATIS_SECRET_KEY: required in production (at least 32 random characters)".into()),
                Some(s) => {
                    if let Some(why) = weak_secret(s) {
                        c.errors
                            .push(format!("DRAMATIS_SECRET_KEY: too weak for production: {why}"));
                    }
                }
            }
        } else if let Some(s) = &secret_key
            && s.chars().count() < 16
        {
            c.errors.push("DRAMATIS_SECRET_KEY: shorter than 16 characters".into());
        }
        let cors_origins: Vec<String> = c
            .raw("DRAMATIS_CORS_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for o in &cors_origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                c.errors.push(format!(
                    "DRAMATIS_CORS_ORIGINS: `{o}` is not an origin such as https://example.com"
                ));
            }
        }
        let max_upload_mb = c.number::<u64>("DRAMATIS_MAX_UPLOAD_MB", 1, 10_240).unwrap_or(100);
        let llm_base_url = if c.src.get("DRAMATIS_LLM_BASE_URL").is_some() {
            c.url("DRAMATIS_LLM_BASE_URL", &["http", "https"])
        } else {
            None
        };
        let llm_timeout = c.number::<u64>("DRAMATIS_LLM_TIMEOUT_SECS", 1, 3600).unwrap_or(120);
        let llm_max_retries = c.number::<u32>("DRAMATIS_LLM_MAX_RETRIES", 0, 10).unwrap_or(2);
        let llm_context_tokens = c
            .number::<usize>("DRAMATIS_LLM_CONTEXT_TOKENS", 1024, 10_000_000)
            .unwrap_or(8192);
        let retrieval_cache_mb = c
            .number::<usize>("DRAMATIS_RETRIEVAL_CACHE_MB", 1, 1_000_000)
            .unwrap_or(256);
        let page_cache_mb = c.number::<usize>("DRAMATIS_PAGE_CACHE_MB", 0, 1_000_000).unwrap_or(32);
        let access_minutes = c
            .number::<u64>("DRAMATIS_ACCESS_TOKEN_MINUTES", 1, 24 * 60)
            .unwrap_or(15);
        let refresh_days = c.number::<u64>("DRAMATIS_REFRESH_TOKEN_DAYS", 1, 365).unwrap_or(30);
        let timeout = c.number::<u64>("DRAMATIS_REQUEST_TIMEOUT_SECS", 1, 3600).unwrap_or(30);
        let db_max = c.number::<u32>("DRAMATIS_DB_MAX_CONNECTIONS", 1, 1000).unwrap_or(16);
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hash_concurrency = if c.src.get("DRAMATIS_HASH_CONCURRENCY").is_some() {
            c.number::<usize>("DRAMATIS_HASH_CONCURRENCY", 1, 256).unwrap_or(cpus)
        } else {
            cpus
        };
        let workers = c.number::<usize>("DRAMATIS_WORKERS", 0, 64).unwrap_or(2);
        let lease = c.number::<u64>("DRAMATIS_JOB_LEASE_SECS", 2, 3600).unwrap_or(30);
        let log_filter = c.raw("DRAMATIS_LOG").unwrap_or_else(|| "info".into());
        if let Some(unknown) = src
            .vars
            .keys()
            .find(|k| !SETTINGS.iter().any(|(n, _, _)| n == k) && !IGNORED.contains(&k.as_str()))
        {
            tracing::warn!("unknown setting {unknown} is ignored");
        }
        if !c.errors.is_empty() {
            return Err(ConfigError(c.errors));
        }
        Ok(Config {
            env,
            bind,
            data_dir,
            database_url,
            storage_url,
            orphan_grace: Duration::from_secs(orphan_grace),
            redis_url,
            secret_key,
            cors_origins,
            max_upload_bytes: max_upload_mb * 1024 * 1024,
            llm_base_url,
            llm_model: c.src.get("DRAMATIS_LLM_MODEL").map(str::to_string),
            llm_api_key: c.src.get("DRAMATIS_LLM_API_KEY").map(str::to_string),
            llm_timeout: Duration::from_secs(llm_timeout),
            llm_max_retries,
            llm_context_tokens,
            retrieval_cache_bytes: retrieval_cache_mb * 1024 * 1024,
            page_cache_bytes: page_cache_mb * 1024 * 1024,
            access_token_ttl: Duration::from_secs(access_minutes * 60),
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            request_timeout: Duration::from_secs(timeout),
            db_max_connections: db_max,
            log_filter,
            hash_concurrency,
            workers,
            job_lease: Duration::from_secs(lease),
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

/// Variables with the prefix that are not settings of the server itself.
const IGNORED: &[&str] = &[
    "DRAMATIS_CONFIG",
    "DRAMATIS_TEST_POSTGRES_URL",
    "DRAMATIS_TEST_REDIS_URL",
    "DRAMATIS_TEST_S3_URL",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> Sources {
        Sources {
            vars: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn defaults_are_the_embedded_default() {
        let c = Config::from_sources(&src(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.env, Environment::Development);
        assert!(c.database_url.starts_with("sqlite://"));
        assert!(c.database_url.ends_with("dramatis.db"));
        assert_eq!(c.max_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(c.cors_origins, vec!["http://localhost:8501", "http://localhost:3000"]);
    }

    #[test]
    fn every_bad_value_is_named() {
        let err = Config::from_sources(&src(&[
            ("DRAMATIS_BIND", "nowhere"),
            ("DRAMATIS_MAX_UPLOAD_MB", "-3"),
            ("DRAMATIS_DATABASE_URL", "mysql://x"),
            ("DRAMATIS_ENV", "staging"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for name in [
            "DRAMATIS_BIND",
            "DRAMATIS_MAX_UPLOAD_MB",
            "DRAMATIS_DATABASE_URL",
            "DRAMATIS_ENV",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn production_refuses_missing_or_weak_secret() {
        let e = Config::from_sources(&src(&[("DRAMATIS_ENV", "production")])).unwrap_err();
        assert!(e.to_string().contains("DRAMATIS_SECRET_KEY"));
        let e = Config::from_sources(&src(&[
            ("DRAMATIS_ENV", "production"),
            ("DRAMATIS_SECRET_KEY", "changeme-changeme-changeme-changeme"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("too weak"));
        let ok = Config::from_sources(&src(&[
            ("DRAMATIS_ENV", "production"),
            ("DRAMATIS_SECRET_KEY", "q8Vn3xR2bT7mK1pZ9wL4cY6hJ0sD5fG8aE2uI7oN"),
        ]));
        assert!(ok.is_ok());
    }
}
