//! Words and terms: the one tokeniser that indexing, querying, phrase boosting and snippets share.
//!
//! Everything that compares text goes through [`words`] and [`normalize`], so a query word, a boost phrase and a
//! word of the book meet as the same term or not at all. The rules are deliberately simple and predictable:
//!
//! - a word is a run of Unicode alphanumerics (plus combining diacritics, so a decomposed "é" stays in its word);
//!   hyphens, underscores (Gutenberg's `_italics_`) and all other punctuation separate words;
//! - an apostrophe (`'`, `’`, `ʼ`) belongs to a word only between two letters, so the single quotes that British
//!   editions use as quotation marks are not glued to words;
//! - a possessive `'s` is dropped ("Bennet's" → "bennet"), other apostrophes are removed ("don't" → "dont", which
//!   is a stop word like "don't" itself);
//! - words are lowercased, and cut to [`MAX_WORD_CHARS`] chars so that a megabyte of letters costs no more than a
//!   normal word to stem;
//! - stop words are dropped *before* stemming, then the Snowball English (Porter 2) stemmer conflates inflections.

use rust_stemmers::{Algorithm, Stemmer};

/// Longest word kept, in chars; longer runs are truncated (and still index as one term).
pub const MAX_WORD_CHARS: usize = 64;

/// A word of the text: its char range, in the text, of the word as written (without a possessive `'s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word {
    pub start: usize,
    pub end: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || ('\u{0300}'..='\u{036F}').contains(&c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Calls `f(word, raw)` for each word of `text`, where `raw` is the word's slice of `text` (possessive included).
/// Char offsets are counted as the text is scanned, once.
pub(crate) fn words(text: &str, mut f: impl FnMut(Word, &str)) {
    let mut it = text.char_indices().peekable();
    let mut ci = 0usize; // char index of the char `it` yields next
    // (byte start, char start) of the current word
    let mut cur: Option<(usize, usize)> = None;
    while let Some((bi, c)) = it.next() {
        let here = ci;
        ci += 1;
        if is_word_char(c) {
            if cur.is_none() {
                cur = Some((bi, here));
            }
            continue;
        }
        if let Some((bs, cs)) = cur {
            // An apostrophe between two word chars stays inside the word.
            if is_apostrophe(c) && it.peek().is_some_and(|&(_, n)| is_word_char(n)) {
                continue;
            }
            let raw = &text[bs..bi];
            emit(raw, cs, here, &mut f);
            cur = None;
        }
    }
    if let Some((bs, cs)) = cur {
        emit(&text[bs..], cs, ci, &mut f);
    }
}

fn emit(raw: &str, start: usize, mut end: usize, f: &mut impl FnMut(Word, &str)) {
    // Possessive: drop a final apostrophe + "s" from the highlighted range too.
    let mut r = raw.chars().rev();
    if let (Some(s), Some(a)) = (r.next(), r.next())
        && (s == 's' || s == 'S')
        && is_apostrophe(a)
    {
        end -= 2;
    }
    f(Word { start, end }, raw)
}

/// Lowercases `raw` into `out` (cleared first), drops a possessive `'s`, removes other apostrophes and truncates
/// to [`MAX_WORD_CHARS`]. `out` is a reusable buffer: no allocation once it has grown.
pub(crate) fn normalize(raw: &str, out: &mut String) {
    out.clear();
    if raw.is_ascii() {
        // Fast path, same result: most words of an English book are plain ASCII letters.
        let mut b = raw.as_bytes();
        if let [rest @ .., b'\'', b's' | b'S'] = b {
            b = rest;
        }
        if !b.contains(&b'\'') {
            let b = &b[..b.len().min(MAX_WORD_CHARS)];
            // ASCII bytes are chars.
            out.extend(b.iter().map(|&c| c.to_ascii_lowercase() as char));
            return;
        }
    }
    let mut n = 0;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if is_apostrophe(c) {
            // Possessive 's at the end of the word: stop here.
            let mut rest = chars.clone();
            if matches!(rest.next(), Some('s' | 'S')) && rest.next().is_none() {
                break;
            }
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            n += 1;
        } else {
            for l in c.to_lowercase() {
                out.push(l);
                n += 1;
            }
        }
        if n >= MAX_WORD_CHARS {
            break;
        }
    }
}

/// The stemmer; creating one is free (it is a function pointer), so callers make their own.
pub(crate) fn stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}

/// Index terms of `text`, in order: lowercased, possessives and apostrophes handled, stop words dropped,
/// Snowball-stemmed. `terms("Miss Bennet's sisters were walking")` is `["miss", "bennet", "sister", "walk"]`.
pub fn terms(text: &str) -> Vec<String> {
    let stemmer = stemmer();
    let mut buf = String::new();
    let mut out = Vec::new();
    words(text, |_, raw| {
        normalize(raw, &mut buf);
        if !buf.is_empty() && !is_stop_word(&buf) {
            out.push(stemmer.stem(&buf).into_owned());
        }
    });
    out
}

/// Whether `w` (a lowercased word, apostrophes kept or removed) is an English stop word: the usual function words
/// (articles, pronouns, auxiliaries, prepositions, conjunctions) and their contractions. Titles such as "mr" or
/// "miss" and common verbs such as "said" are *not* stop words: they carry meaning in fiction ("Miss Bennet").
pub fn is_stop_word(w: &str) -> bool {
    if w.len() > 10 {
        return false; // the longest stop word is 10 bytes ("themselves")
    }
    if w.contains(['\'', '\u{2019}']) {
        let s: String = w.chars().filter(|c| !is_apostrophe(*c)).collect();
        return STOP_WORDS.binary_search(&s.as_str()).is_ok();
    }
    STOP_WORDS.binary_search(&w).is_ok()
}

/// Sorted (a unit test checks), apostrophes removed. Mostly NLTK's English list, which is what readers of BM25
/// papers expect, with the contractions spelled as the tokeniser leaves them.
static STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "ain",
    "aint",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "arent",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "cant",
    "could",
    "couldn",
    "couldnt",
    "d",
    "did",
    "didn",
    "didnt",
    "do",
    "does",
    "doesn",
    "doesnt",
    "doing",
    "don",
    "dont",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn",
    "hadnt",
    "has",
    "hasn",
    "hasnt",
    "have",
    "haven",
    "havent",
    "having",
    "he",
    "hed",
    "her",
    "here",
    "hers",
    "herself",
    "hes",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "id",
    "if",
    "im",
    "in",
    "into",
    "is",
    "isn",
    "isnt",
    "it",
    "itd",
    "itll",
    "its",
    "itself",
    "ive",
    "just",
    "ll",
    "m",
    "ma",
    "me",
    "mightn",
    "mightnt",
    "more",
    "most",
    "mustn",
    "mustnt",
    "my",
    "myself",
    "needn",
    "neednt",
    "no",
    "nor",
    "not",
    "now",
    "o",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "shan",
    "shant",
    "she",
    "shes",
    "should",
    "shouldn",
    "shouldnt",
    "shouldve",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "thatll",
    "thats",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "theres",
    "these",
    "they",
    "theyd",
    "theyll",
    "theyre",
    "theyve",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "ve",
    "very",
    "was",
    "wasn",
    "wasnt",
    "we",
    "were",
    "weren",
    "werent",
    "weve",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whos",
    "why",
    "will",
    "with",
    "wont",
    "would",
    "wouldn",
    "wouldnt",
    "y",
    "you",
    "youd",
    "youll",
    "your",
    "youre",
    "yours",
    "yourself",
    "yourselves",
    "youve",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(usize, usize, String)> {
        let mut v = Vec::new();
        words(text, |w, raw| v.push((w.start, w.end, raw.to_string())));
        v
    }

    #[test]
    fn stop_words_are_sorted_and_unique() {
        assert!(
            STOP_WORDS.windows(2).all(|w| w[0] < w[1]),
            "STOP_WORDS must be sorted for binary_search"
        );
        assert!(STOP_WORDS.iter().all(|w| w.len() <= 10));
    }

    #[test]
    fn stop_words() {
        for w in ["the", "and", "don't", "don’t", "dont", "themselves", "i"] {
            assert!(is_stop_word(w), "{w}");
        }
        for w in ["mr", "miss", "said", "elizabeth", "", "thethethethe"] {
            assert!(!is_stop_word(w), "{w}");
        }
    }

    #[test]
    fn words_track_char_offsets_and_apostrophes() {
        let t = "Zoë’s 'dear' friend—Bennet's don't_x";
        let s = spans(t);
        let chars: Vec<char> = t.chars().collect();
        let got: Vec<String> = s.iter().map(|(a, b, _)| chars[*a..*b].iter().collect()).collect();
        assert_eq!(got, ["Zoë", "dear", "friend", "Bennet", "don't", "x"]);
        assert_eq!(s[0].2, "Zoë’s");
    }

    #[test]
    fn terms_normalise() {
        assert_eq!(
            terms("Miss Bennet's sisters were walking"),
            ["miss", "bennet", "sister", "walk"]
        );
        assert_eq!(terms("The Bennets' HOUSE"), ["bennet", "hous"]);
        assert_eq!(terms("ÉCOLE Straße"), ["école", "straße"]);
        assert!(terms("").is_empty());
        assert!(terms("the and of 'I' don't").is_empty());
        assert!(terms("🎉🎉 -- !!").is_empty());
    }

    #[test]
    fn long_words_are_truncated() {
        let w = "a".repeat(10_000);
        let t = terms(&w);
        assert_eq!(t.len(), 1);
        assert!(t[0].chars().count() <= MAX_WORD_CHARS);
    }
}
