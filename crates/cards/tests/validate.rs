//! validate_v2 / validate_v3 name every missing or mistyped field.

mod common;

use cards::{import, validate_v2, validate_v3};
use common::fixture;
use serde_json::json;

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn missing_required_v2_fields_are_listed() {
    let p = validate_v2(&json!({"spec": "chara_card_v2", "data": {"name": "X", "description": 3}}));
    assert!(has(&p, "spec_version: required"), "{p:#?}");
    assert!(has(&p, "data.description: expected string, found number"));
    for field in [
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
        "creator_notes",
        "system_prompt",
        "post_history_instructions",
        "alternate_greetings",
        "tags",
        "creator",
        "character_version",
        "extensions",
    ] {
        assert!(
            has(&p, &format!("data.{field}: required")),
            "{field} not reported: {p:#?}"
        );
    }
    assert!(!has(&p, "data.name"));
}

#[test]
fn wrong_envelope_is_reported() {
    assert!(has(&validate_v2(&json!([])), "$: expected object"));
    let p = validate_v3(&json!({"spec": "chara_card_v2", "spec_version": "2.0"}));
    assert!(has(&p, "spec: must be \"chara_card_v3\""));
    assert!(has(&p, "spec_version: must be \"3.0\""));
    assert!(has(&p, "data: required object is missing"));
}

#[test]
fn v3_specific_requirements() {
    let mut v = cards::to_v3_json(&common::rich_card());
    let d = v["data"].as_object_mut().unwrap();
    d.remove("group_only_greetings");
    d.insert("creation_date".into(), json!("yesterday"));
    d.insert("source".into(), json!(["ok", 5]));
    d["assets"] = json!([
        {"type": "icon", "uri": "https://a/1.png", "name": "a", "ext": "PNG"},
        {"type": "icon", "uri": "https://a/2.png", "name": "b", "ext": "png"},
        {"type": "background", "uri": "x", "name": "main"}
    ]);
    let entries = d["character_book"]["entries"].as_array_mut().unwrap();
    entries[0].as_object_mut().unwrap().remove("use_regex");
    entries[0]["position"] = json!("top");
    entries[1]["id"] = json!(true);
    let p = validate_v3(&v);
    for want in [
        "data.group_only_greetings: required array of strings is missing",
        "data.creation_date: expected number, found string",
        "data.source[1]: expected string, found number",
        "data.assets[0].ext: must be lower case",
        "data.assets: 2 icons need exactly one named \"main\"",
        "data.assets[2].ext: required string is missing",
        "data.character_book.entries[0].use_regex: required boolean is missing",
        "data.character_book.entries[0].position: must be \"before_char\" or \"after_char\"",
        "data.character_book.entries[1].id: expected number or string, found boolean",
    ] {
        assert!(has(&p, want), "missing {want:?} in {p:#?}");
    }
    // The same value is fine as far as V2 is concerned, apart from the envelope.
    let p2 = validate_v2(&v);
    assert!(!has(&p2, "group_only_greetings") && !has(&p2, "use_regex"), "{p2:#?}");
}

#[test]
fn real_world_exports_break_the_spec_and_validation_says_where() {
    // The SillyTavern-shaped fixture: no lorebook `extensions` (CCv2: "mandatory"), and as V3 a string date.
    let v: serde_json::Value = serde_json::from_slice(&fixture("st_export_shape.v2.json")).unwrap();
    let p = validate_v2(&v);
    assert_eq!(p, ["data.character_book.extensions: required object is missing"]);
    // Import is lenient about both, and the re-export is clean.
    let card = import(&fixture("st_export_shape.v2.json")).unwrap().card;
    assert!(validate_v2(&cards::to_v2_json(&card)).is_empty());
}

#[test]
fn handwritten_v3_fixture_conforms() {
    let v: serde_json::Value = serde_json::from_slice(&fixture("handwritten.v3.json")).unwrap();
    assert_eq!(validate_v3(&v), Vec::<String>::new());
}
