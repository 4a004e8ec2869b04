//! Tokens, sentences and paragraphs as plain vectors of byte spans.
//!
//! One left-to-right pass over the bytes, no regex and no allocation per
//! token: a [`Token`] is two `u32` byte offsets plus a few flag bits computed
//! while scanning. The splitting follows the Penn-Treebank habits LitBank's
//! annotations use, because the name tagger was fitted on LitBank tokens:
//! punctuation is split off, possessive and contraction clitics (`'s`, `n't`,
//! `'ll`, …) become tokens of their own, hyphenated words stay whole,
//! `--` and `—` are dashes, and a period stays on the word when the word is a
//! known abbreviation ("Mr.", "St.") or an initial ("J."), so those never end a
//! sentence. Offsets stay in bytes until [`crate::analyze`] converts the final
//! spans to char offsets once.

/// A token: a byte span of the text plus flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: u32,
    pub end: u32,
    pub flags: u8,
}

impl Token {
    /// Whether the token starts with a letter or digit.
    pub const WORD: u8 = 1;
    /// First char is uppercase.
    pub const UPPER: u8 = 2;
    /// First word of a sentence (or of a quotation / after a colon).
    pub const SENT_START: u8 = 4;
    /// Followed (in the gap before the next token) by a paragraph break.
    pub const PARA_END: u8 = 8;
    /// Preceded by whitespace (or start of text).
    pub const SPACE_BEFORE: u8 = 16;

    pub fn is(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.range()]
    }
}

/// A span of token indices `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokSpan {
    pub start: u32,
    pub end: u32,
}

/// Abbreviations that keep their period (case-sensitive, without the dot).
const ABBREVS: &[&str] = &[
    "Mr",
    "Mrs",
    "Ms",
    "Messrs",
    "Mme",
    "Mlle",
    "Dr",
    "St",
    "Esq",
    "Jr",
    "Sr",
    "Capt",
    "Col",
    "Gen",
    "Lt",
    "Sgt",
    "Rev",
    "Revd",
    "Prof",
    "Hon",
    "Gov",
    "Lieut",
    "Maj",
    "Mt",
    "Ft",
    "No",
    "Co",
    "Bros",
    "vs",
    "viz",
    "etc",
    "cf",
    "Vol",
    "vol",
    "pp",
    "Ch",
    "Chap",
    "Bart",
    "Mssrs",
    "Hon",
    "Sen",
    "Rep",
    "Pres",
    "Supt",
    "Insp",
    "Adm",
    "Cpl",
    "Pvt",
    "Messieurs",
    "M",
];

pub fn is_abbrev(w: &str) -> bool {
    ABBREVS.contains(&w)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_apos(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Tokenises `text` into byte spans. Never panics; every span lies on char
/// boundaries.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    // ~0.21 tokens per byte in English prose (Pride and Prejudice: 0.212):
    // allocate for 0.25 and grow by an estimate for the rest instead of
    // doubling (a doubled vector was the analysis's largest allocation)
    let mut toks: Vec<Token> = Vec::with_capacity(text.len() / 4 + 16);
    let mut i = 0usize;
    let n = bytes.len();
    let mut newlines_in_gap = 0u32;
    let mut space_before = true;
    while i < n {
        let c = match text[i..].chars().next() {
            Some(c) => c,
            None => break,
        };
        let cl = c.len_utf8();
        if c.is_whitespace() {
            if c == '\n' {
                newlines_in_gap += 1;
            }
            space_before = true;
            i += cl;
            continue;
        }
        if newlines_in_gap >= 2
            && let Some(last) = toks.last_mut()
        {
            last.flags |= Token::PARA_END;
        }
        newlines_in_gap = 0;
        if toks.capacity() - toks.len() < 2 {
            // grow by an estimate for the rest of the text, not by doubling
            toks.reserve_exact((n - i) / 4 + 1024);
        }
        let sb = if space_before { Token::SPACE_BEFORE } else { 0 };
        space_before = false;
        if is_word_char(c) {
            // consume a word: alnum runs joined by inner apostrophes/hyphens/periods-in-numbers
            let start = i;
            let mut j = i + cl;
            while j < n {
                let d = match text[j..].chars().next() {
                    Some(d) => d,
                    None => break,
                };
                if is_word_char(d) {
                    j += d.len_utf8();
                    continue;
                }
                if d == '-' || is_apos(d) || d == '.' || d == ',' {
                    // joiner only when followed by a word char
                    let after = j + d.len_utf8();
                    let next = text[after..].chars().next();
                    if let Some(e) = next
                        && is_word_char(e)
                    {
                        // periods and commas join only digits (3.5, 1,000)
                        if (d == '.' || d == ',') && !(bytes[j - 1].is_ascii_digit() && e.is_ascii_digit()) {
                            break;
                        }
                        j = after;
                        continue;
                    }
                }
                break;
            }
            let word = &text[start..j];
            // abbreviation / initial keeps its period
            let mut end = j;
            if j < n && bytes[j] == b'.' {
                let single_upper = {
                    let mut cs = word.chars();
                    // "said I." ends a sentence; other capitals are initials
                    matches!((cs.next(), cs.next()), (Some(a), None) if a.is_uppercase() && a != 'I')
                };
                if single_upper || is_abbrev(word) {
                    end = j + 1;
                }
            }
            // split clitics: 's n't 'll 're 've 'd 'm
            let w = &text[start..j];
            let split = clitic_split(w);
            let upper = if c.is_uppercase() { Token::UPPER } else { 0 };
            if let Some(k) = split {
                toks.push(Token {
                    start: start as u32,
                    end: (start + k) as u32,
                    flags: Token::WORD | upper | sb,
                });
                toks.push(Token {
                    start: (start + k) as u32,
                    end: end as u32,
                    flags: Token::WORD,
                });
            } else {
                toks.push(Token {
                    start: start as u32,
                    end: end as u32,
                    flags: Token::WORD | upper | sb,
                });
            }
            i = end;
            continue;
        }
        // punctuation: "--" and "..." together, others single char
        let mut end = i + cl;
        if c == '-' || c == '.' {
            while end < n && bytes[end] == c as u8 {
                end += 1;
            }
        } else if c == '\u{2014}' || c == '\u{2013}' {
            while text[end..].starts_with(c) {
                end += cl;
            }
        }
        toks.push(Token {
            start: i as u32,
            end: end as u32,
            flags: sb,
        });
        i = end;
    }
    if toks.capacity() - toks.len() > toks.len() / 8 {
        toks.shrink_to_fit();
    }
    toks
}

/// Byte offset inside `w` where a clitic starts, if any.
fn clitic_split(w: &str) -> Option<usize> {
    let b = w.as_bytes();
    let len = b.len();
    // every clitic has an apostrophe (' or U+2019, whose UTF-8 starts 0xE2):
    // most words have neither, and skip the suffix comparisons below
    if !b.iter().any(|&c| c == b'\'' || c == 0xE2) {
        return None;
    }
    // n't
    for suf in ["n't", "n\u{2019}t"] {
        if len > suf.len() + 1 && w.ends_with(suf) {
            return Some(len - suf.len());
        }
    }
    for suf in ["s", "ll", "re", "ve", "d", "m", "S", "LL", "RE", "VE", "D", "M"] {
        for ap in ["'", "\u{2019}"] {
            let sl = suf.len() + ap.len();
            if len > sl && w.ends_with(suf) && w[..len - suf.len()].ends_with(ap) {
                return Some(len - sl);
            }
        }
    }
    None
}

fn is_closer(s: &str) -> bool {
    matches!(s, "\"" | "'" | "\u{201D}" | "\u{2019}" | ")" | "]" | "_" | "\u{00BB}")
}

fn is_opener(s: &str) -> bool {
    matches!(s, "\"" | "'" | "\u{201C}" | "\u{2018}" | "(" | "[" | "_" | "\u{00AB}")
}

/// Splits tokens into sentences (token index spans) and marks sentence-initial
/// words with [`Token::SENT_START`]. A sentence ends after `.`, `!`, `?` (plus
/// closing quotes/brackets) when the next word is not lowercase, and always at
/// a paragraph break.
pub fn sentences(text: &str, toks: &mut [Token]) -> Vec<TokSpan> {
    let mut out = Vec::with_capacity(toks.len() / 15 + 1);
    let mut start = 0usize;
    let mut need_start = true;
    let n = toks.len();
    let mut i = 0usize;
    while i < n {
        let t = toks[i];
        let s = t.text(text);
        if t.is(Token::WORD) {
            if need_start {
                toks[i].flags |= Token::SENT_START;
                need_start = false;
            }
        } else if s == ":" || s == "\u{201C}" || s == "\u{2018}" || s == ";" {
            need_start = s != ";";
        } else if s == "\"" {
            // a straight quote opening a quotation is followed without space
            if i + 1 < n && toks[i + 1].start == t.end && t.is(Token::SPACE_BEFORE) {
                need_start = true;
            }
        }
        let mut boundary = t.is(Token::PARA_END);
        let terminal = matches!(s.as_bytes().first(), Some(b'.' | b'!' | b'?')) && !t.is(Token::WORD);
        if terminal && !boundary {
            // absorb closers
            let mut j = i + 1;
            while j < n && is_closer(toks[j].text(text)) && !toks[j].is(Token::SPACE_BEFORE) {
                j += 1;
            }
            // next word decides
            let mut k = j;
            while k < n && !toks[k].is(Token::WORD) && is_opener(toks[k].text(text)) {
                k += 1;
            }
            let next_lower = k < n
                && toks[k].is(Token::WORD)
                && !toks[k].is(Token::UPPER)
                && toks[k].text(text).chars().next().is_some_and(|c| c.is_lowercase());
            if !next_lower {
                boundary = true;
                // include closers in this sentence
                if j > i + 1 {
                    i = j - 1;
                    if toks[i].is(Token::PARA_END) {
                        boundary = true;
                    }
                }
            }
        }
        if boundary {
            out.push(TokSpan {
                start: start as u32,
                end: (i + 1) as u32,
            });
            start = i + 1;
            need_start = true;
        }
        i += 1;
    }
    if start < n {
        out.push(TokSpan {
            start: start as u32,
            end: n as u32,
        });
    }
    out
}

/// Paragraphs as token index spans (split at blank lines).
pub fn paragraphs(toks: &[Token]) -> Vec<TokSpan> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (i, t) in toks.iter().enumerate() {
        if t.is(Token::PARA_END) {
            out.push(TokSpan {
                start: start as u32,
                end: (i + 1) as u32,
            });
            start = i + 1;
        }
    }
    if start < toks.len() {
        out.push(TokSpan {
            start: start as u32,
            end: toks.len() as u32,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text).iter().map(|t| t.text(text)).collect()
    }

    #[test]
    fn splits_like_litbank() {
        // Pride and Prejudice, chapter 1
        let s = "\u{201C}My dear Mr. Bennet,\u{201D} said his lady to him one day, \u{201C}have you heard that Netherfield Park is let at last?\u{201D}";
        let w = words(s);
        assert_eq!(&w[..6], &["\u{201C}", "My", "dear", "Mr.", "Bennet", ","]);
        assert!(w.contains(&"Netherfield"));
        assert_eq!(*w.last().unwrap(), "\u{201D}");
        let s = "Mrs. Bennet's daughters don't know Mr. Darcy--he is St. John's friend.";
        let w = words(s);
        assert_eq!(
            w,
            vec![
                "Mrs.",
                "Bennet",
                "'s",
                "daughters",
                "do",
                "n't",
                "know",
                "Mr.",
                "Darcy",
                "--",
                "he",
                "is",
                "St.",
                "John",
                "'s",
                "friend",
                "."
            ]
        );
    }

    #[test]
    fn sentences_skip_abbreviations() {
        let s = "Mr. Bingley was good-looking and gentlemanlike. He had a pleasant countenance! \u{201C}Oh, yes,\u{201D} said she.\n\nNext paragraph";
        let mut t = tokenize(s);
        let ss = sentences(s, &mut t);
        assert_eq!(ss.len(), 4);
        let starts: Vec<&str> = t
            .iter()
            .filter(|t| t.is(Token::SENT_START))
            .map(|x| x.text(s))
            .collect();
        assert_eq!(starts, vec!["Mr.", "He", "Oh", "Next"]);
        assert_eq!(paragraphs(&t).len(), 2);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for s in [
            "",
            " ",
            "\"\"\"\"",
            "''''",
            "a.b.c.d",
            "\u{200B}\u{FEFF}é́\u{1F600}x",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "'s",
            "n't",
            "Mr.",
            ".....!!!???",
        ] {
            let mut t = tokenize(s);
            let _ = sentences(s, &mut t);
            let _ = paragraphs(&t);
            for x in &t {
                let _ = x.text(s);
            }
        }
    }
}
