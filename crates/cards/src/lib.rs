//! Character cards: the JSON/PNG files SillyTavern, chub.ai, RisuAI and friends use to
//! share a character. This crate imports V1, V2 and V3 cards and exports V2 and V3.
//!
//! The specs, read field by field:
//! - V1 and V2: `malfoyslastname/character-card-spec-v2` (`spec_v1.md`, `spec_v2.md`);
//! - V3: `kwaroran/character-card-spec-v3` (`SPEC_V3.md`).
//!
//! # Shape
//!
//! Everything converges on [`Card`], a neutral profile with a home for every V2 and V3
//! field plus `extensions` and an `extra` map for fields no spec names, because both
//! specs forbid destroying data an application does not understand. The server maps its
//! characters to and from `Card`; nothing here knows about the server.
//!
//! - [`import`] takes bytes (a PNG, or V1/V2/V3 JSON), detects the kind by content, and
//!   returns the card, the format it was read as, the picture, and warnings for anything
//!   it had to drop or assume.
//! - [`to_v2_json`] / [`to_v3_json`] write spec-shaped `serde_json::Value`s; [`to_png`]
//!   embeds both in a PNG (`tEXt chara` = base64 V2, `tEXt ccv3` = base64 V3) as CCv3's
//!   "Embedding Methods" section describes.
//! - [`validate_v2`] / [`validate_v3`] check any JSON value against the letter of a spec.
//!
//! Export is deterministic: export, import, export gives byte-identical JSON.
//!
//! # Trust
//!
//! Cards are uploads from strangers. Inputs are capped (see [`limits`]), no length read
//! from a file is used to size an allocation, every PNG chunk CRC is checked, and no
//! input makes these functions panic (the fuzz-style test in `tests/corrupt.rs` holds
//! that line).
//!
//! # Not done here
//!
//! CHARX (zip) files, JPEG/WebP cards (EXIF), `chara-ext-asset_:` PNG assets (CCv3 says
//! new applications should avoid them; they are carried through untouched), and any
//! interpretation of lorebook decorators or `{{macros}}`: that is prompt building, not
//! file format.

mod error;
mod json;
mod model;
mod png;
mod validate;

use base64::Engine as _;

pub use error::CardError;
pub use json::{Format, SPEC_V2, SPEC_V3, to_v2_json, to_v3_json};
pub use model::{Asset, BookEntry, Card, CharacterBook, EntryId};
pub use png::AVATAR_SIZE;
pub use validate::{validate_v2, validate_v3};

/// Size caps for untrusted input. A real card is a few hundred KB at most.
pub mod limits {
    /// Largest PNG accepted by [`crate::import`] or [`crate::to_png`], or produced by `to_png`.
    pub const MAX_PNG_BYTES: usize = 20 << 20;
    /// Largest card JSON: a JSON file, or the decoded payload of one text chunk.
    pub const MAX_JSON_BYTES: usize = 5 << 20;
    /// Largest text-chunk text (base64 of [`MAX_JSON_BYTES`] plus room for line breaks), also the inflate cap.
    pub const MAX_TEXT_CHUNK_BYTES: usize = MAX_JSON_BYTES / 3 * 4 + (1 << 20);
}

/// The note CCv3 asks for when a V3 card is backfilled into a `chara` chunk: applications
/// "SHOULD add a warning to the user that it is backfilled on `creator_notes`", and the
/// backfilled chunk "SHOULD be trimmed on import". [`to_png`] prepends it to the V2 copy's
/// `creator_notes`; [`import`] strips it again.
pub const V2_BACKFILL_NOTE: &str = "This character card is Character Card V3, but it is loaded as a Character Card V2. \
                                    Please use a Character Card V3 compatible application to use this character card properly.";

/// What [`import`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub card: Card,
    /// The spec the card was read as (for a PNG: of the chunk used).
    pub format: Format,
    /// For a PNG card: the picture, with the `chara`/`ccv3` chunks removed so it can be
    /// stored as a plain avatar and passed back to [`to_png`].
    pub image: Option<Vec<u8>>,
    /// Things that were dropped or assumed (a newer `spec_version`, an optional field of the
    /// wrong type, a broken `ccv3` chunk with a usable `chara` one, ...). Worth showing the user.
    pub warnings: Vec<String>,
}

/// Reads a card from a PNG or from V1/V2/V3 JSON, whichever `bytes` turn out to be.
///
/// For a PNG the `ccv3` chunk wins over `chara`, as CCv3 says it SHOULD; if `ccv3` is
/// unusable but `chara` works, the `chara` card is returned with a warning.
pub fn import(bytes: &[u8]) -> Result<Imported, CardError> {
    if bytes.starts_with(&png::SIGNATURE) {
        return import_png(bytes);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(CardError::NotACard(format!(
                "{} is neither a PNG nor a JSON object",
                sniff(bytes)
            )));
        }
        None => return Err(CardError::NotACard("the input is empty".into())),
    }
    if body.len() > limits::MAX_JSON_BYTES {
        return Err(CardError::TooLarge {
            what: "card JSON",
            size: body.len(),
            limit: limits::MAX_JSON_BYTES,
        });
    }
    let mut warnings = Vec::new();
    let (card, format) = card_from_json(body, "card JSON", &mut warnings)?;
    Ok(Imported {
        card,
        format,
        image: None,
        warnings,
    })
}

fn import_png(bytes: &[u8]) -> Result<Imported, CardError> {
    let chunks = png::chunks(bytes)?;
    // First chunk of each kind, as SillyTavern's reader does.
    let find = |name: &[u8]| {
        chunks
            .iter()
            .find(|c| png::text_keyword(c).is_some_and(|k| k.eq_ignore_ascii_case(name)))
    };
    let (ccv3, chara) = (find(b"ccv3"), find(b"chara"));
    let mut warnings = Vec::new();
    let mut found = None;
    if let Some(c) = ccv3 {
        match card_from_chunk(c, &mut warnings) {
            Ok(got) => found = Some(got),
            Err(e) if chara.is_some() => {
                warnings.clear();
                warnings.push(format!(
                    "the ccv3 chunk is unusable ({e}); read the chara chunk instead"
                ));
            }
            Err(e) => return Err(e),
        }
    }
    if found.is_none()
        && let Some(c) = chara
    {
        let (mut card, format) = card_from_chunk(c, &mut warnings)?;
        if let Some(rest) = card.creator_notes.strip_prefix(V2_BACKFILL_NOTE) {
            card.creator_notes = rest.trim_start_matches(['\r', '\n']).to_owned();
        }
        found = Some((card, format));
    }
    let Some((card, format)) = found else {
        return Err(CardError::NotACard("the PNG has no chara or ccv3 text chunk".into()));
    };
    Ok(Imported {
        card,
        format,
        image: Some(png::rebuild(&chunks, &[])),
        warnings,
    })
}

fn card_from_chunk(c: &png::Chunk<'_>, warnings: &mut Vec<String>) -> Result<(Card, Format), CardError> {
    let t = png::text_chunk(c)?.ok_or_else(|| CardError::PngMalformed("expected a text chunk".into()))?;
    let json = png::decode_payload(&t.keyword, &t.text)?;
    card_from_json(&json, &format!("the {:?} chunk", t.keyword), warnings)
}

fn card_from_json(json: &[u8], what: &str, warnings: &mut Vec<String>) -> Result<(Card, Format), CardError> {
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|source| CardError::BadJson {
        what: what.to_owned(),
        source,
    })?;
    json::card_from_value(&value, warnings)
}

/// A human name for common non-card inputs, for the error message.
fn sniff(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "a JPEG (JPEG cards are not supported)",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "a WebP (WebP cards are not supported)",
        [b'P', b'K', 3, 4, ..] => "a zip (CHARX cards are not supported)",
        _ => "the input",
    }
}

/// The card as a PNG with `tEXt chara` (base64 V2 JSON) and `tEXt ccv3` (base64 V3 JSON)
/// before `IEND`.
///
/// `image` is the picture to use (any PNG; card chunks already in it are replaced, so
/// there is never a stale second copy) or `None` for a generated [`AVATAR_SIZE`]-square
/// avatar in a colour derived from the name. The V2 copy carries [`V2_BACKFILL_NOTE`]
/// in its `creator_notes`, as CCv3 asks of backfilled `chara` chunks.
pub fn to_png(card: &Card, image: Option<&[u8]>) -> Result<Vec<u8>, CardError> {
    let mut backfill = card.clone();
    backfill.creator_notes = if card.creator_notes.is_empty() {
        V2_BACKFILL_NOTE.to_owned()
    } else {
        format!("{V2_BACKFILL_NOTE}\n\n{}", card.creator_notes)
    };
    let v2 = to_v2_json(&backfill).to_string();
    let v3 = to_v3_json(card).to_string();
    // Refuse to write what import would refuse to read.
    for json in [&v2, &v3] {
        if json.len() > limits::MAX_JSON_BYTES {
            return Err(CardError::TooLarge {
                what: "card JSON",
                size: json.len(),
                limit: limits::MAX_JSON_BYTES,
            });
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let (v2, v3) = (b64.encode(v2), b64.encode(v3));
    let generated;
    let base = match image {
        Some(img) => img,
        None => {
            generated = png::avatar(&card.name);
            &generated
        }
    };
    let out = png::rebuild(&png::chunks(base)?, &[("chara", &v2), ("ccv3", &v3)]);
    if out.len() > limits::MAX_PNG_BYTES {
        return Err(CardError::TooLarge {
            what: "PNG card",
            size: out.len(),
            limit: limits::MAX_PNG_BYTES,
        });
    }
    Ok(out)
}
