//! End-to-end on a real novel: Pride and Prejudice from the LitBank mirror in
//! `../shared` (which CI has beside the repository; a missing file fails).

fn book() -> Option<String> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/litbank/original/1342_pride_and_prejudice.txt"
    );
    Some(std::fs::read_to_string(p).expect("Pride and Prejudice under ../shared/data/litbank"))
}

#[test]
fn language_keywords_and_summary() {
    let text = book().unwrap();
    let a = nlp::analyze(&text, &[]);
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.keywords.len(), nlp::KEYWORDS);
    assert!(a.keywords.iter().all(|k| k.score > 0.0 && k.count > 0));
    assert!(
        a.keywords
            .iter()
            .any(|k| ["sister", "lady", "ladyship", "aunt"].contains(&k.term.as_str())),
        "{:?}",
        a.keywords
    );
    assert_eq!(a.summary.len(), nlp::SUMMARY_SENTENCES);
    let chars: Vec<char> = text.chars().collect();
    let mut last = 0;
    for s in &a.summary {
        assert!(s.start >= last && s.end > s.start, "in text order");
        last = s.end;
        let slice: String = chars[s.start..s.end].iter().collect();
        assert_eq!(slice.trim(), s.text, "summary offsets are chars into the text");
    }
    let json = serde_json::to_value(&a).unwrap();
    assert!(json["keywords"][0]["term"].is_string() && json["summary"][0]["start"].is_u64());
}

#[test]
fn cast_aliases_and_speakers() {
    let Some(text) = book() else {
        eprintln!("Pride and Prejudice not found under ../shared; skipped");
        return;
    };
    let a = nlp::analyze(&text, &[]);
    let find = |alias: &str| {
        a.characters
            .iter()
            .find(|c| c.aliases.iter().any(|x| x == alias))
            .unwrap_or_else(|| panic!("no character with alias {alias}"))
    };
    let eliz = find("Elizabeth");
    for alias in ["Lizzy", "Eliza", "Miss Elizabeth", "Elizabeth Bennet"] {
        assert!(eliz.aliases.iter().any(|x| x == alias), "{alias}: {:?}", eliz.aliases);
    }
    assert_eq!(eliz.gender.as_deref(), Some("she/her"));
    let mr = find("Mr. Bennet");
    let mrs = find("Mrs. Bennet");
    assert_ne!(mr.id, mrs.id);
    assert_ne!(mr.id, eliz.id);
    assert_eq!(mr.gender.as_deref(), Some("he/him"));
    assert_eq!(mrs.gender.as_deref(), Some("she/her"));
    assert_eq!(find("Darcy").id, find("Mr. Darcy").id);
    // Elizabeth is the most frequent character and speaks a lot
    assert_eq!(a.characters[0].id, eliz.id);
    assert!(eliz.quote_count > 100);
    // most quotes get a speaker, and offsets are chars into `text`
    let with = a.quotes.iter().filter(|q| q.speaker.is_some()).count();
    assert!(with * 2 > a.quotes.len());
    let n = text.chars().count();
    assert!(a.quotes.iter().all(|q| q.end <= n));
    // "“…,” replied Elizabeth" style tags name her as the speaker
    let chars: Vec<char> = text.chars().collect();
    let tagged = a
        .quotes
        .iter()
        .filter(|q| {
            let after: String = chars[q.end..(q.end + 20).min(n)].iter().collect();
            after.starts_with(" replied Elizabeth") || after.starts_with(" said Elizabeth")
        })
        .collect::<Vec<_>>();
    assert!(!tagged.is_empty());
    assert!(tagged.iter().all(|q| q.speaker.as_deref() == Some(eliz.id.as_str())));
}
