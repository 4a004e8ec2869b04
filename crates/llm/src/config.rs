//! Client configuration: where the server is and how long to wait for it.

use std::fmt;
use std::time::Duration;

/// Everything a [`Client`](crate::Client) needs. Build with [`Config::new`] and adjust the
/// public fields; the defaults suit a local Ollama or llama.cpp server as well as OpenAI.
#[derive(Clone)]
pub struct Config {
    /// Base of the OpenAI-compatible API, up to and including `/v1`, e.g.
    /// `http://127.0.0.1:11434/v1` (Ollama), `http://127.0.0.1:8080/v1` (llama.cpp),
    /// `https://api.openai.com/v1`. Requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set; local servers usually need none.
    pub api_key: Option<String>,
    /// Model used when a request does not name one.
    pub model: String,
    /// TCP (and TLS) connection set-up.
    pub connect_timeout: Duration,
    /// Whole non-streamed call, retries and back-off included, so a caller's budget holds.
    pub request_timeout: Duration,
    /// Streaming: longest wait for the response headers, for the first token, and between
    /// two chunks. Generation can take minutes in total; a silent connection cannot.
    pub idle_timeout: Duration,
    /// Retries after the first attempt, on 408/429/5xx and connection failures.
    pub max_retries: u32,
    /// Base delay of the exponential back-off (doubled per retry, with jitter).
    pub backoff: Duration,
    /// Cap of one back-off delay. A `Retry-After` longer than this is not waited for: the
    /// call fails at once with [`LlmError::RateLimited`](crate::LlmError::RateLimited) so the
    /// caller can pass the hint on instead of holding a user's request.
    pub max_backoff: Duration,
}

impl Config {
    /// Defaults: connect 5 s, request 120 s, idle 60 s (a CPU-only llama.cpp needs a while for
    /// the first token of a long prompt), 2 retries, back-off 500 ms capped at 20 s.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            max_retries: 2,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// Hand-written so the API key never reaches a log line.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let mut cfg = Config::new("http://x/v1", "m");
        cfg.api_key = Some("sk-very-secret".into());
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("sk-very-secret"));
        assert!(shown.contains("[redacted]"));
    }
}
