//! Benchmark: N concurrent streaming chats through one `Client` against an in-process
//! scripted server that "generates" a token every few milliseconds.
//!
//! It measures the client's own overhead under concurrency (pool, runtime, SSE parsing),
//! not a model: time to first token here is ideally ~one token interval.
//!
//! ```text
//! cargo run --release -p llm --example concurrent -- [streams=200] [tokens=50] [token_ms=10]
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm::{ChatRequest, Client, Config, Delta, Message};

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let streams = args.first().copied().unwrap_or(200) as usize;
    let tokens = args.get(1).copied().unwrap_or(50) as usize;
    let token_ms = args.get(2).copied().unwrap_or(10);

    let words: Vec<String> = (0..tokens).map(|i| format!(" word{i}")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let script = support::paced_stream("bench", &refs, Duration::from_millis(token_ms));
    let server = support::Server::start(vec![script]).await;
    let client = Client::new(Config::new(server.base_url(), "bench")).unwrap();

    let started = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let req = ChatRequest::new(vec![Message::user(format!("question {i}"))]);
                let t0 = Instant::now();
                let mut stream = client.stream(&req).await?;
                let mut ttft = None;
                let mut received = 0usize;
                while let Some(item) = stream.next().await {
                    if let Delta::Token(_) = item? {
                        ttft.get_or_insert_with(|| t0.elapsed());
                        received += 1;
                    }
                }
                Ok::<_, llm::LlmError>((ttft.unwrap_or_default(), t0.elapsed(), received))
            })
        })
        .collect();

    let (mut ttfts, mut totals, mut errors, mut received) = (Vec::new(), Vec::new(), 0usize, 0usize);
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok((ttft, total, n)) if n == tokens => {
                ttfts.push(ttft);
                totals.push(total);
                received += n;
            }
            Ok((_, _, n)) => {
                errors += 1;
                eprintln!("stream ended after {n} of {tokens} tokens");
            }
            Err(e) => {
                errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    let wall = started.elapsed();
    let ideal = Duration::from_millis(token_ms * (tokens as u64 + 4));
    println!("streams={streams} tokens/stream={tokens} token_interval={token_ms}ms");
    println!(
        "wall time            {:>9.1} ms  (one stream's ideal: {} ms)",
        ms(wall),
        ideal.as_millis()
    );
    println!(
        "time to first token  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        p(&mut ttfts, 50),
        p(&mut ttfts, 99),
        p(&mut ttfts, 100)
    );
    println!(
        "stream duration      p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        p(&mut totals, 50),
        p(&mut totals, 99),
        p(&mut totals, 100)
    );
    println!(
        "tokens received      {received}  ({:.0} tokens/s)",
        received as f64 / wall.as_secs_f64()
    );
    println!("errors               {errors}");
    if errors > 0 {
        std::process::exit(1);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile.
fn p(samples: &mut [Duration], pct: usize) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = (pct * samples.len()).div_ceil(100).clamp(1, samples.len());
    ms(samples[rank - 1])
}
