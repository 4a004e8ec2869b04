//! Builds the index of one book many times, for profiling: `perf record target/release/examples/build_one FILE`.

use retrieval::{Index, Item, PASSAGE_CHARS, chunk};

fn main() {
    let path = std::env::args().nth(1).expect("usage: build_one FILE [ROUNDS]");
    let rounds: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(50);
    let text = std::fs::read_to_string(path).expect("read");
    let mut byte_at: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    byte_at.push(text.len());
    let ps: Vec<&str> = chunk(&text, PASSAGE_CHARS)
        .iter()
        .map(|&(s, e)| &text[byte_at[s]..byte_at[e]])
        .collect();
    let t = std::time::Instant::now();
    let mut mem = 0;
    for _ in 0..rounds {
        mem += Index::build(ps.iter().map(|p| Item { text: p, section: None })).memory_bytes();
    }
    println!(
        "{:.2} ms per build ({mem})",
        t.elapsed().as_secs_f64() * 1e3 / rounds as f64
    );
}
