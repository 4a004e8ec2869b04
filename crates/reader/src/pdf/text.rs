//! From laid-out pages to the document text: running headers and footers
//! dropped, paragraphs rebuilt from line geometry (across columns and
//! pages), line-end hyphens rejoined, compatibility characters normalised.

use super::layout::{Line, PageLayout};
use std::collections::{HashMap, HashSet};
use unicode_normalization::UnicodeNormalization;

/// A paragraph of the output, with where it started on the page.
#[derive(Debug, Clone)]
pub(crate) struct Para {
    pub page: usize,
    pub top: f32,
    pub size: f32,
    pub lines: Vec<String>,
    /// Char offset of the paragraph in the final text (set by `render`).
    pub start: usize,
    /// The rendered text (set by `render`).
    pub text: String,
}

/// Removes lines that repeat at the top or bottom of many pages (running
/// headers and footers), and lone page numbers there. Returns how many
/// lines were dropped.
pub(crate) fn drop_running_lines(pages: &mut [PageLayout], body_size: f32) -> usize {
    if pages.len() < 3 {
        return 0;
    }
    // (page, block, line, key, at the top) of the lines at either end.
    let mut candidates: Vec<(usize, usize, usize, String, bool, bool)> = Vec::new();
    let mut counts: HashMap<(String, bool), usize> = HashMap::new();
    for (pi, page) in pages.iter().enumerate() {
        let mut all: Vec<(f32, usize, usize)> = Vec::new();
        for (bi, b) in page.blocks.iter().enumerate() {
            for (li, l) in b.lines.iter().enumerate() {
                all.push((l.baseline, bi, li));
            }
        }
        if all.len() < 2 {
            continue;
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = all.len();
        // Up to four lines at each end: a running header, a page number,
        // and printer's slug lines can all sit there.
        let k = (n / 3).clamp(1, 4);
        let mut picks: Vec<(usize, bool)> = Vec::with_capacity(2 * k);
        for j in 0..k {
            picks.push((j, true));
            picks.push((n - 1 - j, false));
        }
        let mut seen = HashSet::new();
        for (idx, top) in picks {
            if !seen.insert(idx) {
                continue;
            }
            let (_, bi, li) = all[idx];
            let line = &page.blocks[bi].lines[li];
            if line.text.chars().count() > 120 {
                continue;
            }
            // Larger than body text: a heading, unless it repeats a lot.
            let big = line.size > body_size * 1.1;
            let key = normalise_key(&line.text);
            if key.is_empty() {
                continue;
            }
            *counts.entry((key.clone(), top)).or_insert(0) += 1;
            candidates.push((pi, bi, li, key, top, big));
        }
    }
    let threshold = 3.max(pages.len() / 50);
    let mut drop: Vec<(usize, usize, usize)> = candidates
        .into_iter()
        .filter(|(_, _, _, key, top, big)| {
            let n = counts[&(key.clone(), *top)];
            if *big {
                n >= threshold.max(pages.len() / 4)
            } else {
                n >= threshold || (key == "#" && n >= 2)
            }
        })
        .map(|(p, b, l, _, _, _)| (p, b, l))
        .collect();
    // Remove from the back so indexes stay valid.
    drop.sort_unstable();
    drop.dedup();
    let dropped = drop.len();
    for &(p, b, l) in drop.iter().rev() {
        pages[p].blocks[b].lines.remove(l);
    }
    for page in pages.iter_mut() {
        page.blocks.retain(|b| !b.lines.is_empty());
    }
    dropped
}

/// Digits (and roman numerals standing alone) become `#`, letters are
/// lowercased, spaces squeezed: "Page 12" and "Page 13" are the same key.
fn normalise_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        let is_roman = word.len() <= 7
            && word
                .chars()
                .all(|c| matches!(c.to_ascii_lowercase(), 'i' | 'v' | 'x' | 'l' | 'c'));
        if !out.is_empty() {
            out.push(' ');
        }
        if is_roman {
            out.push('#');
            continue;
        }
        let mut last_hash = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !last_hash {
                    out.push('#');
                }
                last_hash = true;
            } else {
                last_hash = false;
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

/// The font size most of the text is set in (by characters).
pub(crate) fn body_size(pages: &[PageLayout]) -> f32 {
    let mut hist: HashMap<i32, usize> = HashMap::new();
    for p in pages {
        for b in &p.blocks {
            for l in &b.lines {
                *hist.entry((l.size * 2.0).round() as i32).or_insert(0) += l.text.len();
            }
        }
    }
    hist.into_iter()
        .max_by_key(|&(k, n)| (n, k))
        .map(|(k, _)| k as f32 / 2.0)
        .unwrap_or(10.0)
}

fn ends_sentence(s: &str) -> bool {
    matches!(
        s.trim_end().chars().last(),
        Some('.' | '!' | '?' | ':' | '"' | '\u{201D}' | '\u{2019}' | ')' | ';')
    )
}

fn starts_lower(s: &str) -> bool {
    s.chars().next().is_some_and(char::is_lowercase)
}

/// Splits blocks into paragraphs and joins paragraphs that continue across
/// blocks (columns, pages).
pub(crate) fn paragraphs(pages: &[PageLayout]) -> Vec<Para> {
    let mut out: Vec<Para> = Vec::new();
    // Whether the last paragraph may continue into the next block: its
    // last line ran to the right edge of its block.
    let mut open = false;
    for (pi, page) in pages.iter().enumerate() {
        for block in &page.blocks {
            let spacing = median_spacing(&block.lines);
            let width = block.x1 - block.x0;
            let mut prev: Option<&Line> = None;
            for line in &block.lines {
                let new_para = match prev {
                    None => {
                        let cont = open
                            && out.last().is_some_and(|p| {
                                (p.size - line.size).abs() < 0.15 * p.size
                                    && !line_indented(line, block.x0)
                                    && (starts_lower(&line.text) || !p.lines.last().is_some_and(|l| ends_sentence(l)))
                            });
                        !cont
                    }
                    Some(p) => {
                        let size = line.size.max(p.size);
                        let dy = line.baseline - p.baseline;
                        let centred =
                            ((line.x0 + line.x1) - (p.x0 + p.x1)).abs() < 2.0 * size && line.x1 < block.x1 - 0.8 * size;
                        let indented = line.x0 > p.x0 + 0.8 * size && line.x0 > block.x0 + 0.8 * size && !centred;
                        let gap = spacing > 0.0 && dy > spacing * 1.3 + 0.05 * size;
                        let short = p.x1 < block.x1 - (0.2 * width).max(4.0 * size) && ends_sentence(&p.text);
                        indented || gap || short
                    }
                };
                if new_para {
                    out.push(Para {
                        page: pi,
                        top: line.top,
                        size: line.size,
                        lines: Vec::new(),
                        start: 0,
                        text: String::new(),
                    });
                }
                out.last_mut().expect("pushed above").lines.push(line.text.clone());
                prev = Some(line);
            }
            open = prev.is_some_and(|l| block.lines.len() >= 2 && l.x1 >= block.x1 - 1.5 * l.size);
        }
    }
    out
}

fn line_indented(line: &Line, block_x0: f32) -> bool {
    line.x0 > block_x0 + 0.8 * line.size
}

fn median_spacing(lines: &[Line]) -> f32 {
    if lines.len() < 2 {
        return 0.0;
    }
    let mut d: Vec<f32> = lines.windows(2).map(|w| w[1].baseline - w[0].baseline).collect();
    d.sort_by(f32::total_cmp);
    d[d.len() / 2]
}

const HYPHENS: [char; 3] = ['-', '\u{00AD}', '\u{2010}'];

/// Compound words often broken at their own hyphen: keep the hyphen.
const COMPOUND_PREFIXES: &[&str] = &[
    "self", "well", "non", "ex", "all", "half", "long", "short", "so", "twenty", "thirty", "forty", "fifty", "sixty",
    "seventy", "eighty", "ninety", "anti", "pre", "post", "co", "quasi", "semi", "great", "ill", "high", "low", "old",
    "new", "first", "second", "third",
];

/// Words of the document (lowercased, letters only), to decide whether a
/// line-end hyphen is a hyphenation or part of a compound.
pub(crate) struct Lexicon {
    words: HashSet<String>,
    hyphenated: HashSet<String>,
}

impl Lexicon {
    pub fn new(paras: &[Para]) -> Self {
        let mut words = HashSet::new();
        let mut hyphenated = HashSet::new();
        for p in paras {
            for l in &p.lines {
                let n = l.split_whitespace().count();
                for (i, w) in l.split_whitespace().enumerate() {
                    let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
                    // The last word of a line may be a hyphenation fragment.
                    if i + 1 == n && w.ends_with(HYPHENS) {
                        continue;
                    }
                    if w.contains('-') {
                        if w.split('-').all(|p| !p.is_empty()) {
                            hyphenated.insert(w.to_lowercase());
                        }
                    } else if w.len() > 2 && !words.contains(w) {
                        words.insert(w.to_lowercase());
                    }
                }
            }
        }
        Lexicon { words, hyphenated }
    }
}

/// How a line-end hyphen joins the next line.
fn join_hyphen(prev: &str, next: &str, lex: &Lexicon) -> Option<bool> {
    let last = prev.chars().last()?;
    if !HYPHENS.contains(&last) {
        return None;
    }
    let head = &prev[..prev.len() - last.len_utf8()];
    let before = head.chars().last()?;
    if !before.is_alphabetic() {
        return None;
    }
    let first = next.chars().next()?;
    if !first.is_alphabetic() {
        return None;
    }
    if last == '\u{00AD}' {
        return Some(true);
    }
    let w1: String = {
        let start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphabetic())
            .last()
            .map(|(i, _)| i)
            .unwrap_or(head.len());
        head[start..].to_lowercase()
    };
    let w2: String = next
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    if first.is_uppercase() {
        // "Anglo-/Saxon", "Jean-/Paul": a real hyphen.
        return Some(false);
    }
    let joined = format!("{w1}{w2}");
    if lex.words.contains(&joined) {
        return Some(true);
    }
    if lex.hyphenated.contains(&format!("{w1}-{w2}")) {
        return Some(false);
    }
    // "state-/of-the-art": the rest of a hyphenated compound.
    let n2: usize = next.chars().take_while(|c| c.is_alphabetic()).map(char::len_utf8).sum();
    let rest = &next[n2..];
    if rest.starts_with('-') || COMPOUND_PREFIXES.contains(&w1.as_str()) {
        return Some(false);
    }
    Some(true)
}

/// Renders paragraphs into the document text: lines of a paragraph joined
/// by spaces (or rejoined at hyphens), paragraphs separated by a blank line,
/// NFKC-normalised. Sets each paragraph's `start` (char offset) and `text`.
pub(crate) fn render(paras: &mut [Para], lex: &Lexicon) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    for p in paras.iter_mut() {
        let mut s = String::new();
        for (i, line) in p.lines.iter().enumerate() {
            let line = line.trim();
            if i == 0 {
                s.push_str(line);
                continue;
            }
            match join_hyphen(&s, line, lex) {
                Some(true) => {
                    s.pop();
                }
                Some(false) => {}
                None => {
                    if !(s.ends_with('\u{2014}') || s.ends_with("--") || s.is_empty()) {
                        s.push(' ');
                    }
                }
            }
            s.push_str(line);
        }
        let mut text = if s.is_ascii() { s } else { normalise(&s) };
        squeeze_spaces(&mut text);
        if text.is_empty() {
            p.start = chars;
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
            chars += 2;
        }
        p.start = chars;
        chars += text.chars().count();
        out.push_str(&text);
        p.text = text;
    }
    out
}

/// NFKC (ligatures, presentation forms, full-width forms, ...), soft
/// hyphens removed, every kind of space a plain space. Mathematical
/// alphanumeric symbols (U+1D400..U+1D7FF, italic 𝑥 and the like, ℎ) and
/// Greek symbol variants (ϕ, ϑ, ϵ, ...) are kept: they are formula
/// symbols, not text, and pdftotext keeps them too.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        out.extend(run.nfkc().map(|c| if c.is_whitespace() { ' ' } else { c }));
        run.clear();
    };
    for c in s.chars() {
        match c {
            '\u{00AD}' => {}
            '\u{1D400}'..='\u{1D7FF}' | '\u{03D0}'..='\u{03D6}' | '\u{03F0}'..='\u{03F5}' | '\u{210E}' => {
                flush(&mut run, &mut out);
                out.push(c);
            }
            _ => run.push(c),
        }
    }
    flush(&mut run, &mut out);
    out
}

fn squeeze_spaces(s: &mut String) {
    if !s.contains("  ") && !s.starts_with(' ') && !s.ends_with(' ') {
        return;
    }
    let squeezed = s.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    *s = squeezed;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(words: &[&str]) -> Lexicon {
        Lexicon {
            words: words.iter().map(|s| s.to_string()).collect(),
            hyphenated: HashSet::new(),
        }
    }

    #[test]
    fn hyphen_rules() {
        let l = lex(&["character"]);
        assert_eq!(join_hyphen("the charac-", "ter of", &l), Some(true));
        assert_eq!(join_hyphen("the Anglo-", "Saxon", &l), Some(false));
        assert_eq!(join_hyphen("a self-", "made man", &l), Some(false));
        assert_eq!(join_hyphen("state-", "of-the-art", &l), Some(false));
        assert_eq!(join_hyphen("pages 1-", "2", &l), None);
        assert_eq!(join_hyphen("no hyphen", "here", &l), None);
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise("\u{FB01}ne \u{FB00} x\u{00AD}y"), "fine ff xy");
        assert_eq!(normalise("\u{1D465} = 1"), "\u{1D465} = 1");
        assert_eq!(normalise("a\u{00A0}b"), "a b");
    }

    #[test]
    fn keys() {
        assert_eq!(normalise_key("Page 12"), "page #");
        assert_eq!(normalise_key("xii"), "#");
        assert_eq!(normalise_key("  THE  Title "), "the title");
    }
}
