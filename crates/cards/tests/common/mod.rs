//! Helpers shared by the integration tests: fixtures, a sample card, and a PNG chunk
//! walker written independently of the crate's own so the two check each other.
#![allow(dead_code)]

use cards::{Asset, BookEntry, Card, CharacterBook, EntryId};
use serde_json::{Value, json};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialise")
}

fn map(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// A card with every field set, including unknown ones at every level.
pub fn rich_card() -> Card {
    Card {
        name: "Elizabeth Bennet".into(),
        description: "Second daughter of the Bennets of Longbourn; quick, lively, prejudiced.".into(),
        personality: "witty, proud, warm".into(),
        scenario: "A ball at Meryton.".into(),
        first_mes: "\"I could easily forgive his pride, if he had not mortified mine.\"".into(),
        mes_example: "<START>\n{{user}}: Do you dance?\n{{char}}: Only with those I like.".into(),
        creator_notes: "From Pride and Prejudice (1813).".into(),
        system_prompt: "You are {{char}}.".into(),
        post_history_instructions: "Keep Regency manners.".into(),
        alternate_greetings: vec!["\"Mr. Darcy.\"".into(), "*She closes her book.*".into()],
        group_only_greetings: vec!["\"Jane, Lydia, come!\"".into()],
        tags: vec!["austen".into(), "regency".into()],
        creator: "dramatis".into(),
        character_version: "1.2".into(),
        nickname: Some("Lizzy".into()),
        creator_notes_multilingual: Some([("en".into(), "From P&P.".into()), ("de".into(), "Aus S&V.".into())].into()),
        source: Some(vec!["https://www.gutenberg.org/ebooks/1342".into()]),
        creation_date: Some(1_700_000_000),
        modification_date: Some(1_700_000_500),
        character_book: Some(CharacterBook {
            name: Some("Longbourn".into()),
            description: Some("Family and neighbours".into()),
            scan_depth: Some(3),
            token_budget: Some(300),
            recursive_scanning: Some(true),
            extensions: map(json!({"dramatis/chapters": [1, 3]})),
            entries: vec![
                BookEntry {
                    keys: vec!["Darcy".into(), "Pemberley".into()],
                    content: "Mr. Darcy owns Pemberley in Derbyshire.".into(),
                    extensions: map(json!({"probability": null, "position": 0})),
                    enabled: true,
                    insertion_order: 5,
                    case_sensitive: Some(false),
                    use_regex: false,
                    constant: Some(false),
                    name: Some("darcy".into()),
                    priority: Some(10),
                    id: Some(EntryId::Number(7)),
                    comment: Some("hero".into()),
                    selective: Some(true),
                    secondary_keys: Some(vec!["proud".into()]),
                    position: Some("after_char".into()),
                    extra: map(json!({"x_unknown_entry": "kept"})),
                },
                BookEntry {
                    keys: vec!["^Wickham\\b".into()],
                    content: "@@depth 1\nWickham is not to be trusted.".into(),
                    enabled: false,
                    use_regex: true,
                    id: Some(EntryId::Text("wickham".into())),
                    ..BookEntry::default()
                },
            ],
            extra: map(json!({"x_unknown_book": 1})),
        }),
        assets: Some(vec![
            Asset {
                kind: "icon".into(),
                uri: "ccdefault:".into(),
                name: "main".into(),
                ext: "png".into(),
                extra: Default::default(),
            },
            Asset {
                kind: "emotion".into(),
                uri: "embeded://assets/emotion/images/happy.webp".into(),
                name: "happy".into(),
                ext: "webp".into(),
                extra: map(json!({"x_unknown_asset": true})),
            },
        ]),
        extensions: map(json!({"dramatis": {"book": 1342}, "talkativeness": "0.5"})),
        extra: map(json!({"x_unknown_data": {"nested": [1, "two", null]}})),
    }
}

/// Every chunk of a PNG, asserting the file is well formed: signature, IHDR first, every CRC
/// right, IEND last with nothing after it.
pub fn walk(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "signature");
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
        let data = png[pos + 8..pos + 8 + len].to_vec();
        let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        let mut check = kind.to_vec();
        check.extend_from_slice(&data);
        assert_eq!(
            crc,
            crc32fast::hash(&check),
            "CRC of {}",
            String::from_utf8_lossy(&kind)
        );
        out.push((kind, data));
        pos += 12 + len;
    }
    assert_eq!(pos, png.len(), "chunks end exactly at the end of the file");
    assert_eq!(&out[0].0, b"IHDR", "IHDR first");
    assert_eq!(out[0].1.len(), 13);
    assert_eq!(&out.last().unwrap().0, b"IEND", "IEND last");
    assert!(out.last().unwrap().1.is_empty());
    assert_eq!(out.iter().filter(|c| &c.0 == b"IEND").count(), 1);
    out
}

/// A raw chunk with a correct CRC.
pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut check = kind.to_vec();
    check.extend_from_slice(data);
    out.extend_from_slice(&crc32fast::hash(&check).to_be_bytes());
    out
}

/// Reassembles a PNG from (kind, data) pairs, recomputing every CRC.
pub fn assemble(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (k, d) in chunks {
        out.extend(chunk(k, d));
    }
    out
}

/// Inserts extra chunks just before IEND.
pub fn with_chunks_before_iend(png: &[u8], extra: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut chunks = walk(png);
    let iend = chunks.pop().unwrap();
    chunks.extend(extra.iter().cloned());
    chunks.push(iend);
    assemble(&chunks)
}

pub fn text(keyword: &str, text: &str) -> ([u8; 4], Vec<u8>) {
    let mut d = keyword.as_bytes().to_vec();
    d.push(0);
    d.extend_from_slice(text.as_bytes());
    (*b"tEXt", d)
}

pub fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A PNG with no card chunks at all (the crate's generated avatar, stripped).
pub fn plain_png() -> Vec<u8> {
    let png = cards::to_png(&Card::new("plain"), None).unwrap();
    cards::import(&png).unwrap().image.unwrap()
}
