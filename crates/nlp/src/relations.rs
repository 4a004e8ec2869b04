//! Relationships between characters, and each character's timeline.
//!
//! Why it works the way it does:
//!
//! * Two kinds of evidence, kept apart so callers can show both:
//!   - **co-occurrence**: a mention of A with a mention of B no more than
//!     `window` before it. Each mention counts each *other* character at most
//!     once, so a paragraph that names Elizabeth five times next to Darcy
//!     counts five, not twenty-five; mentions of the same character never
//!     pair with themselves.
//!   - **interaction**: a quote by A answered by a quote by B. Starting from
//!     each attributed quote, we look at the next [`REPLY_LOOKAHEAD`] quotes,
//!     skipping further quotes by A (a speech broken by "said she") and
//!     unattributed ones, and stop at the first quote by someone else, or as
//!     soon as the gap between two consecutive quotes exceeds `window` (the
//!     conversation is over). This is the "conversational interaction" that
//!     BookNLP-style pipelines use instead of plain proximity: it finds who
//!     talks *to* whom, not only who is in the same room.
//! * **Weight** in 0..1: `raw = cooccurrences + 3 · interactions` (an
//!   exchange of lines is stronger evidence than proximity), then
//!   `weight = ln(1 + raw) / ln(1 + max raw over all pairs)`. The logarithm
//!   keeps minor relationships visible next to the protagonists' (linear
//!   scaling would put nearly every pair at 0.0x in a novel); the strongest
//!   pair is exactly 1.
//! * Pairs are undirected, `source < target` by character id, sorted by
//!   weight (then ids): deterministic.
//! * **Timeline**: mentions per character per section, found by binary search
//!   over the section starts; a mention outside every section is not counted.
//!   With no sections the whole text is one section.
//!
//! Offsets: any unit, as long as mentions, quotes, sections and `window` use
//! the same one. The analysis JSON uses char offsets; the core may pass
//! those, or bytes (then a `window` of [`DEFAULT_WINDOW`] bytes is ≈ 90
//! words). Input need not be sorted. Cost: one sort plus a pass over
//! mentions with a small sliding window, and a pass over quotes.

use crate::stats::FxMap;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Suggested `window`: 500 bytes (or chars), about one paragraph.
pub const DEFAULT_WINDOW: usize = 500;

/// How many following quotes to look at for a reply.
pub const REPLY_LOOKAHEAD: usize = 3;

/// Factor of interactions against co-occurrences in the raw weight.
pub const INTERACTION_FACTOR: u32 = 3;

/// A mention of a character: offsets into the text and the character's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentionRef {
    pub start: usize,
    pub end: usize,
    pub character: u32,
}

/// A quotation and its speaker, if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRef {
    pub start: usize,
    pub end: usize,
    pub speaker: Option<u32>,
}

/// The relationship of two characters (`source < target`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub source: u32,
    pub target: u32,
    /// 0..1, see the module docs.
    pub weight: f64,
    /// Mention pairs within the window.
    pub cooccurrences: u32,
    /// Quotes of one answered by the other, both directions.
    pub interactions: u32,
}

/// One character's mentions per section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub character: u32,
    /// `counts[i]` = mentions in section `i` (one entry when there are no sections).
    pub counts: Vec<u32>,
}

/// Result of [`compute`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Relations {
    /// Strongest first.
    pub pairs: Vec<Relationship>,
    /// By character id.
    pub timeline: Vec<Timeline>,
}

/// Computes pairwise relationships and per-section mention counts.
pub fn compute(mentions: &[MentionRef], quotes: &[QuoteRef], sections: &[Range<usize>], window: usize) -> Relations {
    let mut acc: FxMap<(u32, u32), (u32, u32)> = FxMap::default();
    let key = |a: u32, b: u32| if a < b { (a, b) } else { (b, a) };

    // Co-occurrence.
    let mut ms: Vec<MentionRef> = mentions.to_vec();
    if !ms.is_sorted_by_key(|m| (m.start, m.end)) {
        ms.sort_by_key(|m| (m.start, m.end, m.character));
    }
    let mut lo = 0usize;
    let mut seen: Vec<u32> = Vec::new();
    for i in 0..ms.len() {
        let m = ms[i];
        while lo < i && ms[lo].start.saturating_add(window) < m.start {
            lo += 1;
        }
        seen.clear();
        for other in &ms[lo..i] {
            if other.character != m.character && !seen.contains(&other.character) {
                seen.push(other.character);
                acc.entry(key(m.character, other.character)).or_default().0 += 1;
            }
        }
    }

    // Conversational interaction.
    let mut qs: Vec<QuoteRef> = quotes.to_vec();
    if !qs.is_sorted_by_key(|q| (q.start, q.end)) {
        qs.sort_by_key(|q| (q.start, q.end));
    }
    for i in 0..qs.len() {
        let Some(a) = qs[i].speaker else { continue };
        let mut prev_end = qs[i].end;
        for q in qs.iter().skip(i + 1).take(REPLY_LOOKAHEAD) {
            if q.start.saturating_sub(prev_end) > window {
                break;
            }
            prev_end = prev_end.max(q.end);
            match q.speaker {
                Some(b) if b != a => {
                    acc.entry(key(a, b)).or_default().1 += 1;
                    break;
                }
                _ => {}
            }
        }
    }

    let raw = |c: u32, i: u32| f64::from(c) + f64::from(INTERACTION_FACTOR) * f64::from(i);
    let max_raw = acc.values().map(|&(c, i)| raw(c, i)).fold(0.0, f64::max);
    let denom = (1.0 + max_raw).ln();
    let mut pairs: Vec<Relationship> = acc
        .into_iter()
        .map(|((source, target), (c, i))| Relationship {
            source,
            target,
            weight: if denom > 0.0 {
                ((1.0 + raw(c, i)).ln() / denom * 10_000.0).round() / 10_000.0
            } else {
                0.0
            },
            cooccurrences: c,
            interactions: i,
        })
        .collect();
    pairs.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| (a.source, a.target).cmp(&(b.source, b.target)))
    });

    Relations {
        pairs,
        timeline: timeline(&ms, sections),
    }
}

/// Mentions per character per section (`ms` sorted or not).
pub fn timeline(mentions: &[MentionRef], sections: &[Range<usize>]) -> Vec<Timeline> {
    let nsec = sections.len().max(1);
    let sorted = sections.is_sorted_by_key(|s| s.start);
    let mut by_char: FxMap<u32, Vec<u32>> = FxMap::default();
    for m in mentions {
        let sec = if sections.is_empty() {
            Some(0)
        } else if sorted {
            let k = sections.partition_point(|s| s.start <= m.start);
            k.checked_sub(1).filter(|&k| m.start < sections[k].end)
        } else {
            sections.iter().position(|s| s.contains(&m.start))
        };
        let counts = by_char.entry(m.character).or_insert_with(|| vec![0; nsec]);
        if let Some(s) = sec {
            counts[s] += 1;
        }
    }
    let mut out: Vec<Timeline> = by_char
        .into_iter()
        .map(|(character, counts)| Timeline { character, counts })
        .collect();
    out.sort_by_key(|t| t.character);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]
    use super::*;

    fn m(start: usize, character: u32) -> MentionRef {
        MentionRef {
            start,
            end: start + 5,
            character,
        }
    }
    fn q(start: usize, end: usize, speaker: Option<u32>) -> QuoteRef {
        QuoteRef { start, end, speaker }
    }

    #[test]
    fn empty() {
        let r = compute(&[], &[], &[], 100);
        assert!(r.pairs.is_empty());
        assert!(r.timeline.is_empty());
    }

    #[test]
    fn one_character() {
        let r = compute(
            &[m(0, 1), m(10, 1), m(20, 1)],
            &[q(0, 5, Some(1)), q(8, 12, Some(1))],
            &[],
            100,
        );
        assert!(r.pairs.is_empty());
        assert_eq!(
            r.timeline,
            vec![Timeline {
                character: 1,
                counts: vec![3]
            }]
        );
    }

    #[test]
    fn cooccurrence_window_and_weights() {
        // 1 and 2 close together twice; 3 far away near 1 once.
        let ms = [m(0, 1), m(10, 2), m(20, 1), m(1000, 3), m(1040, 1)];
        let r = compute(&ms, &[], &[], 50);
        let p12 = r.pairs.iter().find(|p| (p.source, p.target) == (1, 2)).unwrap();
        assert_eq!(p12.cooccurrences, 2);
        assert_eq!(p12.weight, 1.0);
        let p13 = r.pairs.iter().find(|p| (p.source, p.target) == (1, 3)).unwrap();
        assert_eq!(p13.cooccurrences, 1);
        assert!(p13.weight > 0.0 && p13.weight < 1.0);
        assert!(!r.pairs.iter().any(|p| (p.source, p.target) == (2, 3)));
        // Unsorted input gives the same answer.
        let mut rev = ms;
        rev.reverse();
        assert_eq!(compute(&rev, &[], &[], 50), r);
    }

    #[test]
    fn conversation() {
        // Pride and Prejudice, chapter 1, as quote spans: Mrs Bennet (1) speaks,
        // is interrupted by narration and goes on, Mr Bennet (2) replies, and a
        // later unrelated quote by 3 comes long after.
        let qs = [
            q(0, 40, Some(1)),
            q(60, 120, Some(1)),
            q(140, 170, Some(2)),
            q(180, 200, Some(1)),
            q(5000, 5020, Some(3)),
        ];
        let r = compute(&[], &qs, &[], 100);
        let p = r.pairs.iter().find(|p| (p.source, p.target) == (1, 2)).unwrap();
        // 1→2 from the first two quotes, 2→1 once.
        assert_eq!(p.interactions, 3);
        assert_eq!(r.pairs.len(), 1);
        // Unknown speakers are skipped, not answered.
        let r = compute(&[], &[q(0, 10, Some(1)), q(20, 30, None), q(40, 50, Some(2))], &[], 100);
        assert_eq!(r.pairs[0].interactions, 1);
    }

    #[test]
    fn timeline_by_section() {
        let secs = [0..100, 100..200, 300..400];
        let ms = [m(5, 1), m(150, 1), m(160, 2), m(250, 2), m(399, 2), m(9999, 1)];
        let t = timeline(&ms, &secs);
        assert_eq!(
            t[0],
            Timeline {
                character: 1,
                counts: vec![1, 1, 0]
            }
        );
        assert_eq!(
            t[1],
            Timeline {
                character: 2,
                counts: vec![0, 1, 1]
            }
        );
        // Unsorted sections still work.
        let secs2 = [300..400, 0..100, 100..200];
        let t2 = timeline(&ms, &secs2);
        assert_eq!(t2[0].counts, vec![0, 1, 1]);
    }

    #[test]
    fn huge_offsets_do_not_overflow() {
        let ms = [m(usize::MAX - 10, 1), m(usize::MAX - 6, 2)];
        let r = compute(
            &ms,
            &[q(usize::MAX - 3, usize::MAX, Some(1))],
            &[0..usize::MAX],
            usize::MAX,
        );
        assert_eq!(r.pairs.len(), 1);
    }
}
