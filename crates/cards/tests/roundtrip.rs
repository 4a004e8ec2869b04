//! Export -> import -> export is lossless and byte-identical, for V2 JSON, V3 JSON and PNG.

mod common;

use cards::{Card, Format, import, to_png, to_v2_json, to_v3_json, validate_v2, validate_v3};
use common::{bytes, fixture, rich_card, walk};

fn sample_cards() -> Vec<Card> {
    let mut cards = vec![rich_card(), Card::new("Minimal")];
    for f in ["st_export_shape.v2.json", "handwritten.v3.json", "tavern.v1.json"] {
        cards.push(import(&fixture(f)).unwrap().card);
    }
    cards
}

#[test]
fn v2_json_round_trip_is_byte_identical() {
    for card in sample_cards() {
        let first = bytes(&to_v2_json(&card));
        let back = import(&first).unwrap();
        assert_eq!(back.format, Format::V2);
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(bytes(&to_v2_json(&back.card)), first, "{}", card.name);
    }
}

#[test]
fn v3_json_round_trip_is_byte_identical_and_lossless() {
    for card in sample_cards() {
        let first = bytes(&to_v3_json(&card));
        let back = import(&first).unwrap();
        assert_eq!(back.format, Format::V3);
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(back.card, card, "V3 carries every field of the profile");
        assert_eq!(bytes(&to_v3_json(&back.card)), first);
    }
}

#[test]
fn png_round_trip_is_lossless_and_deterministic() {
    for card in sample_cards() {
        let png = to_png(&card, None).unwrap();
        let back = import(&png).unwrap();
        assert_eq!(back.format, Format::V3, "ccv3 is preferred over chara");
        assert_eq!(back.card, card);
        assert_eq!(bytes(&to_v3_json(&back.card)), bytes(&to_v3_json(&card)));
        assert_eq!(bytes(&to_v2_json(&back.card)), bytes(&to_v2_json(&card)));
        // The returned image is the picture alone; writing the card back into it gives the same file.
        let image = back.image.expect("a PNG card returns its image");
        assert!(walk(&image).iter().all(|(k, _)| k != b"tEXt"));
        assert_eq!(to_png(&back.card, Some(&image)).unwrap(), png);
    }
}

#[test]
fn unknown_fields_and_extensions_survive_v2_and_v3() {
    let card = rich_card();
    for v in [to_v2_json(&card), to_v3_json(&card)] {
        let d = &v["data"];
        assert_eq!(d["x_unknown_data"]["nested"][1], "two");
        assert_eq!(d["extensions"]["dramatis"]["book"], 1342);
        assert_eq!(d["character_book"]["x_unknown_book"], 1);
        assert_eq!(d["character_book"]["extensions"]["dramatis/chapters"][1], 3);
        assert_eq!(d["character_book"]["entries"][0]["x_unknown_entry"], "kept");
        assert!(d["character_book"]["entries"][0]["extensions"]["probability"].is_null());
    }
    let v3 = to_v3_json(&card);
    assert_eq!(v3["data"]["assets"][1]["x_unknown_asset"], true);
}

#[test]
fn lorebook_entries_survive_every_format() {
    let card = rich_card();
    let want = card.character_book.clone().unwrap();
    let via_v3 = import(&bytes(&to_v3_json(&card))).unwrap().card.character_book.unwrap();
    assert_eq!(via_v3, want);
    let via_png = import(&to_png(&card, None).unwrap())
        .unwrap()
        .card
        .character_book
        .unwrap();
    assert_eq!(via_png, want);
    // V2 has no use_regex; everything else comes back.
    let mut via_v2 = import(&bytes(&to_v2_json(&card))).unwrap().card.character_book.unwrap();
    assert!(!via_v2.entries[1].use_regex);
    via_v2.entries[1].use_regex = true;
    assert_eq!(via_v2, want);
}

#[test]
fn v2_export_leaves_out_v3_only_fields() {
    let v2 = to_v2_json(&rich_card());
    let d = v2["data"].as_object().unwrap();
    for k in [
        "nickname",
        "group_only_greetings",
        "source",
        "creation_date",
        "modification_date",
        "assets",
        "creator_notes_multilingual",
    ] {
        assert!(!d.contains_key(k), "{k} is not a V2 field");
    }
    assert!(d["character_book"]["entries"][0].get("use_regex").is_none());
    assert_eq!(v2["spec"], "chara_card_v2");
    assert_eq!(v2["spec_version"], "2.0");
}

#[test]
fn v3_export_writes_required_fields_even_when_empty() {
    let v3 = to_v3_json(&Card::new("Minimal"));
    assert_eq!(v3["spec"], "chara_card_v3");
    assert_eq!(v3["spec_version"], "3.0");
    let d = &v3["data"];
    assert_eq!(d["group_only_greetings"], serde_json::json!([]));
    assert_eq!(d["extensions"], serde_json::json!({}));
    assert_eq!(d["system_prompt"], "");
    // Optional fields stay absent rather than becoming null: absent assets means "default icon".
    assert!(d.get("assets").is_none() && d.get("nickname").is_none() && d.get("character_book").is_none());
}

#[test]
fn our_exports_validate_cleanly() {
    for card in sample_cards() {
        assert_eq!(validate_v2(&to_v2_json(&card)), Vec::<String>::new(), "{}", card.name);
        assert_eq!(validate_v3(&to_v3_json(&card)), Vec::<String>::new(), "{}", card.name);
    }
    // ... and the chunks inside our PNG too, backfill note and all.
    let png = to_png(&rich_card(), None).unwrap();
    for (kind, data) in walk(&png) {
        if &kind != b"tEXt" {
            continue;
        }
        let nul = data.iter().position(|&b| b == 0).unwrap();
        use base64::Engine as _;
        let json = base64::engine::general_purpose::STANDARD
            .decode(&data[nul + 1..])
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        match &data[..nul] {
            b"chara" => assert!(validate_v2(&v).is_empty()),
            b"ccv3" => assert!(validate_v3(&v).is_empty()),
            other => panic!("unexpected text chunk {other:?}"),
        }
    }
}
