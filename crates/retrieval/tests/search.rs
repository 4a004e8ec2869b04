//! Ranking behaviour: spoiler limit, boosting, pagination, global statistics, and inputs that must not hurt.

use retrieval::{Hit, Index, Item, SearchOptions, search_many};

fn index(texts: &[&str]) -> Index {
    Index::build(texts.iter().map(|t| Item { text: t, section: None }))
}

fn items(hits: &[Hit]) -> Vec<u32> {
    hits.iter().map(|h| h.item).collect()
}

fn opts(limit: usize) -> SearchOptions {
    SearchOptions {
        limit,
        ..SearchOptions::default()
    }
}

#[test]
fn index_is_shareable() {
    fn share<T: Send + Sync + Clone + 'static>() {}
    share::<Index>();
}

#[test]
fn ranks_by_bm25() {
    let ix = index(&[
        "The weather was fine and the garden quiet.",
        "The dragon slept on its gold; the dragon dreamed.",
        "A dragon flew over the village at dusk.",
        "Nothing happened here at all.",
    ]);
    assert_eq!(ix.len(), 4);
    let hits = ix.search("dragons", &opts(10));
    assert_eq!(items(&hits), [1, 2], "stemmed match; two occurrences beat one");
    assert!(hits[0].score > hits[1].score && hits[1].score > 0.0);
    // Possessives and case do not matter.
    assert_eq!(items(&ix.search("DRAGON'S village", &opts(10)))[0], 2);
}

#[test]
fn spoiler_limit_never_returns_later_sections() {
    let texts: Vec<String> = (0..40)
        .map(|i| format!("Chapter text {i}: the ring was lost again near the river."))
        .collect();
    let ix = Index::build(texts.iter().enumerate().map(|(i, t)| Item {
        text: t,
        section: if i % 10 == 9 { None } else { Some(i as u32 / 4) },
    }));
    for max in 0..12u32 {
        let o = SearchOptions {
            limit: 100,
            max_section: Some(max),
            ..SearchOptions::default()
        };
        let hits = ix.search("ring river", &o);
        assert!(!hits.is_empty());
        for h in &hits {
            let section = ix.section(h.item).unwrap();
            assert!(
                section.is_some_and(|s| s <= max),
                "item {} section {section:?} > {max}",
                h.item
            );
        }
        let expected = (0..40).filter(|&i| i % 10 != 9 && i / 4 <= max as usize).count();
        assert_eq!(hits.len(), expected);
    }
    // Without a limit, items of unknown section are returned too.
    assert_eq!(ix.search("ring", &opts(100)).len(), 40);
    // search_many honours it as well.
    let o = SearchOptions {
        limit: 100,
        max_section: Some(2),
        ..SearchOptions::default()
    };
    for (_, h) in search_many(&[&ix, &ix], "ring", &o) {
        assert!(ix.section(h.item).unwrap().is_some_and(|s| s <= 2));
    }
}

#[test]
fn boost_phrases_reorder_as_token_sequences() {
    let ix = index(&[
        "The letter, the letter! Everyone spoke of the letter.",
        "Miss Bennet read the letter twice.",
        "Bennet, said the miss, hid the letter.",
        "Lizzy laughed at the letter.",
    ]);
    let plain = ix.search("letter", &opts(10));
    assert_eq!(plain[0].item, 0);
    let boosted = SearchOptions {
        limit: 10,
        boost_phrases: vec!["Miss Bennet".into(), "Lizzy".into(), "the".into()],
        boost: 3.0,
        ..SearchOptions::default()
    };
    let hits = ix.search("letter", &boosted);
    // Items 1 and 3 hold a phrase; item 2 has both words but not as a sequence.
    assert_eq!(
        items(&hits[..2])
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [1, 3].into()
    );
    let score = |hits: &[Hit], i| hits.iter().find(|h| h.item == i).unwrap().score;
    assert!((score(&hits, 1) - 3.0 * score(&plain, 1)).abs() < 1e-4);
    assert_eq!(score(&hits, 2), score(&plain, 2));
    assert_eq!(score(&hits, 0), score(&plain, 0), "a stop-word phrase boosts nothing");
    // Case-insensitive, possessive-insensitive.
    let o = SearchOptions {
        boost_phrases: vec!["MISS BENNET'S".into()],
        ..boosted.clone()
    };
    assert_eq!(ix.search("letter", &o)[0].item, 1);
    // Boosting only reorders candidates: it never adds an item that does not match the query.
    let o = SearchOptions {
        boost_phrases: vec!["Lizzy".into()],
        ..boosted.clone()
    };
    assert!(ix.search("everyone spoke", &o).iter().all(|h| h.item == 0));
    // A nonsensical boost is ignored rather than trusted.
    for b in [f32::NAN, f32::INFINITY, -2.0, 0.0] {
        let o = SearchOptions {
            boost: b,
            ..boosted.clone()
        };
        assert_eq!(ix.search("letter", &o), plain);
    }
}

#[test]
fn offset_and_limit_paginate() {
    let texts: Vec<String> = (0..30)
        .map(|i| format!("{} storm {}", "sea ".repeat(i % 7 + 1), "word ".repeat(i % 5)))
        .collect();
    let ix = Index::build(texts.iter().map(|t| Item { text: t, section: None }));
    let all = ix.search("storm sea", &opts(1000));
    assert_eq!(all.len(), 30);
    assert!(
        all.windows(2)
            .all(|w| w[0].score > w[1].score || (w[0].score == w[1].score && w[0].item < w[1].item))
    );
    let mut paged = Vec::new();
    for page in 0..8 {
        let o = SearchOptions {
            limit: 4,
            offset: page * 4,
            ..SearchOptions::default()
        };
        let hits = ix.search("storm sea", &o);
        assert!(hits.len() <= 4);
        paged.extend(hits);
    }
    assert_eq!(paged, all);
    assert!(ix.search("storm", &SearchOptions { offset: 30, ..opts(10) }).is_empty());
    assert!(
        ix.search(
            "storm",
            &SearchOptions {
                offset: usize::MAX,
                ..opts(usize::MAX)
            }
        )
        .is_empty()
    );
    assert_eq!(ix.search("storm", &opts(usize::MAX)).len(), 30);
    assert!(ix.search("storm", &opts(0)).is_empty());
}

/// Items of the same length (three terms each), so that only idf decides.
fn docs(n: usize, tag: &str, special: &[(usize, &str)]) -> Vec<String> {
    (0..n)
        .map(|i| {
            let w = special
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(format!("{tag}x{i}"), |(_, w)| w.to_string());
            format!("{w} {tag}y{i} {tag}z{i}")
        })
        .collect()
}

#[test]
fn search_many_uses_global_statistics() {
    // "lantern" is rare in A (1 of 1000) but common in B (30 of 40); "whale" is in 10 of B's 40. Overall, whale is
    // the rarer term, so B's whale passages must come first, although A's local statistics would put its lantern
    // passage above them.
    let a_texts = docs(1000, "a", &[(7, "lantern")]);
    let special: Vec<(usize, &str)> = (0..40).map(|i| (i, if i < 10 { "whale" } else { "lantern" })).collect();
    let b_texts = docs(40, "b", &special);
    let a = Index::build(a_texts.iter().map(|t| Item { text: t, section: None }));
    let b = Index::build(b_texts.iter().map(|t| Item { text: t, section: None }));
    let q = "whale lantern";
    assert!(
        a.search(q, &opts(1))[0].score > b.search(q, &opts(1))[0].score,
        "local statistics disagree"
    );
    let hits = search_many(&[&a, &b], q, &opts(11));
    assert_eq!(hits.len(), 11);
    for (k, (no, h)) in hits.iter().take(10).enumerate() {
        assert_eq!((*no, h.item), (1, k as u32), "whale passages first, in item order");
    }
    assert_eq!(
        (hits[10].0, hits[10].1.item),
        (0, 7),
        "then the lantern passage of A (same idf as B's)"
    );

    // Global statistics are exactly those of one index over all the items.
    let all = Index::build(a_texts.iter().chain(&b_texts).map(|t| Item { text: t, section: None }));
    let merged = all.search(q, &opts(50));
    let many = search_many(&[&a, &b], q, &opts(50));
    assert_eq!(merged.len(), many.len());
    for (m, (no, h)) in merged.iter().zip(&many) {
        assert_eq!(m.item, h.item + if *no == 1 { 1000 } else { 0 });
        assert!((m.score - h.score).abs() < 1e-5, "{m:?} vs {h:?}");
    }
}

#[test]
fn weird_input_is_harmless() {
    let big_word = "x".repeat(1 << 20);
    let texts = [
        "Plain text about a ship.",
        "",
        "🎉🎉🎉 ✨",
        big_word.as_str(),
        "the of and",
        "日本語のテキスト ship",
    ];
    let ix = index(&texts);
    assert_eq!(ix.len(), texts.len());
    for q in ["", "   ", "the and of", "🎉", "!!!", "\0", "\n\n", "'s", "’"] {
        assert!(ix.search(q, &opts(10)).is_empty(), "{q:?}");
        assert!(search_many(&[&ix], q, &opts(10)).is_empty(), "{q:?}");
    }
    // The megabyte word is one (truncated) term: it can still be found, as itself.
    assert_eq!(items(&ix.search(&big_word, &opts(10))), [3]);
    let mut ship = items(&ix.search("SHIP", &opts(10)));
    ship.sort();
    assert_eq!(ship, [0, 5]);
    assert_eq!(items(&ix.search("日本語のテキスト", &opts(10))), [5]);
    // Empty indexes and empty lists.
    let empty = Index::build(std::iter::empty());
    assert!(empty.is_empty());
    assert!(empty.search("ship", &opts(10)).is_empty());
    assert!(search_many(&[], "ship", &opts(10)).is_empty());
    assert_eq!(search_many(&[&empty, &ix], "ship", &opts(10)).len(), 2);
    let o = SearchOptions {
        boost_phrases: vec![String::new(), big_word.clone(), "🎉".into()],
        boost: 2.0,
        ..opts(10)
    };
    assert_eq!(ix.search("ship", &o).len(), 2);
}

#[test]
fn memory_bytes_grows_with_content() {
    let small = index(&["one passage"]);
    let text = "many different words in a longer passage ".repeat(50);
    let big = Index::build((0..100).map(|_| Item {
        text: &text,
        section: Some(1),
    }));
    assert!(small.memory_bytes() > 0);
    // At least the term sequences: 100 passages of 250 non-stop words, 2 bytes each.
    assert!(
        big.memory_bytes() > small.memory_bytes() + 100 * 250 * 2,
        "{}",
        big.memory_bytes()
    );
}
