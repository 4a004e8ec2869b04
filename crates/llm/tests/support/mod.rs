//! A scripted HTTP/1.1 server for tests and the benchmark: it speaks raw bytes over a tokio
//! `TcpListener`, so a test controls exactly what is sent and when (split points, stalls,
//! status codes) and can observe the client hanging up. No mocking library could do the last
//! two. Request *i* gets script *i* (the last script repeats), and every response ends with
//! `Connection: close`, so one request is one connection.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

/// One step of a scripted response.
#[derive(Clone, Debug)]
pub enum Act {
    /// Raw bytes, e.g. a status line and headers.
    Write(Vec<u8>),
    /// One chunk of a `Transfer-Encoding: chunked` body. The client's HTTP stack hands each
    /// chunk to the SSE parser separately, so chunks decide the split points.
    Chunk(Vec<u8>),
    /// The terminating zero-length chunk.
    EndChunks,
    Sleep(Duration),
    /// Send this chunk every interval until the client hangs up (a model that keeps
    /// generating), then report the hang-up through [`Server::hung_up`].
    TrickleUntilClosed(Vec<u8>, Duration),
}

pub type Script = Vec<Act>;

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    hang_ups: tokio::sync::Mutex<mpsc::UnboundedReceiver<usize>>,
}

struct Shared {
    scripts: Vec<Script>,
    count: AtomicUsize,
    requests: Arc<Mutex<Vec<Recorded>>>,
    hang_ups: mpsc::UnboundedSender<usize>,
}

impl Server {
    pub async fn start(scripts: Vec<Script>) -> Server {
        assert!(!scripts.is_empty());
        // `TcpListener::bind` listens with a backlog of 128 (std's value): 200 simultaneous
        // connects then overflow the accept queue and the kernel drops SYNs, which costs the
        // unlucky clients a 1 s SYN retransmit. That measures the server, not the client.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1024).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            scripts,
            count: AtomicUsize::new(0),
            requests: requests.clone(),
            hang_ups: tx,
        });
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let shared = shared.clone();
                tokio::spawn(async move { serve(sock, shared).await });
            }
        });
        Server {
            addr,
            requests,
            hang_ups: tokio::sync::Mutex::new(rx),
        }
    }

    /// The base URL to put in `Config::base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Whether a `TrickleUntilClosed` response saw its client hang up within `within`.
    pub async fn hung_up(&self, within: Duration) -> bool {
        let mut rx = self.hang_ups.lock().await;
        matches!(tokio::time::timeout(within, rx.recv()).await, Ok(Some(_)))
    }
}

async fn serve(mut sock: TcpStream, shared: Arc<Shared>) {
    sock.set_nodelay(true).unwrap();
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    let index = shared.count.fetch_add(1, Ordering::SeqCst);
    shared.requests.lock().unwrap().push(req);
    let script = shared.scripts[index.min(shared.scripts.len() - 1)].clone();
    for act in script {
        let result = match act {
            Act::Write(bytes) => sock.write_all(&bytes).await,
            Act::Chunk(bytes) => sock.write_all(&chunk(&bytes)).await,
            Act::EndChunks => sock.write_all(b"0\r\n\r\n").await,
            Act::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Act::TrickleUntilClosed(bytes, every) => {
                let framed = chunk(&bytes);
                let mut buf = [0u8; 256];
                loop {
                    tokio::select! {
                        read = sock.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { break },
                        _ = tokio::time::sleep(every) => if sock.write_all(&framed).await.is_err() { break },
                    }
                }
                let _ = shared.hang_ups.send(index);
                return;
            }
        };
        if result.is_err() {
            return;
        }
    }
    let _ = sock.shutdown().await;
}

fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

async fn read_request(sock: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

// ---- script builders ----

/// A complete response with a `Content-Length` body.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Script {
    let mut out = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    vec![Act::Write(out.into_bytes())]
}

pub fn json(status: u16, body: &str) -> Script {
    respond(status, &[("Content-Type", "application/json")], body)
}

/// Status line and headers of a streamed answer.
pub fn sse_head() -> Act {
    Act::Write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec(),
    )
}

/// One `data:` event carrying a content delta, as OpenAI formats it.
pub fn token_event(model: &str, text: &str) -> String {
    let chunk = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    });
    format!("data: {chunk}\n\n")
}

/// A whole OpenAI-style event stream: role-only chunk, one chunk per token, the
/// finish-reason chunk, the usage chunk with empty `choices`, and `[DONE]`.
pub fn openai_stream(model: &str, tokens: &[&str], usage: (u32, u32)) -> String {
    let role = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]
    });
    let mut out = format!("data: {role}\n\n");
    for t in tokens {
        out.push_str(&token_event(model, t));
    }
    let finish = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    });
    let usage = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
        "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1}
    });
    out.push_str(&format!("data: {finish}\n\ndata: {usage}\n\ndata: [DONE]\n\n"));
    out
}

/// A streamed answer whose body is cut into chunks of the given sizes (cycled), with an
/// optional pause after each chunk.
pub fn sse_script(body: &[u8], sizes: &[usize], pause: Option<Duration>) -> Script {
    let mut script = vec![sse_head()];
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        script.push(Act::Chunk(rest[..n].to_vec()));
        if let Some(p) = pause {
            script.push(Act::Sleep(p));
        }
        rest = &rest[n..];
        i += 1;
    }
    script.push(Act::EndChunks);
    script
}

/// A streamed answer sending one event per chunk with a pause between them, like a model
/// generating at a fixed rate.
pub fn paced_stream(model: &str, tokens: &[&str], every: Duration) -> Script {
    let body = openai_stream(model, tokens, (10, tokens.len() as u32));
    let mut script = vec![sse_head()];
    for event in body.split_inclusive("\n\n") {
        script.push(Act::Chunk(event.as_bytes().to_vec()));
        if !every.is_zero() {
            script.push(Act::Sleep(every));
        }
    }
    script.push(Act::EndChunks);
    script
}
