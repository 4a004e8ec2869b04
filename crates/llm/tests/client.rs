//! The client against a scripted server: wire format, retries, timeouts, cancellation.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm::{ChatRequest, ChatStream, Client, Config, Delta, LlmError, Message, Usage};
use support::{Act, Server, json, openai_stream, respond, sse_head, sse_script, token_event};

const MODEL: &str = "test-model";

/// Short timeouts and back-off so failure paths finish in milliseconds.
fn config(server: &Server) -> Config {
    let mut cfg = Config::new(server.base_url(), MODEL);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.request_timeout = Duration::from_secs(10);
    cfg.idle_timeout = Duration::from_secs(5);
    cfg.max_retries = 2;
    cfg.backoff = Duration::from_millis(10);
    cfg
}

fn client(server: &Server) -> Client {
    Client::new(config(server)).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![
        Message::system("You are Elizabeth Bennet."),
        Message::user("Hello!"),
    ])
}

/// Drains a stream into (concatenated tokens, the final item).
async fn collect(mut stream: ChatStream) -> (String, Result<Delta, LlmError>) {
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(Delta::Token(t)) => {
                assert!(!t.is_empty(), "empty tokens are never yielded");
                text.push_str(&t);
            }
            last => {
                assert!(stream.next().await.is_none(), "nothing follows Done or an error");
                return (text, last);
            }
        }
    }
    panic!("stream ended without Done or an error");
}

const TOKENS: &[&str] = &["Élisa", "beth", " smiled", " 😀", " — 日本", "語", "."];

#[tokio::test]
async fn streams_tokens_split_at_awkward_byte_boundaries() {
    let body = openai_stream("served-model", TOKENS, (12, 7));
    // 1-3 byte chunks: splits fall inside `data:`, inside JSON, inside every multi-byte char.
    let server = Server::start(vec![sse_script(body.as_bytes(), &[1, 2, 3, 2], None)]).await;
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, TOKENS.concat());
    let usage = Some(Usage {
        prompt_tokens: 12,
        completion_tokens: 7,
    });
    assert_eq!(
        last.unwrap(),
        Delta::Done {
            finish_reason: Some("stop".into()),
            usage,
            model: "served-model".into()
        }
    );
}

#[tokio::test]
async fn crlf_line_endings_and_keep_alive_comments() {
    let body = format!(
        ": keep-alive\r\n\r\n{}",
        openai_stream("m", TOKENS, (1, 1)).replace("\n", "\r\n")
    )
    .replace("data: [DONE]", ": ping\r\ndata: [DONE]");
    let server = Server::start(vec![sse_script(body.as_bytes(), &[3, 1, 2], None)]).await;
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, TOKENS.concat());
    assert!(matches!(last, Ok(Delta::Done { .. })));
}

#[tokio::test]
async fn request_has_expected_body_path_and_authorization() {
    let server = Server::start(vec![sse_script(
        openai_stream(MODEL, &["hi"], (1, 1)).as_bytes(),
        &[64],
        None,
    )])
    .await;
    let mut cfg = config(&server);
    cfg.api_key = Some("sk-test-123".into());
    let client = Client::new(cfg).unwrap();
    let req = ChatRequest {
        temperature: Some(0.5),
        max_tokens: Some(64),
        stop: vec!["\n\n".into()],
        ..request()
    };
    collect(client.stream(&req).await.unwrap()).await.1.unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    let body = r.json();
    assert_eq!(
        body,
        serde_json::json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are Elizabeth Bennet."},
                {"role": "user", "content": "Hello!"}
            ],
            "stream": true,
            "temperature": 0.5,
            "max_tokens": 64,
            "stop": ["\n\n"],
            "stream_options": {"include_usage": true}
        })
    );
}

#[tokio::test]
async fn no_authorization_header_without_api_key_and_model_override() {
    let server = Server::start(vec![json(200, r#"{"choices":[{"message":{"content":"ok"}}]}"#)]).await;
    let req = ChatRequest {
        model: Some("other-model".into()),
        ..request()
    };
    client(&server).complete(&req).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert_eq!(body["model"], "other-model");
    assert_eq!(body["stream"], false);
    assert!(body.get("stream_options").is_none() && body.get("temperature").is_none());
    assert!(body.get("max_tokens").is_none() && body.get("stop").is_none());
}

#[tokio::test]
async fn complete_parses_content_finish_reason_and_usage() {
    let body = r#"{"id":"c","object":"chat.completion","model":"llama3.2:3b","choices":[{"index":0,
        "message":{"role":"assistant","content":"Good day, sir."},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":21,"completion_tokens":4,"total_tokens":25}}"#;
    let server = Server::start(vec![json(200, body)]).await;
    let c = client(&server).complete(&request()).await.unwrap();
    assert_eq!(c.content, "Good day, sir.");
    assert_eq!(c.model, "llama3.2:3b");
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        c.usage,
        Some(Usage {
            prompt_tokens: 21,
            completion_tokens: 4
        })
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_success() {
    let limited = respond(429, &[("Retry-After", "1")], r#"{"error":{"message":"slow down"}}"#);
    let ok = sse_script(openai_stream(MODEL, &["fine"], (1, 1)).as_bytes(), &[16], None);
    let server = Server::start(vec![limited, ok]).await;
    let started = Instant::now();
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, "fine");
    assert!(last.is_ok());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once() {
    let server = Server::start(vec![respond(429, &[("Retry-After", "120")], "")]).await;
    let started = Instant::now();
    let err = client(&server).complete(&request()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_error_then_success() {
    let fail = json(500, r#"{"error":{"message":"CUDA out of memory"}}"#);
    let ok = sse_script(openai_stream(MODEL, &["a", "b"], (1, 2)).as_bytes(), &[7], None);
    let server = Server::start(vec![fail.clone(), ok]).await;
    let (text, _) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, "ab");
    assert_eq!(server.requests().len(), 2);

    let ok = json(200, r#"{"choices":[{"message":{"content":"ok"}}]}"#);
    let server = Server::start(vec![fail, ok]).await;
    assert_eq!(client(&server).complete(&request()).await.unwrap().content, "ok");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_server_error_is_upstream_after_max_retries() {
    let server = Server::start(vec![json(503, r#"{"error":{"message":"model is loading"}}"#)]).await;
    let err = client(&server).stream(&request()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::Upstream {
            status: 503,
            message: "model is loading".into()
        }
    );
    assert!(!err.is_timeout());
    assert_eq!(server.requests().len(), 3, "one attempt plus max_retries = 2");
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_echo_the_key() {
    let body = r#"{"error":{"message":"Incorrect API key provided: sk-test-123.","type":"invalid_request_error"}}"#;
    let server = Server::start(vec![json(401, body)]).await;
    let mut cfg = config(&server);
    cfg.api_key = Some("sk-test-123".into());
    let err = Client::new(cfg).unwrap().complete(&request()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::Upstream {
            status: 401,
            message: "Incorrect API key provided: [redacted].".into()
        }
    );
    assert!(!err.to_string().contains("sk-test-123"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn stall_before_first_token_is_a_timeout() {
    // Headers arrive, then nothing: the idle timeout covers the wait for the first token.
    let stall = vec![
        sse_head(),
        Act::Chunk(b": keep-alive\n\n".to_vec()),
        Act::Sleep(Duration::from_secs(30)),
    ];
    let server = Server::start(vec![stall]).await;
    let mut cfg = config(&server);
    cfg.idle_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = Client::new(cfg).unwrap().stream(&request()).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.requests().len(), 1, "timeouts are not retried");
}

#[tokio::test]
async fn stall_before_headers_is_a_timeout() {
    let server = Server::start(vec![vec![Act::Sleep(Duration::from_secs(30))]]).await;
    let mut cfg = config(&server);
    cfg.idle_timeout = Duration::from_millis(300);
    cfg.request_timeout = Duration::from_millis(300);
    let client = Client::new(cfg).unwrap();
    assert!(client.stream(&request()).await.unwrap_err().is_timeout());
    let started = Instant::now();
    assert!(client.complete(&request()).await.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stall_mid_stream_yields_a_timeout_item() {
    let mut script = vec![sse_head()];
    script.push(Act::Chunk(token_event(MODEL, "Once").into_bytes()));
    script.push(Act::Chunk(token_event(MODEL, " upon").into_bytes()));
    script.push(Act::Sleep(Duration::from_secs(30)));
    let server = Server::start(vec![script]).await;
    let mut cfg = config(&server);
    cfg.idle_timeout = Duration::from_millis(300);
    let (text, last) = collect(Client::new(cfg).unwrap().stream(&request()).await.unwrap()).await;
    assert_eq!(text, "Once upon");
    assert!(last.unwrap_err().is_timeout());
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let script = vec![
        sse_head(),
        Act::Chunk(token_event(MODEL, "tick").into_bytes()),
        Act::TrickleUntilClosed(token_event(MODEL, " tock").into_bytes(), Duration::from_millis(10)),
    ];
    let server = Server::start(vec![script]).await;
    let mut stream = client(&server).stream(&request()).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(stream.next().await, Some(Ok(Delta::Token(_)))));
    }
    drop(stream);
    assert!(
        server.hung_up(Duration::from_secs(2)).await,
        "the server saw the connection close"
    );
}

#[tokio::test]
async fn connection_cut_before_the_end_is_a_transport_error() {
    let mut script = vec![sse_head(), Act::Chunk(token_event(MODEL, "half").into_bytes())];
    script.push(Act::Sleep(Duration::from_millis(50))); // then close without the last chunk
    let server = Server::start(vec![script]).await;
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, "half");
    assert!(matches!(last, Err(LlmError::Transport(_))), "{last:?}");
}

#[tokio::test]
async fn error_object_inside_the_stream() {
    let mut script = vec![sse_head(), Act::Chunk(token_event(MODEL, "Hi").into_bytes())];
    script.push(Act::Chunk(
        br#"data: {"error":{"message":"context length exceeded","code":400}}"#.to_vec(),
    ));
    script.push(Act::Chunk(b"\n\n".to_vec()));
    script.push(Act::EndChunks);
    let server = Server::start(vec![script]).await;
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, "Hi");
    assert_eq!(
        last.unwrap_err(),
        LlmError::Upstream {
            status: 400,
            message: "context length exceeded".into()
        }
    );
}

#[tokio::test]
async fn json_answer_to_a_streaming_request_is_still_an_answer() {
    let body = r#"{"model":"m2","choices":[{"message":{"content":"whole"},"finish_reason":"length"}]}"#;
    let server = Server::start(vec![json(200, body)]).await;
    let (text, last) = collect(client(&server).stream(&request()).await.unwrap()).await;
    assert_eq!(text, "whole");
    assert_eq!(
        last.unwrap(),
        Delta::Done {
            finish_reason: Some("length".into()),
            usage: None,
            model: "m2".into()
        }
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_after_retries() {
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = Config::new(format!("http://{addr}/v1"), MODEL);
    cfg.backoff = Duration::from_millis(5);
    let err = Client::new(cfg).unwrap().stream(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Transport(m) if m.contains(&addr.to_string())),
        "{err}"
    );
}

#[test]
fn bad_configs_are_rejected() {
    for (url, model) in [("ftp://x/v1", "m"), ("not a url", "m"), ("http://x/v1", " ")] {
        assert!(
            matches!(Client::new(Config::new(url, model)), Err(LlmError::Config(_))),
            "{url} {model}"
        );
    }
    let mut cfg = Config::new("http://x/v1/", "m");
    cfg.idle_timeout = Duration::ZERO;
    assert!(matches!(Client::new(cfg.clone()), Err(LlmError::Config(_))));
    cfg.idle_timeout = Duration::from_secs(1);
    cfg.api_key = Some("bad\nkey".into());
    let err = Client::new(cfg).unwrap_err();
    assert!(!err.to_string().contains("bad\nkey"));
}
