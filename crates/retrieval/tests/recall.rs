//! Recall on real books: can a reader who half-remembers a sentence find its passage?
//!
//! For each of LitBank's 80 training books (`shared/data/litbank`, beside the repository), the text is chunked as
//! the server chunks it and indexed; 50 sentences of at least 8 words are drawn with a fixed-seed PRNG, and each
//! becomes a query of its non-stop words in shuffled order (a bag of words, as a person remembers it). The passage
//! holding the sentence must be in the top 5 for at least 95% of all queries. When a sentence occurs in several
//! passages (Gutenberg boilerplate, refrains), any passage containing it counts.

use std::path::PathBuf;

use retrieval::{Index, Item, PASSAGE_CHARS, SearchOptions, chunk, is_stop_word};

const PER_BOOK: usize = 50;
const MIN_WORDS: usize = 8;

/// splitmix64: a tiny, well-mixed, fixed-seed generator; enough for sampling.
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

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn litbank() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/litbank")
}

/// The passages' texts, sliced by the char ranges `chunk` returns.
fn passages(text: &str) -> Vec<&str> {
    let mut byte_at: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    byte_at.push(text.len());
    chunk(text, PASSAGE_CHARS)
        .into_iter()
        .map(|(s, e)| &text[byte_at[s]..byte_at[e]])
        .collect()
}

/// Sentences of a passage: split after `.`, `!` or `?` (and any closing quotes) followed by whitespace, and at
/// paragraph breaks; trimmed.
fn sentences(passage: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for para in passage.split("\n\n") {
        let mut start = 0;
        let mut chars = para.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if matches!(c, '.' | '!' | '?') {
                let mut end = i + c.len_utf8();
                while let Some(&(j, q)) = chars.peek() {
                    if matches!(q, '"' | '\'' | '”' | '’' | ')') {
                        end = j + q.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                if chars.peek().is_none_or(|&(_, n)| n.is_whitespace()) {
                    out.push(para[start..end].trim());
                    start = end;
                }
            }
        }
        out.push(para[start..].trim());
    }
    out.retain(|s| !s.is_empty());
    out
}

fn words(sentence: &str) -> Vec<&str> {
    sentence
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn the_passage_of_a_remembered_sentence_is_in_the_top_5() {
    let dir = litbank();
    let list = std::fs::read_to_string(dir.join("train-books.txt"))
        .unwrap_or_else(|e| panic!("LitBank is expected at {}: {e}", dir.display()));
    let books: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(books.len(), 80);

    let mut rng = Rng(0x5EED_0F0D_D2A3_A715);
    let opts = SearchOptions {
        limit: 5,
        ..SearchOptions::default()
    };
    let (mut queries, mut at1, mut at5) = (0usize, 0usize, 0usize);
    let mut worst = (f64::INFINITY, "");
    let mut misses = Vec::new();
    for book in &books {
        let text = std::fs::read_to_string(dir.join("original").join(format!("{book}.txt"))).unwrap();
        let passages = passages(&text);
        let index = Index::build(passages.iter().map(|p| Item { text: p, section: None }));
        assert_eq!(index.len(), passages.len());

        let mut pool: Vec<&str> = passages
            .iter()
            .flat_map(|p| sentences(p))
            .filter(|s| words(s).len() >= MIN_WORDS)
            .collect();
        assert!(pool.len() >= PER_BOOK, "{book}: only {} sentences", pool.len());
        // Partial Fisher-Yates: the first PER_BOOK of the pool, drawn without replacement.
        for i in 0..PER_BOOK {
            let j = i + rng.below(pool.len() - i);
            pool.swap(i, j);
        }
        let mut book_at5 = 0;
        for sentence in &pool[..PER_BOOK] {
            let mut ws: Vec<&str> = words(sentence)
                .into_iter()
                .filter(|w| !is_stop_word(&w.to_lowercase()))
                .collect();
            rng.shuffle(&mut ws);
            let query = ws.join(" ");
            let hits = index.search(&query, &opts);
            let rank = hits.iter().position(|h| passages[h.item as usize].contains(sentence));
            queries += 1;
            match rank {
                Some(0) => {
                    at1 += 1;
                    at5 += 1;
                    book_at5 += 1;
                }
                Some(_) => {
                    at5 += 1;
                    book_at5 += 1;
                }
                None => misses.push(format!("{book}: {query:?} <- {sentence:?}")),
            }
        }
        let r = book_at5 as f64 / PER_BOOK as f64;
        if r < worst.0 {
            worst = (r, book);
        }
    }
    let (r1, r5) = (at1 as f64 / queries as f64, at5 as f64 / queries as f64);
    println!(
        "{} books, {queries} queries: recall@1 {r1:.3}, recall@5 {r5:.3}; lowest recall@5 {:.2} ({})",
        books.len(),
        worst.0,
        worst.1
    );
    for m in misses.iter().take(20) {
        println!("miss: {m}");
    }
    assert!(r5 >= 0.95, "recall@5 {r5:.3} < 0.95");
}
