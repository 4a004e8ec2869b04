//! Importing fixtures and the PNG variants found in the wild.

mod common;

use cards::{Card, CardError, EntryId, Format, V2_BACKFILL_NOTE, import, to_png, to_v2_json, to_v3_json};
use common::{b64, bytes, fixture, plain_png, rich_card, text, walk, with_chunks_before_iend};
use serde_json::json;

#[test]
fn sillytavern_shaped_export_imports() {
    let got = import(&fixture("st_export_shape.v2.json")).unwrap();
    assert_eq!(got.format, Format::V2);
    let c = &got.card;
    assert_eq!(c.name, "Wren");
    assert!(c.description.contains("\r\n<START>\r\n"), "CRLF kept as is");
    assert_eq!(c.creator, "dramatis-tests");
    // V3 fields inside a V2 card are read, not lost.
    assert_eq!(c.nickname.as_deref(), Some(""));
    assert_eq!(c.source, Some(vec![]));
    assert_eq!(c.assets, Some(vec![]));
    assert_eq!(c.creator_notes_multilingual, Some(Default::default()));
    assert_eq!(c.modification_date, Some(1_748_240_674));
    // The string date is dropped with a warning instead of refusing the card.
    assert_eq!(c.creation_date, None);
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(got.warnings[0].starts_with("data.creation_date: expected number, found string"));
    let book = c.character_book.as_ref().unwrap();
    assert_eq!(book.name.as_deref(), Some("Archive"));
    assert!(book.extensions.is_empty(), "missing extensions default to {{}}");
    assert_eq!(book.entries.len(), 2);
    let e = &book.entries[1];
    assert_eq!(e.keys, ["catalogue"]);
    assert_eq!(e.id, Some(EntryId::Number(1)));
    assert_eq!(e.position.as_deref(), Some("after_char"));
    assert_eq!(e.secondary_keys, Some(vec![]));
    assert_eq!(e.extensions["position"], 1);
    assert!(e.extensions["probability"].is_null());
    assert_eq!(c.extensions["world"], "Archive");
}

#[test]
fn handwritten_v3_imports_every_field() {
    let got = import(&fixture("handwritten.v3.json")).unwrap();
    assert_eq!(got.format, Format::V3);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let c = got.card;
    assert_eq!(c.name, "Captain Ahab");
    assert_eq!(c.nickname.as_deref(), Some("Ahab"));
    assert_eq!(c.group_only_greetings, ["\"All hands aft!\""]);
    assert_eq!(
        c.creator_notes_multilingual.as_ref().unwrap()["fr"],
        "Tiré de Moby-Dick (1851, domaine public)."
    );
    assert_eq!(
        c.source.as_deref(),
        Some(&["https://www.gutenberg.org/ebooks/2701".to_owned()][..])
    );
    assert_eq!(
        (c.creation_date, c.modification_date),
        (Some(1_700_000_000), Some(1_700_000_100))
    );
    let assets = c.assets.as_ref().unwrap();
    assert_eq!(assets.len(), 3);
    assert_eq!(
        (assets[0].kind.as_str(), assets[0].uri.as_str()),
        ("icon", "ccdefault:")
    );
    assert_eq!(assets[2].extra["x_note"], "unknown asset field");
    let book = c.character_book.as_ref().unwrap();
    assert_eq!(
        (book.scan_depth, book.token_budget, book.recursive_scanning),
        (Some(4), Some(512), Some(false))
    );
    assert_eq!(book.extra["x_book_future"], true);
    let [starbuck, whale] = &book.entries[..] else {
        panic!("two entries")
    };
    assert_eq!(starbuck.case_sensitive, Some(true));
    assert_eq!(starbuck.selective, Some(true));
    assert_eq!(starbuck.priority, Some(5));
    assert!(whale.use_regex);
    assert_eq!(whale.id, Some(EntryId::Text("whale".into())));
    assert_eq!(whale.extra["x_future_field"], json!([1, 2, 3]));
    assert_eq!(c.extra["x_future_data_field"], json!({"kept": true}));
    assert_eq!(c.extensions["dramatis"]["book_id"], 2701);
}

#[test]
fn v1_card_imports_and_drops_app_state_with_a_warning() {
    let got = import(&fixture("tavern.v1.json")).unwrap();
    assert_eq!(got.format, Format::V1);
    assert_eq!(got.card.name, "Ishmael");
    assert_eq!(got.card.first_mes, "Call me Ishmael.");
    assert_eq!(got.card.scenario, "A cold night at the Spouter-Inn.");
    assert!(got.card.extra.is_empty());
    assert_eq!(
        got.warnings,
        ["ignored V1 fields the spec does not define: avatar, chat, fav, talkativeness"]
    );
    // It re-exports as a proper V2 card.
    assert!(cards::validate_v2(&to_v2_json(&got.card)).is_empty());
}

#[test]
fn pygmalion_style_v1_field_names_are_understood() {
    let v = json!({"char_name": "Queequeg", "char_persona": "A harpooneer.", "world_scenario": "The inn.",
                   "char_greeting": "*He nods.*", "example_dialogue": "<START>"});
    let c = import(&bytes(&v)).unwrap().card;
    assert_eq!(
        (
            c.name.as_str(),
            c.description.as_str(),
            c.scenario.as_str(),
            c.first_mes.as_str(),
            c.mes_example.as_str()
        ),
        ("Queequeg", "A harpooneer.", "The inn.", "*He nods.*", "<START>")
    );
}

#[test]
fn missing_or_blank_name_is_an_error() {
    for v in [
        json!({"description": "nameless", "first_mes": "hi", "name": null}),
        json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"description": "x"}}),
        json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "   "}}),
    ] {
        let err = import(&bytes(&v)).unwrap_err();
        assert!(
            matches!(err, CardError::MissingName(_) | CardError::NotACard(_)),
            "{v}: {err}"
        );
    }
    let err = import(&bytes(&json!({"spec": "chara_card_v2", "data": {"name": ""}}))).unwrap_err();
    assert_eq!(err.to_string(), "the card has no name (data.name is missing or empty)");
}

#[test]
fn versions_and_envelopes_are_detected_by_content() {
    let newer = json!({"spec": "chara_card_v3", "spec_version": "3.1", "data": {"name": "N", "x_new": 1}});
    let got = import(&bytes(&newer)).unwrap();
    assert_eq!(got.format, Format::V3);
    assert!(got.warnings[0].contains("newer than 3.0"), "{:?}", got.warnings);
    assert_eq!(got.card.extra["x_new"], 1);

    // No spec, but nested data: read as V2.
    let got = import(&bytes(&json!({"data": {"name": "D"}}))).unwrap();
    assert_eq!((got.format, got.card.name.as_str()), (Format::V2, "D"));

    // BOM and leading whitespace are fine.
    let mut b = b"\xEF\xBB\xBF \n".to_vec();
    b.extend(bytes(&to_v3_json(&Card::new("Bom"))));
    assert_eq!(import(&b).unwrap().card.name, "Bom");

    // A lorebook on its own is not a card.
    let err = import(&bytes(&json!({"spec": "lorebook_v3", "data": {"entries": []}}))).unwrap_err();
    assert!(err.to_string().contains("unknown spec \"lorebook_v3\""), "{err}");
}

#[test]
fn png_we_write_is_well_formed() {
    let png = to_png(&rich_card(), None).unwrap();
    let chunks = walk(&png);
    let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| &k[..]).collect();
    assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"tEXt", b"tEXt", b"IEND"]);
    let ihdr = &chunks[0].1;
    assert_eq!(u32::from_be_bytes(ihdr[0..4].try_into().unwrap()), cards::AVATAR_SIZE);
    assert_eq!(u32::from_be_bytes(ihdr[4..8].try_into().unwrap()), cards::AVATAR_SIZE);
    // The pixels decompress to exactly height * (1 + 3 * width) bytes.
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&chunks[1].1).unwrap();
    assert_eq!(raw.len(), 256 * (1 + 3 * 256));
    assert!(chunks[2].1.starts_with(b"chara\0") && chunks[3].1.starts_with(b"ccv3\0"));
}

#[test]
fn given_image_keeps_its_chunks_and_loses_stale_card_chunks() {
    let stale = to_png(&Card::new("Old name"), None).unwrap();
    let with_meta = with_chunks_before_iend(
        &stale,
        &[
            text("Comment", "drawn by hand"),
            (*b"tIME", vec![7, 232, 1, 1, 0, 0, 0]),
        ],
    );
    let png = to_png(&Card::new("New name"), Some(&with_meta)).unwrap();
    let chunks = walk(&png);
    let texts: Vec<String> = chunks
        .iter()
        .filter(|(k, _)| k == b"tEXt")
        .map(|(_, d)| String::from_utf8_lossy(&d[..d.iter().position(|&b| b == 0).unwrap()]).into_owned())
        .collect();
    assert_eq!(texts, ["Comment", "chara", "ccv3"], "one fresh copy of each card chunk");
    assert!(chunks.iter().any(|(k, _)| k == b"tIME"));
    assert_eq!(import(&png).unwrap().card.name, "New name");
}

#[test]
fn ccv3_wins_over_chara() {
    let v2 = b64(&to_v2_json(&Card::new("From chara")).to_string());
    let v3 = b64(&to_v3_json(&Card::new("From ccv3")).to_string());
    // ccv3 placed first and last: order in the file does not matter.
    for order in [[("chara", &v2), ("ccv3", &v3)], [("ccv3", &v3), ("chara", &v2)]] {
        let png = with_chunks_before_iend(&plain_png(), &order.map(|(k, t)| text(k, t)));
        let got = import(&png).unwrap();
        assert_eq!((got.card.name.as_str(), got.format), ("From ccv3", Format::V3));
    }
}

#[test]
fn chara_only_png_reads_as_v2_without_the_backfill_note() {
    let card = rich_card();
    let ours = to_png(&card, None).unwrap();
    let without_ccv3: Vec<_> = walk(&ours)
        .into_iter()
        .filter(|(k, d)| !(k == b"tEXt" && d.starts_with(b"ccv3\0")))
        .collect();
    let got = import(&common::assemble(&without_ccv3)).unwrap();
    assert_eq!(got.format, Format::V2);
    assert_eq!(
        got.card.creator_notes, card.creator_notes,
        "the CCv3 backfill warning is trimmed"
    );
    assert_eq!(got.card.description, card.description);

    // Another tool's V2 chunk that merely mentions the note elsewhere keeps it.
    let mut c = Card::new("Quoting");
    c.creator_notes = format!("Note: {V2_BACKFILL_NOTE}");
    let png = with_chunks_before_iend(&plain_png(), &[text("chara", &b64(&to_v2_json(&c).to_string()))]);
    assert_eq!(import(&png).unwrap().card.creator_notes, c.creator_notes);
}

#[test]
fn broken_ccv3_falls_back_to_chara_with_a_warning() {
    let v2 = b64(&to_v2_json(&Card::new("Backup")).to_string());
    let png = with_chunks_before_iend(&plain_png(), &[text("ccv3", "%%% not base64 %%%"), text("chara", &v2)]);
    let got = import(&png).unwrap();
    assert_eq!(got.card.name, "Backup");
    assert!(
        got.warnings[0].starts_with("the ccv3 chunk is unusable"),
        "{:?}",
        got.warnings
    );
}

#[test]
fn ztxt_itxt_raw_json_and_keyword_case_variants_are_read() {
    let json = to_v2_json(&Card::new("Variant")).to_string();
    let z = miniz_oxide::deflate::compress_to_vec_zlib(b64(&json).as_bytes(), 6);
    let mut ztxt = b"chara\0\0".to_vec();
    ztxt.extend(z);
    let mut itxt = b"ccv3\0\0\0\0\0".to_vec();
    itxt.extend(b64(&to_v3_json(&Card::new("Ïtxt")).to_string()).as_bytes());
    // Wrapped base64 without padding, under the V1 spelling "Chara".
    let mut wrapped = b64(&json).trim_end_matches('=').to_owned();
    wrapped.insert_str(10, "\r\n");
    for (chunk, want) in [
        ((*b"zTXt", ztxt), "Variant"),
        ((*b"iTXt", itxt), "Ïtxt"),
        (text("chara", &json), "Variant"),
        (text("Chara", &wrapped), "Variant"),
    ] {
        let png = with_chunks_before_iend(&plain_png(), &[chunk]);
        assert_eq!(import(&png).unwrap().card.name, want);
    }
}

#[test]
fn unrelated_broken_text_chunks_do_not_matter() {
    // A zTXt "Comment" that does not inflate is not ours to judge.
    let png = with_chunks_before_iend(
        &to_png(&Card::new("Fine"), None).unwrap(),
        &[
            (*b"zTXt", b"Comment\0\0not zlib".to_vec()),
            (*b"tEXt", b"no nul at all".to_vec()),
        ],
    );
    assert_eq!(import(&png).unwrap().card.name, "Fine");
}
