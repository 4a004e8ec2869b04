//! Retrieval over a book's passages: chunking, tokenising, BM25 ranking, snippets.
//!
//! The server uses it twice: to ground a character's chat replies in the passages that matter to the user's
//! message (never beyond the point the reader has reached: the spoiler limit), and for the search endpoint, across
//! one document or all of a user's documents ([`search_many`]).
//!
//! What it is: a pure library of plain data structures and tight loops, in the spirit of tantivy's core. No I/O, no
//! async, no global state, no panics on any input: the server loads passages from its database, builds an
//! [`Index`] (a few milliseconds for a novel) and keeps it in a cache bounded by [`Index::memory_bytes`].
//!
//! What it is not: a search engine. There is no on-disk format, no incremental update (a document's passages never
//! change once stored; rebuilding is cheaper than maintaining deltas), no query language, no embeddings. Lexical
//! BM25 with stemming finds the passage a reader half-remembers, and a character's names, passed as boost phrases,
//! pull the passages where that character is present to the top.
//!
//! Offsets are char (Unicode scalar value) offsets, as everywhere in dramatis.

mod hash;
mod index;
mod snippet;
mod text;

pub use index::{B, Hit, Index, Item, K1, SearchOptions, search_many};
pub use snippet::{Snippet, snippet};
pub use text::{MAX_WORD_CHARS, is_stop_word, terms};

/// Default passage length, in chars, for [`chunk`]: about two paragraphs of a novel, long enough to carry a scene's
/// context into a prompt, short enough that a few of them fit in one.
pub const PASSAGE_CHARS: usize = 1200;

/// Splits text into retrievable passages of about `target` chars, ending at paragraph breaks (`"\n\n"`).
///
/// Paragraphs are added to the current passage until it reaches `target` chars; the break that follows is not part
/// of any passage. A passage overshoots `target` by at most its last paragraph; the last passage is whatever is
/// left. Returns char ranges `[start, end)`, in order, none empty. This is, to the char, the passage splitting the
/// server has always stored (its passage ids and offsets are in databases), so it must not change, quirks included:
/// a run of three or more newlines leaves the extra ones at the start of the next passage, and a text of blank
/// paragraphs gives a blank passage (`chunk("\n\n", _)` is `[(0, 2)]`).
pub fn chunk(text: &str, target: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0usize; // char offset of the current passage
    let mut pos = 0usize; // chars consumed
    for para in text.split("\n\n") {
        let end = pos + para.chars().count();
        if end - start >= target && end > start {
            out.push((start, end));
            start = end + 2;
        }
        pos = end + 2;
    }
    // `pos` is now the text's length + 2.
    let total = pos - 2;
    if start < total {
        out.push((start, total));
    }
    out
}
