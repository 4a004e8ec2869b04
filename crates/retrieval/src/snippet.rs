//! Snippets: the part of a passage worth showing under a search hit.
//!
//! A snippet is the window of at most `max_chars` chars that holds the most *distinct* query terms (then the most
//! matches, then the earliest), widened with context to use the budget, a quarter before the matches and the rest
//! after (we read forwards), and cut at whitespace so that no word is shown in half. Matching uses the same
//! terms as the index ([`crate::terms`]), so "walked" highlights for the query "walking"; stop words never match.

use crate::hash::Map;
use crate::text::{normalize, stemmer, words};

/// A snippet of a text: `text` is `chars[start..start + text.chars().count()]` of the original, `highlights` are the
/// char ranges, relative to `text`, of the words that matched the query, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snippet {
    pub text: String,
    pub start: usize,
    pub highlights: Vec<(usize, usize)>,
}

/// A snippet of `text` around its best-matching query terms, at most `max_chars` chars, cut at word boundaries.
/// Without any match it is the beginning of the text. A single word longer than `max_chars` is cut inside.
pub fn snippet(text: &str, query: &str, max_chars: usize) -> Snippet {
    if max_chars == 0 || text.is_empty() {
        return Snippet::default();
    }
    let mut wanted: Vec<String> = crate::terms(query);
    wanted.sort_unstable();
    wanted.dedup();
    // Matched words: (start, end, which query term), in char offsets.
    let mut matches: Vec<(usize, usize, usize)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    if !wanted.is_empty() {
        let stemmer = stemmer();
        // Each distinct word is stemmed once.
        let mut seen: Map<String, Option<usize>> = Map::default();
        let mut buf = String::new();
        words(text, |w, raw| {
            normalize(raw, &mut buf);
            let id = match seen.get(buf.as_str()) {
                Some(&id) => id,
                None => {
                    let id = if buf.is_empty() || crate::is_stop_word(&buf) {
                        None
                    } else {
                        {
                            let stem = stemmer.stem(&buf);
                            wanted.binary_search_by(|w| w.as_str().cmp(stem.as_ref())).ok()
                        }
                    };
                    seen.insert(buf.clone(), id);
                    id
                }
            };
            if let Some(id) = id {
                matches.push((w.start, w.end, id));
            }
        });
    }

    // The matches' window: most distinct terms, then most matches, then earliest.
    let (a, b) = match best_window(&matches, wanted.len(), max_chars) {
        Some((i, j)) => (matches[i].0, matches[j].1),
        None if !matches.is_empty() => {
            // Even the first match alone is too long: show its first max_chars chars.
            let (s, _, _) = matches[0];
            let e = (s + max_chars).min(n);
            return Snippet {
                text: chars[s..e].iter().collect(),
                start: s,
                highlights: vec![(0, e - s)],
            };
        }
        None => {
            let p = chars.iter().position(|c| !c.is_whitespace()).unwrap_or(n);
            (p, p)
        }
    };

    // Widen to the budget: a quarter before, the rest after; what one side cannot use goes to the other. Without a
    // match, everything goes after: the snippet is the beginning of the text.
    let spare = max_chars - (b - a);
    let mut before = if matches.is_empty() { 0 } else { spare / 4 };
    let mut after = spare - before;
    if b + after > n {
        before += b + after - n;
        after = n - b;
    }
    if before > a {
        after = (after + before - a).min(n - b);
        before = a;
    }
    let (mut s, mut e) = (a - before, b + after);
    // Cut at whitespace, never past the matches: move the start forward to a word start, the end back to a word end.
    if s > 0 && !chars[s - 1].is_whitespace() {
        while s < a && !chars[s - 1].is_whitespace() {
            s += 1;
        }
    }
    while s < a && chars[s].is_whitespace() {
        s += 1;
    }
    if e < n && !chars[e].is_whitespace() {
        while e > b && !chars[e].is_whitespace() {
            e -= 1;
        }
    }
    while e > b && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    if e <= s {
        // No match and the first word alone is longer than max_chars: cut it.
        e = (s + max_chars).min(n);
    }
    let highlights = matches
        .iter()
        .filter(|m| m.0 >= s && m.1 <= e)
        .map(|&(ms, me, _)| (ms - s, me - s))
        .collect();
    Snippet {
        text: chars[s..e].iter().collect(),
        start: s,
        highlights,
    }
}

/// The (first, last) indexes into `matches` of the best window spanning at most `max_chars` chars, or `None` when
/// there is no match or every single match is longer than `max_chars`.
fn best_window(matches: &[(usize, usize, usize)], terms: usize, max_chars: usize) -> Option<(usize, usize)> {
    let mut count = vec![0usize; terms];
    let mut distinct = 0;
    let mut best: Option<((usize, usize), (usize, usize))> = None; // ((distinct, matches), (i, j))
    let mut i = 0;
    for j in 0..matches.len() {
        let t = matches[j].2;
        count[t] += 1;
        if count[t] == 1 {
            distinct += 1;
        }
        while i <= j && matches[j].1 - matches[i].0 > max_chars {
            let t = matches[i].2;
            count[t] -= 1;
            if count[t] == 0 {
                distinct -= 1;
            }
            i += 1;
        }
        if i > j {
            continue;
        }
        let key = (distinct, j + 1 - i);
        if best.is_none_or(|(k, _)| key > k) {
            best = Some((key, (i, j)));
        }
    }
    best.map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_prefers_distinct_terms() {
        // terms: 0 at 0..3, 0 at 10..13, 1 at 100..103
        let m = [(0, 3, 0), (10, 13, 0), (100, 103, 1), (105, 108, 0)];
        assert_eq!(best_window(&m, 2, 20), Some((2, 3)));
        assert_eq!(best_window(&m, 2, 2), None);
        assert_eq!(best_window(&[], 2, 20), None);
    }
}
