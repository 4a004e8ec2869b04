//! Snippets: bounded, cut at word boundaries, around the best matches, with highlights that point at them.

use retrieval::{Snippet, snippet, terms};

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Checks every invariant of a snippet of `text` for `query`.
fn check(text: &str, query: &str, max: usize) -> Snippet {
    let s = snippet(text, query, max);
    let tc = chars(text);
    let sc = chars(&s.text);
    assert!(sc.len() <= max, "{} chars > {max}", sc.len());
    assert_eq!(
        &tc[s.start..s.start + sc.len()],
        &sc[..],
        "text is the slice of the original at start"
    );
    let end = s.start + sc.len();
    let q: Vec<String> = terms(query);
    // A matched word longer than max is shown cut, as the whole snippet.
    let hard_cut = !sc.is_empty() && sc.len() == max && s.highlights == [(0, max)];
    for &(a, b) in &s.highlights {
        assert!(a < b && b <= sc.len(), "highlight {a}..{b} outside {:?}", s.text);
        let word: String = sc[a..b].iter().collect();
        if !hard_cut {
            let t = terms(&word);
            assert!(
                !t.is_empty() && t.iter().all(|t| q.contains(t)),
                "{word:?} is not a query word"
            );
        }
    }
    assert!(
        s.highlights.windows(2).all(|w| w[0].1 <= w[1].0),
        "highlights in order, disjoint"
    );
    // Cut at word boundaries unless a single word is longer than max.
    // (Without a match, a first word longer than max is cut too.)
    let cut_in_a_word = hard_cut || (s.highlights.is_empty() && sc.len() == max);
    if !cut_in_a_word && !sc.is_empty() {
        assert!(
            s.start == 0 || tc[s.start - 1].is_whitespace() || !tc[s.start - 1].is_alphanumeric(),
            "{s:?}"
        );
        assert!(
            end == tc.len() || tc[end].is_whitespace() || !tc[end].is_alphanumeric(),
            "{s:?}"
        );
        assert!(!sc[0].is_whitespace() && !sc[sc.len() - 1].is_whitespace(), "{s:?}");
    }
    s
}

fn highlighted(s: &Snippet) -> Vec<String> {
    let c = chars(&s.text);
    s.highlights.iter().map(|&(a, b)| c[a..b].iter().collect()).collect()
}

#[test]
fn centres_on_the_window_with_most_distinct_terms() {
    let filler = "and then they went on walking through the quiet fields for a while ".repeat(5);
    let text = format!(
        "The whale rose. {filler} Ahab saw the white whale breach beside the harpoon line. {filler} A harpoon."
    );
    let s = check(&text, "white whale harpoon", 120);
    assert!(
        s.text
            .contains("Ahab saw the white whale breach beside the harpoon line"),
        "{s:?}"
    );
    assert_eq!(highlighted(&s), ["white", "whale", "harpoon"]);
    // A quarter of the spare context before the matches, the rest after.
    assert!(s.text.find("white").unwrap() < s.text.len() / 2);
}

#[test]
fn highlights_cover_inflections_and_possessives() {
    let text = "Elizabeth's sisters were walking to Meryton; Elizabeth walked alone.";
    let s = check(text, "elizabeth walks", 200);
    assert_eq!(s.text, text);
    assert_eq!(s.start, 0);
    assert_eq!(highlighted(&s), ["Elizabeth", "walking", "Elizabeth", "walked"]);
}

#[test]
fn offsets_are_chars() {
    let text = "Zoë — “très” bien — dit Émile à Zoë, 🎉 puis partit vers la forêt lointaine.";
    let s = check(text, "forêt", 30);
    assert!(s.text.contains("forêt"), "{s:?}");
    assert_eq!(highlighted(&s), ["forêt"]);
    let s = check(text, "zoë", 1000);
    assert_eq!(highlighted(&s), ["Zoë", "Zoë"]);
}

#[test]
fn without_a_match_the_beginning() {
    let text = "  It was a dark and stormy night; the rain fell in torrents.";
    let s = check(text, "spaceship", 25);
    assert_eq!(s.start, 2);
    assert_eq!(s.text, "It was a dark and stormy");
    assert!(s.highlights.is_empty());
    for q in ["", "the of", "🎉", "!!"] {
        assert!(check(text, q, 25).highlights.is_empty());
    }
}

#[test]
fn degenerate_sizes() {
    assert_eq!(snippet("", "x", 10), Snippet::default());
    assert_eq!(snippet("text", "text", 0), Snippet::default());
    assert_eq!(check("   \n\n  ", "x", 3).text, "");
    let big = "y".repeat(1 << 20);
    let s = check(&big, &big, 50);
    assert_eq!(s.text.chars().count(), 50);
    assert_eq!(s.highlights, [(0, 50)]);
    let s = check(&big, "other", 50);
    assert_eq!(s.text.chars().count(), 50);
    let s = check(&format!("start {big} end"), "end", 10);
    assert_eq!(s.text, "end");
}

#[test]
fn invariants_hold_for_many_windows() {
    let text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be \
                in want of a wife. However little known the feelings or views of such a man may be on his first \
                entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that \
                he is considered the rightful property of some one or other of their daughters.";
    for q in [
        "truth",
        "man fortune wife",
        "daughters truth",
        "families neighbourhood",
        "single wife daughters",
        "zzz",
    ] {
        for max in [1, 5, 12, 40, 80, 200, 1000] {
            let s = check(text, q, max);
            if max >= 40 && q != "zzz" {
                assert!(!s.highlights.is_empty(), "{q:?} {max}");
            }
        }
    }
}
