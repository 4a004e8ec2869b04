//! The inverted index and BM25 ranking.
//!
//! One [`Index`] holds one document's passages. It is plain arrays, built once and then only read, so the server can
//! share it in an `Arc` across requests and bound a cache of them by [`Index::memory_bytes`]:
//!
//! - the vocabulary is the sorted list of stems in one string arena; a term's id is its rank, found by binary search
//!   (a query has a handful of terms, so a hash table would buy nothing and cost memory in every cached index);
//! - postings are in CSR form: for term `t`, `post_doc[post_start[t]..post_start[t + 1]]` are the passages holding
//!   it, in increasing order, and `post_tf` the matching term frequencies (u16, saturating);
//! - every passage's term-id sequence is kept too (u16 when the vocabulary allows, u32 otherwise), because boost
//!   phrases such as "Miss Bennet" must match as a *sequence*, and the index holds no text. Stop words are not in
//!   the sequence, so a phrase matches across them ("Duke of York" ≈ "duke york"), as it does in the query.
//!
//! Scoring is classic BM25 (Robertson/Spärck Jones idf with the +1 that keeps it positive, `k1 = 1.2`, `b = 0.75`).
//! Searching walks the postings of the query terms only, into a dense accumulator over the index's passages; the
//! spoiler limit and boosting are applied to the candidates that came out of it, never to the whole index.
//! [`search_many`] first sums `N`, the total length and each query term's document frequency over all the indexes,
//! then scores each index with those global figures, so that a score means the same in every document.

use std::cmp::Ordering;

use crate::hash::Map;
use crate::text::{normalize, stemmer, words};

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalisation.
pub const B: f32 = 0.75;

/// One retrievable unit (in the server: a passage) handed to [`Index::build`]. Item `i` of the input gets id `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub text: &'a str,
    /// The section (chapter) the item belongs to, for the spoiler limit; `None` when unknown.
    pub section: Option<u32>,
}

/// How to search. `SearchOptions::default()` returns the 10 best hits, no spoiler limit, no boost.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Hits returned at most (after `offset`); 0 returns nothing.
    pub limit: usize,
    /// Hits skipped first, for pagination.
    pub offset: usize,
    /// Spoiler limit: an item whose section is `None` or greater than this is never returned. With `None`, every
    /// item may be returned.
    pub max_section: Option<u32>,
    /// Phrases (e.g. a character's names and aliases); an item containing any of them, as a sequence of terms,
    /// has its score multiplied by `boost`. Phrases made only of stop words are ignored.
    pub boost_phrases: Vec<String>,
    /// Score factor for items containing a boost phrase. Ignored unless finite and positive.
    pub boost: f32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            limit: 10,
            offset: 0,
            max_section: None,
            boost_phrases: Vec::new(),
            boost: 1.0,
        }
    }
}

impl SearchOptions {
    fn allows(&self, section: Option<u32>) -> bool {
        match (self.max_section, section) {
            (None, _) => true,
            (Some(max), Some(s)) => s <= max,
            (Some(_), None) => false,
        }
    }

    fn boosting(&self) -> bool {
        !self.boost_phrases.is_empty() && self.boost.is_finite() && self.boost > 0.0 && self.boost != 1.0
    }
}

/// A search result: the item's id (its position in the input of [`Index::build`]) and its score (higher is better;
/// comparable across indexes only for hits of the same [`search_many`] call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub item: u32,
    pub score: f32,
}

#[derive(Debug, Clone)]
enum Seq {
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// An inverted index over one document's items. See the module docs for the layout.
#[derive(Debug, Clone)]
pub struct Index {
    /// Sorted stems, concatenated; term `t` is `vocab[vocab_end[t - 1]..vocab_end[t]]`.
    vocab: String,
    vocab_end: Vec<u32>,
    post_start: Vec<usize>,
    post_doc: Vec<u32>,
    post_tf: Vec<u16>,
    doc_len: Vec<u32>,
    sections: Vec<Option<u32>>,
    seq_start: Vec<usize>,
    seq: Seq,
    total_len: u64,
}

const STOP: u32 = u32::MAX;

/// A normalised word of at most 23 bytes, stored inline with its length: the build's word table then holds its keys
/// in its own buckets, so a lookup is one probe and a fixed-size compare instead of a pointer chase and `memcmp`
/// (which made up a third of the build time).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortWord([u8; 24]);

impl ShortWord {
    fn new(w: &str) -> Option<ShortWord> {
        let b = w.as_bytes();
        if b.len() > 23 {
            return None;
        }
        let mut k = [0u8; 24];
        k[..b.len()].copy_from_slice(b);
        k[23] = b.len() as u8;
        Some(ShortWord(k))
    }

    /// The key of a raw word that is plain ASCII letters and digits (possibly with a possessive `'s`), built
    /// without going through [`normalize`]; `None` for anything else. Same key as `new(normalized raw)`.
    #[inline]
    fn ascii(raw: &str) -> Option<ShortWord> {
        let mut b = raw.as_bytes();
        if let [rest @ .., b'\'', b's' | b'S'] = b {
            b = rest;
        }
        if b.len() > 23 || b.is_empty() {
            return None;
        }
        let mut k = [0u8; 24];
        for (d, &c) in k.iter_mut().zip(b) {
            if !c.is_ascii_alphanumeric() {
                return None;
            }
            *d = c.to_ascii_lowercase();
        }
        k[23] = b.len() as u8;
        Some(ShortWord(k))
    }
}

impl Index {
    /// Indexes `items`; item `i` gets id `i`. Linear in the text: each distinct word is normalised and stemmed once.
    pub fn build<'a>(items: impl IntoIterator<Item = Item<'a>>) -> Index {
        let stemmer = stemmer();
        // normalised word -> provisional term id (order of first appearance) or STOP
        // Nearly every word fits in a `ShortWord`, compared and hashed inline; the rare long ones go by `String`.
        let mut short_ids: Map<ShortWord, u32> = Map::default();
        let mut word_ids: Map<String, u32> = Map::default();
        let mut stem_ids: Map<String, u32> = Map::default();
        let mut stems: Vec<String> = Vec::new();
        let mut seq: Vec<u32> = Vec::new();
        let mut seq_start = vec![0usize];
        let mut sections = Vec::new();
        let mut buf = String::new();
        for item in items {
            words(item.text, |_, raw| {
                // Most words take the first branch: no normalising, no copying, one inline probe.
                let (short, known) = match ShortWord::ascii(raw) {
                    Some(k) => (Some(k), short_ids.get(&k).copied()),
                    None => {
                        normalize(raw, &mut buf);
                        if buf.is_empty() {
                            return;
                        }
                        let short = ShortWord::new(&buf);
                        let known = match &short {
                            Some(k) => short_ids.get(k),
                            None => word_ids.get(buf.as_str()),
                        };
                        (short, known.copied())
                    }
                };
                let id = match known {
                    Some(id) => id,
                    None => {
                        normalize(raw, &mut buf);
                        let id = if crate::is_stop_word(&buf) {
                            STOP
                        } else {
                            let stem = stemmer.stem(&buf);
                            match stem_ids.get(stem.as_ref()) {
                                Some(&id) => id,
                                None => {
                                    let id = stems.len() as u32;
                                    stems.push(stem.to_string());
                                    stem_ids.insert(stem.into_owned(), id);
                                    id
                                }
                            }
                        };
                        match short {
                            Some(k) => short_ids.insert(k, id),
                            None => word_ids.insert(buf.clone(), id),
                        };
                        id
                    }
                };
                if id != STOP {
                    seq.push(id);
                }
            });
            seq_start.push(seq.len());
            sections.push(item.section);
        }
        drop(short_ids);
        drop(word_ids);
        drop(stem_ids);

        // Term ids become ranks in the sorted vocabulary.
        let mut order: Vec<u32> = (0..stems.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| stems[a as usize].cmp(&stems[b as usize]));
        let mut rank = vec![0u32; stems.len()];
        let mut vocab = String::with_capacity(stems.iter().map(String::len).sum());
        let mut vocab_end = Vec::with_capacity(stems.len());
        for (r, &old) in order.iter().enumerate() {
            rank[old as usize] = r as u32;
            vocab.push_str(&stems[old as usize]);
            vocab_end.push(vocab.len() as u32);
        }
        drop(stems);
        for t in &mut seq {
            *t = rank[*t as usize];
        }

        // Postings: per passage, count each term (a counter per term, reset through the list of touched terms),
        // then lay them out term-major with a counting sort, which keeps passages in increasing order.
        let n_docs = seq_start.len() - 1;
        let n_terms = vocab_end.len();
        let mut tf = vec![0u32; n_terms];
        let mut df = vec![0usize; n_terms];
        let mut touched: Vec<u32> = Vec::new();
        let mut triples: Vec<(u32, u32, u16)> = Vec::new();
        let mut doc_len = Vec::with_capacity(n_docs);
        for d in 0..n_docs {
            let s = &seq[seq_start[d]..seq_start[d + 1]];
            doc_len.push(u32::try_from(s.len()).unwrap_or(u32::MAX));
            for &t in s {
                if tf[t as usize] == 0 {
                    touched.push(t);
                }
                tf[t as usize] += 1;
            }
            for &t in &touched {
                triples.push((t, d as u32, u16::try_from(tf[t as usize]).unwrap_or(u16::MAX)));
                df[t as usize] += 1;
                tf[t as usize] = 0;
            }
            touched.clear();
        }
        let mut post_start = Vec::with_capacity(n_terms + 1);
        let mut acc = 0;
        post_start.push(0);
        for &n in &df {
            acc += n;
            post_start.push(acc);
        }
        let mut fill: Vec<usize> = post_start[..n_terms].to_vec();
        let mut post_doc = vec![0u32; triples.len()];
        let mut post_tf = vec![0u16; triples.len()];
        for (t, d, f) in triples {
            let at = &mut fill[t as usize];
            post_doc[*at] = d;
            post_tf[*at] = f;
            *at += 1;
        }

        let total_len = seq.len() as u64;
        let seq = if n_terms <= u16::MAX as usize + 1 {
            Seq::U16(seq.into_iter().map(|t| t as u16).collect())
        } else {
            seq.shrink_to_fit();
            Seq::U32(seq)
        };
        Index {
            vocab,
            vocab_end,
            post_start,
            post_doc,
            post_tf,
            doc_len,
            sections,
            seq_start,
            seq,
            total_len,
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Number of distinct terms (stems).
    pub fn terms_len(&self) -> usize {
        self.vocab_end.len()
    }

    /// The section an item was built with; `None` for an unknown item id.
    pub fn section(&self, item: u32) -> Option<Option<u32>> {
        self.sections.get(item as usize).copied()
    }

    /// Approximate heap bytes held by the index (capacities, not lengths), plus the struct itself.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        size_of::<Self>()
            + self.vocab.capacity()
            + self.vocab_end.capacity() * 4
            + self.post_start.capacity() * size_of::<usize>()
            + self.post_doc.capacity() * 4
            + self.post_tf.capacity() * 2
            + self.doc_len.capacity() * 4
            + self.sections.capacity() * size_of::<Option<u32>>()
            + self.seq_start.capacity() * size_of::<usize>()
            + match &self.seq {
                Seq::U16(v) => v.capacity() * 2,
                Seq::U32(v) => v.capacity() * 4,
            }
    }

    /// The best items for `query`, best first (ties: lower item id first). BM25 over this index's own statistics.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Vec<Hit> {
        search_many(&[self], query, opts).into_iter().map(|(_, h)| h).collect()
    }

    fn term(&self, t: usize) -> &str {
        let s = if t == 0 { 0 } else { self.vocab_end[t - 1] as usize };
        &self.vocab[s..self.vocab_end[t] as usize]
    }

    fn term_id(&self, stem: &str) -> Option<u32> {
        // Binary search over ranks 0..n.
        let (mut lo, mut hi) = (0usize, self.vocab_end.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(mid).cmp(stem) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    fn postings(&self, t: u32) -> (&[u32], &[u16]) {
        let (s, e) = (self.post_start[t as usize], self.post_start[t as usize + 1]);
        (&self.post_doc[s..e], &self.post_tf[s..e])
    }

    fn df(&self, t: u32) -> usize {
        self.post_start[t as usize + 1] - self.post_start[t as usize]
    }

    /// Whether item `d` holds `phrase` (two terms or more) as a sequence: first every term through the postings
    /// (a binary search each), and only then a scan of the item's sequence.
    fn has_phrase(&self, d: u32, phrase: &[u32]) -> bool {
        phrase.iter().all(|&t| self.postings(t).0.binary_search(&d).is_ok()) && self.seq_contains(d, phrase)
    }

    fn seq_contains(&self, d: u32, phrase: &[u32]) -> bool {
        fn find<T: Copy + Into<u32>>(seq: &[T], phrase: &[u32]) -> bool {
            seq.windows(phrase.len())
                .any(|w| w.iter().zip(phrase).all(|(&a, &b)| a.into() == b))
        }
        let (s, e) = (self.seq_start[d as usize], self.seq_start[d as usize + 1]);
        match &self.seq {
            Seq::U16(v) => find(&v[s..e], phrase),
            Seq::U32(v) => find(&v[s..e], phrase),
        }
    }

    /// Scores this index's candidates for a query (per query term: its id here, `None` when absent, and its weight
    /// `idf * qtf`) and appends the allowed ones to `out`. `scratch` is reused across indexes and left clean.
    #[allow(clippy::too_many_arguments)]
    fn score_into(
        &self,
        no: usize,
        query: &[(Option<u32>, f32)],
        avgdl: f32,
        opts: &SearchOptions,
        phrases: &[Vec<String>],
        scratch: &mut Scratch,
        out: &mut Vec<(usize, Hit)>,
    ) {
        let Scratch { acc, touched, boosted } = scratch;
        if acc.len() < self.len() {
            acc.resize(self.len(), 0.0);
            boosted.resize(self.len(), false);
        }
        let avgdl = if avgdl > 0.0 { avgdl } else { 1.0 };
        for &(t, w) in query {
            let Some(t) = t else { continue };
            let (docs, tfs) = self.postings(t);
            for (&d, &tf) in docs.iter().zip(tfs) {
                let tf = tf as f32;
                let norm = K1 * (1.0 - B + B * self.doc_len[d as usize] as f32 / avgdl);
                let a = &mut acc[d as usize];
                if *a == 0.0 {
                    touched.push(d);
                }
                *a += w * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        if touched.is_empty() {
            return;
        }
        // Boosting walks the postings of each phrase's rarest term (names are rare), marking the candidates that
        // hold the whole phrase.
        let mut any_boost = false;
        if opts.boosting() {
            for p in phrases {
                let Some(ids) = p.iter().map(|s| self.term_id(s)).collect::<Option<Vec<u32>>>() else {
                    continue;
                };
                let Some(rarest) = ids.iter().copied().min_by_key(|&t| self.df(t)) else {
                    continue;
                };
                for &d in self.postings(rarest).0 {
                    let d = d as usize;
                    if acc[d] > 0.0
                        && !boosted[d]
                        && opts.allows(self.sections[d])
                        && (ids.len() == 1 || self.has_phrase(d as u32, &ids))
                    {
                        boosted[d] = true;
                        any_boost = true;
                    }
                }
            }
        }
        for d in touched.drain(..) {
            let i = d as usize;
            let mut score = std::mem::take(&mut acc[i]);
            if any_boost && std::mem::take(&mut boosted[i]) {
                score *= opts.boost;
            }
            if opts.allows(self.sections[i]) {
                out.push((no, Hit { item: d, score }));
            }
        }
    }
}

/// Per-search working memory: a score accumulator and a boost mark per item, and the items touched.
#[derive(Default)]
struct Scratch {
    acc: Vec<f32>,
    touched: Vec<u32>,
    boosted: Vec<bool>,
}

/// Stems of the query, deduplicated, with their counts (in order of first appearance).
fn query_stems(query: &str) -> Vec<(String, u32)> {
    let stemmer = stemmer();
    let mut buf = String::new();
    let mut out: Vec<(String, u32)> = Vec::new();
    words(query, |_, raw| {
        normalize(raw, &mut buf);
        if buf.is_empty() || crate::is_stop_word(&buf) {
            return;
        }
        let s = stemmer.stem(&buf);
        match out.iter_mut().find(|(t, _)| *t == s) {
            Some((_, n)) => *n += 1,
            None => out.push((s.into_owned(), 1)),
        }
    });
    out
}

/// Searches several indexes (one per document) as one collection: `N`, the average length and the document
/// frequencies of the query terms are summed over all of them, so scores are comparable across documents.
/// Returns `(position of the index in indexes, hit)`, best first (ties: lower index, then lower item first).
pub fn search_many(indexes: &[&Index], query: &str, opts: &SearchOptions) -> Vec<(usize, Hit)> {
    let want = opts.offset.saturating_add(opts.limit);
    if opts.limit == 0 || indexes.is_empty() {
        return Vec::new();
    }
    let stems = query_stems(query);
    if stems.is_empty() {
        return Vec::new();
    }
    let n: usize = indexes.iter().map(|i| i.len()).sum();
    let total: u64 = indexes.iter().map(|i| i.total_len).sum();
    let avgdl = if n == 0 { 0.0 } else { (total as f64 / n as f64) as f32 };
    // Per index, the term id of each query stem; globally, each stem's weight.
    let ids: Vec<Vec<Option<u32>>> = indexes
        .iter()
        .map(|i| stems.iter().map(|(s, _)| i.term_id(s)).collect())
        .collect();
    let weights: Vec<f32> = stems
        .iter()
        .enumerate()
        .map(|(k, (_, qtf))| {
            let df: usize = indexes
                .iter()
                .zip(&ids)
                .filter_map(|(i, t)| t[k].map(|t| i.df(t)))
                .sum();
            let (n, df) = (n as f64, df as f64);
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            (idf * *qtf as f64) as f32
        })
        .collect();
    let phrases: Vec<Vec<String>> = if opts.boosting() {
        opts.boost_phrases
            .iter()
            .map(|p| crate::terms(p))
            .filter(|t| !t.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    for (no, (index, ids)) in indexes.iter().zip(&ids).enumerate() {
        if ids.iter().all(Option::is_none) {
            continue;
        }
        let query: Vec<(Option<u32>, f32)> = ids.iter().copied().zip(weights.iter().copied()).collect();
        index.score_into(no, &query, avgdl, opts, &phrases, &mut scratch, &mut out);
    }
    let better = |a: &(usize, Hit), b: &(usize, Hit)| {
        b.1.score
            .total_cmp(&a.1.score)
            .then(a.0.cmp(&b.0))
            .then(a.1.item.cmp(&b.1.item))
    };
    if out.len() > want {
        out.select_nth_unstable_by(want, better);
        out.truncate(want);
    }
    out.sort_unstable_by(better);
    out.drain(..opts.offset.min(out.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_keys_are_the_normalised_keys() {
        let mut buf = String::new();
        for raw in [
            "Bennet",
            "Bennet's",
            "BENNET'S",
            "x",
            "1812",
            "don't",
            "a'b's",
            "Zoë",
            &"Long".repeat(6),
            "ab'S",
        ] {
            normalize(raw, &mut buf);
            if let Some(k) = ShortWord::ascii(raw) {
                assert!(k == ShortWord::new(&buf).unwrap(), "{raw}");
            } else {
                assert!(
                    !raw.is_ascii() || raw.len() > 23 || raw.trim_end_matches("'s").contains('\''),
                    "{raw}"
                );
            }
        }
    }
}
