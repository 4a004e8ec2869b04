//! Issue 6's performance targets, measured against the real application in
//! process (SQLite, release build):
//!
//! 1. the server's own time per chat turn on Pride and Prejudice with a
//!    50-message conversation: `t_in` (client send → the model server has the
//!    whole request: auth, retrieval, prompt building, upstream send) and
//!    `t_out` (the model's last byte → the client has the whole stored reply),
//!    non-streamed and streamed; and whole-turn latency in extractive mode;
//! 2. `GET /search` over the 100 LitBank novels: cold and warm, across all
//!    documents and per document, 1 and 4 clients, with memory;
//! 3. 200 concurrent streaming chats against a scripted model.
//!
//! The model is a scripted OpenAI-compatible server in this file (keep-alive,
//! chunked SSE) that timestamps each request's arrival and its own last byte.
//! Server, model and client each run on their own tokio runtime so that the
//! timestamps are not delayed by the other side's scheduling (all share the
//! machine's cores).
//!
//! Run: `cargo run --release -p dramatis-server --example bench_chat -- [chat|search|concurrency|all]`
//! (`scripts/bench-chat.sh`). Environment: `BENCH_TURNS` (200), `BENCH_QUERIES` (1000), `BENCH_STREAMS` (200),
//! `BENCH_NODELAY=1` (serve with TCP_NODELAY on accepted connections, for comparison). The search part also
//! times the search handler's phases in process, and repeats the warm all-documents pass with a bench-only
//! index on `analyses (document_id, created_at)`. Results: `crates/server/BENCH-chat.md`.

use dramatis_server::config::{Config, Sources};
use dramatis_server::state::AppState;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Handle;

/// The chat-turn and search targets (ms, p99).
const TARGET_MS: f64 = 20.0;
/// Messages the measured conversation holds before each measured turn.
const CONVERSATION_MESSAGES: i64 = 50;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `BENCH_NODELAY=1`: serve as `dramatis_server::serve` does but with TCP_NODELAY on accepted
/// connections (axum 0.8's `serve` leaves Nagle on), to show what that costs streamed replies.
fn nodelay() -> bool {
    std::env::var("BENCH_NODELAY").is_ok_and(|v| v == "1")
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

// ---------------------------------------------------------------------------
// Figures.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

struct Stats {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

fn stats(v: &[f64]) -> Stats {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Stats {
        n: s.len(),
        p50: pct(&s, 0.5),
        p99: pct(&s, 0.99),
        max: s.last().copied().unwrap_or(f64::NAN),
        mean: s.iter().sum::<f64>() / s.len().max(1) as f64,
    }
}

/// The printed table, kept to print again at the end.
#[derive(Default)]
struct Report {
    rows: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, v: &[f64], target: Option<f64>, extra: &str) {
        let s = stats(v);
        let t = match target {
            Some(t) => format!("< {t:.0} | {:.2}", s.p99 / t),
            None => "– | –".to_string(),
        };
        let line = format!(
            "| {what} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {t} | {extra} |",
            s.n, s.p50, s.p99, s.max, s.mean
        );
        println!("{line}");
        self.rows.push(line);
    }

    fn note(&mut self, s: String) {
        println!("  {s}");
        self.notes.push(s);
    }

    fn print(&self) {
        println!("\n| measurement | n | p50 ms | p99 ms | max ms | mean ms | target p99 ms | p99/target | notes |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in &self.rows {
            println!("{r}");
        }
        println!();
        for n in &self.notes {
            println!("- {n}");
        }
    }
}

fn memory() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so a later VmHWM is the
/// peak of what ran in between.
fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---------------------------------------------------------------------------
// A scripted OpenAI-compatible model server: keep-alive HTTP/1.1, JSON or
// chunked SSE, every request timestamped.

#[derive(Clone, Copy, Debug)]
struct Rec {
    arrived: Instant,
    last_byte: Instant,
    body_bytes: usize,
    messages: usize,
}

#[derive(Default)]
struct Model {
    log: Mutex<Vec<Rec>>,
    /// Tokens per reply.
    tokens: AtomicUsize,
    /// Pause between streamed tokens, µs.
    gap_us: AtomicU64,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

const WORDS: &[&str] = &[
    "I", "cannot", "pretend", "to", "be", "sorry", "for", "it", "is", "a", "truth", "that", "my", "sister", "Jane",
    "would", "never", "say", "so", "herself", "but", "Mr.", "Darcy", "has", "been", "very", "proud", "and", "I",
    "shall", "not", "soon", "forget", "what", "he", "said", "at", "the", "assembly", "in", "Meryton", "that",
    "evening", "when", "we", "first", "met", "him", "there", "indeed.",
];

fn reply_tokens(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let w = WORDS[i % WORDS.len()];
            if i == 0 { w.to_string() } else { format!(" {w}") }
        })
        .collect()
}

fn listen(backlog: u32) -> tokio::net::TcpListener {
    let s = tokio::net::TcpSocket::new_v4().expect("socket");
    s.set_reuseaddr(true).expect("reuseaddr");
    s.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    s.listen(backlog).expect("listen")
}

async fn model_server(rt: &Handle) -> (String, Arc<Model>) {
    let model = Arc::new(Model::default());
    model.tokens.store(50, Ordering::SeqCst);
    let m = model.clone();
    let base = rt
        .spawn(async move {
            let listener = listen(1024);
            let base = format!("http://{}/v1", listener.local_addr().unwrap());
            tokio::spawn(async move {
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let m = m.clone();
                    tokio::spawn(serve_model_conn(sock, m));
                }
            });
            base
        })
        .await
        .unwrap();
    (base, model)
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

async fn serve_model_conn(mut sock: tokio::net::TcpStream, m: Arc<Model>) {
    let _ = sock.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let (head_end, len) = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (p + 4, len);
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_end + len {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let arrived = Instant::now();
        let now_active = m.active.fetch_add(1, Ordering::SeqCst) + 1;
        m.max_active.fetch_max(now_active, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
        buf.drain(..head_end + len);
        let stream = body["stream"] == true;
        let messages = body["messages"].as_array().map_or(0, Vec::len);
        let tokens = reply_tokens(m.tokens.load(Ordering::SeqCst));
        let gap = Duration::from_micros(m.gap_us.load(Ordering::SeqCst));
        let ok = if !stream {
            let out = json!({"id": "bench", "object": "chat.completion", "model": "bench-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": tokens.concat()}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": tokens.len(), "total_tokens": 1000 + tokens.len()}})
            .to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{out}",
                out.len()
            );
            sock.write_all(resp.as_bytes()).await.is_ok()
        } else {
            let mut ok = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .is_ok();
            for (i, t) in tokens.iter().enumerate() {
                if !ok {
                    break;
                }
                if i > 0 && !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
                let data = format!(
                    "data: {}\n\n",
                    json!({"id": "bench", "object": "chat.completion.chunk", "model": "bench-model",
                           "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]})
                );
                ok = sock
                    .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
                    .await
                    .is_ok();
            }
            if ok {
                let data = format!(
                    "data: {}\n\ndata: [DONE]\n\n",
                    json!({"id": "bench", "object": "chat.completion.chunk", "model": "bench-model", "choices": [],
                           "usage": {"prompt_tokens": 1000, "completion_tokens": tokens.len()}})
                );
                ok = sock
                    .write_all(format!("{:x}\r\n{data}\r\n0\r\n\r\n", data.len()).as_bytes())
                    .await
                    .is_ok();
            }
            ok
        };
        let last_byte = Instant::now();
        m.active.fetch_sub(1, Ordering::SeqCst);
        m.log.lock().unwrap().push(Rec {
            arrived,
            last_byte,
            body_bytes: len,
            messages,
        });
        if !ok {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// The application, in process.

/// A client of the API.
#[derive(Clone)]
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            client: reqwest::Client::builder().tcp_nodelay(true).build().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

struct App {
    base: String,
    api: Api,
    state: AppState,
    client: reqwest::Client,
    server: Handle,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn spawn_app(server: &Handle, extra: &[(&str, &str)]) -> App {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("DRAMATIS_DATA_DIR".into(), dir.path().display().to_string());
    vars.insert("DRAMATIS_BIND".into(), "127.0.0.1:0".into());
    vars.insert("DRAMATIS_HASH_CONCURRENCY".into(), "2".into());
    vars.insert("DRAMATIS_ACCESS_TOKEN_MINUTES".into(), "1440".into());
    vars.insert("DRAMATIS_RETRIEVAL_CACHE_MB".into(), "1024".into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_sources(&Sources { vars }).expect("valid config");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (state, addr) = server
        .spawn(async move {
            let state = dramatis_server::start(config).await.expect("app starts");
            let listener = listen(1024);
            let addr = listener.local_addr().unwrap();
            if nodelay() {
                // What `dramatis_server::serve` does, plus TCP_NODELAY on every accepted connection.
                use axum::serve::ListenerExt;
                let (_stop_workers, stop_rx) = tokio::sync::watch::channel(false);
                dramatis_server::worker::spawn(&state, state.config.workers, stop_rx);
                let app = dramatis_server::router(state.clone());
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                tokio::spawn(async move {
                    let _stop_workers = _stop_workers;
                    axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await
                });
            } else {
                tokio::spawn(dramatis_server::serve(state.clone(), listener, async move {
                    let _ = rx.await;
                }));
            }
            (state, addr)
        })
        .await
        .unwrap();
    let api = Api::new(&format!("http://{addr}"));
    App {
        base: api.base.clone(),
        client: api.client.clone(),
        api,
        state,
        server: server.clone(),
        _dir: dir,
        _stop: tx,
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token(&self, username: &str) -> String {
        let pw = format!("{username}-Pa55word!");
        let r = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"username": username, "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "register: {}", r.text().await.unwrap());
        let r: Value = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .form(&[("username", username), ("password", pw.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().expect("access token").to_string()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> String {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .client
            .post(self.url("/api/v1/documents"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "upload {name}");
        let d: Value = r.json().await.unwrap();
        d["id"].as_str().unwrap().to_string()
    }

    /// Waits until every document of the user is ready; returns how many.
    async fn wait_ready(&self, token: &str, expect: usize) -> usize {
        loop {
            let mut ready = 0;
            let mut failed = 0;
            let mut skip = 0;
            loop {
                let page = self
                    .get(&format!("/api/v1/documents?limit=100&skip={skip}"), token)
                    .await;
                let items = page["items"].as_array().cloned().unwrap_or_default();
                for d in &items {
                    match d["status"].as_str() {
                        Some("ready") => ready += 1,
                        Some("failed") => failed += 1,
                        _ => {}
                    }
                }
                skip += items.len();
                if items.len() < 100 {
                    break;
                }
            }
            if ready + failed >= expect {
                assert_eq!(failed, 0, "{failed} documents failed analysis");
                return ready;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes every message after the first `keep` (untimed, on the server's runtime).
    async fn trim(&self, conversation: &str, keep: i64) {
        let db = self.state.db.clone();
        let id: uuid::Uuid = conversation.parse().unwrap();
        self.server
            .spawn(async move {
                db.execute(
                    "DELETE FROM messages WHERE conversation_id = $1 AND seq > $2",
                    &dramatis_server::params![id, keep],
                )
                .await
                .expect("trim")
            })
            .await
            .unwrap();
    }
}

/// Uploads P&P, waits for it, returns Elizabeth's character id.
async fn pride(app: &App, token: &str, r: &mut Report) -> String {
    let bytes = std::fs::read(shared().join("docs/bench/pride_and_prejudice.epub")).expect("the P&P EPUB");
    let t = Instant::now();
    app.upload(token, "pride_and_prejudice.epub", bytes).await;
    app.wait_ready(token, 1).await;
    r.note(format!(
        "P&P EPUB upload → ready (analysis) in {:.2} s",
        t.elapsed().as_secs_f64()
    ));
    let list = app.get("/api/v1/characters?limit=100", token).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap_or("").contains("Elizabeth"))
        .expect("Elizabeth is among the characters")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------
// Chat turns as a client sees them.

struct TurnOut {
    sent: Instant,
    first_token: Option<Instant>,
    done: Instant,
    tokens: usize,
    reply: Result<Value, String>,
}

async fn chat_turn(app: &Api, token: &str, character: &str, body: Value, stream: bool) -> TurnOut {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/characters/{character}/chat")))
        .bearer_auth(token)
        .json(&body);
    if stream {
        req = req.header("accept", "text/event-stream");
    }
    let sent = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return TurnOut {
                sent,
                first_token: None,
                done: Instant::now(),
                tokens: 0,
                reply: Err(format!("send: {e}")),
            };
        }
    };
    let status = resp.status().as_u16();
    if !stream || status != 200 {
        let bytes = resp.bytes().await;
        let done = Instant::now();
        let reply = match bytes {
            Ok(b) if status == 200 => serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()),
            Ok(b) => Err(format!("{status}: {}", String::from_utf8_lossy(&b))),
            Err(e) => Err(format!("body: {e}")),
        };
        return TurnOut {
            sent,
            first_token: None,
            done,
            tokens: 0,
            reply,
        };
    }
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut first_token = None;
    let mut tokens = 0;
    let mut reply: Result<Value, String> = Err("the stream ended without a message".into());
    let mut done = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                reply = Err(format!("stream: {e}"));
                break;
            }
        };
        buf.extend_from_slice(&chunk);
        while let Some(p) = find(&buf, b"\n\n") {
            let block: Vec<u8> = buf.drain(..p + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let mut event = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            match event {
                "token" => {
                    tokens += 1;
                    first_token.get_or_insert_with(Instant::now);
                }
                "message" => {
                    done = Some(Instant::now());
                    reply = serde_json::from_str(&data).map_err(|e| e.to_string());
                }
                "error" => {
                    done = Some(Instant::now());
                    reply = Err(format!("error event: {data}"));
                }
                _ => {}
            }
        }
    }
    TurnOut {
        sent,
        first_token,
        done: done.unwrap_or_else(Instant::now),
        tokens,
        reply,
    }
}

const QUESTIONS: &[&str] = &[
    "What do you think of Mr. Darcy?",
    "How is your sister Jane?",
    "What happened at the ball at Netherfield?",
    "Do you trust Mr. Wickham?",
    "Why did you refuse Mr. Collins?",
    "What do you make of Lady Catherine de Bourgh?",
    "Tell me about your visit to Pemberley.",
    "What did the letter from Mr. Darcy say?",
    "How do you feel about your mother's schemes?",
    "What is your opinion of Mr. Bingley?",
    "Was Charlotte right to marry Mr. Collins?",
    "What did you think when Lydia ran away?",
    "Do you enjoy walking to Netherfield in the mud?",
    "What do you read in the evenings at Longbourn?",
    "Is pride a fault or a virtue?",
    "What does your father think of all this?",
    "How did you find Rosings Park?",
    "Were you prejudiced against him from the start?",
    "What did Miss Bingley say about your eyes?",
    "Would you dance with Mr. Darcy again?",
    "What do you think of Colonel Fitzwilliam?",
    "How did your aunt and uncle Gardiner treat you?",
    "What of Kitty and Mary?",
    "Do you regret anything you said at Hunsford?",
    "What is the happiest moment you remember?",
    "And then?",
    "Why?",
    "How do you judge a man's character?",
    "What would you say to Lady Catherine now?",
    "Is it a truth universally acknowledged that a single man must want a wife?",
];

/// Builds a conversation of `CONVERSATION_MESSAGES` messages; returns its id.
async fn conversation(app: &App, token: &str, character: &str) -> String {
    let mut id: Option<String> = None;
    for i in 0..(CONVERSATION_MESSAGES / 2) as usize {
        let mut body = json!({"message": QUESTIONS[i % QUESTIONS.len()]});
        if let Some(c) = &id {
            body["conversation_id"] = json!(c);
        }
        let out = chat_turn(&app.api, token, character, body, false).await;
        let reply = out.reply.expect("conversation turn");
        id = Some(reply["conversation_id"].as_str().unwrap().to_string());
    }
    let id = id.unwrap();
    let conv = app.get(&format!("/api/v1/conversations/{id}"), token).await;
    assert_eq!(conv["message_count"], CONVERSATION_MESSAGES, "{conv}");
    id
}

// ---------------------------------------------------------------------------
// 1. The server's own time per turn.

async fn bench_chat_llm(rt: &Rts, r: &mut Report) {
    let (base, model) = model_server(&rt.model).await;
    let app = spawn_app(
        &rt.server,
        &[
            ("DRAMATIS_LLM_BASE_URL", base.as_str()),
            ("DRAMATIS_LLM_MODEL", "bench-model"),
            ("DRAMATIS_LLM_TIMEOUT_SECS", "120"),
            ("DRAMATIS_LLM_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let token = app.token("bench").await;
    let lizzy = pride(&app, &token, r).await;
    // The first turn builds the book's index (cold).
    model.log.lock().unwrap().clear();
    let cold = chat_turn(&app.api, &token, &lizzy, json!({"message": QUESTIONS[0]}), false).await;
    if let Err(e) = &cold.reply {
        panic!("the first turn failed: {e}");
    }
    let rec = model.log.lock().unwrap().pop().expect("the model saw the first turn");
    r.note(format!(
        "first turn on a fresh process (index built from the database): t_in {:.2} ms, t_out {:.2} ms",
        ms(rec.arrived - cold.sent),
        ms(cold.done - rec.last_byte)
    ));
    let conv = conversation(&app, &token, &lizzy).await;
    let turns = env_usize("BENCH_TURNS", 200);
    for stream in [false, true] {
        // Tokens 1 ms apart when streamed; their spacing is the model's time, not the server's.
        model.gap_us.store(if stream { 1000 } else { 0 }, Ordering::SeqCst);
        model.log.lock().unwrap().clear();
        let (mut t_in, mut t_out, mut whole, mut ttft, mut upstream) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut body_bytes, mut prompt_messages) = (vec![], vec![]);
        let mut errors = 0;
        for i in 0..turns {
            let q = QUESTIONS[(i * 7 + 3) % QUESTIONS.len()];
            let out = chat_turn(
                &app.api,
                &token,
                &lizzy,
                json!({"message": q, "conversation_id": conv}),
                stream,
            )
            .await;
            // The model server logs a request just after its last write: on a busy machine the client
            // can have the reply first.
            let waited = Instant::now();
            while out.reply.is_ok() && model.log.lock().unwrap().is_empty() && waited.elapsed() < Duration::from_secs(2)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let recs: Vec<Rec> = std::mem::take(&mut *model.log.lock().unwrap());
            match (&out.reply, recs.as_slice()) {
                (Ok(v), [rec]) if v["message"]["mode"] == "llm" && (!stream || out.tokens == 50) => {
                    t_in.push(ms(rec.arrived - out.sent));
                    t_out.push(ms(out.done - rec.last_byte));
                    whole.push(ms(out.done - out.sent));
                    upstream.push(ms(rec.last_byte - rec.arrived));
                    body_bytes.push(rec.body_bytes as f64);
                    prompt_messages.push(rec.messages as f64);
                    if let Some(f) = out.first_token {
                        ttft.push(ms(f - out.sent));
                    }
                }
                _ => {
                    errors += 1;
                    eprintln!(
                        "turn {i} failed: {:?} ({} model requests, {} tokens)",
                        out.reply,
                        recs.len(),
                        out.tokens
                    );
                }
            }
            app.trim(&conv, CONVERSATION_MESSAGES).await;
        }
        let kind = if stream { "streamed (SSE)" } else { "non-streamed" };
        let b = stats(&body_bytes);
        let pm = stats(&prompt_messages);
        r.row(
            &format!("chat llm {kind}: t_in (send → model has request)"),
            &t_in,
            Some(TARGET_MS),
            &format!(
                "prompt {:.0} bytes, {:.0} messages (median); errors {errors}",
                b.p50, pm.p50
            ),
        );
        r.row(
            &format!("chat llm {kind}: t_out (model last byte → reply at client)"),
            &t_out,
            Some(TARGET_MS),
            "",
        );
        let sum: Vec<f64> = t_in.iter().zip(&t_out).map(|(a, b)| a + b).collect();
        r.row(&format!("chat llm {kind}: t_in + t_out"), &sum, None, "");
        r.row(
            &format!("chat llm {kind}: whole turn"),
            &whole,
            None,
            &format!("model's own time p50 {:.2} ms", stats(&upstream).p50),
        );
        if stream {
            r.row("chat llm streamed: time to first token", &ttft, None, "");
        }
    }
    let conv_now = app.get(&format!("/api/v1/conversations/{conv}"), &token).await;
    r.note(format!(
        "the measured conversation held {} messages before each turn (trimmed back after each, untimed)",
        conv_now["message_count"]
    ));
    // 3. rides on the same app.
    bench_concurrency(&app, &token, &lizzy, &model, r).await;
}

async fn bench_chat_extractive(rt: &Rts, r: &mut Report) {
    let app = spawn_app(&rt.server, &[]).await;
    let token = app.token("bench").await;
    let lizzy = pride(&app, &token, r).await;
    let conv = conversation(&app, &token, &lizzy).await;
    let turns = env_usize("BENCH_TURNS", 200);
    for stream in [false, true] {
        let mut whole = vec![];
        let mut errors = 0;
        for i in 0..turns {
            let q = QUESTIONS[(i * 7 + 3) % QUESTIONS.len()];
            let out = chat_turn(
                &app.api,
                &token,
                &lizzy,
                json!({"message": q, "conversation_id": conv}),
                stream,
            )
            .await;
            match &out.reply {
                Ok(v) if v["message"]["mode"] == "extractive" => whole.push(ms(out.done - out.sent)),
                other => {
                    errors += 1;
                    eprintln!("extractive turn {i}: {other:?}");
                }
            }
            app.trim(&conv, CONVERSATION_MESSAGES).await;
        }
        let kind = if stream { "streamed (SSE)" } else { "non-streamed" };
        r.row(
            &format!("chat extractive {kind}: whole turn"),
            &whole,
            Some(TARGET_MS),
            &format!("errors {errors}"),
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Concurrent streaming chats.

async fn bench_concurrency(app: &App, token: &str, character: &str, model: &Model, r: &mut Report) {
    let n = env_usize("BENCH_STREAMS", 200);
    model.gap_us.store(5000, Ordering::SeqCst);
    model.tokens.store(50, Ordering::SeqCst);
    model.max_active.store(0, Ordering::SeqCst);
    model.log.lock().unwrap().clear();
    // A client of its own: one connection per chat, none reused from before.
    let api = Api::new(&app.base);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let api = api.clone();
        let token = token.to_string();
        let character = character.to_string();
        tasks.push(tokio::spawn(async move {
            let q = QUESTIONS[i % QUESTIONS.len()];
            chat_turn(&api, &token, &character, json!({"message": q}), true).await
        }));
    }
    let (mut ttft, mut whole) = (vec![], vec![]);
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let out = t.await.unwrap();
        match &out.reply {
            Ok(v) if out.tokens == 50 && v["message"]["content"].as_str().is_some_and(|c| !c.is_empty()) => {
                ttft.push(ms(out.first_token.unwrap() - out.sent));
                whole.push(ms(out.done - out.sent));
            }
            other => {
                errors += 1;
                if first_error.is_none() {
                    first_error = Some(format!("{other:?} after {} tokens", out.tokens));
                }
            }
        }
    }
    let wall = start.elapsed();
    r.row(
        &format!("{n} concurrent streamed chats: time to first token"),
        &ttft,
        None,
        &format!(
            "wall {:.2} s; errors {errors}; model saw {} requests, {} at once at most; 50 tokens 5 ms apart",
            wall.as_secs_f64(),
            model.log.lock().unwrap().len(),
            model.max_active.load(Ordering::SeqCst)
        ),
    );
    r.row(&format!("{n} concurrent streamed chats: whole chat"), &whole, None, "");
    if let Some(e) = first_error {
        r.note(format!("first concurrency error: {e}"));
    }
}

// ---------------------------------------------------------------------------
// 2. Search over the 100 LitBank novels.

/// splitmix64: a fixed-seed generator, so every run asks the same queries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// 2–5 content words of a random sentence of a random book (from its middle,
/// away from the Gutenberg header and licence); returns (book index, query).
fn queries(texts: &[String], n: usize, seed: u64) -> Vec<(usize, String)> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let b = rng.below(texts.len());
        let t = texts[b].as_bytes();
        let lo = t.len() / 10;
        let mut at = lo + rng.below((t.len() * 8 / 10).max(1));
        while at < t.len() && !texts[b].is_char_boundary(at) {
            at += 1;
        }
        let s = &texts[b][at..];
        // The next whole sentence.
        let Some(begin) = s.find(['.', '!', '?']) else { continue };
        let rest = &s[begin + 1..];
        let end = rest.find(['.', '!', '?']).unwrap_or(rest.len());
        let sentence = &rest[..end];
        let mut words: Vec<&str> = sentence
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| w.chars().count() >= 3 && !retrieval::terms(w).is_empty())
            .collect();
        words.dedup();
        if words.len() < 2 {
            continue;
        }
        let k = (2 + rng.below(4)).min(words.len());
        let mut picked = Vec::with_capacity(k);
        while picked.len() < k {
            let w = words.swap_remove(rng.below(words.len()));
            picked.push(w.to_lowercase());
        }
        out.push((b, picked.join(" ")));
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Runs the queries with `clients` concurrent clients; returns latencies and the wall time.
async fn run_queries(api: &Api, token: &str, paths: &[String], clients: usize) -> (Vec<f64>, Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(paths.to_vec());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, next, paths, token) = (api.clone(), next.clone(), paths.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(p) = paths.get(i) else { break };
                let t = Instant::now();
                let r = app.client.get(app.url(p)).bearer_auth(&token).send().await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(r) => {
                        eprintln!("search {p}: {} {}", r.status(), r.text().await.unwrap_or_default());
                        false
                    }
                    Err(e) => {
                        eprintln!("search {p}: {e}");
                        false
                    }
                };
                lat.push(ms(t.elapsed()));
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    (all, start.elapsed(), errors)
}

async fn bench_search(rt: &Rts, r: &mut Report) {
    let dir = shared().join("litbank/original");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the LitBank texts")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect();
    let total_mb = texts.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let app = Arc::new(spawn_app(&rt.server, &[]).await);
    let token = app.token("librarian").await;
    let (rss0, _) = memory();
    // Upload with 4 concurrent uploaders.
    let start = Instant::now();
    let queue = Arc::new(Mutex::new((0..files.len()).rev().collect::<Vec<usize>>()));
    let files = Arc::new(files);
    let ids = Arc::new(Mutex::new(vec![String::new(); files.len()]));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (app, queue, files, ids, token) = (app.clone(), queue.clone(), files.clone(), ids.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(i) = queue.lock().unwrap().pop() else { break };
                let name = files[i].file_name().unwrap().to_string_lossy().into_owned();
                let id = app.upload(&token, &name, std::fs::read(&files[i]).unwrap()).await;
                ids.lock().unwrap()[i] = id;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let uploaded = start.elapsed();
    let ready = app.wait_ready(&token, files.len()).await;
    let all_ready = start.elapsed();
    let ids: Vec<String> = ids.lock().unwrap().clone();
    let (rss1, hwm1) = memory();
    r.note(format!(
        "{} LitBank texts ({total_mb:.1} MB) uploaded by 4 clients in {:.1} s; all {ready} ready (analysed) after {:.1} s",
        files.len(),
        uploaded.as_secs_f64(),
        all_ready.as_secs_f64()
    ));
    let hwm_reset = reset_hwm();
    let n = env_usize("BENCH_QUERIES", 1000);
    let qs = queries(&texts, n, 0x5EED_D0C5);
    let across: Vec<String> = qs
        .iter()
        .map(|(_, q)| format!("/api/v1/search?q={}", urlencode(q)))
        .collect();
    let per_doc: Vec<String> = qs
        .iter()
        .map(|(b, q)| format!("/api/v1/search?q={}&document_id={}", urlencode(q), ids[*b]))
        .collect();
    r.note(format!("queries: e.g. {:?}, {:?}, {:?}", qs[0].1, qs[1].1, qs[2].1));
    // Cold: the first pass builds every document's index from the database.
    let (lat, wall, errors) = run_queries(&app.api, &token, &across, 1).await;
    let (rss2, hwm2) = memory();
    r.note(format!(
        "cold pass: first query (builds all 100 indexes) {:.1} ms; index cache holds {:.1} MB",
        lat[0],
        app.state.indexes.held_bytes() as f64 / 1e6
    ));
    r.row(
        "search all 100 docs, cold first pass, 1 client",
        &lat,
        Some(TARGET_MS),
        &format!("{:.0} req/s; errors {errors}", lat.len() as f64 / wall.as_secs_f64()),
    );
    r.row(
        "search all 100 docs, cold pass without its first query",
        &lat[1..],
        Some(TARGET_MS),
        "",
    );
    for (name, paths) in [("all 100 docs", &across), ("one document (document_id=)", &per_doc)] {
        for clients in [1, 4] {
            let (lat, wall, errors) = run_queries(&app.api, &token, paths, clients).await;
            r.row(
                &format!("search {name}, warm, {clients} client(s)"),
                &lat,
                Some(TARGET_MS),
                &format!("{:.0} req/s; errors {errors}", lat.len() as f64 / wall.as_secs_f64()),
            );
        }
    }
    profile_search(&app, "librarian", &qs, r).await;
    covering_index_ab(&app, &token, &across, r).await;
    let (rss3, hwm3) = memory();
    r.note(format!(
        "memory (whole bench process, kB): RSS {rss0} before uploads → {rss1} all ready (VmHWM {hwm1}); \
         VmHWM {} → {hwm2} after the cold pass (RSS {rss2}) → {hwm3} after all search passes (RSS {rss3})",
        if hwm_reset { "reset to RSS" } else { "not reset" }
    ));
}

/// Where an across-all-documents search spends its time: the handler's phases, run in process on the
/// server's runtime one query at a time (the same SQL, cache, ranking, texts and snippets as
/// `routes::search`, without HTTP, auth or JSON).
async fn profile_search(app: &App, username: &str, qs: &[(usize, String)], r: &mut Report) {
    use dramatis_server::params;
    let db = app.state.db.clone();
    let state = app.state.clone();
    let username = username.to_string();
    let qs: Vec<String> = qs.iter().take(300).map(|(_, q)| q.clone()).collect();
    let phases = app
        .server
        .spawn(async move {
            let uid: uuid::Uuid = db
                .fetch_one("SELECT id FROM users WHERE username = $1", &params![username])
                .await
                .unwrap()
                .get("id")
                .unwrap();
            let mut p: Vec<Vec<f64>> = vec![Vec::new(); 7];
            for q in &qs {
                let t0 = Instant::now();
                let rows = db
                    .fetch_all(
                        "SELECT d.id, d.title, a.created_at FROM documents d JOIN analyses a ON a.document_id = d.id \
                         WHERE d.user_id = $1",
                        &params![uid],
                    )
                    .await
                    .unwrap();
                let t1 = Instant::now();
                let mut docs = Vec::with_capacity(rows.len());
                for row in &rows {
                    let id: uuid::Uuid = row.get("id").unwrap();
                    let version: String = row.get("created_at").unwrap();
                    docs.push(state.indexes.get(&db, id, &version).await.unwrap());
                }
                let t2 = Instant::now();
                let indexes: Vec<&retrieval::Index> = docs.iter().map(|d| &d.passage_index).collect();
                let opts = |limit| retrieval::SearchOptions {
                    limit,
                    offset: 0,
                    max_section: None,
                    boost_phrases: Vec::new(),
                    boost: 1.5,
                };
                let hits = retrieval::search_many(&indexes, q, &opts(dramatis_server::routes::search::MAX_CANDIDATES));
                let t3 = Instant::now();
                let ids: Vec<uuid::Uuid> = hits
                    .iter()
                    .take(20)
                    .filter_map(|(i, h)| docs[*i].passages.get(h.item as usize).map(|s| s.id))
                    .collect();
                let texts = dramatis_server::chat::index::texts(&db, "passages", &ids)
                    .await
                    .unwrap();
                let t4 = Instant::now();
                let mut n = 0;
                for id in &ids {
                    n += retrieval::snippet(texts.get(id).map_or("", String::as_str), q, 240)
                        .text
                        .len();
                }
                std::hint::black_box(n);
                let t5 = Instant::now();
                std::hint::black_box(retrieval::search_many(&indexes, q, &opts(20)));
                let t6 = Instant::now();
                for (i, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0, t6 - t5]
                    .iter()
                    .enumerate()
                {
                    p[i].push(ms(*d));
                }
            }
            p
        })
        .await
        .unwrap();
    let names = [
        "targets SQL (100 documents)",
        "100 index-cache lookups",
        "retrieval::search_many, 100 indexes, limit 1000",
        "texts of the 20 shown hits (SQL)",
        "20 snippets",
        "sum of the phases",
        "(for comparison) search_many with limit 20",
    ];
    for (name, v) in names.iter().zip(&phases) {
        r.row(
            &format!("search all 100 docs, phase: {name}"),
            v,
            None,
            "in process, 1 at a time",
        );
    }
}

/// The targets query reads `analyses.created_at`, stored after the analysis JSON (`data`, megabytes per
/// novel): SQLite follows `data`'s overflow chain on every row to reach it. An index on
/// `(document_id, created_at)` covers the query. Made here on the bench's own database only, to measure
/// the difference; the server's schema is unchanged.
async fn covering_index_ab(app: &App, token: &str, across: &[String], r: &mut Report) {
    let db = app.state.db.clone();
    app.server
        .spawn(async move {
            db.execute(
                "CREATE INDEX IF NOT EXISTS bench_analyses_version ON analyses (document_id, created_at)",
                &[],
            )
            .await
            .unwrap();
        })
        .await
        .unwrap();
    for clients in [1, 4] {
        let (lat, wall, errors) = run_queries(&app.api, token, across, clients).await;
        r.row(
            &format!("search all 100 docs, warm, {clients} client(s), WITH index analyses(document_id, created_at)"),
            &lat,
            Some(TARGET_MS),
            &format!(
                "{:.0} req/s; errors {errors}; bench-only index",
                lat.len() as f64 / wall.as_secs_f64()
            ),
        );
    }
}

// ---------------------------------------------------------------------------

struct Rts {
    server: Handle,
    model: Handle,
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let runtime = |name: &str, threads: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap()
    };
    let server = runtime("server", 2);
    let model = runtime("model", 1);
    let client = runtime("client", 2);
    let rts = Rts {
        server: server.handle().clone(),
        model: model.handle().clone(),
    };
    let mut report = Report::default();
    let (rss, hwm) = memory();
    println!(
        "bench_chat: {what}; {} CPUs; RSS {rss} kB, VmHWM {hwm} kB at start",
        num_cpus()
    );
    client.block_on(async {
        if what == "all" || what == "chat" || what == "concurrency" {
            bench_chat_llm(&rts, &mut report).await;
        }
        if what == "all" || what == "chat" {
            bench_chat_extractive(&rts, &mut report).await;
        }
        if what == "all" || what == "search" {
            bench_search(&rts, &mut report).await;
        }
    });
    report.print();
    // Leave without waiting for the servers' graceful shutdown.
    std::process::exit(0);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
