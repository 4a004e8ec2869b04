//! Build and query timings over LitBank's 100 books. Run in release:
//!
//! ```sh
//! cargo run --release -p retrieval --example bench [-- PATH_TO_LITBANK]
//! ```
//!
//! Prints the per-book build time (chunking apart), the latency of single-index search and of `search_many` over
//! all the indexes, and the memory the indexes hold. Queries are bags of the non-stop words of sentences drawn with
//! a fixed seed, as in the recall test, plus a boosted variant.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use retrieval::{Index, Item, PASSAGE_CHARS, SearchOptions, chunk, is_stop_word, search_many, snippet};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/litbank"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("original"))
        .expect("litbank/original")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let texts: Vec<String> = files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();

    let mut chunk_times = Vec::new();
    let mut build_times = Vec::new();
    let mut per_mb = Vec::new();
    let mut indexes = Vec::new();
    let mut passages_of = Vec::new();
    for text in &texts {
        // Best of 3, to see the code rather than the neighbours on a shared machine.
        let mut best_chunk = Duration::MAX;
        let mut best_build = Duration::MAX;
        let mut built = None;
        let mut ranges = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            ranges = chunk(text, PASSAGE_CHARS);
            best_chunk = best_chunk.min(t.elapsed());
            let mut byte_at: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            byte_at.push(text.len());
            let ps: Vec<&str> = ranges.iter().map(|&(s, e)| &text[byte_at[s]..byte_at[e]]).collect();
            let t = Instant::now();
            let ix = Index::build(ps.iter().enumerate().map(|(i, p)| Item {
                text: p,
                section: Some(i as u32 / 20),
            }));
            best_build = best_build.min(t.elapsed());
            built = Some(ix);
        }
        chunk_times.push(best_chunk);
        build_times.push(best_build);
        per_mb.push(best_build.as_secs_f64() * 1e3 / (text.len() as f64 / 1e6));
        indexes.push(built.unwrap());
        passages_of.push(ranges);
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let passages: usize = indexes.iter().map(Index::len).sum();
    let mem: usize = indexes.iter().map(Index::memory_bytes).sum();
    println!(
        "{} books, {:.1} MB of text, {passages} passages",
        texts.len(),
        bytes as f64 / 1e6
    );
    println!(
        "chunk: median {}   build: median {}, p90 {}, max {}; median {:.2} ms per MB of text",
        us(pct(&mut chunk_times, 0.5)),
        us(pct(&mut build_times.clone(), 0.5)),
        us(pct(&mut build_times.clone(), 0.9)),
        us(pct(&mut build_times.clone(), 1.0)),
        {
            per_mb.sort_by(f64::total_cmp);
            per_mb[per_mb.len() / 2]
        }
    );
    // The book closest to 700 KB, the size the brief names.
    let k = (0..texts.len())
        .min_by_key(|&i| texts[i].len().abs_diff(700_000))
        .unwrap();
    println!(
        "{}: {:.0} KB, {} passages, build {}, memory {:.0} KB",
        files[k].file_stem().unwrap().to_string_lossy(),
        texts[k].len() as f64 / 1e3,
        indexes[k].len(),
        us(build_times[k]),
        indexes[k].memory_bytes() as f64 / 1e3
    );
    println!(
        "memory: {:.1} MB for all indexes ({:.2}x the text), median {:.0} KB per book",
        mem as f64 / 1e6,
        mem as f64 / bytes as f64,
        {
            let mut m: Vec<usize> = indexes.iter().map(Index::memory_bytes).collect();
            m.sort();
            m[m.len() / 2] as f64 / 1e3
        }
    );

    // 1000 queries: 10 per book.
    let mut rng = Rng(42);
    let mut queries: Vec<(usize, String)> = Vec::new();
    for (b, text) in texts.iter().enumerate() {
        let words: Vec<&str> = text.split_whitespace().collect();
        for _ in 0..10 {
            let at = rng.below(words.len().saturating_sub(20).max(1));
            let q: Vec<String> = words[at..(at + 20).min(words.len())]
                .iter()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
                .filter(|w| !w.is_empty() && !is_stop_word(&w.to_lowercase()))
                .take(6)
                .collect();
            queries.push((b, q.join(" ")));
        }
    }
    let plain = SearchOptions::default();
    let boosted = SearchOptions {
        boost_phrases: vec!["Mr. Darcy".into(), "Elizabeth".into(), "the old man".into()],
        boost: 2.0,
        max_section: Some(10),
        ..SearchOptions::default()
    };
    let all: Vec<&Index> = indexes.iter().collect();
    for (name, opts) in [("plain", &plain), ("boost+spoiler", &boosted)] {
        let mut single = Vec::new();
        let mut many = Vec::new();
        let mut found = 0usize;
        for (b, q) in &queries {
            let t = Instant::now();
            let hits = indexes[*b].search(q, opts);
            single.push(t.elapsed());
            found += !hits.is_empty() as usize;
            let t = Instant::now();
            let hits = search_many(&all, q, opts);
            many.push(t.elapsed());
            std::hint::black_box(hits);
        }
        println!(
            "{name:>14}: single index median {} p99 {}   search_many over {} indexes median {} p99 {}   ({found}/{} with hits)",
            us(pct(&mut single, 0.5)),
            us(pct(&mut single, 0.99)),
            all.len(),
            us(pct(&mut many, 0.5)),
            us(pct(&mut many, 0.99)),
            queries.len()
        );
    }
    let mut snip = Vec::new();
    for (b, q) in queries.iter().take(300) {
        let hits = indexes[*b].search(q, &plain);
        if let Some(h) = hits.first() {
            let (s, e) = passages_of[*b][h.item as usize];
            let p: String = texts[*b].chars().skip(s).take(e - s).collect();
            let t = Instant::now();
            std::hint::black_box(snippet(&p, q, 200));
            snip.push(t.elapsed());
        }
    }
    println!(
        "snippet (200 chars of a passage): median {} p99 {}",
        us(pct(&mut snip, 0.5)),
        us(pct(&mut snip, 0.99))
    );
}
