//! Integration tests of the feature modules (stats, lang, keywords, summary,
//! relations, profile) on LitBank books. They skip (with a note) when the
//! shared data is not beside the repository.

mod features_support;

use features_support::{PRIDE, PRIDE_CAST, book, mentions, paragraphs, quotes, sections, sentences};
use nlp::{keywords, lang, profile, relations, stats, summary};

macro_rules! book_or_skip {
    ($f:expr) => {
        match book($f) {
            Some(t) => t,
            None => {
                eprintln!("skipped: {} not found", $f);
                return;
            }
        }
    };
}

#[test]
fn pride_stats() {
    let t = book_or_skip!(PRIDE);
    let s = sentences(&t);
    let st = stats::compute(&t, &s, paragraphs(&t));
    assert!((115_000..130_000).contains(&st.words), "{}", st.words);
    assert!(st.sentences > 4_000);
    assert!(st.paragraphs > 2_000);
    assert!((400.0..600.0).contains(&st.reading_minutes));
    let fre = st.flesch_reading_ease.unwrap();
    let fk = st.flesch_kincaid_grade.unwrap();
    // Published figures for the novel are around 60-70 ease, grade 8-11.
    assert!((50.0..80.0).contains(&fre), "{fre}");
    assert!((6.0..13.0).contains(&fk), "{fk}");
    assert!(st.unique_words > 5_000 && st.unique_words < 9_000);
    let j = serde_json::to_value(&st).unwrap();
    for k in [
        "words",
        "sentences",
        "paragraphs",
        "reading_minutes",
        "flesch_reading_ease",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
}

#[test]
fn litbank_books_are_english() {
    let dir = format!("{}/../../../shared/data/litbank/original", env!("CARGO_MANIFEST_DIR"));
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {dir} not found");
        return;
    };
    let mut n = 0;
    let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names.into_iter().take(25) {
        let Ok(t) = std::fs::read_to_string(&p) else {
            continue;
        };
        assert_eq!(lang::detect(&t).as_deref(), Some("en"), "{p:?}");
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn pride_keywords() {
    let t = book_or_skip!(PRIDE);
    let k = keywords::top(&t, 20);
    assert_eq!(k.len(), 20);
    let terms: Vec<&str> = k.iter().map(|k| k.term.as_str()).collect();
    for w in ["sister", "ladyship", "aunt"] {
        assert!(terms.contains(&w), "{w} not in {terms:?}");
    }
    for name in ["elizabeth", "darcy", "bingley", "jane", "longbourn"] {
        assert!(!terms.contains(&name), "{name} in {terms:?}");
    }
    assert!(k.windows(2).all(|w| w[0].score >= w[1].score));
    let with = keywords::top_with(
        &t,
        5,
        &keywords::Options {
            include_proper_nouns: true,
            ..Default::default()
        },
    );
    assert!(with.iter().any(|k| k.term == "elizabeth"), "{with:?}");
}

#[test]
fn one_pass_equals_two() {
    let t = book_or_skip!(PRIDE);
    let s = sentences(&t);
    let p = paragraphs(&t);
    let opts = keywords::Options::default();
    let (st, kw) = stats::compute_with_keywords(&t, &s, p, 20, &opts);
    assert_eq!(st, stats::compute(&t, &s, p));
    assert_eq!(kw, keywords::top_with(&t, 20, &opts));
}

#[test]
fn pride_summary() {
    let t = book_or_skip!(PRIDE);
    let s = sentences(&t);
    let a = summary::extract(&t, &s, 6);
    assert_eq!(a.len(), 6);
    assert_eq!(a, summary::extract(&t, &s, 6));
    assert!(a.windows(2).all(|w| w[0].end <= w[1].start));
    // Spread over the book: the last pick is in its final sixth or so.
    assert!(a[5].start > t.len() / 2);
    for r in &a {
        let sent = &t[r.clone()];
        assert!(!sent.contains('“'), "{sent}");
    }
}

#[test]
fn pride_relations_and_timeline() {
    let t = book_or_skip!(PRIDE);
    let ms = mentions(&t, PRIDE_CAST);
    let qs = quotes(&t, &ms);
    let secs = sections(&t);
    assert_eq!(secs.len(), 61);
    let r = relations::compute(&ms, &qs, &secs, relations::DEFAULT_WINDOW);
    assert_eq!(r.pairs[0].weight, 1.0);
    let top5: Vec<(u32, u32)> = r.pairs.iter().take(5).map(|p| (p.source, p.target)).collect();
    assert!(top5.contains(&(1, 2)), "Elizabeth–Darcy not in {top5:?}");
    assert!(top5.contains(&(1, 3)), "Elizabeth–Jane not in {top5:?}");
    let ed = r.pairs.iter().find(|p| (p.source, p.target) == (1, 2)).unwrap();
    assert!(ed.interactions > 5, "{ed:?}");
    assert!(
        r.pairs
            .iter()
            .all(|p| p.source < p.target && (0.0..=1.0).contains(&p.weight))
    );
    let liz = r.timeline.iter().find(|t| t.character == 1).unwrap();
    assert_eq!(liz.counts.len(), 61);
    assert!(liz.counts.iter().filter(|&&c| c > 0).count() > 50);
    // Wickham first appears in chapter 15.
    let w = r.timeline.iter().find(|t| t.character == 7).unwrap();
    assert_eq!(w.counts.iter().position(|&c| c > 0), Some(14));
    let j = serde_json::to_string(&r).unwrap();
    assert!(j.contains("\"interactions\""));
}

#[test]
fn pride_profiles() {
    let t = book_or_skip!(PRIDE);
    let s = sentences(&t);
    let ms = mentions(&t, PRIDE_CAST);
    let qs = quotes(&t, &ms);
    let secs = sections(&t);
    let ps = profile::build(&t, &s, &ms, &qs, &secs);
    let liz = ps.iter().find(|p| p.character == 1).unwrap();
    assert_eq!(liz.representative, profile::REPRESENTATIVE);
    assert_eq!(liz.quotes.len(), liz.quote_count);
    assert!(liz.quote_count > 100);
    let verbs: Vec<&str> = liz.agent_verbs.iter().map(|v| v.term.as_str()).collect();
    for v in ["said", "replied"] {
        assert!(verbs.contains(&v), "{v} not in {verbs:?}");
    }
    // The representative quotes are not one-word answers and not all alike.
    for q in &liz.quotes[..liz.representative] {
        let words = stats::compute(&t[q.start..q.end], &[], 0).words;
        assert!(words >= 3, "{}", &t[q.start..q.end]);
    }
    assert_eq!(
        liz.first_appearance,
        ms.iter().find(|m| m.character == 1).map(|m| m.start)
    );
    assert!(liz.sections.len() > 50);
    // Chapter 3: "Mr. Bingley was good-looking and gentlemanlike".
    let bingley = ps.iter().find(|p| p.character == 4).unwrap();
    let mods: Vec<&str> = bingley.modifiers.iter().map(|v| v.term.as_str()).collect();
    assert!(
        mods.contains(&"good-looking") && mods.contains(&"gentlemanlike"),
        "{mods:?}"
    );
    assert!(
        bingley
            .descriptions
            .iter()
            .any(|d| t[d.start..d.end].contains("good-looking and gentlemanlike"))
    );
    let j = serde_json::to_string(&ps).unwrap();
    assert!(j.contains("\"agent_verbs\""));
}

#[test]
fn other_books_do_not_panic() {
    for f in [
        "1023_bleak_house.txt",
        "105_persuasion.txt",
        "1064_the_masque_of_the_red_death.txt",
    ] {
        let t = book_or_skip!(f);
        let s = sentences(&t);
        let st = stats::compute(&t, &s, paragraphs(&t));
        assert!(st.words > 1000);
        assert!(!keywords::top(&t, 10).is_empty());
        assert!(!summary::extract(&t, &s, 3).is_empty());
        let ms = mentions(&t, &[("Esther", 1), ("Anne", 2), ("Prince", 3), ("Richard", 4)]);
        let qs = quotes(&t, &ms);
        let _ = relations::compute(&ms, &qs, &sections(&t), 500);
        let _ = profile::build(&t, &s, &ms, &qs, &sections(&t));
    }
}

/// Arbitrary text and arbitrary (often invalid) offsets: nothing panics.
#[test]
fn no_panics_on_arbitrary_input() {
    use nlp::relations::{MentionRef, QuoteRef};
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let pieces = [
        "Elizabeth",
        " was ",
        "a",
        " tall",
        ", ",
        "“",
        "”",
        "’s",
        "'",
        "-",
        "--",
        "\n\n",
        ".",
        "?",
        " her ",
        "eyes",
        "said",
        " Darcy",
        "é",
        "東京",
        "🙂",
        "\u{0301}",
        " ",
        "1813",
        "who",
        "been",
        "could",
        "not",
        "by",
        "and",
        "Mr.",
        "_",
        "\t",
        "ΩΡΑΙΑ",
        "İ",
        "ß",
    ];
    for round in 0..300 {
        let mut t = String::new();
        for _ in 0..rnd(60) {
            t.push_str(pieces[rnd(pieces.len())]);
        }
        let len = t.len() + 3;
        let mut ranges = Vec::new();
        for _ in 0..rnd(6) {
            let a = rnd(len);
            ranges.push(a..a + rnd(20));
        }
        if round % 7 == 0 {
            // A reversed range, as a careless caller might pass.
            let (hi, lo) = (5, 2);
            ranges.push(hi..lo);
        }
        let ms: Vec<MentionRef> = (0..rnd(12))
            .map(|_| {
                let s = rnd(len);
                MentionRef {
                    start: s,
                    end: s + rnd(12),
                    character: rnd(4) as u32,
                }
            })
            .collect();
        let qs: Vec<QuoteRef> = (0..rnd(6))
            .map(|_| {
                let s = rnd(len);
                QuoteRef {
                    start: s,
                    end: if rnd(5) == 0 { s / 2 } else { s + rnd(30) },
                    speaker: if rnd(3) == 0 { None } else { Some(rnd(4) as u32) },
                }
            })
            .collect();
        let _ = stats::compute(&t, &ranges, rnd(5));
        let _ = lang::detect(&t);
        let _ = keywords::top(&t, rnd(10));
        let _ = summary::extract(&t, &ranges, rnd(5));
        let _ = relations::compute(&ms, &qs, &ranges, rnd(100));
        let _ = profile::build(&t, &ranges, &ms, &qs, &ranges);
    }
}
