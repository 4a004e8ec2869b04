//! Scoring extracted text against a reference text, shared by the
//! `compare` example (which prints the quality table) and the `corpus`
//! integration test (which enforces the per-file floor).
//!
//! Words: the text is lower-cased and split into maximal runs of letters
//! and digits; every CJK ideograph or kana is a word of its own (neither side
//! puts spaces between them, and pandoc wraps lines inside them).
//! Punctuation, list markers and table rules therefore do not count, and
//! whitespace differences (pandoc wraps at 72 columns) vanish. Both texts
//! are compared in NFKC (pdftotext keeps Arabic presentation forms and
//! ligature characters that the reader normalises; m² and m2 are one word). Invisible
//! format characters (soft hyphen, zero-width joiners) are skipped, not
//! taken as word breaks.
//!
//! - `f1`: word-level F1 of the two word multisets.
//! - `order`: `1 - D / (n + m)` where `D` is the insert/delete edit distance
//!   of the two word sequences (Myers' O(ND) algorithm, so similar texts are
//!   cheap); if `D` would exceed a cap the value is a lower bound.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use unicode_normalization::UnicodeNormalization;

/// The words of a text as defined above.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.nfkc() {
        if is_ignorable(c) {
            continue;
        }
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Invisible format characters that do not separate words: soft hyphen,
/// zero-width (non-)joiner, word joiner, BOM. pandoc keeps a DOCX soft hyphen
/// inside its word ("optional\u{AD}hyphen" is one word on the page).
fn is_ignorable(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// Word-level F1 of two word lists (as multisets); 1.0 when both are empty.
pub fn f1(ours: &[String], reference: &[String]) -> f64 {
    precision_recall_f1(ours, reference).2
}

/// Word precision, recall and F1 (multisets).
pub fn precision_recall_f1(ours: &[String], reference: &[String]) -> (f64, f64, f64) {
    if ours.is_empty() && reference.is_empty() {
        return (1.0, 1.0, 1.0);
    }
    if ours.is_empty() || reference.is_empty() {
        let r = if reference.is_empty() { 1.0 } else { 0.0 };
        return (0.0, r, 0.0);
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for w in reference {
        *counts.entry(w).or_default() += 1;
    }
    let mut common = 0i64;
    for w in ours {
        if let Some(c) = counts.get_mut(w.as_str())
            && *c > 0
        {
            *c -= 1;
            common += 1;
        }
    }
    let p = common as f64 / ours.len() as f64;
    let r = common as f64 / reference.len() as f64;
    let f = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
    (p, r, f)
}

/// Order-aware similarity `1 - D/(n+m)` (see the module doc).
pub fn order_similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut ia = Vec::with_capacity(a.len());
    for w in a {
        let next = ids.len() as u32;
        ia.push(*ids.entry(w.as_str()).or_insert(next));
    }
    let mut ib = Vec::with_capacity(b.len());
    for w in b {
        let next = ids.len() as u32;
        ib.push(*ids.entry(w.as_str()).or_insert(next));
    }
    let (a, b) = (ia, ib);
    let total = a.len() + b.len();
    let d = edit_distance(&a, &b, 30_000);
    1.0 - d as f64 / total as f64
}

/// Insert/delete edit distance, capped at `cap` (then returns `cap`).
pub fn edit_distance(a: &[u32], b: &[u32], cap: usize) -> usize {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max_d = (cap as isize).min(n + m);
    let off = max_d + 1;
    let mut v = vec![0isize; (2 * max_d + 3) as usize];
    for d in 0..=max_d {
        let mut k = -d;
        while k <= d {
            let idx = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
                v[idx + 1]
            } else {
                v[idx - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && x >= 0 && y >= 0 && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx] = x;
            if x >= n && y >= m {
                return d as usize;
            }
            k += 2;
        }
    }
    cap
}

/// Where the shared corpus lives (`shared/` beside the repository).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/docs"))
}

/// Corpus files of one folder (`docx`, `epub`, `md`, `pdf`), sorted, without
/// the reference texts.
pub fn corpus_files(root: &Path, folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(folder))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".ref.txt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// MANIFEST.tsv: `folder/file` → `special` column.
pub fn manifest(root: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(4)?.to_string()))
        })
        .collect()
}

/// The outcome of reading one file.
pub enum Outcome {
    Ok(reader::Document),
    Err(reader::Error),
    Panic(String),
    Timeout,
}

/// Reads a file in a thread, catching panics, giving up after `timeout`.
pub fn run(bytes: Vec<u8>, name: String, timeout: Duration) -> (Outcome, Duration) {
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let limits = reader::Limits::default();
        let r = std::panic::catch_unwind(|| reader::read(&bytes, Some(&name), &limits));
        let _ = tx.send(r);
    });
    let outcome = match rx.recv_timeout(timeout) {
        Ok(Ok(Ok(doc))) => Outcome::Ok(doc),
        Ok(Ok(Err(e))) => Outcome::Err(e),
        Ok(Err(p)) => Outcome::Panic(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
        Err(_) => Outcome::Timeout,
    };
    (outcome, start.elapsed())
}

/// Scores of one file against its reference.
pub struct Score {
    pub f1: f64,
    /// Share of the reference's words we have (high recall with low F1
    /// means we found text the reference tool missed).
    pub recall: f64,
    pub order: f64,
    pub ours_words: usize,
    pub ref_words: usize,
}

pub fn score(ours: &str, reference: &str) -> Score {
    let a = words(ours);
    let b = words(reference);
    let (_, recall, f1) = precision_recall_f1(&a, &b);
    Score {
        f1,
        recall,
        order: order_similarity(&a, &b),
        ours_words: a.len(),
        ref_words: b.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring() {
        let a = words("Hello, World! 你好 café-au-lait");
        assert_eq!(a, vec!["hello", "world", "你", "好", "café", "au", "lait"]);
        assert_eq!(words("optional\u{AD}hyphen x"), vec!["optionalhyphen", "x"]);
        assert_eq!(words("\u{FB01}ne \u{FEFB}"), words("fine \u{644}\u{627}"));
        assert_eq!(f1(&a, &a), 1.0);
        let s = score("a b c d", "a b c d");
        assert_eq!((s.f1, s.order), (1.0, 1.0));
        let s = score("a b c d", "d c b a");
        assert_eq!(s.f1, 1.0);
        assert!(s.order < 0.5);
        assert_eq!(edit_distance(&[1, 2, 3], &[1, 3], 10), 1);
        assert_eq!(edit_distance(&[1, 2, 3], &[4, 5], 10), 5);
    }
}
