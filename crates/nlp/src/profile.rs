//! Per-character material for persona building: representative quotes,
//! describing sentences, the verbs a character does, the words that modify
//! it, where it first appears and which sections it is in.
//!
//! Why it works the way it does:
//!
//! * BookNLP gets agents and modifiers from a dependency parse. We have no
//!   parser and a budget of milliseconds, so we read **a few words either
//!   side of each mention** with small, explicit patterns that cover most of
//!   what a parser would find in narrative prose:
//!   - *agent verbs*: `Elizabeth [adverbs] VERB` (`Elizabeth instantly
//!     replied`), through auxiliaries (`she could not help`), progressive
//!     (`Jane was walking`), relative clauses (`Jane, who smiled`) and the
//!     inverted speech tag (`” said Elizabeth`). A word is a verb if it is a
//!     form of one of the ~320 verbs of `data/bg/verbs.txt` (written for this
//!     project; -s, -ed and -ing forms are generated), or, right after the
//!     subject, ends in *-ed*.
//!   - *modifiers*: predicate adjectives (`Mr. Bingley was good-looking and
//!     gentlemanlike`, `she seemed very uneasy`), adjectives of a predicate
//!     or appositive noun phrase (`Mr. Collins, a tall, heavy-looking young
//!     man`; `Jane was the most beautiful creature`), a short list of
//!     adjectives used before names (`poor Jane`, `dear Lizzy`), and
//!     adjectives before an appearance noun after a possessive (`her fine
//!     eyes`, `Darcy's handsome features`).
//!   - *descriptions*: the sentences in which one of those description
//!     patterns fired (copula + adjective or noun phrase, apposition,
//!     possessive + appearance noun), in text order, at most
//!     [`MAX_DESCRIPTIONS`].
//!
//!   Passives and motions (`was struck by`, `was summoned to dinner`,
//!   irregular participles such as `was left`) are neither agents nor
//!   modifiers, and neither are plural or abstract nouns (`were sisters`,
//!   `is all politeness`). Pronoun mentions work too: `she replied` gives
//!   an agent verb, `her fine eyes` a modifier; object pronouns (`him`,
//!   `her` as object) are never subjects. What this misses, a parser would
//!   catch: long-distance subjects and coordinated verbs (`she rose and
//!   left`: only `rose`). Cost: well under a microsecond per mention.
//! * **Representative quotes** put first (at most [`REPRESENTATIVE`]) the
//!   quotes that are (a) of a useful length (8–60 words best, one-word
//!   answers worst), (b) *distinctive*: made of words this character uses
//!   more than the other speakers do (a smoothed log ratio of the
//!   character's rate to everyone's rate over all quotes), with a smaller
//!   bonus for rare words in general English, and (c) *not all the same*:
//!   chosen greedily, a candidate sharing more than half of its words with
//!   an already chosen quote is passed over, and one from the same scene
//!   (within 2,000 bytes of a chosen one) is marked down. The rest of the
//!   character's quotes follow in text order.
//! * Characters are those seen in `mentions` or as quote speakers, by id.
//!
//! Offsets: everything in and out is **byte** offsets into `text`
//! (sentences, mentions, quotes, sections, and the spans and
//! `first_appearance` returned). Ranges out of bounds or off char boundaries
//! are skipped; nothing panics.

use crate::keywords::{bg_centibels, is_stop_folded};
use crate::relations::{MentionRef, QuoteRef};
use crate::stats::{FxMap, fold_hash, words};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::OnceLock;

/// Ranked quotes put first in [`CharacterProfile::quotes`].
pub const REPRESENTATIVE: usize = 20;
/// Describing sentences kept per character.
pub const MAX_DESCRIPTIONS: usize = 25;
/// Agent verbs and modifiers kept per character.
pub const MAX_TERMS: usize = 40;

/// A byte range of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A word and how often it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCount {
    pub term: String,
    pub count: u32,
}

/// Everything [`build`] found about one character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharacterProfile {
    pub character: u32,
    /// All the character's quotes: the `representative` best first, then the
    /// others in text order.
    pub quotes: Vec<Span>,
    /// How many of `quotes` are the ranked representative ones.
    pub representative: usize,
    /// Sentences that describe the character, in text order.
    pub descriptions: Vec<Span>,
    /// Verbs the character is the agent of, lower case, most frequent first.
    pub agent_verbs: Vec<TermCount>,
    /// Adjectives predicated of or attached to the character, most frequent first.
    pub modifiers: Vec<TermCount>,
    /// Byte offset of the first mention or quote.
    pub first_appearance: Option<usize>,
    /// Indices of the sections with a mention or quote of the character.
    pub sections: Vec<usize>,
    pub mention_count: usize,
    pub quote_count: usize,
}

#[derive(Default)]
struct Acc {
    verbs: FxMap<String, u32>,
    mods: FxMap<String, u32>,
    desc: Vec<usize>,
    quotes: Vec<usize>,
    first: Option<usize>,
    sections: Vec<bool>,
    mentions: usize,
}

/// Builds the profiles of all characters seen in `mentions` and `quotes`,
/// sorted by character id. See the module docs for offsets.
pub fn build(
    text: &str,
    sentences: &[Range<usize>],
    mentions: &[MentionRef],
    quotes: &[QuoteRef],
    sections: &[Range<usize>],
) -> Vec<CharacterProfile> {
    let mut accs: FxMap<u32, Acc> = FxMap::default();
    let sent_sorted = sentences.is_sorted_by_key(|s| s.start);
    let sec_sorted = sections.is_sorted_by_key(|s| s.start);
    let find = |ranges: &[Range<usize>], sorted: bool, at: usize| -> Option<usize> {
        if sorted {
            let k = ranges.partition_point(|r| r.start <= at);
            k.checked_sub(1).filter(|&k| at < ranges[k].end)
        } else {
            ranges.iter().position(|r| r.contains(&at))
        }
    };
    let nsec = sections.len();
    let new_acc = || Acc {
        sections: vec![false; nsec],
        ..Acc::default()
    };

    let mut next_buf: Vec<Tok<'_>> = Vec::with_capacity(8);
    for m in mentions {
        let acc = accs.entry(m.character).or_insert_with(new_acc);
        acc.mentions += 1;
        acc.first = Some(acc.first.map_or(m.start, |f| f.min(m.start)));
        if let Some(s) = find(sections, sec_sorted, m.start) {
            acc.sections[s] = true;
        }
        let Some(mtext) = text.get(m.start..m.end) else {
            continue;
        };
        let described = analyse_mention(text, m.start, m.end, mtext, acc, &mut next_buf);
        if described && let Some(si) = find(sentences, sent_sorted, m.start) {
            acc.desc.push(si);
        }
    }
    for (qi, q) in quotes.iter().enumerate() {
        let Some(c) = q.speaker else { continue };
        let acc = accs.entry(c).or_insert_with(new_acc);
        acc.first = Some(acc.first.map_or(q.start, |f| f.min(q.start)));
        if let Some(s) = find(sections, sec_sorted, q.start) {
            acc.sections[s] = true;
        }
        acc.quotes.push(qi);
    }

    let ranked = rank_quotes(text, quotes, &accs);

    let mut ids: Vec<u32> = accs.keys().copied().collect();
    ids.sort_unstable();
    ids.into_iter()
        .filter_map(|id| {
            let mut acc = accs.remove(&id)?;
            let mut order = ranked.get(&id).cloned().unwrap_or_default();
            let representative = order.len();
            let mut rest: Vec<usize> = acc.quotes.iter().copied().filter(|q| !order.contains(q)).collect();
            rest.sort_by_key(|&q| (quotes[q].start, q));
            order.extend(rest);
            acc.desc.sort_unstable();
            acc.desc.dedup();
            acc.desc.truncate(MAX_DESCRIPTIONS);
            Some(CharacterProfile {
                character: id,
                quotes: order
                    .iter()
                    .map(|&q| Span {
                        start: quotes[q].start,
                        end: quotes[q].end,
                    })
                    .collect(),
                representative,
                descriptions: acc
                    .desc
                    .iter()
                    .map(|&s| Span {
                        start: sentences[s].start,
                        end: sentences[s].end,
                    })
                    .collect(),
                agent_verbs: top_terms(acc.verbs),
                modifiers: top_terms(acc.mods),
                first_appearance: acc.first,
                sections: acc
                    .sections
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &b)| b.then_some(i))
                    .collect(),
                mention_count: acc.mentions,
                quote_count: acc.quotes.len(),
            })
        })
        .collect()
}

fn top_terms(m: FxMap<String, u32>) -> Vec<TermCount> {
    let mut v: Vec<TermCount> = m.into_iter().map(|(term, count)| TermCount { term, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.term.cmp(&b.term)));
    v.truncate(MAX_TERMS);
    v
}

// --- local context --------------------------------------------------------

/// A word near a mention: its text and whether punctuation (anything but
/// whitespace) separates it from what came before.
#[derive(Clone, Copy)]
struct Tok<'a> {
    w: &'a str,
    punct_before: bool,
    /// The separating non-space chars contain only a comma.
    comma_only: bool,
}

/// Context words: runs of letters, joined across one apostrophe or one hyphen.
fn context_words_into<'t>(s: &'t str, max: usize, out: &mut Vec<Tok<'t>>) {
    out.clear();
    let mut gap_punct = false;
    let mut gap_comma_only = true;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_alphabetic() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = it.peek() {
                if d.is_alphabetic() {
                    end = j + d.len_utf8();
                    it.next();
                } else if matches!(d, '\'' | '’' | '-') {
                    // Join only if a letter follows.
                    let after = s.get(j + d.len_utf8()..).and_then(|r| r.chars().next());
                    if after.is_some_and(char::is_alphabetic) {
                        it.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            out.push(Tok {
                w: &s[i..end],
                punct_before: gap_punct,
                comma_only: gap_punct && gap_comma_only,
            });
            if out.len() >= max {
                break;
            }
            gap_punct = false;
            gap_comma_only = true;
        } else if !c.is_whitespace() {
            gap_punct = true;
            if c != ',' {
                gap_comma_only = false;
            }
        }
    }
}

/// The word right before byte `start` (only whitespace between), and whether
/// punctuation comes before that word (`” said Jane`).
fn prev_word(text: &str, start: usize) -> Option<(&str, bool)> {
    let head = text.get(..start)?;
    let t = head.trim_end();
    if t.len() == head.len() || !t.chars().next_back()?.is_alphabetic() {
        return None;
    }
    let ws = t
        .rfind(|c: char| !(c.is_alphabetic() || c == '-'))
        .map_or(0, |i| i + t[i..].chars().next().map_or(1, char::len_utf8));
    let word = &t[ws..];
    let punct_before = t[..ws]
        .trim_end()
        .chars()
        .next_back()
        .is_some_and(|c| !c.is_alphanumeric());
    Some((word, punct_before))
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Lower-cases into `buf` and returns it (ASCII fast path).
fn lower<'b>(w: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    if w.is_ascii() {
        buf.push_str(w);
        buf.make_ascii_lowercase();
    } else {
        buf.extend(w.chars().flat_map(char::to_lowercase));
        // Curly apostrophes read as straight ones.
        if buf.contains('’') {
            *buf = buf.replace('’', "'");
        }
    }
    buf.as_str()
}

fn bump(m: &mut FxMap<String, u32>, w: &str) {
    if let Some(c) = m.get_mut(w) {
        *c += 1;
    } else {
        m.insert(w.to_string(), 1);
    }
}

/// Reads the words around one mention; updates `acc`; returns whether a
/// description pattern fired.
fn analyse_mention<'t>(
    text: &'t str,
    start: usize,
    end: usize,
    mtext: &str,
    acc: &mut Acc,
    next: &mut Vec<Tok<'t>>,
) -> bool {
    let lex = lexicon();
    let mut buf = String::new();
    let m = mtext.trim();
    let is_any = |list: &[&str]| list.iter().any(|p| m.eq_ignore_ascii_case(p));
    let after_end = ceil_boundary(text, end.saturating_add(160));
    let after = text.get(end..after_end).unwrap_or("");
    let rest = after.strip_prefix("'s").or_else(|| after.strip_prefix("’s"));
    let possessive_name = rest.is_some();
    let is_possessive = possessive_name || is_any(&["his", "her", "its", "their", "my", "our", "your"]);
    let is_object = is_any(&["him", "her", "them", "me", "us", "himself", "herself", "themselves"]);
    context_words_into(rest.unwrap_or(after), 8, next);
    let next: &[Tok<'t>] = next;
    let mut described = false;

    // Possessive + [adjectives] + appearance noun: "her fine eyes".
    if is_possessive {
        let mut adjs: Vec<String> = Vec::new();
        for (k, t) in next.iter().enumerate().take(4) {
            if t.punct_before && !(t.comma_only && k > 0) {
                break;
            }
            let w = lower(t.w, &mut buf);
            if lex.body.contains_key(w) {
                if !adjs.is_empty() {
                    described = true;
                }
                for a in &adjs {
                    bump(&mut acc.mods, a);
                }
                break;
            }
            if is_stop_folded(w) && w != "and" || lex.verbs.contains_key(w) && !w.ends_with("ed") {
                break;
            }
            if w != "and" {
                adjs.push(w.to_string());
            }
        }
    }

    // Before the mention: "poor Jane", and the inverted speech tag "” said Jane".
    if !is_possessive
        && !is_object
        && let Some((p, punct_before)) = prev_word(text, start)
    {
        let w = lower(p, &mut buf);
        if lex.prenominal.contains_key(w) {
            bump(&mut acc.mods, w);
        } else if lex.speech.contains_key(w) && punct_before && next.first().is_none_or(|t| t.punct_before) {
            bump(&mut acc.verbs, w);
        }
    }

    if is_possessive || is_object || next.is_empty() {
        return described;
    }

    // After the mention.
    let mut i = 0usize;
    let first = next[0];
    if first.punct_before {
        // Apposition "Mr. Collins, a tall, heavy-looking young man" or
        // relative clause "Jane, who smiled".
        if !first.comma_only {
            return described;
        }
        let w = lower(first.w, &mut buf).to_string();
        if w == "a" || w == "an" {
            if noun_phrase(&next[1..], &mut acc.mods, &mut buf) {
                described = true;
            }
            return described;
        }
        if w != "who" {
            return described;
        }
        i = 1;
    }
    // Skip adverbs.
    let skip_adv = |i: &mut usize, buf: &mut String| {
        while *i < next.len() && !next[*i].punct_before && is_adverb(lower(next[*i].w, buf)) {
            *i += 1;
        }
    };
    skip_adv(&mut i, &mut buf);
    let Some(t) = next.get(i) else {
        return described;
    };
    if t.punct_before && i > 0 {
        return described;
    }
    if t.w.chars().next().is_some_and(char::is_uppercase) {
        return described;
    }
    let w = lower(t.w, &mut buf).to_string();
    if lex.copula.contains_key(w.as_str()) {
        if !matches!(w.as_str(), "was" | "were" | "is" | "are" | "am" | "be" | "been") {
            bump(&mut acc.verbs, &w);
        }
        i += 1;
        skip_adv(&mut i, &mut buf);
        if predicate(&next[i..], acc, &mut buf) {
            described = true;
        }
        return described;
    }
    if lex.aux.contains_key(w.as_str()) {
        i += 1;
        skip_adv(&mut i, &mut buf);
        let Some(t) = next.get(i) else {
            return described;
        };
        if t.punct_before {
            return described;
        }
        let mut v = lower(t.w, &mut buf).to_string();
        // "could have seen", "would have been": skip the perfect auxiliary.
        if matches!(v.as_str(), "have" | "has" | "had" | "having")
            && let Some(t2) = next.get(i + 1).filter(|t2| !t2.punct_before)
        {
            i += 1;
            v = lower(t2.w, &mut buf).to_string();
        }
        if v == "been" || v == "be" {
            i += 1;
            skip_adv(&mut i, &mut buf);
            if predicate(&next[i..], acc, &mut buf) {
                described = true;
            }
        } else if lex.verbs.contains_key(v.as_str())
            && !lex.copula.contains_key(v.as_str())
            && !lex.aux.contains_key(v.as_str())
        {
            bump(&mut acc.verbs, &v);
        }
        return described;
    }
    if lex.verbs.contains_key(w.as_str())
        || (w.len() > 4 && w.ends_with("ed") && !lex.not_verbs.contains_key(w.as_str()))
    {
        bump(&mut acc.verbs, &w);
    }
    described
}

/// After a copula: "-ing" is an agent verb, "-ed by" a passive, an adjective
/// (and coordinated ones) a modifier, "a/an/the …" a noun phrase. Returns
/// whether it described the character.
fn predicate(toks: &[Tok<'_>], acc: &mut Acc, buf: &mut String) -> bool {
    let lex = lexicon();
    let Some(t) = toks.first() else { return false };
    if t.punct_before || t.w.chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    let w = lower(t.w, buf).to_string();
    if matches!(w.as_str(), "a" | "an" | "the") {
        return noun_phrase(&toks[1..], &mut acc.mods, buf);
    }
    // "was walking" is an action; "was good-looking", "was charming" are not.
    if w.ends_with("ing") && w.len() > 4 && !w.contains('-') && !lex.prenominal.contains_key(w.as_str()) {
        bump(&mut acc.verbs, &w);
        return false;
    }
    // A participle followed by "by", "to", "into"… is a passive or a motion
    // ("was struck by", "was summoned to dinner"), not a quality; "pleased
    // with", "surprised at" stay.
    let next_word = toks
        .get(1)
        .filter(|n| !n.punct_before)
        .map(|n| n.w.to_ascii_lowercase());
    let passive =
        (w.ends_with("ed") || w.ends_with("en")) && next_word.as_deref().is_some_and(|n| PASSIVE_NEXT.contains(&n));
    if passive
        || is_stop_folded(&w)
        || is_adverb(&w)
        || looks_like_noun(&w)
        || matches!(w.as_str(), "half" | "next" | "own" | "one")
        || lex.participles.contains_key(w.as_str())
    {
        return false;
    }
    bump(&mut acc.mods, &w);
    // "good-looking and gentlemanlike", "handsome, amiable"
    let mut k = 1;
    while k + 1 < toks.len() && k < 6 {
        let t1 = toks[k];
        let w1 = lower(t1.w, buf).to_string();
        if w1 == "and" && !t1.punct_before {
            let t2 = toks[k + 1];
            let w2 = lower(t2.w, buf).to_string();
            if t2.punct_before || is_stop_folded(&w2) || is_adverb(&w2) || lex.verbs.contains_key(w2.as_str()) {
                break;
            }
            bump(&mut acc.mods, &w2);
            k += 2;
        } else {
            break;
        }
    }
    true
}

/// Words after a participle that make it a passive or a motion.
const PASSIVE_NEXT: &[&str] = &[
    "by", "to", "into", "from", "out", "up", "down", "away", "off", "in", "on", "upon", "for", "back", "over",
    "through",
];

/// Plural nouns and abstract-noun suffixes: "were sisters", "is all politeness".
fn looks_like_noun(w: &str) -> bool {
    let plural =
        w.ends_with('s') && !w.ends_with("ous") && !w.ends_with("ss") && !w.ends_with("is") && !w.ends_with("us");
    plural
        || ["ness", "ment", "tion", "sion", "ity", "ship", "hood", "ance", "ence"]
            .iter()
            .any(|suf| w.len() > suf.len() + 2 && w.ends_with(suf))
}

/// "tall, heavy-looking young man …": every word but the head noun is a
/// modifier. Returns whether there was a noun phrase at all.
fn noun_phrase(toks: &[Tok<'_>], mods: &mut FxMap<String, u32>, buf: &mut String) -> bool {
    let mut words_: Vec<String> = Vec::new();
    for (k, t) in toks.iter().enumerate().take(6) {
        if k > 0 && t.punct_before && !t.comma_only {
            break;
        }
        if k == 0 && t.punct_before {
            return false;
        }
        let w = lower(t.w, buf).to_string();
        if w == "and" {
            continue;
        }
        if is_stop_folded(&w) && !matches!(w.as_str(), "most" | "very" | "more") {
            break;
        }
        words_.push(w);
    }
    // "a bit better", "a good deal", "a sort of": not a description.
    if words_.is_empty()
        || words_.iter().any(|w| {
            matches!(
                w.as_str(),
                "bit" | "deal" | "lot" | "sort" | "kind" | "few" | "better" | "worse"
            )
        })
    {
        return false;
    }
    words_.pop(); // head noun
    for w in words_ {
        if !is_adverb(&w)
            && !matches!(
                w.as_str(),
                "most" | "very" | "more" | "half" | "next" | "own" | "one" | "set"
            )
        {
            bump(mods, &w);
        }
    }
    true
}

fn is_adverb(w: &str) -> bool {
    (w.len() > 4
        && w.ends_with("ly")
        && !matches!(
            w,
            "only"
                | "family"
                | "ugly"
                | "lovely"
                | "lively"
                | "friendly"
                | "silly"
                | "holy"
                | "early"
                | "likely"
                | "kindly"
                | "manly"
                | "homely"
        ))
        || lexicon().adverbs.contains_key(w)
}

// --- quotes ----------------------------------------------------------------

fn rank_quotes(text: &str, quotes: &[QuoteRef], accs: &FxMap<u32, Acc>) -> FxMap<u32, Vec<usize>> {
    // Word counts: per speaker and over all attributed quotes. Words are
    // keyed by their case-folded hash; `surface[id]` is the first form seen.
    let mut index: FxMap<u64, u32> = FxMap::default();
    let mut surface: Vec<&str> = Vec::new();
    let mut global: Vec<u32> = Vec::new();
    let mut per: FxMap<(u32, u32), u32> = FxMap::default();
    let mut speaker_total: FxMap<u32, u32> = FxMap::default();
    // All quotes' word ids, flat; `qspan[qi]` is the quote's slice of it.
    let mut flat: Vec<u32> = Vec::new();
    let mut qspan: Vec<(usize, usize)> = vec![(0, 0); quotes.len()];
    let mut total = 0u32;
    for (qi, q) in quotes.iter().enumerate() {
        let Some(c) = q.speaker else { continue };
        let Some(s) = text.get(q.start..q.end) else {
            continue;
        };
        let from = flat.len();
        for (_, w) in words(s) {
            let next = surface.len() as u32;
            let id = *index.entry(fold_hash(w)).or_insert(next);
            if id == next {
                surface.push(w);
                global.push(0);
            }
            global[id as usize] += 1;
            *per.entry((c, id)).or_insert(0) += 1;
            flat.push(id);
        }
        let n = (flat.len() - from) as u32;
        *speaker_total.entry(c).or_insert(0) += n;
        total += n;
        qspan[qi] = (from, flat.len());
    }
    // Per word id: is it a content word, and its rarity in English (0..~1).
    let mut content = vec![false; surface.len()];
    let mut rarity = vec![0f64; surface.len()];
    let mut buf = String::new();
    for (id, s) in surface.iter().enumerate() {
        let w = lower(s, &mut buf);
        if !is_stop_folded(w) && w.chars().count() > 2 {
            content[id] = true;
            rarity[id] = ((f64::from(bg_centibels(w)) / 100.0 - 3.0) / 4.0).clamp(0.0, 1.0);
        }
    }

    let mut out: FxMap<u32, Vec<usize>> = FxMap::default();
    for (&c, acc) in accs {
        if acc.quotes.is_empty() {
            continue;
        }
        let ct = f64::from(*speaker_total.get(&c).unwrap_or(&0)) + 1.0;
        let gt = f64::from(total) + 1.0;
        let mut cands: Vec<(f64, usize, Vec<u32>)> = Vec::with_capacity(acc.quotes.len());
        for &qi in &acc.quotes {
            let ws = flat.get(qspan[qi].0..qspan[qi].1).unwrap_or(&[]);
            let n = ws.len();
            if n == 0 {
                continue;
            }
            let length = match n {
                0..=2 => 0.15,
                3..=5 => 0.45,
                6..=7 => 0.8,
                8..=60 => 1.0,
                _ => 60.0 / n as f64,
            };
            let mut set: Vec<u32> = ws.iter().copied().filter(|&w| content[w as usize]).collect();
            set.sort_unstable();
            set.dedup();
            let mut dist = 0.0;
            let mut rare = 0.0;
            for &w in &set {
                let cw = f64::from(*per.get(&(c, w)).unwrap_or(&0));
                let gw = f64::from(global[w as usize]);
                dist += (((cw + 0.5) / ct) / ((gw + 0.5) / gt)).ln().max(0.0);
                rare += rarity[w as usize];
            }
            let k = set.len().max(1) as f64;
            let score = length * (0.5 + dist / k + 0.5 * rare / k) * (1.0 + (k.min(12.0) / 12.0));
            cands.push((score, qi, set));
        }
        cands.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        // Greedy, diverse pick.
        let mut chosen: Vec<usize> = Vec::new();
        let mut used = vec![false; cands.len()];
        while chosen.len() < REPRESENTATIVE {
            let mut best: Option<(f64, usize)> = None;
            for (ci, (score, qi, set)) in cands.iter().enumerate() {
                if used[ci] {
                    continue;
                }
                // Candidates are sorted: none further down can beat `best`.
                if best.is_some_and(|(b, _)| *score <= b) {
                    break;
                }
                let mut s = *score;
                let mut dup = false;
                for &o in &chosen {
                    let (_, oq, oset) = &cands[o];
                    if overlap(oset, set) > 0.5 {
                        dup = true;
                        break;
                    }
                    if quotes[*oq].start.abs_diff(quotes[*qi].start) < 2_000 {
                        s *= 0.7;
                    }
                }
                if dup {
                    used[ci] = true;
                    continue;
                }
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, ci));
                }
            }
            let Some((_, ci)) = best else { break };
            used[ci] = true;
            chosen.push(ci);
        }
        out.insert(c, chosen.into_iter().map(|ci| cands[ci].1).collect());
    }
    out
}

/// Share of the smaller (sorted, distinct) set found in the other.
fn overlap(a: &[u32], b: &[u32]) -> f64 {
    let small = a.len().min(b.len());
    if small == 0 {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / small as f64
}

// --- lexicon ----------------------------------------------------------------

struct Lexicon {
    /// Every form of every verb in verbs.txt.
    verbs: FxMap<String, ()>,
    /// Irregular past participles, and "-ed" forms: not predicate adjectives
    /// when irregular ("was gone"), so kept apart.
    participles: FxMap<String, ()>,
    copula: FxMap<&'static str, ()>,
    aux: FxMap<&'static str, ()>,
    adverbs: FxMap<&'static str, ()>,
    prenominal: FxMap<&'static str, ()>,
    speech: FxMap<&'static str, ()>,
    body: FxMap<&'static str, ()>,
    not_verbs: FxMap<&'static str, ()>,
}

static VERBS_TXT: &str = include_str!("../data/bg/verbs.txt");

fn set(words: &[&'static str]) -> FxMap<&'static str, ()> {
    words.iter().map(|&w| (w, ())).collect()
}

fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut verbs = FxMap::default();
        let mut participles = FxMap::default();
        for line in VERBS_TXT.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let Some(base) = parts.next() else { continue };
            let past: Vec<&str> = parts.collect();
            let mut forms = vec![base.to_string(), third_person(base), ing(base)];
            if past.is_empty() {
                forms.push(regular_past(base));
            } else {
                for p in &past {
                    forms.push((*p).to_string());
                }
                // Irregular participles ("left", "caught", "gone") after
                // "was" are passives, not qualities.
                if let Some(pp) = past.get(1)
                    && *pp != base
                {
                    participles.insert((*pp).to_string(), ());
                }
            }
            for f in forms {
                verbs.insert(f, ());
            }
        }
        Lexicon {
            verbs,
            participles,
            copula: set(&[
                "was", "were", "is", "are", "am", "be", "been", "seemed", "seems", "seem", "looked", "looks",
                "appeared", "appears", "became", "becomes", "grew", "grows", "remained", "remains", "felt", "feels",
                "sounded",
            ]),
            aux: set(&[
                "had", "has", "have", "did", "does", "do", "could", "would", "should", "might", "must", "will",
                "shall", "may", "can", "cannot",
            ]),
            adverbs: set(&[
                "not",
                "never",
                "always",
                "also",
                "then",
                "now",
                "only",
                "still",
                "soon",
                "quite",
                "very",
                "so",
                "too",
                "rather",
                "much",
                "more",
                "most",
                "less",
                "ever",
                "even",
                "already",
                "just",
                "perhaps",
                "indeed",
                "again",
                "often",
                "once",
                "almost",
                "scarcely",
                "hardly",
                "instantly",
                "presently",
                "immediately",
                "certainly",
                "really",
                "no",
                "longer",
                "herself",
                "himself",
                "alone",
                "both",
                "all",
                "first",
                "last",
                "seldom",
            ]),
            prenominal: set(&[
                "poor",
                "dear",
                "dearest",
                "little",
                "young",
                "old",
                "good",
                "sweet",
                "pretty",
                "beautiful",
                "lovely",
                "handsome",
                "charming",
                "silly",
                "foolish",
                "wicked",
                "kind",
                "amiable",
                "proud",
                "vain",
                "lively",
                "gentle",
                "clever",
                "wise",
                "honest",
                "brave",
                "unhappy",
                "happy",
                "unfortunate",
                "wretched",
                "excellent",
                "worthy",
                "noble",
                "cruel",
                "stupid",
                "gallant",
                "grave",
                "tall",
                "fat",
                "thin",
                "pale",
                "fair",
                "naughty",
                "beloved",
                "darling",
                "idle",
                "jealous",
                "angry",
                "poor-spirited",
                "obstinate",
                "headstrong",
                "giddy",
                "ungrateful",
                "affectionate",
                "charming",
                "sensible",
                "agreeable",
                "disagreeable",
                "haughty",
                "insolent",
                "impertinent",
                "innocent",
                // -ing adjectives, so that "was amusing" is not read as an action.
                "amusing",
                "interesting",
                "pleasing",
                "willing",
                "loving",
                "obliging",
                "engaging",
                "astonishing",
                "distressing",
                "surprising",
                "shocking",
                "cunning",
                "daring",
                "forbidding",
                "promising",
                "unassuming",
                "unwilling",
                "unfeeling",
                "striking",
                "enchanting",
                "provoking",
                "mortifying",
            ]),
            speech: set(&[
                "said",
                "replied",
                "cried",
                "answered",
                "returned",
                "continued",
                "observed",
                "added",
                "asked",
                "exclaimed",
                "whispered",
                "repeated",
                "rejoined",
                "resumed",
                "murmured",
                "shouted",
                "called",
                "began",
                "thought",
                "remarked",
                "interrupted",
                "insisted",
                "explained",
                "declared",
                "says",
                "replies",
                "cries",
                "asks",
            ]),
            body: set(&[
                "eyes",
                "eye",
                "face",
                "figure",
                "hair",
                "countenance",
                "features",
                "complexion",
                "person",
                "manners",
                "manner",
                "smile",
                "voice",
                "air",
                "looks",
                "mien",
                "form",
                "cheeks",
                "cheek",
                "lips",
                "mouth",
                "nose",
                "brow",
                "forehead",
                "hands",
                "hand",
                "appearance",
                "dress",
                "expression",
                "temper",
                "disposition",
                "mind",
                "character",
                "heart",
                "spirits",
                "beauty",
                "skin",
                "teeth",
                "shoulders",
                "gait",
                "step",
                "laugh",
                "beard",
                "head",
            ]),
            not_verbs: set(&[
                "indeed", "hundred", "sacred", "naked", "wicked", "kindred", "wretched", "rugged", "beloved", "ragged",
                "crooked", "learned", "aged", "blessed", "cursed", "dogged", "jagged", "shred", "embed", "infrared",
            ]),
        }
    })
}

/// "carry" → "carr" (consonant + y), else `None`.
fn y_stem(b: &str) -> Option<&str> {
    let stem = b.strip_suffix('y')?;
    (!stem.ends_with(['a', 'e', 'o', 'u'])).then_some(stem)
}

fn third_person(b: &str) -> String {
    if let Some(stem) = y_stem(b) {
        format!("{stem}ies")
    } else if b.ends_with(['s', 'x', 'o']) || b.ends_with("sh") || b.ends_with("ch") {
        format!("{b}es")
    } else {
        format!("{b}s")
    }
}

fn regular_past(b: &str) -> String {
    if b.ends_with('e') {
        format!("{b}d")
    } else if let Some(stem) = y_stem(b) {
        format!("{stem}ied")
    } else {
        format!("{b}ed")
    }
}

fn ing(b: &str) -> String {
    if let Some(stem) = b.strip_suffix("ie") {
        format!("{stem}ying")
    } else if b.ends_with('e') && !b.ends_with("ee") && b.len() > 2 {
        format!("{}ing", &b[..b.len() - 1])
    } else {
        format!("{b}ing")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]
    use super::*;

    /// Mentions of `name` as character `id` (whole-word, case-sensitive).
    fn mentions_of(text: &str, name: &str, id: u32) -> Vec<MentionRef> {
        let mut out = vec![];
        let mut from = 0;
        while let Some(p) = text[from..].find(name) {
            let s = from + p;
            let e = s + name.len();
            let before_ok = text[..s].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            let after_ok = text[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
            if before_ok && after_ok {
                out.push(MentionRef {
                    start: s,
                    end: e,
                    character: id,
                });
            }
            from = e;
        }
        out
    }

    fn one(text: &str, name: &str) -> CharacterProfile {
        let ms = mentions_of(text, name, 1);
        let p = build(text, &[0..text.len()], &ms, &[], &[]);
        p.into_iter().next().unwrap()
    }

    fn has(v: &[TermCount], w: &str) -> bool {
        v.iter().any(|t| t.term == w)
    }

    #[test]
    fn lexicon_forms() {
        let l = lexicon();
        for w in [
            "replied", "replies", "replying", "said", "says", "walked", "looking", "took", "taken", "dies", "dying",
        ] {
            assert!(l.verbs.contains_key(w), "{w}");
        }
        assert!(l.participles.contains_key("gone"));
    }

    #[test]
    fn pride_and_prejudice_descriptions() {
        // Chapter 3.
        let t = "Mr. Bingley was good-looking and gentlemanlike; he had a pleasant countenance, and easy, unaffected manners.";
        let p = one(t, "Mr. Bingley");
        assert!(has(&p.modifiers, "good-looking"), "{:?}", p.modifiers);
        assert!(has(&p.modifiers, "gentlemanlike"), "{:?}", p.modifiers);
        assert_eq!(p.descriptions, vec![Span { start: 0, end: t.len() }]);
        // Chapter 13, apposition.
        let t = "Mr. Collins, a tall, heavy-looking young man of five-and-twenty. His air was grave and stately.";
        let p = one(t, "Mr. Collins");
        for w in ["tall", "heavy-looking", "young"] {
            assert!(has(&p.modifiers, w), "{w} {:?}", p.modifiers);
        }
        assert!(!has(&p.modifiers, "man"));
        assert_eq!(p.descriptions.len(), 1);
        // Possessive + appearance noun.
        let t = "She was aware of her fine eyes.";
        let ms = vec![MentionRef {
            start: 17,
            end: 20,
            character: 7,
        }];
        let p = &build(t, &[0..t.len()], &ms, &[], &[])[0];
        assert!(has(&p.modifiers, "fine"), "{:?}", p.modifiers);
        assert_eq!(p.descriptions.len(), 1);
    }

    #[test]
    fn agent_verbs() {
        let t = "“Oh! Single, my dear, to be sure!” said Elizabeth. Elizabeth instantly replied. \
                 Elizabeth could not help laughing. Elizabeth walked on. Elizabeth was struck by it. \
                 Elizabeth was walking. Jane, who smiled at Elizabeth. Elizabeth's sister.";
        let p = one(t, "Elizabeth");
        for w in ["said", "replied", "help", "walked", "walking"] {
            assert!(has(&p.agent_verbs, w), "{w} {:?}", p.agent_verbs);
        }
        assert!(!has(&p.agent_verbs, "struck"));
        assert!(!has(&p.modifiers, "struck"));
        assert!(!has(&p.agent_verbs, "sister"));
        let p = one(t, "Jane");
        assert!(has(&p.agent_verbs, "smiled"), "{:?}", p.agent_verbs);
    }

    #[test]
    fn prenominal_and_predicate() {
        let t = "Poor Jane! Lydia was very lively and untamed. Kitty seemed uneasy.";
        assert!(has(&one(t, "Jane").modifiers, "poor"));
        let p = one(t, "Lydia");
        assert!(
            has(&p.modifiers, "lively") && has(&p.modifiers, "untamed"),
            "{:?}",
            p.modifiers
        );
        let p = one(t, "Kitty");
        assert!(has(&p.modifiers, "uneasy"), "{:?}", p.modifiers);
        assert!(has(&p.agent_verbs, "seemed"));
    }

    #[test]
    fn quotes_ranked_and_diverse() {
        let t = "“Yes.” “I am perfectly convinced by it that Mr. Darcy has no defect. He owns it himself without disguise.” \
                 “Yes.” “Your conjecture is totally wrong, and I assure you that my mind was more agreeably engaged.” \
                 “No.” “I dearly love a laugh.”";
        let mut qs = vec![];
        let mut from = 0;
        while let Some(p) = t[from..].find('“') {
            let s = from + p;
            let e = s + t[s..].find('”').unwrap() + '”'.len_utf8();
            qs.push(QuoteRef {
                start: s,
                end: e,
                speaker: Some(1),
            });
            from = e;
        }
        let p = &build(t, &[], &[], &qs, &[])[0];
        assert_eq!(p.quotes.len(), 6);
        assert_eq!(p.quote_count, 6);
        assert!(p.representative >= 3);
        // The one-word answers come last among the ranked ones.
        let first = &t[p.quotes[0].start..p.quotes[0].end];
        assert!(first.len() > 20, "{first}");
        assert_eq!(p.first_appearance, Some(0));
        // Every quote exactly once.
        let mut starts: Vec<usize> = p.quotes.iter().map(|s| s.start).collect();
        starts.sort();
        starts.dedup();
        assert_eq!(starts.len(), 6);
    }

    #[test]
    fn sections_and_first_appearance() {
        let t = "Jane came. Then nothing. Jane went.";
        let ms = mentions_of(t, "Jane", 3);
        let p = &build(t, &[0..10, 11..24, 25..35], &ms, &[], &[0..11, 11..25, 25..35])[0];
        assert_eq!(p.sections, vec![0, 2]);
        assert_eq!(p.first_appearance, Some(0));
        assert_eq!(p.mention_count, 2);
    }

    #[test]
    fn edge_cases() {
        assert!(build("", &[], &[], &[], &[]).is_empty());
        // Bad offsets and Unicode: no panic.
        let t = "Éowyn était très belle. Ωραία.";
        let ms = [
            MentionRef {
                start: 0,
                end: 6,
                character: 1,
            },
            MentionRef {
                start: 1,
                end: 3,
                character: 1,
            },
            MentionRef {
                start: 500,
                end: 600,
                character: 2,
            },
        ];
        let qs = [QuoteRef {
            start: 2,
            end: 999,
            speaker: Some(2),
        }];
        let p = build(t, &[0..26, 27..999], &ms, &qs, &[0..999]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].quotes.len(), 1);
        // Mention at the very end of the text.
        let t = "I saw Jane";
        let p = one(t, "Jane");
        assert_eq!(p.mention_count, 1);
    }
}
