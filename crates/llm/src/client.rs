//! The HTTP side: sending requests, classifying failures, retrying, and turning a response
//! body into a stream of [`Delta`]s.

use std::collections::VecDeque;
use std::error::Error as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::time::{Instant, timeout, timeout_at};

use crate::retry::{backoff_delay, retry_after, status_is_retryable};
use crate::sse::SseParser;
use crate::wire::{ChunkDecoder, Decoded, parse_completion, request_body};
use crate::{ChatRequest, Completion, Config, Delta, LlmError};

/// Most bytes read from an error response (error pages can be large) or from a JSON answer
/// to a streaming request.
const MAX_ERROR_BODY: usize = 16 * 1024;
const MAX_JSON_BODY: usize = 8 * 1024 * 1024;

/// A chat-completions client. Cheap to clone: clones share one connection pool, which is
/// what you want (one per process per server).
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    url: reqwest::Url,
    /// `url` without any user-info, for error messages.
    shown_url: String,
    auth: Option<HeaderValue>,
    cfg: Config,
}

/// A failed attempt and whether another one may succeed.
struct Failure {
    err: LlmError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(err: LlmError) -> Self {
        Self {
            err,
            retryable: false,
            retry_after: None,
        }
    }
    fn retryable(err: LlmError) -> Self {
        Self {
            err,
            retryable: true,
            retry_after: None,
        }
    }
}

impl Client {
    /// Validates the configuration and builds the connection pool. Fails on a URL that is not
    /// http(s), an empty model name, a zero timeout, or an API key that cannot be a header value.
    pub fn new(cfg: Config) -> Result<Client, LlmError> {
        let base = cfg.base_url.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(&format!("{base}/chat/completions"))
            .map_err(|e| LlmError::Config(format!("base_url {base:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Config(format!(
                "base_url must be http or https, not {:?}",
                url.scheme()
            )));
        }
        if cfg.model.trim().is_empty() {
            return Err(LlmError::Config("model is empty".into()));
        }
        if cfg.request_timeout.is_zero() || cfg.idle_timeout.is_zero() {
            return Err(LlmError::Config(
                "request_timeout and idle_timeout must be above zero".into(),
            ));
        }
        let auth = match cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| LlmError::Config("api_key contains bytes not allowed in an HTTP header".into()))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            // Tokens are tiny writes; Nagle would only add latency.
            .tcp_nodelay(true)
            .user_agent(concat!("dramatis-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build HTTP client: {}", chain(&e))))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                url,
                shown_url: shown.to_string(),
                auth,
                cfg,
            }),
        })
    }

    /// The model used when a request does not name one.
    pub fn model(&self) -> &str {
        &self.inner.cfg.model
    }

    /// One non-streamed answer. Retries 408/429/5xx and connection failures with back-off;
    /// the whole call, waits included, is bounded by `request_timeout`.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Completion, LlmError> {
        let cfg = &self.inner.cfg;
        let body = Bytes::from(request_body(req, &cfg.model, false));
        let model = req.model.as_deref().unwrap_or(&cfg.model);
        let deadline = Instant::now() + cfg.request_timeout;
        let mut retries = 0;
        loop {
            let outcome = match timeout_at(deadline, self.complete_once(body.clone(), model)).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    let limit = cfg.request_timeout;
                    return Err(LlmError::Timeout(format!("no complete answer within {limit:?}")));
                }
            };
            match outcome {
                Ok(completion) => return Ok(completion),
                Err(failure) => self.before_retry(failure, &mut retries, Some(deadline)).await?,
            }
        }
    }

    /// A streamed answer. Sends `stream: true` with `stream_options.include_usage`.
    ///
    /// Resolves only once the first token (or an empty answer's `Done`) has arrived, which
    /// gives two guarantees: every failure before the first token, including one the caller
    /// must turn into an HTTP status, is this call's `Err`; and retries (429/5xx/connection
    /// failures) never duplicate text, because nothing has been yielded yet. After that,
    /// errors arrive as an `Err` item and end the stream. `idle_timeout` bounds the wait for
    /// headers, for the first token and between chunks. Dropping the stream drops the
    /// connection, which is how servers learn to stop generating.
    pub async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, LlmError> {
        let cfg = &self.inner.cfg;
        let body = Bytes::from(request_body(req, &cfg.model, true));
        let model = req.model.as_deref().unwrap_or(&cfg.model);
        let mut retries = 0;
        loop {
            match self.stream_once(body.clone(), model).await {
                Ok(stream) => return Ok(stream),
                Err(failure) => self.before_retry(failure, &mut retries, None).await?,
            }
        }
    }

    async fn complete_once(&self, body: Bytes, model: &str) -> Result<Completion, Failure> {
        let resp = self.send(body, false).await.map_err(|e| self.transport_failure(e))?;
        if !resp.status().is_success() {
            return Err(self.status_failure(resp).await);
        }
        let bytes = resp.bytes().await.map_err(|e| self.transport_failure(e))?;
        parse_completion(&bytes, model, self.inner.cfg.api_key.as_deref()).map_err(Failure::fatal)
    }

    async fn stream_once(&self, body: Bytes, model: &str) -> Result<ChatStream, Failure> {
        let idle = self.inner.cfg.idle_timeout;
        let resp = match timeout(idle, self.send(body, true)).await {
            Ok(resp) => resp.map_err(|e| self.transport_failure(e))?,
            Err(_) => {
                return Err(Failure::fatal(LlmError::Timeout(format!(
                    "no response headers within {idle:?}"
                ))));
            }
        };
        if !resp.status().is_success() {
            return match timeout(idle, self.status_failure(resp)).await {
                Ok(failure) => Err(failure),
                Err(_) => Err(Failure::fatal(LlmError::Timeout(format!(
                    "error body not received within {idle:?}"
                )))),
            };
        }
        // Some servers ignore `stream: true` (or fail over to a non-streaming path) and answer
        // with one JSON document; that is still an answer.
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        let api_key = self.inner.cfg.api_key.clone();
        let mut state = StreamState {
            body: Box::pin(resp.bytes_stream()),
            mode: if is_json {
                Mode::Json(Vec::new())
            } else {
                Mode::Sse(SseParser::new())
            },
            events: VecDeque::new(),
            ready: VecDeque::new(),
            decoder: ChunkDecoder::new(model.to_owned(), api_key.clone()),
            model: model.to_owned(),
            api_key,
            idle,
            eof: false,
            finished: false,
        };
        match state.next_delta().await {
            Some(Ok(first)) => Ok(ChatStream::new(state, first)),
            Some(Err(err)) => {
                let retryable = match &err {
                    LlmError::Transport(_) => true,
                    LlmError::Upstream { status, .. } => status_is_retryable(*status),
                    _ => false,
                };
                Err(Failure {
                    err,
                    retryable,
                    retry_after: None,
                })
            }
            None => Err(Failure::fatal(LlmError::Protocol(
                "stream ended without any event".into(),
            ))),
        }
    }

    async fn send(&self, body: Bytes, stream: bool) -> reqwest::Result<reqwest::Response> {
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut req = self
            .inner
            .http
            .post(self.inner.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(body);
        if let Some(auth) = &self.inner.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        req.send().await
    }

    /// Either gives up (returning the error to report) or sleeps before the next attempt.
    async fn before_retry(&self, f: Failure, retries: &mut u32, deadline: Option<Instant>) -> Result<(), LlmError> {
        let cfg = &self.inner.cfg;
        if !f.retryable || *retries >= cfg.max_retries {
            return Err(f.err);
        }
        let delay = match f.retry_after {
            // Honour the server's hint, plus a little jitter, unless it is longer than we are
            // willing to hold a caller: then report it so the caller can pass it on.
            Some(hint) if hint > cfg.max_backoff => return Err(f.err),
            Some(hint) => hint + backoff_delay(cfg.backoff, cfg.max_backoff, 0) / 4,
            None => backoff_delay(cfg.backoff, cfg.max_backoff, *retries),
        };
        if deadline.is_some_and(|d| Instant::now() + delay >= d) {
            return Err(f.err);
        }
        *retries += 1;
        tracing::warn!(error = %f.err, retry = *retries, delay_ms = delay.as_millis() as u64, "retrying LLM request");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    fn transport_failure(&self, e: reqwest::Error) -> Failure {
        let what = format!("{}: {}", self.inner.shown_url, chain(&e));
        if e.is_connect() && e.is_timeout() {
            Failure::retryable(LlmError::Timeout(what))
        } else if e.is_timeout() {
            Failure::fatal(LlmError::Timeout(what))
        } else {
            // Refused, reset, or closed while reading: the usual blips of a restarting
            // server or a stale pooled connection.
            Failure::retryable(LlmError::Transport(what))
        }
    }

    /// Reads (a bounded prefix of) an error response and classifies it.
    async fn status_failure(&self, mut resp: reqwest::Response) -> Failure {
        let status = resp.status().as_u16();
        let hint = retry_after(resp.headers());
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let retryable = status_is_retryable(status);
        let err = if status == 429 {
            LlmError::RateLimited { retry_after: hint }
        } else {
            let message = crate::error::upstream_message(&body, status, self.inner.cfg.api_key.as_deref());
            LlmError::Upstream { status, message }
        };
        Failure {
            err,
            retryable,
            retry_after: hint,
        }
    }
}

/// The error and its causes on one line: reqwest's own message ("error sending request")
/// says little, the cause ("Connection refused") says what happened.
fn chain(e: &reqwest::Error) -> String {
    let mut out = String::from(if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    });
    let mut source: Option<&dyn std::error::Error> = e.source();
    if source.is_none() {
        out = e.to_string();
    }
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Streamed [`Delta`]s of one answer: zero or more `Token`s, then either `Done` or one `Err`.
/// Nothing follows `Done` or an error.
pub struct ChatStream {
    inner: Pin<Box<dyn Stream<Item = Result<Delta, LlmError>> + Send>>,
}

impl ChatStream {
    fn new(state: StreamState, first: Delta) -> Self {
        let inner = futures_util::stream::unfold((state, Some(first)), |(mut state, first)| async move {
            let item = match first {
                Some(delta) => Some(Ok(delta)),
                None => state.next_delta().await,
            };
            item.map(|item| (item, (state, None)))
        });
        Self { inner: Box::pin(inner) }
    }
}

impl Stream for ChatStream {
    type Item = Result<Delta, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatStream")
    }
}

enum Mode {
    Sse(SseParser),
    /// The server answered a streaming request with plain JSON: buffer it whole.
    Json(Vec<u8>),
}

struct StreamState {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    mode: Mode,
    /// SSE payloads parsed but not yet decoded.
    events: VecDeque<String>,
    /// Deltas decoded but not yet yielded (only used by the JSON fallback).
    ready: VecDeque<Delta>,
    decoder: ChunkDecoder,
    model: String,
    api_key: Option<String>,
    idle: Duration,
    eof: bool,
    finished: bool,
}

impl StreamState {
    async fn next_delta(&mut self) -> Option<Result<Delta, LlmError>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(delta) = self.ready.pop_front() {
                self.finished = matches!(delta, Delta::Done { .. });
                return Some(Ok(delta));
            }
            while let Some(data) = self.events.pop_front() {
                match self.decoder.decode(&data) {
                    Ok(Decoded::Token(text)) => return Some(Ok(Delta::Token(text))),
                    Ok(Decoded::Nothing) => {}
                    Ok(Decoded::Done(done)) => return self.finish(Ok(done)),
                    Err(e) => return self.finish(Err(e)),
                }
            }
            if self.eof {
                let last = self.decoder.at_eof();
                return self.finish(last);
            }
            match timeout(self.idle, self.body.next()).await {
                Err(_) => {
                    let idle = self.idle;
                    return self.finish(Err(LlmError::Timeout(format!(
                        "no data from the LLM server for {idle:?}"
                    ))));
                }
                Ok(Some(Err(e))) => {
                    return self.finish(Err(LlmError::Transport(format!("stream interrupted: {}", chain(&e)))));
                }
                Ok(Some(Ok(bytes))) => match &mut self.mode {
                    Mode::Sse(parser) => parser.feed(&bytes, &mut self.events),
                    Mode::Json(buf) => {
                        buf.extend_from_slice(&bytes);
                        if buf.len() > MAX_JSON_BODY {
                            return self.finish(Err(LlmError::Protocol("JSON answer too large".into())));
                        }
                    }
                },
                Ok(None) => {
                    self.eof = true;
                    match &mut self.mode {
                        Mode::Sse(parser) => parser.finish(&mut self.events),
                        Mode::Json(buf) => match parse_completion(buf, &self.model, self.api_key.as_deref()) {
                            Ok(c) => {
                                if !c.content.is_empty() {
                                    self.ready.push_back(Delta::Token(c.content));
                                }
                                let (finish_reason, usage, model) = (c.finish_reason, c.usage, c.model);
                                self.ready.push_back(Delta::Done {
                                    finish_reason,
                                    usage,
                                    model,
                                });
                            }
                            Err(e) => return self.finish(Err(e)),
                        },
                    }
                }
            }
        }
    }

    fn finish(&mut self, last: Result<Delta, LlmError>) -> Option<Result<Delta, LlmError>> {
        self.finished = true;
        Some(last)
    }
}
