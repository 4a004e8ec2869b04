//! Quotations: spans of direct speech, found from the quote marks.
//!
//! Works on tokens, paragraph by paragraph, so a quote never runs past a
//! paragraph break: a speech running over several paragraphs (where only the
//! last paragraph closes it) comes out as one quote per paragraph, which is
//! also how an unbalanced quote mark is contained. Double quotes (curly and
//! straight) are always dialogue; single quotes are treated as dialogue only
//! when the book uses them as its dialogue marks (counted over the whole book),
//! and then only outside double-quoted speech, so nested quotes and
//! apostrophes ("’tis", "the girls’ room") rarely start or end a quote.
//! Books whose dialogue is introduced by a dash at the start of a paragraph
//! (Joyce) get one quote per such paragraph. Short quoted phrases in the middle
//! of narration with no punctuation inside are scare quotes or titles, not
//! speech, and are dropped.

use crate::token::{TokSpan, Token};

/// A quotation: byte span (quote marks included) and token span `[tok_start, tok_end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub start: u32,
    pub end: u32,
    pub tok_start: u32,
    pub tok_end: u32,
}

fn is_dash(s: &str) -> bool {
    s == "\u{2014}" || s == "\u{2015}" || s.starts_with("--") || s == "\u{2013}"
}

/// Finds quotations. `paras` are token spans of paragraphs.
pub fn find_quotes(text: &str, toks: &[Token], paras: &[TokSpan]) -> Vec<Quote> {
    let tx = |i: usize| toks[i].text(text);
    // book-level counts decide which marks are dialogue
    let mut dq = 0usize;
    let mut sq_open = 0usize;
    for i in 0..toks.len() {
        match tx(i) {
            "\"" | "\u{201C}" | "\u{201D}" => dq += 1,
            "\u{2018}" => sq_open += 1,
            "'" if toks[i].is(Token::SPACE_BEFORE)
                && i + 1 < toks.len()
                && toks[i + 1].start == toks[i].end
                && toks[i + 1].is(Token::UPPER) =>
            {
                sq_open += 1
            }
            _ => {}
        }
    }
    let mut dash_paras = 0usize;
    for p in paras {
        if p.start < p.end && is_dash(tx(p.start as usize)) {
            dash_paras += 1;
        }
    }
    let use_single = sq_open >= 10 && sq_open * 3 >= dq;
    let use_dash = dash_paras >= 10 && dash_paras * 2 > dq;

    let mut out = Vec::new();
    for p in paras {
        let (ps, pe) = (p.start as usize, p.end as usize);
        if ps >= pe {
            continue;
        }
        if use_dash && is_dash(tx(ps)) {
            dash_quote(text, toks, ps, pe, &mut out);
            continue;
        }
        let first = out.len();
        // double quotes
        let mut open: Option<usize> = None;
        let mut doubles: Vec<(usize, usize)> = Vec::new();
        for i in ps..pe {
            match tx(i) {
                "\u{201C}" => {
                    if let Some(o) = open
                        && i > o + 1
                    {
                        doubles.push((o, i));
                    }
                    open = Some(i);
                }
                "\u{201D}" => {
                    if let Some(o) = open.take() {
                        doubles.push((o, i + 1));
                    }
                }
                "\"" => match open {
                    Some(o) => {
                        let opener_like = toks[i].is(Token::SPACE_BEFORE)
                            && i + 1 < pe
                            && toks[i + 1].start == toks[i].end
                            && i > o + 1
                            && !matches!(tx(i - 1), "," | "." | "!" | "?" | "-" | "--");
                        if opener_like {
                            doubles.push((o, i));
                            open = Some(i);
                        } else {
                            doubles.push((o, i + 1));
                            open = None;
                        }
                    }
                    None => open = Some(i),
                },
                _ => {}
            }
        }
        if let Some(o) = open
            && pe > o + 1
        {
            doubles.push((o, pe));
        }
        for &(a, b) in &doubles {
            if !scare(text, toks, a, b, ps) {
                push(&mut out, toks, a, b);
            }
        }
        if use_single {
            let inside = |i: usize| doubles.iter().any(|&(a, b)| i >= a && i < b);
            let mut open: Option<usize> = None;
            let mut singles = Vec::new();
            for i in ps..pe {
                let s = tx(i);
                if s != "'" && s != "\u{2018}" && s != "\u{2019}" {
                    continue;
                }
                if inside(i) {
                    continue;
                }
                let t = toks[i];
                let next_adjacent = i + 1 < pe && toks[i + 1].start == t.end;
                let prev_open_ctx = i == ps
                    || t.is(Token::SPACE_BEFORE)
                    || is_dash(tx(i - 1))
                    || matches!(tx(i - 1), "(" | "\u{201C}" | "\"");
                let can_open = next_adjacent
                    && prev_open_ctx
                    && (s == "\u{2018}"
                        || (s == "'" && (!toks[i + 1].is(Token::WORD) || toks[i + 1].is(Token::UPPER))));
                let can_close = (s == "\u{2019}" || s == "'")
                    && !t.is(Token::SPACE_BEFORE)
                    && i > ps
                    && (i + 1 >= pe || toks[i + 1].is(Token::SPACE_BEFORE) || !toks[i + 1].is(Token::WORD));
                match open {
                    None => {
                        if can_open {
                            open = Some(i);
                        }
                    }
                    Some(o) => {
                        if can_close && i > o + 1 {
                            // plural possessive: "the girls' room"
                            let prev = tx(i - 1);
                            let possessive = toks[i - 1].is(Token::WORD)
                                && prev.ends_with('s')
                                && i + 1 < pe
                                && toks[i + 1].is(Token::WORD)
                                && !toks[i + 1].is(Token::UPPER);
                            if !possessive {
                                singles.push((o, i + 1));
                                open = None;
                            }
                        } else if can_open && s == "\u{2018}" {
                            singles.push((o, i));
                            open = Some(i);
                        }
                    }
                }
            }
            if let Some(o) = open
                && pe > o + 1
            {
                singles.push((o, pe));
            }
            for (a, b) in singles {
                if !scare(text, toks, a, b, ps) {
                    push(&mut out, toks, a, b);
                }
            }
            out[first..].sort_by_key(|q| q.start);
        }
    }
    drop_thoughts(text, toks, &mut out);
    out
}

/// A dash-introduced speech runs to the end of its paragraph, minus an inner
/// speech tag: "—Thanks, old chap, he said. A ponderous Saxon." is two quotes.
fn dash_quote(text: &str, toks: &[Token], ps: usize, pe: usize, out: &mut Vec<Quote>) {
    let tx = |i: usize| toks[i].text(text);
    let mut v = ps + 2;
    while v < pe && !crate::speaker::is_speech_verb(tx(v)) {
        v += 1;
    }
    if v < pe {
        let ts = (v.saturating_sub(4).max(ps + 1)..v)
            .rev()
            .find(|&k| matches!(tx(k), "," | "!" | "?" | "." | ":"))
            .map(|k| k + 1);
        let te = (v + 1..(v + 7).min(pe))
            .find(|&k| matches!(tx(k), "," | "." | ":" | ";"))
            .map(|k| k + 1);
        if let Some(ts) = ts {
            push(out, toks, ps, ts);
            if let Some(te) = te
                && (te..pe).any(|k| toks[k].is(Token::WORD))
            {
                push(out, toks, te, pe);
            }
            return;
        }
    }
    push(out, toks, ps, pe);
}

/// Thoughts are not speech: drops quotes tagged with "thought" ("‘Well!’
/// thought Alice") and a second half that shares that tag.
fn drop_thoughts(text: &str, toks: &[Token], qs: &mut Vec<Quote>) {
    let is_thought = |w: &str| matches!(w, "thought" | "thinks" | "wondered" | "reflected" | "mused");
    let mut keep = vec![true; qs.len()];
    for i in 0..qs.len() {
        let e = qs[i].tok_end as usize;
        let after = (e..(e + 4).min(toks.len())).any(|k| is_thought(toks[k].text(text)));
        if after {
            keep[i] = false;
            if i + 1 < qs.len() && (qs[i + 1].tok_start as usize) < e + 10 {
                keep[i + 1] = false;
            }
        }
    }
    let mut k = 0;
    qs.retain(|_| {
        k += 1;
        keep[k - 1]
    });
}

fn push(out: &mut Vec<Quote>, toks: &[Token], a: usize, b: usize) {
    if b <= a {
        return;
    }
    out.push(Quote {
        start: toks[a].start,
        end: toks[b - 1].end,
        tok_start: a as u32,
        tok_end: b as u32,
    });
}

/// Verbs that tag the speech next to them ("said Elizabeth", "“…” he
/// replied"): the common ones only — the speaker module's full list also
/// holds verbs ("say", "tell") that narration runs on through.
const TAG_VERBS: &[&str] = &["said", "says", "cried", "replied", "answered", "asked", "exclaimed"];

/// A short quoted phrase inside narration with no punctuation: a scare quote
/// or a title ("the so-called ‘gentleman’", “The Times”), not speech.
fn scare(text: &str, toks: &[Token], a: usize, b: usize, para_start: usize) -> bool {
    let inner = &toks[(a + 1).min(b)..b.saturating_sub(1).max(a + 1)];
    let words = inner.iter().filter(|t| t.is(Token::WORD)).count();
    if words == 0 {
        return true;
    }
    let punct = inner.iter().any(|t| {
        matches!(
            t.text(text),
            "," | "." | "!" | "?" | ";" | ":" | "--" | "\u{2014}" | "..."
        )
    });
    // right after a word other than a speech verb, with no comma or colon between
    let after_word =
        a > 0 && a != para_start && toks[a - 1].is(Token::WORD) && !TAG_VERBS.contains(&toks[a - 1].text(text));
    if words > 4 {
        // a longer phrase quoted inside a sentence with no punctuation of its
        // own: "to keep my “weather-eye open for a seafaring man with one leg”"
        return !punct && after_word;
    }
    // a short one right after a word: "the “hired-man,” and"
    if after_word && words <= 3 {
        return true;
    }
    if punct {
        return false;
    }
    // followed by narration that runs on ("“full dress” was broadcloth",
    // "“Side-burns” found nourishment", "\"frocks\" and \"gowns\""): speech with no
    // punctuation of its own is followed by its speaker, not by a verb
    if let Some(n) = toks.get(b) {
        let w = n.text(text);
        if n.is(Token::WORD)
            && w.chars().next().is_some_and(char::is_lowercase)
            && !TAG_VERBS.contains(&w)
            // a speaker or a verb of speaking after the quote ("called" is one
            // here: "“Come in” called a voice"; before a quote it names a title)
            && !matches!(
                w,
                "he" | "she" | "i" | "they" | "we" | "you" | "it" | "whispered" | "shouted" | "called" | "muttered"
            )
        {
            return true;
        }
    }
    if a == para_start {
        return false;
    }
    // preceded by a word (not punctuation) → mid-sentence
    a > 0 && toks[a - 1].is(Token::WORD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{paragraphs, sentences, tokenize};

    fn quotes(s: &str) -> Vec<&str> {
        let mut t = tokenize(s);
        let _ = sentences(s, &mut t);
        let p = paragraphs(&t);
        find_quotes(s, &t, &p)
            .iter()
            .map(|q| &s[q.start as usize..q.end as usize])
            .collect()
    }

    #[test]
    fn curly_double() {
        // Pride and Prejudice, chapter 1
        let s = "\u{201C}My dear Mr. Bennet,\u{201D} said his lady to him one day, \u{201C}have you heard that Netherfield Park is let at last?\u{201D}\n\nMr. Bennet replied that he had not.";
        assert_eq!(
            quotes(s),
            vec![
                "\u{201C}My dear Mr. Bennet,\u{201D}",
                "\u{201C}have you heard that Netherfield Park is let at last?\u{201D}"
            ]
        );
    }

    #[test]
    fn straight_and_multi_paragraph() {
        let s = "\"Oh! Single, my dear, to be sure!\" she said.\n\n\"A single man of large fortune; four or five thousand a year.\n\n\"What a fine thing for our girls!\"";
        let q = quotes(s);
        assert_eq!(q.len(), 3);
        assert_eq!(q[0], "\"Oh! Single, my dear, to be sure!\"");
        assert!(q[1].starts_with("\"A single man"));
    }

    #[test]
    fn british_single() {
        // Alice's Adventures in Wonderland, chapter 1
        let mut s = String::new();
        for _ in 0..12 {
            s.push_str("\u{2018}Well!\u{2019} said Alice to herself, \u{2018}after such a fall as this, I shall think nothing of tumbling down stairs!\u{2019}\n\n");
        }
        s.push_str("It was the girls\u{2019} room, and she didn\u{2019}t mind.");
        let q = quotes(&s);
        assert_eq!(q.len(), 24);
        assert_eq!(q[0], "\u{2018}Well!\u{2019}");
    }

    #[test]
    fn scare_quotes_dropped() {
        let s = "He read it in the \u{201C}Morning Post\u{201D} yesterday.";
        assert!(quotes(s).is_empty());
    }

    #[test]
    fn quoted_phrases_inside_narration_are_not_speech() {
        // The Magnificent Ambersons, ch. 1; Treasure Island, ch. 1; The
        // Circular Staircase, ch. 1: quoted words the sentence runs on through
        for s in [
            "In the days of the governors wore broadcloth; \u{201C}full dress\u{201D} was broadcloth with \u{201C}doeskin\u{201D} trousers.",
            "Even the fashions were commonplace. \u{201C}Side-burns\u{201D} found nourishment upon children.",
            "He would only keep my \"weather-eye open for a seafaring man with one leg\" and let him know.",
            "She wore under-garments, \"frocks\" and \"gowns\" instead of dresses.",
        ] {
            assert!(quotes(s).is_empty(), "{s:?}: {:?}", quotes(s));
        }
        // speech without punctuation of its own, followed by its speaker, stays
        let s = "\u{201C}That's a handsome maid\u{201D} he said to his companion.";
        assert_eq!(quotes(s).len(), 1, "{s:?}");
    }

    #[test]
    fn dash_dialogue_splits_at_the_tag() {
        // Ulysses, episode 1: dash-introduced speech in every paragraph
        let mut s = String::new();
        for _ in 0..11 {
            s.push_str("\u{2014}Thanks, old chap, he said. A ponderous Saxon.\n\n");
        }
        s.push_str("Stephen stood up.");
        let q = quotes(&s);
        assert_eq!(q.len(), 22);
        assert_eq!(q[0], "\u{2014}Thanks, old chap,");
        assert_eq!(q[1], "A ponderous Saxon.");
    }

    #[test]
    fn thoughts_are_not_speech() {
        // Alice's Adventures in Wonderland, chapter 1
        let s = "\u{201C}Well!\u{201D} thought Alice to herself, \u{201C}after such a fall as this!\u{201D}\n\n\u{201C}Oh dear! Oh dear! I shall be late!\u{201D} said the Rabbit.";
        assert_eq!(quotes(s), vec!["\u{201C}Oh dear! Oh dear! I shall be late!\u{201D}"]);
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "\"",
            "\u{201C}",
            "''''''",
            "\"\"\"\"\"",
            "\u{2018}a\u{2019}\u{2019}\u{2018}",
            "\n\n\"\n\n\"",
            "",
        ] {
            let _ = quotes(s);
        }
    }
}
