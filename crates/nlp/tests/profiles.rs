//! `Analysis::profiles` and `Analysis::timeline` (issue items 8 and 7): on
//! real sentences from Pride and Prejudice, with sections, and on the whole
//! novel from the LitBank mirror in `../shared`.

/// Chapter 3 and the start of chapter 4 of Pride and Prejudice, as two sections.
const CH3: &str = "Mr. Bingley was good-looking and gentlemanlike; he had a pleasant \
countenance, and easy, unaffected manners. His sisters were fine women, with an air of \
decided fashion. Mr. Darcy soon drew the attention of the room by his fine, tall person, \
handsome features, noble mien, and the report which was in general circulation within five \
minutes after his entrance, of his having ten thousand a year.\n\n\
\u{201C}Come, Darcy,\u{201D} said he, \u{201C}I must have you dance. I hate to see you \
standing about by yourself in this stupid manner. You had much better dance.\u{201D}\n\n\
\u{201C}I certainly shall not. You know how I detest it, unless I am particularly acquainted \
with my partner,\u{201D} replied Mr. Darcy.\n\n";
const CH4: &str = "When Jane and Elizabeth were alone, the former, who had been cautious in \
her praise of Mr. Bingley before, expressed to her sister just how very much she admired him.\n\n\
\u{201C}He is just what a young man ought to be,\u{201D} said Jane, \u{201C}sensible, \
good-humoured, lively; and I never saw such happy manners!\u{201D}\n\n\
\u{201C}He is also handsome,\u{201D} replied Elizabeth, \u{201C}which a young man ought \
likewise to be, if he possibly can.\u{201D}\n\n\
Mr. Bingley smiled. Mr. Darcy looked at Elizabeth.\n";

fn chapters() -> (String, Vec<nlp::Section>) {
    let text = format!("{CH3}{CH4}");
    let n3 = CH3.chars().count();
    let n = text.chars().count();
    let sections = vec![
        nlp::Section {
            title: "Chapter 3".into(),
            start: 0,
            end: n3,
        },
        nlp::Section {
            title: "Chapter 4".into(),
            start: n3,
            end: n,
        },
    ];
    (text, sections)
}

fn slice(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

fn by_alias<'a>(a: &'a nlp::Analysis, alias: &str) -> &'a nlp::Character {
    a.characters
        .iter()
        .find(|c| c.aliases.iter().any(|x| x == alias))
        .unwrap_or_else(|| panic!("no character {alias}: {:?}", a.characters))
}

fn profile<'a>(a: &'a nlp::Analysis, id: &str) -> &'a nlp::Profile {
    a.profiles.iter().find(|p| p.character == id).expect("a profile")
}

#[test]
fn one_profile_and_one_timeline_row_per_character_in_cast_order() {
    let (text, sections) = chapters();
    let a = nlp::analyze(&text, &sections);
    let ids: Vec<&str> = a.characters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(a.profiles.iter().map(|p| p.character.as_str()).collect::<Vec<_>>(), ids);
    assert_eq!(a.timeline.iter().map(|t| t.character.as_str()).collect::<Vec<_>>(), ids);
    for (t, c) in a.timeline.iter().zip(&a.characters) {
        assert_eq!(t.counts.len(), 2, "one count per section");
        assert_eq!(t.counts.iter().sum::<u32>() as usize, c.mention_count);
    }
}

#[test]
fn descriptions_modifiers_and_agent_verbs() {
    let (text, sections) = chapters();
    let a = nlp::analyze(&text, &sections);
    let bingley = by_alias(&a, "Mr. Bingley");
    let p = profile(&a, &bingley.id);
    let descs: Vec<&str> = p.descriptions.iter().map(|d| d.text.as_str()).collect();
    assert!(
        descs.iter().any(|d| d.starts_with("Mr. Bingley was good-looking")),
        "{descs:?}"
    );
    for d in &p.descriptions {
        assert_eq!(
            slice(&text, d.start, d.end).trim(),
            d.text,
            "char offsets into the text"
        );
    }
    let mods: Vec<&str> = p.modifiers.iter().map(|m| m.term.as_str()).collect();
    assert!(
        mods.contains(&"good-looking") && mods.contains(&"gentlemanlike"),
        "{mods:?}"
    );
    let verbs: Vec<&str> = p.agent_verbs.iter().map(|m| m.term.as_str()).collect();
    assert!(verbs.contains(&"smiled"), "{verbs:?}");
    // first appearance and sections
    assert_eq!(p.first_appearance, bingley.first_mention);
    assert_eq!(p.sections, vec![0, 1]);
    let darcy = by_alias(&a, "Mr. Darcy");
    let verbs: Vec<&str> = profile(&a, &darcy.id)
        .agent_verbs
        .iter()
        .map(|m| m.term.as_str())
        .collect();
    assert!(verbs.contains(&"replied") && verbs.contains(&"looked"), "{verbs:?}");
}

#[test]
fn quotes_are_the_characters_own_with_text() {
    let (text, sections) = chapters();
    let a = nlp::analyze(&text, &sections);
    let eliz = by_alias(&a, "Elizabeth");
    let p = profile(&a, &eliz.id);
    assert_eq!(p.quote_indices.len(), eliz.quote_count);
    assert!(!p.quotes.is_empty() && p.quotes.len() <= p.quote_indices.len());
    for (q, &i) in p.quotes.iter().zip(&p.quote_indices) {
        let top = &a.quotes[i];
        assert_eq!((top.start, top.end), (q.start, q.end));
        assert_eq!(top.speaker.as_deref(), Some(eliz.id.as_str()));
        assert_eq!(slice(&text, q.start, q.end).trim(), q.text);
    }
    assert!(p.quotes.iter().any(|q| q.text.contains("He is also handsome")));
    assert_eq!(p.sections, vec![1], "Elizabeth appears only in chapter 4");
}

#[test]
fn no_sections_one_count_and_json_shape() {
    let (text, _) = chapters();
    let a = nlp::analyze(&text, &[]);
    assert!(a.timeline.iter().all(|t| t.counts.len() == 1));
    assert!(a.profiles.iter().all(|p| p.sections.is_empty()));
    let v = serde_json::to_value(&a).unwrap();
    let p = &v["profiles"][0];
    for key in [
        "character",
        "quotes",
        "quote_indices",
        "descriptions",
        "agent_verbs",
        "modifiers",
        "first_appearance",
        "sections",
    ] {
        assert!(!p[key].is_null(), "profiles[0].{key} missing: {p}");
    }
    assert!(v["timeline"][0]["counts"].is_array());
    // older stored analyses (without the new fields) still read
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("profiles");
    old.as_object_mut().unwrap().remove("timeline");
    let back: nlp::Analysis = serde_json::from_value(old).unwrap();
    assert!(back.profiles.is_empty() && back.timeline.is_empty());
}

#[test]
fn whole_novel_profiles() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/litbank/original/1342_pride_and_prejudice.txt"
    );
    let text = std::fs::read_to_string(p).expect("Pride and Prejudice under ../shared/data/litbank");
    let a = nlp::analyze(&text, &[]);
    let eliz = by_alias(&a, "Lizzy");
    let pr = profile(&a, &eliz.id);
    assert_eq!(pr.quotes.len(), nlp::profile::REPRESENTATIVE);
    assert_eq!(pr.quote_indices.len(), eliz.quote_count);
    let mut seen = pr.quote_indices.clone();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), pr.quote_indices.len(), "each quote once");
    assert!(pr.agent_verbs.iter().any(|v| v.term == "replied"));
    assert!(!pr.descriptions.is_empty() && pr.descriptions.len() <= nlp::profile::MAX_DESCRIPTIONS);
    assert_eq!(pr.first_appearance, eliz.first_mention);
}
