//! Strict checks of a card JSON value against the letter of one spec.
//!
//! Import is deliberately lenient (see [`crate::json`]); these functions are the
//! opposite: they list every place a value departs from the spec's TypeScript
//! definition and MUST rules, so our exports can be checked and a user can be told why
//! another tool rejects their card. They never fail: the answer is the list of problems,
//! empty when the card conforms.
//!
//! Where a spec contradicts itself the check accepts both readings and the doc comment
//! says so; inventing a third rule would flag cards that follow the spec.

use serde_json::{Map, Value};

use crate::json::{SPEC_V2, SPEC_V3, type_name};

/// Problems with `v` as a CCv2 card (`malfoyslastname/character-card-spec-v2`, `spec_v2.md`).
pub fn validate_v2(v: &Value) -> Vec<String> {
    let mut c = Checker::default();
    c.card(v, SPEC_V2, "2.0", false);
    c.problems
}

/// Problems with `v` as a CCv3 card (`kwaroran/character-card-spec-v3`, `SPEC_V3.md`).
pub fn validate_v3(v: &Value) -> Vec<String> {
    let mut c = Checker::default();
    c.card(v, SPEC_V3, "3.0", true);
    c.problems
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Str,
    Num,
    Bool,
    Obj,
    StrArray,
    /// Entry `id`: CCv2's interface says `number`, CCv3's prose says `string`.
    NumOrStr,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Num => "number",
            Ty::Bool => "boolean",
            Ty::Obj => "object",
            Ty::StrArray => "array of strings",
            Ty::NumOrStr => "number or string",
        }
    }
}

/// The fields of CCv2's `data`, all required; CCv3 keeps every one in its interface.
const V2_DATA: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("description", Ty::Str),
    ("personality", Ty::Str),
    ("scenario", Ty::Str),
    ("first_mes", Ty::Str),
    ("mes_example", Ty::Str),
    ("creator_notes", Ty::Str),
    ("system_prompt", Ty::Str),
    ("post_history_instructions", Ty::Str),
    ("alternate_greetings", Ty::StrArray),
    ("tags", Ty::StrArray),
    ("creator", Ty::Str),
    ("character_version", Ty::Str),
    ("extensions", Ty::Obj),
];
const V3_DATA_REQUIRED: &[(&str, Ty)] = &[("group_only_greetings", Ty::StrArray)];
const V3_DATA_OPTIONAL: &[(&str, Ty)] = &[
    ("nickname", Ty::Str),
    ("creator_notes_multilingual", Ty::Obj),
    ("source", Ty::StrArray),
    ("creation_date", Ty::Num),
    ("modification_date", Ty::Num),
];
const BOOK_REQUIRED: &[(&str, Ty)] = &[("extensions", Ty::Obj)];
const BOOK_OPTIONAL: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("description", Ty::Str),
    ("scan_depth", Ty::Num),
    ("token_budget", Ty::Num),
    ("recursive_scanning", Ty::Bool),
];
const ENTRY_REQUIRED: &[(&str, Ty)] = &[
    ("keys", Ty::StrArray),
    ("content", Ty::Str),
    ("extensions", Ty::Obj),
    ("enabled", Ty::Bool),
    ("insertion_order", Ty::Num),
];
const ENTRY_OPTIONAL: &[(&str, Ty)] = &[
    ("case_sensitive", Ty::Bool),
    ("name", Ty::Str),
    ("priority", Ty::Num),
    ("id", Ty::NumOrStr),
    ("comment", Ty::Str),
    ("selective", Ty::Bool),
    ("secondary_keys", Ty::StrArray),
    ("constant", Ty::Bool),
    ("position", Ty::Str),
];

#[derive(Default)]
struct Checker {
    problems: Vec<String>,
}

impl Checker {
    fn problem(&mut self, path: &str, msg: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {msg}"));
    }

    fn card(&mut self, v: &Value, spec: &str, version: &str, v3: bool) {
        let Value::Object(top) = v else {
            self.problem("$", format_args!("expected object, found {}", type_name(v)));
            return;
        };
        match top.get("spec") {
            Some(Value::String(s)) if s == spec => {}
            Some(other) => self.problem("spec", format_args!("must be {spec:?}, found {other}")),
            None => self.problem("spec", format_args!("required, must be {spec:?}")),
        }
        // Both specs say MUST for the exact version string (CCv3 adds that readers should not reject others).
        match top.get("spec_version") {
            Some(Value::String(s)) if s == version => {}
            Some(other) => self.problem("spec_version", format_args!("must be {version:?}, found {other}")),
            None => self.problem("spec_version", format_args!("required, must be {version:?}")),
        }
        let data = match top.get("data") {
            Some(Value::Object(d)) => d,
            Some(other) => return self.problem("data", format_args!("expected object, found {}", type_name(other))),
            None => return self.problem("data", "required object is missing"),
        };
        self.fields(data, "data", V2_DATA, true);
        if v3 {
            self.fields(data, "data", V3_DATA_REQUIRED, true);
            self.fields(data, "data", V3_DATA_OPTIONAL, false);
            if let Some(Value::Object(m)) = data.get("creator_notes_multilingual") {
                for (lang, note) in m {
                    if !note.is_string() {
                        self.problem(&format!("data.creator_notes_multilingual.{lang}"), "must be a string");
                    }
                }
            }
            self.assets(data.get("assets"));
        }
        match data.get("character_book") {
            None => {}
            Some(Value::Object(b)) => self.book(b, v3),
            Some(other) => self.problem(
                "data.character_book",
                format_args!("expected object, found {}", type_name(other)),
            ),
        }
    }

    fn book(&mut self, b: &Map<String, Value>, v3: bool) {
        const P: &str = "data.character_book";
        self.fields(b, P, BOOK_REQUIRED, true);
        self.fields(b, P, BOOK_OPTIONAL, false);
        let entries = match b.get("entries") {
            Some(Value::Array(e)) => e,
            Some(other) => {
                return self.problem(
                    &format!("{P}.entries"),
                    format_args!("expected array, found {}", type_name(other)),
                );
            }
            None => return self.problem(&format!("{P}.entries"), "required array is missing"),
        };
        for (i, e) in entries.iter().enumerate() {
            let p = format!("{P}.entries[{i}]");
            let Value::Object(e) = e else {
                self.problem(&p, format_args!("expected object, found {}", type_name(e)));
                continue;
            };
            self.fields(e, &p, ENTRY_REQUIRED, true);
            if v3 {
                // "V3 Additions: use_regex: boolean", required.
                self.fields(e, &p, &[("use_regex", Ty::Bool)], true);
            }
            self.fields(e, &p, ENTRY_OPTIONAL, false);
            if let Some(Value::String(pos)) = e.get("position")
                && pos != "before_char"
                && pos != "after_char"
            {
                self.problem(
                    &format!("{p}.position"),
                    format_args!("must be \"before_char\" or \"after_char\", found {pos:?}"),
                );
            }
        }
    }

    fn assets(&mut self, assets: Option<&Value>) {
        let list = match assets {
            None => return,
            Some(Value::Array(a)) => a,
            Some(other) => {
                return self.problem(
                    "data.assets",
                    format_args!("expected array, found {}", type_name(other)),
                );
            }
        };
        let mut icons = 0;
        let mut main_icons = 0;
        let mut main_backgrounds = 0;
        for (i, a) in list.iter().enumerate() {
            let p = format!("data.assets[{i}]");
            let Value::Object(a) = a else {
                self.problem(&p, format_args!("expected object, found {}", type_name(a)));
                continue;
            };
            let req = [("type", Ty::Str), ("uri", Ty::Str), ("name", Ty::Str), ("ext", Ty::Str)];
            self.fields(a, &p, &req, true);
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
            let (kind, name, ext, uri) = (s("type"), s("name"), s("ext"), s("uri"));
            icons += usize::from(kind == "icon");
            main_icons += usize::from(kind == "icon" && name == "main");
            main_backgrounds += usize::from(kind == "background" && name == "main");
            // "MUST be in lowercase and ... a valid file extension without `.`"; ignored for `ccdefault:`.
            if uri != "ccdefault:" && (ext.chars().any(|c| c.is_uppercase()) || ext.contains('.')) {
                self.problem(
                    &format!("{p}.ext"),
                    format_args!("must be lower case without a dot, found {ext:?}"),
                );
            }
        }
        // "if there is more then one elements with `type` field is `icon`, there MUST be one element with `name` field is `main`".
        if icons > 1 && main_icons != 1 {
            self.problem(
                "data.assets",
                format_args!("{icons} icons need exactly one named \"main\", found {main_icons}"),
            );
        }
        if main_backgrounds > 1 {
            self.problem("data.assets", "more than one background is named \"main\"");
        }
    }

    fn fields(&mut self, m: &Map<String, Value>, p: &str, fields: &[(&str, Ty)], required: bool) {
        for &(key, ty) in fields {
            let path = format!("{p}.{key}");
            match m.get(key) {
                None if required => self.problem(&path, format_args!("required {} is missing", ty.name())),
                None => {}
                Some(v) => self.check(&path, v, ty),
            }
        }
    }

    fn check(&mut self, path: &str, v: &Value, ty: Ty) {
        let ok = match ty {
            Ty::Str => v.is_string(),
            Ty::Num => v.is_number(),
            Ty::Bool => v.is_boolean(),
            Ty::Obj => v.is_object(),
            Ty::NumOrStr => v.is_number() || v.is_string(),
            Ty::StrArray => match v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_string() {
                            self.problem(
                                &format!("{path}[{i}]"),
                                format_args!("expected string, found {}", type_name(item)),
                            );
                        }
                    }
                    true
                }
                _ => false,
            },
        };
        if !ok {
            self.problem(path, format_args!("expected {}, found {}", ty.name(), type_name(v)));
        }
    }
}
