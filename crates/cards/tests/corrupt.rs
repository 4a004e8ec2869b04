//! Hostile and broken inputs give errors, never panics, and never big allocations.

mod common;

use cards::limits::{MAX_JSON_BYTES, MAX_PNG_BYTES};
use cards::{Card, CardError, import, to_png, to_v2_json, to_v3_json};
use common::{assemble, b64, bytes, plain_png, rich_card, text, walk, with_chunks_before_iend};
use serde_json::json;

#[test]
fn truncated_png_at_every_length_is_an_error() {
    let png = to_png(&Card::new("Short"), None).unwrap();
    for len in 0..png.len() {
        match import(&png[..len]) {
            Err(CardError::PngTruncated(_) | CardError::NotACard(_) | CardError::PngMalformed(_)) => {}
            other => panic!("length {len}: {other:?}"),
        }
    }
    assert!(matches!(import(&png[..png.len() - 12]), Err(CardError::PngTruncated(m)) if m.contains("no IEND")));
}

#[test]
fn bad_crc_is_reported_with_the_chunk() {
    let mut png = to_png(&Card::new("Crc"), None).unwrap();
    let last_text_byte = png.len() - 12 - 5; // inside the ccv3 chunk's data
    png[last_text_byte] ^= 0x01;
    match import(&png) {
        Err(CardError::PngBadCrc { chunk, .. }) => assert_eq!(chunk, "tEXt"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn absurd_chunk_lengths_do_not_allocate_or_panic() {
    let png = plain_png();
    for len in [0xFFFF_FFFFu32, 0x8000_0000, 0x7FFF_FFFF, 0x0100_0000] {
        let mut bad = png[..33].to_vec(); // signature + IHDR
        bad.extend_from_slice(&len.to_be_bytes());
        bad.extend_from_slice(b"tEXtchara\0");
        let err = import(&bad).unwrap_err();
        assert!(
            matches!(err, CardError::PngMalformed(_) | CardError::PngTruncated(_)),
            "{len:#x}: {err}"
        );
    }
}

#[test]
fn structural_png_errors() {
    let png = plain_png();
    let chunks = walk(&png);
    // IDAT before IHDR.
    let swapped = assemble(&[chunks[1].clone(), chunks[0].clone(), chunks[2].clone()]);
    assert!(matches!(import(&swapped), Err(CardError::PngMalformed(m)) if m.contains("IHDR")));
    // Non-letter chunk type.
    let mut bad = png.clone();
    bad[37] = b'1';
    assert!(matches!(import(&bad), Err(CardError::PngMalformed(_))));
    // No card inside.
    assert!(matches!(import(&png), Err(CardError::NotACard(m)) if m.contains("no chara or ccv3")));
    // Bad signature is just "not a card".
    let mut sig = png.clone();
    sig[1] = b'Q';
    assert!(matches!(import(&sig), Err(CardError::NotACard(_))));
}

#[test]
fn base64_garbage_is_bad_base64() {
    let png = with_chunks_before_iend(&plain_png(), &[text("chara", "!!!! this is @@@ not base64 ****")]);
    match import(&png) {
        Err(e @ CardError::BadBase64 { .. }) => assert!(e.to_string().contains("\"chara\"")),
        other => panic!("{other:?}"),
    }
    // Valid base64 of something that is not JSON.
    let png = with_chunks_before_iend(&plain_png(), &[text("ccv3", &b64("hello there"))]);
    assert!(matches!(import(&png), Err(CardError::BadJson { .. })));
    // Valid base64 of bytes that are not UTF-8.
    let png = with_chunks_before_iend(&plain_png(), &[text("ccv3", "/w==")]);
    assert!(matches!(import(&png), Err(CardError::BadJson { .. })));
}

#[test]
fn wrong_json_types_name_the_path() {
    let cases = [
        (
            json!({"spec": "chara_card_v2", "data": {"name": 5}}),
            "data.name: expected string, found number",
        ),
        (
            json!({"spec": "chara_card_v2", "data": {"name": "x", "tags": "a,b"}}),
            "data.tags: expected array of strings, found string",
        ),
        (
            json!({"spec": "chara_card_v2", "data": {"name": "x", "alternate_greetings": ["hi", 2]}}),
            "data.alternate_greetings[1]: expected string, found number",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "extensions": []}}),
            "data.extensions: expected object, found array",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": "lore"}}),
            "data.character_book: expected object, found string",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": {}}}}),
            "data.character_book.entries: expected array, found object",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": [{"keys": [1]}]}}}),
            "data.character_book.entries[0].keys[0]: expected string, found number",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": [{"enabled": "yes"}]}}}),
            "data.character_book.entries[0].enabled: expected boolean, found string",
        ),
        (
            json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": [7]}}}),
            "data.character_book.entries[0]: expected object, found number",
        ),
        (
            json!({"spec": 2, "data": {"name": "x"}}),
            "spec: expected string, found number",
        ),
        (
            json!({"spec": "chara_card_v2", "data": "x"}),
            "data: expected object, found string",
        ),
        (json!({"name": ["V1"]}), "name: expected string, found array"),
    ];
    for (v, want) in cases {
        match import(&bytes(&v)) {
            Err(e @ CardError::WrongType { .. }) => assert_eq!(e.to_string(), want),
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn optional_fields_of_the_wrong_type_are_dropped_with_warnings() {
    let v = json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {
        "name": "x", "nickname": 3, "source": "url", "assets": [{"type": "icon"}, 5],
        "creator_notes_multilingual": {"en": "hi", "fr": 1},
        "character_book": {"scan_depth": "deep", "entries": [{"id": [1], "priority": "high", "insertion_order": 2.9}]}}});
    let got = import(&bytes(&v)).unwrap();
    let c = &got.card;
    assert_eq!((c.nickname.as_ref(), c.source.as_ref()), (None, None));
    assert_eq!(c.assets.as_ref().unwrap().len(), 1);
    assert_eq!(c.creator_notes_multilingual.as_ref().unwrap().len(), 1);
    let book = c.character_book.as_ref().unwrap();
    assert_eq!(
        (book.scan_depth, book.entries[0].id.as_ref(), book.entries[0].priority),
        (None, None, None)
    );
    assert_eq!(book.entries[0].insertion_order, 2, "fractions truncate");
    assert_eq!(got.warnings.len(), 7, "{:#?}", got.warnings);
}

#[test]
fn not_cards() {
    for input in [
        &b""[..],
        b"   ",
        b"hello",
        b"[1,2]",
        b"{}",
        b"\xFF\xD8\xFF\xE0 jpeg",
        b"RIFF\0\0\0\0WEBPVP8 ",
        b"PK\x03\x04charx",
    ] {
        let err = import(input).unwrap_err();
        assert!(
            matches!(err, CardError::NotACard(_) | CardError::BadJson { .. }),
            "{input:?}: {err}"
        );
    }
    assert!(import(b"\xFF\xD8\xFF\xE0").unwrap_err().to_string().contains("JPEG"));
    assert!(matches!(import(b"{\"name\": "), Err(CardError::BadJson { .. })));
    assert!(matches!(import(b"[]"), Err(CardError::NotACard(_))));
}

#[test]
fn size_limits() {
    let mut big_json = b"{\"name\":\"x\",\"description\":\"".to_vec();
    big_json.resize(MAX_JSON_BYTES + 1, b'a');
    assert!(matches!(
        import(&big_json),
        Err(CardError::TooLarge { what: "card JSON", .. })
    ));

    let mut big_png = plain_png();
    big_png.resize(MAX_PNG_BYTES + 1, 0);
    assert!(matches!(import(&big_png), Err(CardError::TooLarge { what: "PNG", .. })));

    // A decompression bomb in a zTXt card chunk stops at the cap.
    let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b'A'; 12 << 20], 1);
    let mut data = b"chara\0\0".to_vec();
    data.extend(bomb);
    let png = with_chunks_before_iend(&plain_png(), &[(*b"zTXt", data)]);
    assert!(matches!(import(&png), Err(CardError::TooLarge { .. })));

    // We refuse to write a card we could not read back.
    let mut huge = Card::new("Huge");
    huge.description = "a".repeat(MAX_JSON_BYTES);
    assert!(matches!(to_png(&huge, None), Err(CardError::TooLarge { .. })));
}

#[test]
fn to_png_rejects_a_broken_image() {
    assert!(matches!(
        to_png(&Card::new("x"), Some(b"GIF89a")),
        Err(CardError::PngMalformed(_))
    ));
    let png = plain_png();
    assert!(to_png(&Card::new("x"), Some(&png[..png.len() - 1])).is_err());
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let i = rng.below(b.len());
        match rng.below(6) {
            0 => b[i] ^= 1 << rng.below(8),
            1 => b[i] = rng.next() as u8,
            2 => b.truncate(i),
            3 => b.insert(i, rng.next() as u8),
            4 => {
                b.remove(i.min(b.len().saturating_sub(1)));
            }
            _ => {
                // Interesting bytes for JSON and base64.
                const SPECIAL: &[u8] = b"{}[]\",:0-9enull\\=+/\0\xFF";
                b[i] = SPECIAL[rng.below(SPECIAL.len())];
            }
        }
        if b.is_empty() {
            break;
        }
    }
    b
}

/// Recomputes every CRC a chunk walk can reach, so mutations get past the CRC check and into the text decoding.
fn fix_crcs(png: &mut [u8]) {
    let mut pos = 8;
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        if len > png.len() - pos - 12 {
            return;
        }
        let crc = crc32fast::hash(&png[pos + 4..pos + 8 + len]);
        png[pos + 8 + len..pos + 12 + len].copy_from_slice(&crc.to_be_bytes());
        pos += 12 + len;
    }
}

fn exercise(input: &[u8], seen: &mut std::collections::BTreeMap<String, usize>) {
    let outcome = match import(input) {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{e:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    *seen.entry(outcome).or_default() += 1;
    if let Ok(got) = import(input) {
        // Whatever was accepted must export again without trouble.
        let _ = to_v2_json(&got.card);
        let _ = to_v3_json(&got.card);
        to_png(&got.card, got.image.as_deref()).expect("re-export of an accepted card");
    }
}

#[test]
fn fuzz_mutations_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let card = rich_card();
    let png = to_png(&card, None).unwrap();
    let v2 = bytes(&to_v2_json(&card));
    let v3 = bytes(&to_v3_json(&card));
    // Small PNG whose text chunks dominate, so most mutations land in the card payload.
    let chunks = walk(&png);
    let texts: Vec<_> = chunks.iter().filter(|(k, _)| k == b"tEXt").cloned().collect();
    let small_png = {
        let base = assemble(&[chunks[0].clone(), (*b"IDAT", vec![]), chunks.last().unwrap().clone()]);
        with_chunks_before_iend(&base, &texts)
    };
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..3000 {
        let seed: &[u8] = match i % 4 {
            0 => &small_png,
            1 => &png,
            2 => &v2,
            _ => &v3,
        };
        let mut m = mutate(&mut rng, seed);
        if i % 4 < 2 && rng.below(2) == 0 {
            fix_crcs(&mut m);
        }
        exercise(&m, &mut seen);
    }
    // The loop must reach past the PNG framing into the payload decoding, and accept some mutants.
    for outcome in [
        "ok",
        "BadBase64",
        "BadJson",
        "PngBadCrc",
        "PngTruncated",
        "PngMalformed",
    ] {
        assert!(seen.contains_key(outcome), "no {outcome} in {seen:?}");
    }
}
