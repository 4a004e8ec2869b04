//! Inputs for the feature-module tests and benches that do not depend on the
//! core pipeline: a plain sentence splitter, chapter sections, and mentions
//! and quotes found by matching a hand-made cast list. All offsets are bytes.
#![allow(dead_code)]

use nlp::relations::{MentionRef, QuoteRef};
use std::ops::Range;

/// A LitBank book by file name, if the shared data is there.
pub fn book(file: &str) -> Option<String> {
    let p = format!(
        "{}/../../../shared/data/litbank/original/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).ok()
}

pub const PRIDE: &str = "1342_pride_and_prejudice.txt";

/// The Pride and Prejudice cast: (name as written, character id). Longer
/// names first so "Mr. Darcy" wins over "Darcy".
pub const PRIDE_CAST: &[(&str, u32)] = &[
    ("Lady Catherine", 11),
    ("Mrs. Bennet", 5),
    ("Mr. Bennet", 6),
    ("Mr. Darcy", 2),
    ("Mr. Bingley", 4),
    ("Mr. Collins", 9),
    ("Mr. Wickham", 7),
    ("Miss Bingley", 15),
    ("Elizabeth", 1),
    ("Lizzy", 1),
    ("Eliza", 1),
    ("Darcy", 2),
    ("Jane", 3),
    ("Bingley", 4),
    ("Wickham", 7),
    ("Lydia", 8),
    ("Collins", 9),
    ("Charlotte", 10),
    ("Kitty", 12),
    ("Mary", 13),
    ("Mrs. Gardiner", 14),
];

/// Sentences: split after . ! ? (and closing quotes) followed by whitespace,
/// except after Mr/Mrs/Dr/St; and at blank lines.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let para = c == b'\n' && b.get(i + 1) == Some(&b'\n');
        if matches!(c, b'.' | b'!' | b'?') || para {
            let mut j = i + 1;
            loop {
                if j < b.len() && matches!(b[j], b'"' | b'\'' | b')' | b'_') {
                    j += 1;
                } else if text.get(j..).is_some_and(|r| r.starts_with(['”', '’'])) {
                    j += 3;
                } else {
                    break;
                }
            }
            let head = &text[..i];
            let abbrev = c == b'.'
                && ["Mr", "Mrs", "Dr", "St", "Ms"].iter().any(|a| {
                    head.ends_with(a) && !head[..head.len() - a.len()].ends_with(|ch: char| ch.is_alphanumeric())
                });
            if !abbrev && (j >= b.len() || b[j].is_ascii_whitespace()) {
                if !text[start..j].trim().is_empty() {
                    out.push(start..j);
                }
                start = j;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    if start < b.len() && !text[start..].trim().is_empty() {
        out.push(start..b.len());
    }
    out
}

/// Paragraphs: blocks separated by blank lines.
pub fn paragraphs(text: &str) -> usize {
    text.split("\n\n").filter(|p| !p.trim().is_empty()).count()
}

/// Sections: from each line starting with "Chapter " to the next.
pub fn sections(text: &str) -> Vec<Range<usize>> {
    let mut starts: Vec<usize> = vec![];
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("Chapter ") || line.starts_with("CHAPTER ") {
            starts.push(pos);
        }
        pos += line.len();
    }
    let mut out = vec![];
    for (k, &s) in starts.iter().enumerate() {
        out.push(s..starts.get(k + 1).copied().unwrap_or(text.len()));
    }
    out
}

/// Whole-word, case-sensitive matches of the cast names; no overlaps.
pub fn mentions(text: &str, cast: &[(&str, u32)]) -> Vec<MentionRef> {
    let mut taken: Vec<MentionRef> = vec![];
    for &(name, id) in cast {
        let mut from = 0;
        while let Some(p) = text[from..].find(name) {
            let s = from + p;
            let e = s + name.len();
            from = e;
            let before_ok = text[..s].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            let after_ok = text[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
            if before_ok && after_ok {
                taken.push(MentionRef {
                    start: s,
                    end: e,
                    character: id,
                });
            }
        }
    }
    taken.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut out: Vec<MentionRef> = vec![];
    for m in taken {
        if out.last().is_none_or(|l| m.start >= l.end) {
            out.push(m);
        }
    }
    out
}

/// “Curly-quoted” spans; the speaker is the character of the first mention
/// within 40 bytes after the quote (“…,” said Elizabeth), else none.
pub fn quotes(text: &str, mentions: &[MentionRef]) -> Vec<QuoteRef> {
    let mut out = vec![];
    let mut from = 0;
    while let Some(p) = text[from..].find('“') {
        let s = from + p;
        let Some(q) = text[s..].find('”') else {
            break;
        };
        let e = s + q + '”'.len_utf8();
        from = e;
        let k = mentions.partition_point(|m| m.start < e);
        let speaker = mentions.get(k).filter(|m| m.start - e <= 40).map(|m| m.character);
        out.push(QuoteRef {
            start: s,
            end: e,
            speaker,
        });
    }
    out
}
