//! Card JSON <-> [`Card`]: reading V1/V2/V3 objects and writing V2/V3 ones.
//!
//! Reading works on a parsed [`serde_json::Value`] by hand rather than through
//! `#[derive(Deserialize)]`, for two reasons: every error carries the JSON path of the
//! bad field (`data.character_book.entries[3].keys[0]`), and the leniency rules below
//! need field-by-field decisions a derive cannot express.
//!
//! Leniency, in one place:
//! - A *required* field (no `?` in the spec's TypeScript) that is absent or `null` takes
//!   its default (`""`, `[]`, `{}`); CCv1 already says fields "MUST default to the empty
//!   string". With the wrong type it is an error: guessing at prompt text is worse than
//!   refusing the card.
//! - An *optional* field (`?` in the spec) with the wrong type is dropped with a warning:
//!   CCv2 allows optional properties "to be unsupported by editors and disregarded by
//!   frontends", and real cards do this (SillyTavern's own Seraphina card has
//!   `"creation_date": "2023-5-12 @21h 32m 29s 228ms"`). The lorebook itself is the
//!   exception: dropping a whole `character_book` silently changes what the character
//!   knows, so a non-object there is an error.
//! - Numbers the specs type as `number` are stored as `i64`; a fractional value is
//!   truncated toward zero.
//!
//! Writing produces a `Value` whose object keys serde_json keeps sorted, so serialising
//! the same card twice gives identical bytes.

use serde_json::{Map, Value};

use crate::CardError;
use crate::model::{Asset, BookEntry, Card, CharacterBook, EntryId};

/// `spec` of a CCv2 card.
pub const SPEC_V2: &str = "chara_card_v2";
/// `spec` of a CCv3 card.
pub const SPEC_V3: &str = "chara_card_v3";

/// Every key of `data` that one of the specs names (V2 and V3 together). Anything else goes to [`Card::extra`].
const DATA_KEYS: &[&str] = &[
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "character_book",
    "tags",
    "creator",
    "character_version",
    "extensions",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "group_only_greetings",
    "creation_date",
    "modification_date",
    "assets",
];
const BOOK_KEYS: &[&str] = &[
    "name",
    "description",
    "scan_depth",
    "token_budget",
    "recursive_scanning",
    "extensions",
    "entries",
];
const ENTRY_KEYS: &[&str] = &[
    "keys",
    "content",
    "extensions",
    "enabled",
    "insertion_order",
    "case_sensitive",
    "use_regex",
    "constant",
    "name",
    "priority",
    "id",
    "comment",
    "selective",
    "secondary_keys",
    "position",
];
const ASSET_KEYS: &[&str] = &["type", "uri", "name", "ext"];
/// The six CCv1 fields, then the older Pygmalion/TavernAI spellings still found in the wild.
const V1_KEYS: &[(&str, &str)] = &[
    ("name", "char_name"),
    ("description", "char_persona"),
    ("personality", "personality"),
    ("scenario", "world_scenario"),
    ("first_mes", "char_greeting"),
    ("mes_example", "example_dialogue"),
];

/// Which spec a card was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Flat `{name, description, personality, scenario, first_mes, mes_example}` (no `spec`).
    V1,
    /// `spec: "chara_card_v2"`.
    V2,
    /// `spec: "chara_card_v3"`.
    V3,
}

/// Reads a card from a parsed JSON value, detecting the version by content.
pub(crate) fn card_from_value(v: &Value, warnings: &mut Vec<String>) -> Result<(Card, Format), CardError> {
    let Value::Object(top) = v else {
        return Err(CardError::NotACard(format!(
            "the JSON is {} rather than an object",
            type_name(v)
        )));
    };
    let mut r = Reader { warnings };
    let spec = match top.get("spec") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(wrong("spec", "string", other)),
    };
    let data = match top.get("data") {
        Some(Value::Object(d)) => Some(d),
        None | Some(Value::Null) => None,
        Some(other) => return Err(wrong("data", "object", other)),
    };
    let format = match (spec, data) {
        (Some(SPEC_V3), Some(_)) => Format::V3,
        (Some(SPEC_V2), Some(_)) => Format::V2,
        // SillyTavern mirrors the V1 fields at the top level of V2 cards; if `data` got lost, those still work.
        (Some(SPEC_V2 | SPEC_V3), None) if top.contains_key("name") => {
            r.warn(format!(
                "spec is {:?} but there is no data object; read the top-level V1 fields",
                spec.unwrap_or("")
            ));
            return Ok((r.v1(top)?, Format::V1));
        }
        (Some(SPEC_V2 | SPEC_V3), None) => return Err(CardError::NotACard("spec is set but data is missing".into())),
        (Some(other), _) => {
            return Err(CardError::NotACard(format!(
                "unknown spec {other:?} (want chara_card_v2 or chara_card_v3)"
            )));
        }
        // No spec: some exporters forget it but still nest under `data`.
        (None, Some(d)) if d.contains_key("name") => {
            r.warn("no spec field; read data as a V2 card".into());
            Format::V2
        }
        (None, _) if top.contains_key("name") || top.contains_key("char_name") => {
            return Ok((r.v1(top)?, Format::V1));
        }
        (None, _) => return Err(CardError::NotACard("no spec, no data and no name field".into())),
    };
    r.check_spec_version(top.get("spec_version"), format);
    let card = r.data(data.unwrap_or(&Map::new()))?;
    Ok((card, format))
}

/// Field-by-field reader that records the path of every problem.
struct Reader<'w> {
    warnings: &'w mut Vec<String>,
}

impl Reader<'_> {
    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    fn check_spec_version(&mut self, v: Option<&Value>, format: Format) {
        let want = if format == Format::V3 { "3.0" } else { "2.0" };
        match v.and_then(Value::as_str) {
            Some(s) if s == want => {}
            // CCv3: compare as a float; newer versions SHOULD still import, with an alert.
            Some(s) => match s.trim().parse::<f64>() {
                Ok(f) if f > want.parse::<f64>().unwrap_or(0.0) => self.warn(format!(
                    "spec_version {s:?} is newer than {want}; fields added since are kept as unknown fields"
                )),
                _ => self.warn(format!("spec_version is {s:?}, expected {want:?}")),
            },
            None => self.warn(format!("spec_version is missing or not a string, expected {want:?}")),
        }
    }

    fn v1(&mut self, top: &Map<String, Value>) -> Result<Card, CardError> {
        let mut fields: [String; 6] = Default::default();
        for (slot, (key, alias)) in fields.iter_mut().zip(V1_KEYS) {
            let k = if top.get(*key).is_some_and(|v| !v.is_null()) {
                key
            } else {
                alias
            };
            *slot = req_string(top, k, "")?;
        }
        let [name, description, personality, scenario, first_mes, mes_example] = fields;
        if name.trim().is_empty() {
            return Err(CardError::MissingName("name"));
        }
        let ignored: Vec<&str> = top
            .keys()
            .map(String::as_str)
            .filter(|k| !V1_KEYS.iter().any(|(a, b)| a == k || b == k))
            .collect();
        if !ignored.is_empty() {
            // V1 has no extension mechanism; these are app state (avatar, chat, fav...) rather than character data.
            self.warn(format!(
                "ignored V1 fields the spec does not define: {}",
                ignored.join(", ")
            ));
        }
        Ok(Card {
            name,
            description,
            personality,
            scenario,
            first_mes,
            mes_example,
            ..Card::default()
        })
    }

    fn data(&mut self, d: &Map<String, Value>) -> Result<Card, CardError> {
        const P: &str = "data";
        let name = req_string(d, "name", P)?;
        if name.trim().is_empty() {
            return Err(CardError::MissingName("data.name"));
        }
        let character_book = match d.get("character_book") {
            None | Some(Value::Null) => None,
            Some(Value::Object(b)) => Some(self.book(b, "data.character_book")?),
            Some(other) => return Err(wrong("data.character_book", "object", other)),
        };
        Ok(Card {
            name,
            description: req_string(d, "description", P)?,
            personality: req_string(d, "personality", P)?,
            scenario: req_string(d, "scenario", P)?,
            first_mes: req_string(d, "first_mes", P)?,
            mes_example: req_string(d, "mes_example", P)?,
            creator_notes: req_string(d, "creator_notes", P)?,
            system_prompt: req_string(d, "system_prompt", P)?,
            post_history_instructions: req_string(d, "post_history_instructions", P)?,
            alternate_greetings: req_strings(d, "alternate_greetings", P)?,
            group_only_greetings: req_strings(d, "group_only_greetings", P)?,
            tags: req_strings(d, "tags", P)?,
            creator: req_string(d, "creator", P)?,
            character_version: req_string(d, "character_version", P)?,
            nickname: self.opt_string(d, "nickname", P),
            creator_notes_multilingual: self.multilingual(d),
            source: self.opt_strings(d, "source", P),
            creation_date: self.opt_int(d, "creation_date", P),
            modification_date: self.opt_int(d, "modification_date", P),
            character_book,
            assets: self.assets(d),
            extensions: req_object(d, "extensions", P)?,
            extra: unknown(d, DATA_KEYS),
        })
    }

    fn book(&mut self, b: &Map<String, Value>, p: &str) -> Result<CharacterBook, CardError> {
        let entries = match b.get("entries") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ep = format!("{p}.entries[{i}]");
                    match item {
                        Value::Object(e) => out.push(self.entry(e, &ep)?),
                        other => return Err(wrong(&ep, "object", other)),
                    }
                }
                out
            }
            Some(other) => return Err(wrong(&join(p, "entries"), "array", other)),
        };
        Ok(CharacterBook {
            name: self.opt_string(b, "name", p),
            description: self.opt_string(b, "description", p),
            scan_depth: self.opt_int(b, "scan_depth", p),
            token_budget: self.opt_int(b, "token_budget", p),
            recursive_scanning: self.opt_bool(b, "recursive_scanning", p),
            extensions: req_object(b, "extensions", p)?,
            entries,
            extra: unknown(b, BOOK_KEYS),
        })
    }

    fn entry(&mut self, e: &Map<String, Value>, p: &str) -> Result<BookEntry, CardError> {
        let defaults = BookEntry::default();
        let id = match e.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(EntryId::Number(number_to_i64(n))),
            Some(Value::String(s)) => Some(EntryId::Text(s.clone())),
            Some(other) => {
                self.warn(format!(
                    "{}: expected number or string, found {}; dropped",
                    join(p, "id"),
                    type_name(other)
                ));
                None
            }
        };
        Ok(BookEntry {
            keys: req_strings(e, "keys", p)?,
            content: req_string(e, "content", p)?,
            extensions: req_object(e, "extensions", p)?,
            enabled: req_bool(e, "enabled", p, defaults.enabled)?,
            insertion_order: req_int(e, "insertion_order", p, defaults.insertion_order)?,
            case_sensitive: self.opt_bool(e, "case_sensitive", p),
            use_regex: req_bool(e, "use_regex", p, false)?,
            constant: self.opt_bool(e, "constant", p),
            name: self.opt_string(e, "name", p),
            priority: self.opt_int(e, "priority", p),
            id,
            comment: self.opt_string(e, "comment", p),
            selective: self.opt_bool(e, "selective", p),
            secondary_keys: self.opt_strings(e, "secondary_keys", p),
            position: self.opt_string(e, "position", p),
            extra: unknown(e, ENTRY_KEYS),
        })
    }

    fn multilingual(&mut self, d: &Map<String, Value>) -> Option<std::collections::BTreeMap<String, String>> {
        let m = self.opt_object(d, "creator_notes_multilingual", "data")?;
        let mut out = std::collections::BTreeMap::new();
        for (lang, v) in m {
            match v {
                Value::String(s) => {
                    out.insert(lang.clone(), s.clone());
                }
                other => self.warn(format!(
                    "data.creator_notes_multilingual.{lang}: expected string, found {}; dropped",
                    type_name(other)
                )),
            }
        }
        Some(out)
    }

    fn assets(&mut self, d: &Map<String, Value>) -> Option<Vec<Asset>> {
        let items = match d.get("assets") {
            None | Some(Value::Null) => return None,
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.warn(format!(
                    "data.assets: expected array, found {}; dropped",
                    type_name(other)
                ));
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let p = format!("data.assets[{i}]");
            let Value::Object(a) = item else {
                self.warn(format!("{p}: expected object, found {}; dropped", type_name(item)));
                continue;
            };
            let mut field = |key: &str| self.opt_string(a, key, &p).unwrap_or_default();
            out.push(Asset {
                kind: field("type"),
                uri: field("uri"),
                name: field("name"),
                ext: field("ext"),
                extra: unknown(a, ASSET_KEYS),
            });
        }
        Some(out)
    }

    fn dropped(&mut self, p: &str, key: &str, expected: &str, v: &Value) {
        self.warn(format!(
            "{}: expected {expected}, found {}; dropped",
            join(p, key),
            type_name(v)
        ));
    }

    fn opt_string(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Option<String> {
        match m.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => {
                self.dropped(p, key, "string", other);
                None
            }
        }
    }

    fn opt_strings(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Option<Vec<String>> {
        match m.get(key)? {
            Value::Null => None,
            v => match strings(v, &join(p, key)) {
                Ok(s) => Some(s),
                Err(_) => {
                    self.dropped(p, key, "array of strings", v);
                    None
                }
            },
        }
    }

    fn opt_int(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Option<i64> {
        match m.get(key)? {
            Value::Number(n) => Some(number_to_i64(n)),
            Value::Null => None,
            other => {
                self.dropped(p, key, "number", other);
                None
            }
        }
    }

    fn opt_bool(&mut self, m: &Map<String, Value>, key: &str, p: &str) -> Option<bool> {
        match m.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            other => {
                self.dropped(p, key, "boolean", other);
                None
            }
        }
    }

    fn opt_object<'m>(&mut self, m: &'m Map<String, Value>, key: &str, p: &str) -> Option<&'m Map<String, Value>> {
        match m.get(key)? {
            Value::Object(o) => Some(o),
            Value::Null => None,
            other => {
                self.dropped(p, key, "object", other);
                None
            }
        }
    }
}

fn req_string(m: &Map<String, Value>, key: &str, p: &str) -> Result<String, CardError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong(&join(p, key), "string", other)),
    }
}

fn req_strings(m: &Map<String, Value>, key: &str, p: &str) -> Result<Vec<String>, CardError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => strings(v, &join(p, key)),
    }
}

fn strings(v: &Value, path: &str) -> Result<Vec<String>, CardError> {
    let Value::Array(items) = v else {
        return Err(wrong(path, "array of strings", v));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong(&format!("{path}[{i}]"), "string", other)),
        })
        .collect()
}

fn req_object(m: &Map<String, Value>, key: &str, p: &str) -> Result<Map<String, Value>, CardError> {
    match m.get(key) {
        // CCv2: "`extensions` is mandatory and must default to `{}`".
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(other) => Err(wrong(&join(p, key), "object", other)),
    }
}

fn req_bool(m: &Map<String, Value>, key: &str, p: &str, default: bool) -> Result<bool, CardError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong(&join(p, key), "boolean", other)),
    }
}

fn req_int(m: &Map<String, Value>, key: &str, p: &str, default: i64) -> Result<i64, CardError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => Ok(number_to_i64(n)),
        Some(other) => Err(wrong(&join(p, key), "number", other)),
    }
}

/// Integers as they are; huge ones saturate; fractions truncate toward zero (`as` saturates too).
fn number_to_i64(n: &serde_json::Number) -> i64 {
    if let Some(i) = n.as_i64() {
        i
    } else if n.as_u64().is_some() {
        i64::MAX
    } else {
        n.as_f64().map_or(0, |f| f as i64)
    }
}

fn unknown(m: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn join(p: &str, key: &str) -> String {
    if p.is_empty() {
        key.to_owned()
    } else {
        format!("{p}.{key}")
    }
}

fn wrong(path: &str, expected: &'static str, found: &Value) -> CardError {
    CardError::WrongType {
        path: path.to_owned(),
        expected,
        found: type_name(found),
    }
}

/// JSON type names as the error messages say them.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// The card as a CCv2 object (`spec_v2.md`): every required field present, optional ones only when set.
///
/// CCv3-only fields (`nickname`, `group_only_greetings`, `source`, dates, `assets`,
/// `creator_notes_multilingual`, entries' `use_regex`) are not part of V2 and are left
/// out; [`to_v3_json`] carries them.
pub fn to_v2_json(card: &Card) -> Value {
    envelope(SPEC_V2, "2.0", common_data(card, false))
}

/// The card as a CCv3 object (`SPEC_V3.md`).
///
/// The V2 fields that CCv3's prose calls "removed" (`system_prompt`, `first_mes`, ...)
/// are still written: the spec's own TypeScript interface lists them as required, and
/// every V3 reader in practice expects them.
pub fn to_v3_json(card: &Card) -> Value {
    let mut data = common_data(card, true);
    data.insert("group_only_greetings".into(), strings_value(&card.group_only_greetings));
    if let Some(n) = &card.nickname {
        data.insert("nickname".into(), Value::String(n.clone()));
    }
    if let Some(m) = &card.creator_notes_multilingual {
        let m: Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        data.insert("creator_notes_multilingual".into(), Value::Object(m));
    }
    if let Some(s) = &card.source {
        data.insert("source".into(), strings_value(s));
    }
    if let Some(t) = card.creation_date {
        data.insert("creation_date".into(), t.into());
    }
    if let Some(t) = card.modification_date {
        data.insert("modification_date".into(), t.into());
    }
    if let Some(assets) = &card.assets {
        let list = assets
            .iter()
            .map(|a| {
                let mut o = unknown(&a.extra, ASSET_KEYS);
                o.insert("type".into(), Value::String(a.kind.clone()));
                o.insert("uri".into(), Value::String(a.uri.clone()));
                o.insert("name".into(), Value::String(a.name.clone()));
                o.insert("ext".into(), Value::String(a.ext.clone()));
                Value::Object(o)
            })
            .collect();
        data.insert("assets".into(), Value::Array(list));
    }
    envelope(SPEC_V3, "3.0", data)
}

fn envelope(spec: &str, version: &str, data: Map<String, Value>) -> Value {
    let mut top = Map::new();
    top.insert("spec".into(), Value::String(spec.into()));
    top.insert("spec_version".into(), Value::String(version.into()));
    top.insert("data".into(), Value::Object(data));
    Value::Object(top)
}

/// The fields V2 and V3 share. `extra` goes in first, minus any key a spec names, so a
/// stray `extra["name"]` can never shadow or duplicate a real field.
fn common_data(card: &Card, v3: bool) -> Map<String, Value> {
    let mut d = unknown(&card.extra, DATA_KEYS);
    let text = [
        ("name", &card.name),
        ("description", &card.description),
        ("personality", &card.personality),
        ("scenario", &card.scenario),
        ("first_mes", &card.first_mes),
        ("mes_example", &card.mes_example),
        ("creator_notes", &card.creator_notes),
        ("system_prompt", &card.system_prompt),
        ("post_history_instructions", &card.post_history_instructions),
        ("creator", &card.creator),
        ("character_version", &card.character_version),
    ];
    for (k, v) in text {
        d.insert(k.into(), Value::String(v.clone()));
    }
    d.insert("alternate_greetings".into(), strings_value(&card.alternate_greetings));
    d.insert("tags".into(), strings_value(&card.tags));
    d.insert("extensions".into(), Value::Object(card.extensions.clone()));
    if let Some(book) = &card.character_book {
        d.insert("character_book".into(), book_value(book, v3));
    }
    d
}

fn book_value(b: &CharacterBook, v3: bool) -> Value {
    let mut o = unknown(&b.extra, BOOK_KEYS);
    opt_insert(&mut o, "name", b.name.clone().map(Value::String));
    opt_insert(&mut o, "description", b.description.clone().map(Value::String));
    opt_insert(&mut o, "scan_depth", b.scan_depth.map(Value::from));
    opt_insert(&mut o, "token_budget", b.token_budget.map(Value::from));
    opt_insert(&mut o, "recursive_scanning", b.recursive_scanning.map(Value::Bool));
    o.insert("extensions".into(), Value::Object(b.extensions.clone()));
    o.insert(
        "entries".into(),
        Value::Array(b.entries.iter().map(|e| entry_value(e, v3)).collect()),
    );
    Value::Object(o)
}

fn entry_value(e: &BookEntry, v3: bool) -> Value {
    let mut o = unknown(&e.extra, ENTRY_KEYS);
    o.insert("keys".into(), strings_value(&e.keys));
    o.insert("content".into(), Value::String(e.content.clone()));
    o.insert("extensions".into(), Value::Object(e.extensions.clone()));
    o.insert("enabled".into(), Value::Bool(e.enabled));
    o.insert("insertion_order".into(), e.insertion_order.into());
    if v3 {
        o.insert("use_regex".into(), Value::Bool(e.use_regex));
    }
    opt_insert(&mut o, "case_sensitive", e.case_sensitive.map(Value::Bool));
    opt_insert(&mut o, "constant", e.constant.map(Value::Bool));
    opt_insert(&mut o, "name", e.name.clone().map(Value::String));
    opt_insert(&mut o, "priority", e.priority.map(Value::from));
    let id = e.id.as_ref().map(|id| match id {
        EntryId::Number(n) => Value::from(*n),
        EntryId::Text(s) => Value::String(s.clone()),
    });
    opt_insert(&mut o, "id", id);
    opt_insert(&mut o, "comment", e.comment.clone().map(Value::String));
    opt_insert(&mut o, "selective", e.selective.map(Value::Bool));
    opt_insert(&mut o, "secondary_keys", e.secondary_keys.as_deref().map(strings_value));
    opt_insert(&mut o, "position", e.position.clone().map(Value::String));
    Value::Object(o)
}

fn opt_insert(o: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        o.insert(key.into(), v);
    }
}

fn strings_value(s: &[String]) -> Value {
    Value::Array(s.iter().cloned().map(Value::String).collect())
}
