//! Speed check outside criterion.
//!
//! `throughput FILE --repeat 9` prints the median wall time of `analyze` on one
//! file (single thread); `throughput DIR --threads 2` analyses every `.txt` in
//! DIR on N threads and prints the total wall time and MB/s.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str, d: usize| -> usize {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let Some(path) = args.get(1) else {
        eprintln!("usage: throughput FILE|DIR [--repeat N] [--threads N]");
        std::process::exit(2);
    };
    let p = std::path::Path::new(path);
    if p.is_file() {
        let text = std::fs::read_to_string(p).expect("read");
        let mut times = Vec::new();
        for _ in 0..arg("--repeat", 9) {
            let t = Instant::now();
            let a = nlp::analyze(&text, &[]);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(a);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{}: {} bytes, median {:.1} ms (min {:.1}, max {:.1}, {} runs)",
            path,
            text.len(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            times.len()
        );
        return;
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(p)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let threads = arg("--threads", 2).max(1);
    let t = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let bytes = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let text = std::fs::read_to_string(f).expect("read");
                    bytes.fetch_add(text.len(), std::sync::atomic::Ordering::Relaxed);
                    std::hint::black_box(nlp::analyze(&text, &[]));
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let b = bytes.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{} files, {:.1} MB in {:.2} s on {} threads ({:.1} MB/s)",
        files.len(),
        b as f64 / 1e6,
        secs,
        threads,
        b as f64 / 1e6 / secs
    );
}
