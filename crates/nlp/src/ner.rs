//! Person-name tagging: an averaged perceptron over word features.
//!
//! Hand rules for "capitalised word that is a name" break on exactly the cases
//! the issue lists (sentence-initial capitals, places, months, "God" as an
//! exclamation), so the decision is learned from LitBank's proper-name PER
//! mentions instead (`examples/train_ner.rs` refits it). The tagger labels
//! only capitalised tokens (B = starts a name, I = continues one, O = other):
//! every LitBank proper-name mention starts with a capital, and skipping the
//! other ~85% of tokens keeps it fast. Features are hashed (FNV-1a, no
//! allocation) and include the most informative one of all, a book-level
//! count: how often the same word appears in lower case, and how often it is
//! capitalised away from a sentence start, across the whole book. Decoding is
//! greedy left to right with the previous tag as a feature.
//!
//! The weights ship as `data/ner.bin` (u64 key, three i16 weights, one scale),
//! parsed once into a hash map. Decoding subtracts a constant from the O score
//! (stored in the file, chosen by cross-validation): the harness rewards
//! finding every character more than it punishes an extra name.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use crate::wordclass::WordClasses;

/// A hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

const FNV: u64 = 0xcbf29ce484222325;
const PRIME: u64 = 0x100000001b3;

#[inline]
fn mix(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(PRIME)
}

/// FNV hash of a word lower-cased on the fly (no allocation).
#[inline]
pub fn hash_lower(h0: u64, w: &str) -> u64 {
    let mut h = h0;
    for c in w.chars() {
        if c.is_ascii() {
            h = mix(h, c.to_ascii_lowercase() as u8);
        } else {
            for l in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for &b in l.encode_utf8(&mut buf).as_bytes() {
                    h = mix(h, b);
                }
            }
        }
    }
    h
}

#[inline]
fn tmpl(id: u8) -> u64 {
    mix(FNV, id)
}

/// Word shape, compressed: X=upper, x=lower, d=digit, other chars kept; runs collapsed.
fn shape_hash(h0: u64, w: &str) -> u64 {
    let mut h = h0;
    let mut last = 0u8;
    let mut n = 0;
    for c in w.chars() {
        let s = if c.is_uppercase() {
            b'X'
        } else if c.is_lowercase() {
            b'x'
        } else if c.is_numeric() {
            b'd'
        } else if c.is_ascii() {
            c as u8
        } else {
            b'?'
        };
        if s != last {
            h = mix(h, s);
            last = s;
            n += 1;
            if n > 6 {
                break;
            }
        }
    }
    h
}

pub fn is_upper_initial(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_uppercase())
}

/// Book-level counts per lower-cased word: (lowercase occurrences, capitalised
/// occurrences not at a sentence start).
#[derive(Default)]
pub struct DocStats {
    map: IdMap<(u32, u32)>,
    /// per capitalised word: after a title ("Mr."), next to a speech verb,
    /// after a place preposition ("in", "at"), before a verb ("was", "had"),
    /// all capitalised occurrences
    ctx: IdMap<[u16; 5]>,
}

impl DocStats {
    /// Counts over a whole tokenised book.
    pub fn from_tokens(text: &str, toks: &[crate::token::Token]) -> DocStats {
        use crate::token::Token;
        let mut st = DocStats::default();
        let mut prev = "";
        for (i, t) in toks.iter().enumerate() {
            let w = t.text(text);
            if t.is(Token::WORD) {
                st.add(w, t.is(Token::SENT_START));
                if is_upper_initial(w) {
                    let next = toks.get(i + 1).map(|n| n.text(text)).unwrap_or("");
                    let after_title = crate::cluster::is_title(prev);
                    let speech = matches!(next, "said" | "replied" | "cried" | "answered" | "asked" | "exclaimed")
                        || matches!(prev, "said" | "replied" | "cried" | "answered" | "asked");
                    let place = matches!(
                        prev,
                        "in" | "at" | "near" | "into" | "through" | "across" | "towards" | "toward" | "from"
                    );
                    let subj = matches!(
                        next,
                        "was"
                            | "had"
                            | "is"
                            | "has"
                            | "looked"
                            | "went"
                            | "came"
                            | "did"
                            | "would"
                            | "could"
                            | "thought"
                            | "felt"
                            | "knew"
                            | "saw"
                            | "took"
                            | "turned"
                            | "smiled"
                            | "laughed"
                            | "nodded"
                            | "stood"
                            | "sat"
                            | "made"
                            | "heard"
                            | "told"
                            | "gave"
                            | "got"
                            | "put"
                            | "wanted"
                            | "loved"
                    );
                    let e = st.ctx.entry(hash_lower(FNV, w)).or_insert([0; 5]);
                    for (k, f) in [after_title, speech, place, subj, true].into_iter().enumerate() {
                        if f {
                            e[k] = e[k].saturating_add(1);
                        }
                    }
                }
            }
            prev = w;
        }
        st
    }

    fn ctx_counts(&self, w: &str) -> [u16; 5] {
        self.ctx.get(&hash_lower(FNV, w)).copied().unwrap_or([0; 5])
    }

    fn ctx_bucket(&self, w: &str) -> u8 {
        let c = self.ctx_counts(w);
        (c[0].min(2) * 3 + c[1].min(2)) as u8
    }

    /// Ratio buckets of place-preposition and subject-verb contexts.
    fn role_bucket(&self, w: &str) -> (u8, u8) {
        let c = self.ctx_counts(w);
        let r = |k: usize| -> u8 {
            if c[4] == 0 || c[k] == 0 {
                0
            } else {
                let x = c[k] as f32 / c[4] as f32;
                if x < 0.05 {
                    1
                } else if x < 0.2 {
                    2
                } else {
                    3
                }
            }
        };
        (r(2), r(3))
    }

    pub fn add(&mut self, w: &str, sent_start: bool) {
        let first = match w.chars().next() {
            Some(c) => c,
            None => return,
        };
        if !first.is_alphabetic() {
            return;
        }
        let e = self.map.entry(hash_lower(FNV, w)).or_insert((0, 0));
        if first.is_lowercase() {
            e.0 += 1;
        } else if !sent_start {
            e.1 += 1;
        }
    }
    /// Whether the word is capitalised in at least half of its occurrences
    /// away from sentence starts (names are; "Before", "Is", "The" are not).
    pub fn is_namey(&self, w: &str) -> bool {
        if w == "I" || !is_upper_initial(w) {
            return false;
        }
        let (l, c) = self.map.get(&hash_lower(FNV, w)).copied().unwrap_or((0, 0));
        c >= l
    }

    fn bucket(&self, w: &str) -> u8 {
        let (l, c) = self.map.get(&hash_lower(FNV, w)).copied().unwrap_or((0, 0));
        if c == 0 && l == 0 {
            return 0;
        }
        if c == 0 {
            return 1;
        }
        if l == 0 {
            return if c >= 3 { 2 } else { 3 };
        }
        let r = c as f32 / (c + l) as f32;
        if r < 0.1 {
            4
        } else if r < 0.5 {
            5
        } else if r < 0.9 {
            6
        } else {
            7
        }
    }
}

const HONORIFICS: &[&str] = &[
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "miss",
    "ms",
    "ms.",
    "dr",
    "dr.",
    "sir",
    "lady",
    "lord",
    "madam",
    "madame",
    "mme",
    "mme.",
    "mlle",
    "monsieur",
    "captain",
    "capt.",
    "colonel",
    "col.",
    "general",
    "major",
    "lieutenant",
    "aunt",
    "uncle",
    "father",
    "mother",
    "sister",
    "brother",
    "professor",
    "prof.",
    "king",
    "queen",
    "prince",
    "princess",
    "count",
    "countess",
    "duke",
    "duchess",
    "baron",
    "mister",
    "master",
    "mistress",
    "dame",
    "judge",
    "rev.",
    "reverend",
    "saint",
    "st.",
    "cousin",
    "grandfather",
    "grandmother",
    "granny",
    "old",
    "young",
    "little",
    "poor",
    "dear",
    "herr",
    "frau",
    "signor",
    "señor",
    "don",
    "doña",
    "abbé",
    "emperor",
];

pub fn is_honorific(w: &str) -> bool {
    if w.len() > 12 {
        return false;
    }
    if w.is_ascii() {
        // the common case, without lower-casing into a buffer
        return HONORIFICS
            .iter()
            .any(|h| h.len() == w.len() && h.eq_ignore_ascii_case(w));
    }
    let mut buf = [0u8; 16];
    let mut n = 0;
    for c in w.chars() {
        for l in c.to_lowercase() {
            if n + l.len_utf8() > 16 {
                return false;
            }
            l.encode_utf8(&mut buf[n..]);
            n += l.len_utf8();
        }
    }
    let lw = std::str::from_utf8(&buf[..n]).unwrap_or("");
    HONORIFICS.contains(&lw)
}

/// The input of the tagger: tokens of a text (with their
/// [`Token::SENT_START`](crate::token::Token::SENT_START) flags), borrowed —
/// no per-token copy of the words, which would be the analysis's largest
/// allocation.
#[derive(Clone, Copy)]
pub struct Seq<'a> {
    text: &'a str,
    toks: &'a [crate::token::Token],
}

impl<'a> Seq<'a> {
    pub fn new(text: &'a str, toks: &'a [crate::token::Token]) -> Self {
        Seq { text, toks }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.toks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.toks.is_empty()
    }

    /// The text of token `i`.
    #[inline]
    pub fn word(&self, i: usize) -> &'a str {
        self.toks[i].text(self.text)
    }

    /// The text of token `i`, or "" past the end (for looking ahead of a span).
    #[inline]
    pub fn word_or_empty(&self, i: usize) -> &'a str {
        self.toks.get(i).map_or("", |t| t.text(self.text))
    }

    /// Whether token `i` starts a sentence.
    #[inline]
    pub fn starts(&self, i: usize) -> bool {
        self.toks[i].is(crate::token::Token::SENT_START)
    }

    /// The words, in order.
    pub fn words(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.toks.iter().map(|t| t.text(self.text))
    }
}

pub const NTAGS: usize = 3;
pub const O: u8 = 0;
pub const B: u8 = 1;
pub const I: u8 = 2;

/// Feature hashes of token `i` given the previous tag.
pub fn features(seq: &Seq, stats: &DocStats, cls: Option<&WordClasses>, i: usize, prev: u8, out: &mut Vec<u64>) {
    features_with(seq, stats, cls, None, i, prev, out)
}

/// [`features`], plus the second pass's book-level votes of the first pass
/// (how often the same word was tagged a name elsewhere in the book).
pub fn features_with(
    seq: &Seq,
    stats: &DocStats,
    cls: Option<&WordClasses>,
    votes: Option<&Votes>,
    i: usize,
    prev: u8,
    out: &mut Vec<u64>,
) {
    out.clear();
    let w = |k: isize| -> &str {
        let j = i as isize + k;
        if j < 0 || j as usize >= seq.len() {
            "<none>"
        } else {
            seq.word(j as usize)
        }
    };
    let w0 = w(0);
    let st = seq.starts(i) as u8;
    let b0 = stats.bucket(w0);
    out.push(tmpl(0));
    out.push(hash_lower(tmpl(1), w0));
    out.push(hash_lower(tmpl(2), w(-1)));
    out.push(hash_lower(tmpl(3), w(1)));
    out.push(hash_lower(tmpl(4), w(-2)));
    out.push(hash_lower(tmpl(5), w(2)));
    out.push(shape_hash(tmpl(6), w0));
    out.push(shape_hash(tmpl(7), w(-1)));
    out.push(shape_hash(tmpl(8), w(1)));
    // suffix 3
    let suf: &str = {
        let mut idx = w0.len();
        for (k, (p, _)) in w0.char_indices().rev().enumerate() {
            idx = p;
            if k == 2 {
                break;
            }
        }
        &w0[idx..]
    };
    out.push(hash_lower(tmpl(9), suf));
    out.push(mix(mix(tmpl(10), st), b0));
    out.push(mix(tmpl(11), b0));
    out.push(mix(tmpl(12), stats.bucket(w(1))));
    out.push(mix(mix(tmpl(13), prev), b0));
    out.push(mix(tmpl(14), prev));
    out.push(hash_lower(mix(tmpl(15), prev), w0));
    let hon0 = is_honorific(w0);
    out.push(mix(mix(tmpl(16), hon0 as u8), is_honorific(w(-1)) as u8));
    out.push(mix(mix(tmpl(17), st), is_upper_initial(w(1)) as u8));
    out.push(hash_lower(mix(tmpl(18), st), w0));
    out.push(mix(mix(tmpl(19), b0), stats.bucket(w(-1))));
    out.push(mix(tmpl(21), stats.ctx_bucket(w0)));
    out.push(mix(mix(tmpl(22), stats.ctx_bucket(w0)), b0));
    let first_name = w0.len() < 16 && crate::cluster::is_known_given_name(&w0.to_lowercase());
    out.push(mix(mix(tmpl(23), first_name as u8), st));
    out.push(mix(tmpl(24), stats.ctx_bucket(w(1))));
    let (pl, sj) = stats.role_bucket(w0);
    out.push(mix(mix(tmpl(25), pl), sj));
    out.push(mix(mix(mix(tmpl(26), pl), sj), b0));
    let len = w0.chars().count().min(8) as u8;
    out.push(mix(mix(tmpl(20), len), st));
    let dp = is_dictionary_proper(w0) as u8;
    out.push(mix(mix(tmpl(30), dp), st));
    out.push(mix(mix(tmpl(31), dp), b0));
    out.push(mix(
        mix(mix(tmpl(32), dp), first_name as u8),
        is_upper_initial(w(1)) as u8,
    ));
    out.push(mix(mix(tmpl(33), is_dictionary_proper(w(-1)) as u8), dp));
    out.push(mix(mix(mix(tmpl(34), dp), pl), sj));
    // how common the word is in general English (the keyword background
    // list): one-off names ("Giotto") are rare or unknown words, capitalised
    // common words ("Chancellor", "Buck") are not; titles ("Miss", "Mr.")
    // are common words by nature and get a bucket of their own
    let g = if hon0 {
        9
    } else {
        let cb = crate::keywords::bg_centibels_raw(w0);
        if cb >= 700 { 0 } else { (cb / 100).min(6) as u8 + 1 }
    };
    out.push(mix(mix(tmpl(70), g), st));
    out.push(mix(mix(tmpl(71), g), b0));
    out.push(mix(mix(mix(tmpl(72), g), dp), st));
    if let Some(cls) = cls {
        // word classes fitted on unlabelled novels (see `wordclass`)
        let (f0, c0) = cls.get(w0);
        let (fp, cp) = cls.get(w(-1));
        let (fnx, cn) = cls.get(w(1));
        let h16 = |h: u64, v: u16| mix(mix(h, (v >> 8) as u8), v as u8);
        out.push(mix(h16(tmpl(80), f0), st));
        out.push(mix(mix(tmpl(81), c0), b0));
        out.push(h16(tmpl(82), fp));
        out.push(h16(tmpl(83), fnx));
        out.push(mix(mix(mix(tmpl(84), cp), c0), cn));
    }
    if let Some(v) = votes {
        let v0 = v.bucket(w0);
        let vp = v.bucket(w(-1));
        let vn = v.bucket(w(1));
        out.push(mix(tmpl(40), v0));
        out.push(mix(mix(tmpl(41), v0), st));
        out.push(mix(mix(tmpl(42), v0), b0));
        out.push(mix(mix(tmpl(43), v0), prev));
        out.push(mix(mix(tmpl(44), vp), v0));
        out.push(mix(mix(tmpl(45), v0), vn));
        out.push(mix(mix(mix(tmpl(46), v0), pl), sj));
        out.push(mix(mix(tmpl(47), v0), is_honorific(w(-1)) as u8));
    }
}

/// Book-level votes of a first tagging pass: per lower-cased word, its
/// capitalised occurrences and how many of them were tagged part of a name.
/// A word the first pass calls a name in most of its occurrences is a name in
/// its odd contexts too ("But Buck was neither house-dog nor kennel-dog");
/// the second pass learns how far to trust that, instead of a fixed threshold.
#[derive(Default)]
pub struct Votes {
    map: IdMap<(u32, u32)>,
}

impl Votes {
    pub fn from_tags(seq: &Seq, tags: &[u8]) -> Votes {
        let mut v = Votes::default();
        for (i, w) in seq.words().enumerate() {
            if is_upper_initial(w) {
                let e = v.map.entry(hash_lower(FNV, w)).or_insert((0, 0));
                e.0 += 1;
                if tags[i] != O {
                    e.1 += 1;
                }
            }
        }
        v
    }

    /// 0: never capitalised; then 1..=7 by the share tagged as a name, with a
    /// separate bucket for words seen capitalised only once or twice.
    fn bucket(&self, w: &str) -> u8 {
        if !is_upper_initial(w) {
            return 0;
        }
        let (cap, named) = self.map.get(&hash_lower(FNV, w)).copied().unwrap_or((0, 0));
        if cap == 0 {
            return 0;
        }
        let r = named as f32 / cap as f32;
        let few = if cap < 3 { 8 } else { 0 };
        few + if named == 0 {
            1
        } else if r < 0.1 {
            2
        } else if r < 0.3 {
            3
        } else if r < 0.5 {
            4
        } else if r < 0.7 {
            5
        } else if r < 0.9 {
            6
        } else {
            7
        }
    }
}

/// Perceptron weights.
#[derive(Default)]
pub struct Model {
    pub w: IdMap<[f32; NTAGS]>,
    /// Subtracted from the O score at decoding time (trades precision for recall).
    pub o_penalty: f32,
    /// The second pass: weights over the same features plus the first pass's
    /// book-level [`Votes`] (stacking). `None`: one pass.
    pub second: Option<Box<Model>>,
    /// The word classes the weights refer to (shared by both passes).
    pub classes: Option<Arc<WordClasses>>,
}

impl Model {
    #[inline]
    pub fn scores(&self, feats: &[u64]) -> [f32; NTAGS] {
        let mut s = [0f32; NTAGS];
        for f in feats {
            if let Some(v) = self.w.get(f) {
                for k in 0..NTAGS {
                    s[k] += v[k];
                }
            }
        }
        s
    }

    /// Serialises one pass (`NER2`), or both (`NER3`, the length of the first
    /// pass's bytes, then each pass as `NER2`).
    pub fn to_bytes(&self, prune: f32) -> Vec<u8> {
        let weights = self.weight_bytes(prune);
        match &self.classes {
            None => weights,
            // the classes, then the weights
            Some(c) => frame(b"NERC", &c.to_bytes(), &weights),
        }
    }

    fn weight_bytes(&self, prune: f32) -> Vec<u8> {
        match &self.second {
            None => self.pass_bytes(prune),
            Some(s) => frame(b"NER3", &self.pass_bytes(prune), &s.pass_bytes(prune)),
        }
    }

    /// Magic, count, scale, O penalty, then (u64 key, 3 × i16) entries.
    fn pass_bytes(&self, prune: f32) -> Vec<u8> {
        let maxw = self
            .w
            .values()
            .flat_map(|v| v.iter())
            .fold(0f32, |a, &b| a.max(b.abs()));
        let scale = if maxw > 0.0 { maxw / 32767.0 } else { 1.0 };
        let mut keys: Vec<u64> = self
            .w
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.abs() >= prune))
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(16 + keys.len() * 14);
        out.extend_from_slice(b"NER2");
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&self.o_penalty.to_le_bytes());
        for k in keys {
            out.extend_from_slice(&k.to_le_bytes());
            for x in self.w[&k] {
                let q = (x / scale).round().clamp(-32767.0, 32767.0) as i16;
                out.extend_from_slice(&q.to_le_bytes());
            }
        }
        out
    }

    /// Parses [`Model::to_bytes`] output; a malformed file gives an empty model.
    pub fn from_bytes(b: &[u8]) -> Model {
        if let Some((cls, inner)) = unframe(b, b"NERC") {
            // the weights inside: one or two passes, never another `NERC`
            let Some(cls) = WordClasses::from_bytes(cls).filter(|_| !inner.starts_with(b"NERC")) else {
                return Model::default();
            };
            let cls = Arc::new(cls);
            let mut m = Model::weights_from_bytes(inner);
            if let Some(s) = m.second.as_mut() {
                s.classes = Some(cls.clone());
            }
            m.classes = Some(cls);
            return m;
        }
        Model::weights_from_bytes(b)
    }

    /// One pass (`NER2`) or two (`NER3`).
    fn weights_from_bytes(b: &[u8]) -> Model {
        if let Some((first, second)) = unframe(b, b"NER3") {
            let mut m = Model::pass_from_bytes(first);
            m.second = Some(Box::new(Model::pass_from_bytes(second)));
            return m;
        }
        Model::pass_from_bytes(b)
    }

    fn pass_from_bytes(b: &[u8]) -> Model {
        let mut m = Model::default();
        if b.len() < 16 || &b[..4] != b"NER2" {
            return m;
        }
        let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let scale = f32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        m.o_penalty = f32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        m.w.reserve(n.min(b.len() / 14));
        for e in b[16..].chunks_exact(14).take(n) {
            let mut k = [0u8; 8];
            k.copy_from_slice(&e[..8]);
            let mut v = [0f32; NTAGS];
            for (t, x) in v.iter_mut().enumerate() {
                *x = i16::from_le_bytes([e[8 + 2 * t], e[9 + 2 * t]]) as f32 * scale;
            }
            m.w.insert(u64::from_le_bytes(k), v);
        }
        m
    }
}

/// `magic`, the length of `head` (u32, little-endian), `head`, then `tail`:
/// how the model file nests its parts.
fn frame(magic: &[u8; 4], head: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + head.len() + tail.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    out
}

/// The inverse of [`frame`]: `(head, tail)` when `b` starts with `magic` and
/// holds the whole head it announces.
fn unframe<'b>(b: &'b [u8], magic: &[u8; 4]) -> Option<(&'b [u8], &'b [u8])> {
    let rest = b.strip_prefix(magic.as_slice())?;
    let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let body = &rest[4..];
    (n <= body.len()).then(|| body.split_at(n))
}

static PROPER_NOUNS: &str = include_str!("../data/proper-nouns.txt");

/// Whether an English dictionary knows the word only as a proper noun
/// ("Giotto", "Voltaire", "Boston"; not "Buck" or "Whereupon"):
/// `data/proper-nouns.txt`, from SCOWL. Helps with names a book uses once.
pub fn is_dictionary_proper(w: &str) -> bool {
    static S: OnceLock<IdMap<()>> = OnceLock::new();
    is_upper_initial(w)
        && S.get_or_init(|| {
            PROPER_NOUNS
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| (hash_lower(FNV, l), ()))
                .collect()
        })
        .contains_key(&hash_lower(FNV, w))
}

static MODEL_BYTES: &[u8] = include_bytes!("../data/ner.bin");

/// The shipped model, parsed once.
pub fn default_model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| Model::from_bytes(MODEL_BYTES))
}

fn allowed(prev: u8, prev_adjacent: bool, t: u8) -> bool {
    t != I || (prev_adjacent && prev != O)
}

/// Tags a sequence; returns name spans as token index ranges `[a, b)`.
pub fn tag(model: &Model, seq: &Seq, stats: &DocStats) -> Vec<(usize, usize)> {
    let tags = tag_seq(model, seq, stats);
    spans_of(&tags)
}

/// Per-token tags: the first pass, then (when the model has one) the second
/// pass with the first pass's book-level votes.
pub fn tag_seq(model: &Model, seq: &Seq, stats: &DocStats) -> Vec<u8> {
    let tags = decode(model, seq, stats, None);
    match &model.second {
        None => tags,
        Some(second) => {
            let votes = Votes::from_tags(seq, &tags);
            drop(tags);
            decode(second, seq, stats, Some(&votes))
        }
    }
}

/// One greedy left-to-right pass of one set of weights.
#[allow(clippy::needless_range_loop)]
pub fn decode(model: &Model, seq: &Seq, stats: &DocStats, votes: Option<&Votes>) -> Vec<u8> {
    let n = seq.len();
    let mut tags = vec![O; n];
    let mut feats = Vec::with_capacity(32);
    let mut prev = O;
    let mut prev_i = usize::MAX;
    for i in 0..n {
        if !is_upper_initial(seq.word(i)) {
            continue;
        }
        let p = if prev_i.wrapping_add(1) == i { prev } else { O };
        features_with(seq, stats, model.classes.as_deref(), votes, i, p, &mut feats);
        let mut s = model.scores(&feats);
        s[O as usize] -= model.o_penalty;
        let mut best = O;
        let mut bs = f32::NEG_INFINITY;
        for t in 0..NTAGS as u8 {
            if allowed(p, prev_i.wrapping_add(1) == i, t) && s[t as usize] > bs {
                bs = s[t as usize];
                best = t;
            }
        }
        tags[i] = best;
        prev = best;
        prev_i = i;
    }
    tags
}

/// Book-level consistency: a word the tagger calls a name in at least half of
/// its capitalised occurrences (at least three) is a name in the others too — the
/// tagger's misses are mostly unusual contexts of names it gets right elsewhere.
pub fn propagate(seq: &Seq, tags: &mut [u8]) {
    let mut counts: IdMap<(u32, u32)> = IdMap::default();
    for (i, w) in seq.words().enumerate() {
        if is_upper_initial(w) {
            let e = counts.entry(hash_lower(FNV, w)).or_insert((0, 0));
            e.0 += 1;
            if tags[i] != O {
                e.1 += 1;
            }
        }
    }
    for i in 0..tags.len() {
        let w = seq.word(i);
        if tags[i] != O || !is_upper_initial(w) || crate::cluster::is_title(w) {
            continue;
        }
        let (cap, named) = counts.get(&hash_lower(FNV, w)).copied().unwrap_or((0, 0));
        if named >= 3 && named * 2 >= cap {
            tags[i] = if i > 0 && tags[i - 1] != O { I } else { B };
            // a following name word continues the span
            let mut j = i + 1;
            while j < tags.len() && tags[j] == B {
                tags[j] = I;
                j += 1;
            }
        }
    }
}

/// "the Cuthberts", "the Ambersons": a capitalised plural after "the" whose
/// singular is a name elsewhere in the book names a family.
#[allow(clippy::needless_range_loop)]
pub fn families(seq: &Seq, tags: &mut [u8]) {
    let mut named: IdMap<u32> = IdMap::default();
    for (i, w) in seq.words().enumerate() {
        if tags[i] != O {
            *named.entry(hash_lower(FNV, w)).or_insert(0) += 1;
        }
    }
    for i in 1..tags.len() {
        let w = seq.word(i);
        if tags[i] != O
            || !is_upper_initial(w)
            || !matches!(seq.word(i - 1), "the" | "The")
            || w.len() < 4
            || !w.ends_with('s')
            || w.ends_with("ss")
        {
            continue;
        }
        let stem = &w[..w.len() - 1];
        let stem2 = stem.strip_suffix('e').unwrap_or(stem);
        if named.contains_key(&hash_lower(FNV, stem)) || named.contains_key(&hash_lower(FNV, stem2)) {
            tags[i] = B;
        }
    }
}

pub fn spans_of(tags: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tags.len() {
        if tags[i] == B {
            let mut j = i + 1;
            while j < tags.len() && tags[j] == I {
                j += 1;
            }
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Averaged-perceptron training (used by `examples/train_ner.rs`).
pub struct Trainer {
    pub model: Model,
    totals: IdMap<[f32; NTAGS]>,
    stamps: IdMap<[u64; NTAGS]>,
    step: u64,
}

impl Default for Trainer {
    fn default() -> Self {
        Self::new()
    }
}

impl Trainer {
    pub fn new() -> Self {
        Trainer {
            model: Model::default(),
            totals: IdMap::default(),
            stamps: IdMap::default(),
            step: 0,
        }
    }

    fn upd(&mut self, f: u64, t: usize, d: f32) {
        let w = self.model.w.entry(f).or_insert([0.0; NTAGS]);
        let tot = self.totals.entry(f).or_insert([0.0; NTAGS]);
        let st = self.stamps.entry(f).or_insert([0; NTAGS]);
        tot[t] += (self.step - st[t]) as f32 * w[t];
        st[t] = self.step;
        w[t] += d;
    }

    /// One pass over a sequence with gold tags; returns the number of errors.
    pub fn train_seq(&mut self, seq: &Seq, stats: &DocStats, gold: &[u8]) -> usize {
        self.train_seq_with(seq, stats, None, gold)
    }

    /// [`Trainer::train_seq`] for a second pass, with the first pass's votes.
    #[allow(clippy::needless_range_loop)]
    pub fn train_seq_with(&mut self, seq: &Seq, stats: &DocStats, votes: Option<&Votes>, gold: &[u8]) -> usize {
        let mut feats = Vec::with_capacity(32);
        let mut errors = 0;
        let mut prev = O;
        let mut prev_i = usize::MAX;
        for i in 0..seq.len() {
            if !is_upper_initial(seq.word(i)) {
                continue;
            }
            self.step += 1;
            let adj = prev_i.wrapping_add(1) == i;
            let p = if adj { prev } else { O };
            features_with(seq, stats, self.model.classes.as_deref(), votes, i, p, &mut feats);
            let s = self.model.scores(&feats);
            let mut best = O;
            let mut bs = f32::NEG_INFINITY;
            for t in 0..NTAGS as u8 {
                if allowed(p, adj, t) && s[t as usize] > bs {
                    bs = s[t as usize];
                    best = t;
                }
            }
            let g = gold[i];
            if best != g {
                errors += 1;
                for &f in &feats {
                    self.upd(f, g as usize, 1.0);
                    self.upd(f, best as usize, -1.0);
                }
            }
            // follow gold history (teacher forcing)
            prev = g;
            prev_i = i;
        }
        errors
    }

    /// Averages the weights and returns the model.
    pub fn finish(mut self) -> Model {
        let step = self.step.max(1);
        for (f, w) in self.model.w.iter_mut() {
            let tot = self.totals.get(f).copied().unwrap_or([0.0; NTAGS]);
            let st = self.stamps.get(f).copied().unwrap_or([0; NTAGS]);
            for t in 0..NTAGS {
                let total = tot[t] + (self.step - st[t]) as f32 * w[t];
                w[t] = total / step as f32;
            }
        }
        self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_roundtrip_and_empty() {
        let mut m = Model::default();
        m.w.insert(42, [1.0, -2.0, 0.5]);
        let b = m.to_bytes(0.0);
        let m2 = Model::from_bytes(&b);
        assert!((m2.w[&42][1] + 2.0).abs() < 1e-3);
        assert!(Model::from_bytes(b"junk").w.is_empty());
    }

    #[test]
    fn two_pass_model_roundtrip() {
        let mut m = Model::default();
        m.w.insert(7, [0.5, 1.0, -1.0]);
        m.o_penalty = 3.0;
        let mut s = Model::default();
        s.w.insert(9, [2.0, 0.0, 0.0]);
        s.o_penalty = 4.0;
        m.second = Some(Box::new(s));
        let m2 = Model::from_bytes(&m.to_bytes(0.0));
        assert_eq!(m2.o_penalty, 3.0);
        let s2 = m2.second.expect("second pass");
        assert_eq!(s2.o_penalty, 4.0);
        assert!((s2.w[&9][0] - 2.0).abs() < 1e-3);
        assert!(Model::from_bytes(b"NER3\xff\xff\x00\x00").w.is_empty());
        // word classes nest once: a chain of `NERC` frames is refused, not recursed into
        let cls = crate::wordclass::WordClasses::default().to_bytes();
        let mut chain = Vec::new();
        for _ in 0..100_000 {
            chain.extend_from_slice(b"NERC");
            chain.extend_from_slice(&(cls.len() as u32).to_le_bytes());
            chain.extend_from_slice(&cls);
        }
        let m = Model::from_bytes(&chain);
        assert!(m.w.is_empty() && m.classes.is_none());
    }

    #[test]
    fn dictionary_proper_nouns() {
        // names a book mentions once (The Way of All Flesh, Main Street)
        for w in ["Giotto", "Voltaire", "Carlyle"] {
            assert!(is_dictionary_proper(w), "{w}");
        }
        // also common words, or not capitalised
        for w in ["Buck", "Whereupon", "giotto", "The"] {
            assert!(!is_dictionary_proper(w), "{w}");
        }
    }

    #[test]
    fn shipped_model_carries_word_classes() {
        // fitted on the train books' text (examples/train_ner.rs): common words
        // and names have classes, names used like names share theirs less with
        // places than with each other
        let cls = default_model()
            .classes
            .as_deref()
            .expect("the shipped model has word classes");
        assert!(cls.len() > 5_000, "{}", cls.len());
        let (said, _) = cls.get("said");
        let (eliz, _) = cls.get("Elizabeth");
        let (london, _) = cls.get("London");
        assert!(said > 0 && eliz > 0 && london > 0);
        assert_ne!(eliz, london);
        assert_eq!(cls.get("Zzyzzyva-not-a-word"), (0, 0));
        // a model file round-trips with its classes
        let m = Model::from_bytes(&default_model().to_bytes(0.0));
        assert_eq!(m.classes.as_deref().map(|c| c.len()), Some(cls.len()));
    }

    #[test]
    fn shipped_model_finds_names() {
        // Pride and Prejudice, chapter 1
        let text = "\u{201C}My dear Mr. Bennet,\u{201D} said his lady to him one day, \u{201C}have you heard that Netherfield Park is let at last?\u{201D} Mr. Bennet replied that he had not. Mrs. Long says that Netherfield is taken by a young man of large fortune. His name is Bingley.";
        let words: Vec<&str> = text.split(' ').collect();
        let _ = words;
        let a = crate::analyze(text, &[]);
        let names: Vec<&str> = a
            .mentions
            .iter()
            .filter(|m| m.kind == crate::MentionKind::Prop)
            .map(|m| {
                let s: String = text.chars().skip(m.start).take(m.end - m.start).collect();
                &text[text.find(s.as_str()).unwrap()..][..s.len()]
            })
            .collect();
        assert!(names.contains(&"Mr. Bennet"), "{names:?}");
        assert!(names.contains(&"Mrs. Long"), "{names:?}");
    }
}
