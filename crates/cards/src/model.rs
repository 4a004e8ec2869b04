//! The neutral card profile: one struct that can hold everything V1, V2 and V3 cards carry.
//!
//! Field names follow the specs (snake_case as in the JSON) so the mapping stays
//! obvious. Where the spec distinguishes "absent" from "empty" (`nickname`, `source`,
//! `assets`, the optional lorebook fields) we keep an `Option` so a re-export does not
//! invent or drop a field: per CCv3, absent `assets` means "the default icon", which is
//! not the same as `assets: []`.
//!
//! Anything the specs do not name is kept in an `extra` map beside the known fields,
//! because CCv2 says unknown data "must never be destroyed" and CCv3 says applications
//! "MAY save the fields that are not present in the specification so it can be exported
//! safely".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A character, independent of which card version it came from or will be written as.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Card {
    /// V1: "Used to identify a character". Import refuses a card whose name is blank.
    pub name: String,
    pub description: String,
    pub personality: String,
    pub scenario: String,
    /// The greeting; CCv1 says the character "MUST be the first one to send a message".
    pub first_mes: String,
    /// Example dialogue in the `<START>` / `{{user}}:` / `{{char}}:` format of CCv1.
    pub mes_example: String,
    /// For humans only: CCv2 says it "MUST NOT be used inside prompts".
    pub creator_notes: String,
    pub system_prompt: String,
    pub post_history_instructions: String,
    /// Extra greetings ("swipes"), CCv2.
    pub alternate_greetings: Vec<String>,
    /// Greetings used only in group chats, CCv3 (required there, may be empty).
    pub group_only_greetings: Vec<String>,
    pub tags: Vec<String>,
    pub creator: String,
    pub character_version: String,
    /// CCv3: replaces `{{char}}` in prompts when present and non-empty.
    pub nickname: Option<String>,
    /// CCv3: ISO 639-1 code -> creator notes in that language.
    pub creator_notes_multilingual: Option<BTreeMap<String, String>>,
    /// CCv3: IDs or URLs of where the card came from; applications should only append.
    pub source: Option<Vec<String>>,
    /// CCv3: Unix seconds, UTC; `0` means "unknown".
    pub creation_date: Option<i64>,
    /// CCv3: Unix seconds, UTC; `0` means "unknown".
    pub modification_date: Option<i64>,
    pub character_book: Option<CharacterBook>,
    /// CCv3 assets. `None` means the spec's default: one `icon` named `main` at `ccdefault:`.
    pub assets: Option<Vec<Asset>>,
    /// Application data, namespaced by convention (`"sillytavern/…"`, `"depth_prompt"`, ...). Never interpreted.
    pub extensions: Map<String, Value>,
    /// Fields inside `data` that neither spec names; written back out unchanged.
    pub extra: Map<String, Value>,
}

impl Card {
    /// A card with a name and every other field at its spec default.
    pub fn new(name: impl Into<String>) -> Self {
        Card {
            name: name.into(),
            ..Card::default()
        }
    }
}

/// The character-specific lorebook (CCv2 `CharacterBook`, CCv3 `Lorebook`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CharacterBook {
    pub name: Option<String>,
    pub description: Option<String>,
    /// How many recent messages are scanned for keys.
    pub scan_depth: Option<i64>,
    /// Token limit for all inserted entries together.
    pub token_budget: Option<i64>,
    /// Whether entry content can trigger other entries.
    pub recursive_scanning: Option<bool>,
    pub extensions: Map<String, Value>,
    pub entries: Vec<BookEntry>,
    /// Lorebook fields neither spec names.
    pub extra: Map<String, Value>,
}

/// One lorebook entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BookEntry {
    pub keys: Vec<String>,
    pub content: String,
    pub extensions: Map<String, Value>,
    /// "if this value is false, the lorebook field MUST NOT be considered as a match IN ANY CASE" (CCv3).
    pub enabled: bool,
    /// Lower is inserted earlier.
    pub insertion_order: i64,
    pub case_sensitive: Option<bool>,
    /// CCv3 only (required there): `keys` are regular expressions. Not written to V2.
    pub use_regex: bool,
    pub constant: Option<bool>,
    pub name: Option<String>,
    /// Lower priority is dropped first when over `token_budget`.
    pub priority: Option<i64>,
    /// CCv2's type says number, CCv3's prose says string; both occur in the wild.
    pub id: Option<EntryId>,
    pub comment: Option<String>,
    pub selective: Option<bool>,
    pub secondary_keys: Option<Vec<String>>,
    /// `"before_char"` or `"after_char"` per both specs; other strings are kept as they are.
    pub position: Option<String>,
    /// Entry fields neither spec names.
    pub extra: Map<String, Value>,
}

impl Default for BookEntry {
    /// An enabled entry at insertion order 100 (SillyTavern's default order); the specs give no defaults.
    fn default() -> Self {
        BookEntry {
            keys: Vec::new(),
            content: String::new(),
            extensions: Map::new(),
            enabled: true,
            insertion_order: 100,
            case_sensitive: None,
            use_regex: false,
            constant: None,
            name: None,
            priority: None,
            id: None,
            comment: None,
            selective: None,
            secondary_keys: None,
            position: None,
            extra: Map::new(),
        }
    }
}

/// A lorebook entry id: CCv2 types it `number`, CCv3's prose says `string`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntryId {
    Number(i64),
    Text(String),
}

/// A CCv3 asset (`{type, uri, name, ext}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Asset {
    /// `icon`, `background`, `user_icon`, `emotion`, or an application type starting with `x_`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `https://…`, a `data:` URL, `embeded://path` (sic, the spec's spelling) or `ccdefault:`.
    pub uri: String,
    /// `main` marks the main icon/background; for emotions, the emotion name.
    pub name: String,
    /// Lower-case extension without a dot, or `unknown`.
    pub ext: String,
    /// Asset fields the spec does not name.
    pub extra: Map<String, Value>,
}
