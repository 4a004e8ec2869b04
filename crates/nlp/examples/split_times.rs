//! Median wall times of `process` (the NLP stages) and of `analyze` (plus
//! the JSON types, statistics, relationships, profiles) on one file:
//! `split_times FILE [--repeat N]`.
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("read");
    let n: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let _ = nlp::analyze(&text, &[]);
    let (mut p, mut a) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(nlp::process(&text).speakers.len());
        p.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(nlp::analyze(&text, &[]));
        a.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "process {:.1} ms, analyze {:.1} ms (medians of {n})",
        median(p),
        median(a)
    );
}
