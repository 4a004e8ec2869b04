//! One error type for every failure, shaped so the HTTP layer can pick a status without
//! inspecting strings: timeouts become 504, everything else 502.

use std::time::Duration;

/// Why a chat call failed. Messages never contain the API key: upstream error bodies are
/// scrubbed of it before they are stored here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Connect, idle or whole-request timeout. Not retried: a stalled model server rarely
    /// recovers within the caller's budget, and the abandoned request may still be using it.
    #[error("LLM request timed out: {0}")]
    Timeout(String),
    /// HTTP 429 that persisted through all retries, or whose `Retry-After` exceeded the cap.
    #[error("LLM server is rate limiting requests{}", .retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The server answered with an error status (or an error object inside the stream).
    #[error("LLM server returned {status}: {message}")]
    Upstream { status: u16, message: String },
    /// Connection refused or reset, TLS failure, body cut off.
    #[error("LLM transport error: {0}")]
    Transport(String),
    /// The server answered, but not in the chat-completions format.
    #[error("LLM protocol error: {0}")]
    Protocol(String),
    /// The [`Config`](crate::Config) cannot work (bad URL, empty model, invalid API key bytes).
    #[error("LLM client misconfigured: {0}")]
    Config(String),
}

impl LlmError {
    /// The server maps timeouts to 504 Gateway Timeout and every other error to 502.
    pub fn is_timeout(&self) -> bool {
        matches!(self, LlmError::Timeout(_))
    }
}

/// Longest upstream message kept, in bytes: error pages can be whole HTML documents.
const MAX_MESSAGE: usize = 500;

/// Turns an error body into one readable line: `error.message` (OpenAI, vLLM, llama.cpp),
/// `error` as a string (Ollama), `message` or `detail` (FastAPI-based servers), else the
/// trimmed text. The API key is replaced wherever it appears, since some servers echo the
/// credential they rejected.
pub(crate) fn upstream_message(body: &[u8], status: u16, api_key: Option<&str>) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| message_of_json(&v));
    let mut message = from_json.unwrap_or_else(|| text.trim().to_owned());
    if message.is_empty() {
        message = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no error message")
            .to_owned();
    }
    let mut message = redact(message, api_key);
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// The human message inside an error JSON value, if it has one.
pub(crate) fn message_of_json(v: &serde_json::Value) -> Option<String> {
    let candidates = [
        v.pointer("/error/message"),
        v.get("error"),
        v.get("message"),
        v.get("detail"),
    ];
    candidates.into_iter().flatten().find_map(|m| match m {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    })
}

pub(crate) fn redact(message: String, api_key: Option<&str>) -> String {
    match api_key {
        Some(key) if !key.is_empty() && message.contains(key) => message.replace(key, "[redacted]"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_ollama_and_plain_bodies() {
        let openai = br#"{"error":{"message":"Incorrect API key provided: sk-secret","type":"invalid_request_error"}}"#;
        assert_eq!(
            upstream_message(openai, 401, Some("sk-secret")),
            "Incorrect API key provided: [redacted]"
        );
        assert_eq!(
            upstream_message(br#"{"error":"model 'x' not found"}"#, 404, None),
            "model 'x' not found"
        );
        assert_eq!(
            upstream_message(b"  upstream exploded \n", 502, None),
            "upstream exploded"
        );
        assert_eq!(upstream_message(b"", 503, None), "Service Unavailable");
        let long = "é".repeat(400);
        let msg = upstream_message(long.as_bytes(), 500, None);
        assert!(msg.len() <= MAX_MESSAGE + '…'.len_utf8());
    }

    #[test]
    fn only_timeouts_are_timeouts() {
        assert!(LlmError::Timeout("x".into()).is_timeout());
        assert!(!LlmError::Transport("x".into()).is_timeout());
        let rl = LlmError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(
            rl.to_string(),
            "LLM server is rate limiting requests (retry after 1.5s)"
        );
    }
}
