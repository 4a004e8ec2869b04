//! Character cards: `GET /characters/{id}/export?format=` and
//! `POST /characters/import`, so users can take their characters to other
//! chat apps (SillyTavern and the like) and bring theirs here.
//!
//! Mapping: the card's name, description, personality, scenario, greeting
//! (`first_mes`), example dialogue (`mes_example`) and tags are the
//! character's own columns; dramatis's extras (speech style, aliases, gender,
//! model settings) travel in `extensions.dramatis`; every other card field
//! (alternate greetings, lorebook, creator notes, other apps' extensions, a
//! PNG card's picture) is kept as it came in the `card` column, so export →
//! import → export gives the same card. A character made from a book and
//! never given a lorebook gets one built from its strongest relationships and
//! the book's facts.

use crate::auth::AuthUser;
use crate::db::{Value, now};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, FileForm, IdPath};
use crate::params;
use crate::routes::characters::{self, Character, LlmSettings};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Largest card file accepted (a PNG card with a large picture).
pub const MAX_CARD_BYTES: usize = 20 * 1024 * 1024;
/// A PNG card's picture is kept (in the database, with the character) up to this size.
const MAX_KEPT_IMAGE: usize = 8 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_character))
}

/// The import route, with its own body limit (cards can be large PNGs).
pub fn import_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_character))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardParams {
    /// `json` (full profile), `md`, `chara_card_v2`, `chara_card_v3` or `png`.
    pub format: Option<String>,
}

/// What the `card` column holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    card: Option<cards::Card>,
    /// Base64 of a PNG card's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
}

async fn stored(state: &AppState, id: Uuid) -> Result<Stored, ApiError> {
    let raw: String = state
        .db
        .fetch_one("SELECT card FROM characters WHERE id = $1", &params![id])
        .await?
        .get("card")?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

fn unix(ts: &str) -> Option<i64> {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The stored analysis of the character's document, if any.
async fn analysis_of(state: &AppState, c: &Character) -> Result<Option<(serde_json::Value, String)>, ApiError> {
    let Some(doc) = c.document_id else { return Ok(None) };
    let row = state
        .db
        .fetch_optional(
            "SELECT a.data, d.title, d.filename FROM analyses a JOIN documents d ON d.id = a.document_id \
             WHERE a.document_id = $1",
            &params![doc],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let data: serde_json::Value = serde_json::from_str(&r.get::<String>("data")?).map_err(ApiError::internal)?;
    let title: Option<String> = r.get("title")?;
    Ok(Some((data, title.unwrap_or(r.get("filename")?))))
}

/// A lorebook from the book: one entry per strong tie, one for the book.
async fn lorebook(
    state: &AppState,
    c: &Character,
    found: Option<&(serde_json::Value, String)>,
) -> Result<Option<cards::CharacterBook>, ApiError> {
    let Some((analysis, title)) = found else {
        return Ok(None);
    };
    let Some(me) = crate::chat::speaker_id(c) else {
        return Ok(None);
    };
    let people: std::collections::HashMap<&str, (&str, Vec<&str>)> = analysis["characters"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let id = p["id"].as_str()?;
                    let name = p["name"].as_str()?;
                    let aliases = p["aliases"]
                        .as_array()
                        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
                        .unwrap_or_default();
                    Some((id, (name, aliases)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ties: Vec<(&str, f64, u64)> = analysis["relationships"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let (s, t) = (r["source"].as_str()?, r["target"].as_str()?);
                    let other = if s == me {
                        t
                    } else if t == me {
                        s
                    } else {
                        return None;
                    };
                    Some((
                        other,
                        r["weight"].as_f64().unwrap_or(0.0),
                        r["interactions"].as_u64().unwrap_or(0),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    ties.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    // What the user's own characters from the same book say about the others.
    let described = match c.document_id {
        Some(d) => characters::by_analysis_id(&state.db, d, c.owner_id).await?,
        None => Default::default(),
    };
    let mut entries = Vec::new();
    for (i, (other, _, interactions)) in ties.iter().take(8).enumerate() {
        let Some((name, aliases)) = people.get(other) else {
            continue;
        };
        let mut keys: Vec<String> = vec![name.to_string()];
        keys.extend(aliases.iter().filter(|a| **a != *name).take(4).map(|a| a.to_string()));
        let mut content = format!(
            "{name} is one of {}'s closest ties in \"{title}\": they share {interactions} scenes.",
            c.name
        );
        if let Some(d) = described
            .get(*other)
            .map(|b| b.description.as_str())
            .filter(|d| !d.trim().is_empty())
        {
            content.push(' ');
            content.push_str(d.trim());
        }
        entries.push(cards::BookEntry {
            keys,
            content,
            enabled: true,
            insertion_order: i as i64,
            name: Some(name.to_string()),
            comment: Some(format!("relationship: {}", c.name)),
            ..Default::default()
        });
    }
    entries.push(cards::BookEntry {
        keys: vec![title.clone()],
        content: format!(
            "{} is a character of \"{title}\"{}.",
            c.name,
            if c.aliases.len() > 1 {
                format!(
                    ", also called {}",
                    c.aliases
                        .iter()
                        .filter(|a| **a != c.name)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            }
        ),
        enabled: true,
        insertion_order: entries.len() as i64,
        name: Some(title.clone()),
        comment: Some("the book".into()),
        ..Default::default()
    });
    Ok(Some(cards::CharacterBook {
        name: Some(format!("{} — {title}", c.name)),
        description: Some(format!("Built by dramatis from \"{title}\".")),
        entries,
        ..Default::default()
    }))
}

/// The character as a card: its columns over what the card column kept.
async fn to_card(state: &AppState, c: &Character, kept: Option<cards::Card>) -> Result<cards::Card, ApiError> {
    let fresh = kept.is_none();
    let mut card = kept.unwrap_or_default();
    card.name = c.name.clone();
    card.description = c.description.clone();
    card.personality = c.personality.clone();
    card.scenario = c.scenario.clone();
    card.first_mes = c.greeting.clone();
    card.mes_example = c.example_dialogue.clone();
    card.tags = c.tags.clone();
    let mut ours = Map::new();
    if !c.speech_style.is_empty() {
        ours.insert("speech_style".into(), json!(c.speech_style));
    }
    if !c.aliases.is_empty() {
        ours.insert("aliases".into(), json!(c.aliases));
    }
    if let Some(g) = &c.gender {
        ours.insert("gender".into(), json!(g));
    }
    if c.llm != LlmSettings::default() {
        ours.insert("llm".into(), serde_json::to_value(&c.llm).map_err(ApiError::internal)?);
    }
    if ours.is_empty() {
        card.extensions.remove("dramatis");
    } else {
        card.extensions
            .insert("dramatis".into(), serde_json::Value::Object(ours));
    }
    if fresh {
        card.creator = "dramatis".into();
        card.creation_date = unix(&c.created_at);
        card.modification_date = unix(&c.updated_at);
        // The analysis JSON is megabytes on a long novel: read it once.
        let found = analysis_of(state, c).await?;
        card.character_book = lorebook(state, c, found.as_ref()).await?;
        if let Some((_, title)) = &found {
            card.creator_notes = format!("{} from \"{title}\", found and profiled by dramatis.", c.name);
            card.source = Some(vec![format!("dramatis:document:{}", c.document_id.unwrap_or_default())]);
        }
    }
    Ok(card)
}

/// Exports a character: `json` (full profile), `md` (readable), `chara_card_v2`, `chara_card_v3` (JSON cards) or
/// `png` (a picture with the card in its `chara` (V2) and `ccv3` (V3) text chunks).
#[utoipa::path(get, path = "/characters/{id}/export", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "character id"), CardParams),
    responses(
        (status = 200, description = "the export, as a download"),
        (status = 404, description = "no such character of yours", body = Problem),
        (status = 422, description = "unknown format", body = Problem),
    ))]
async fn export_character(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiQuery(p): ApiQuery<CardParams>,
) -> Result<Response, ApiError> {
    let c = characters::load(&state, &user, id).await?;
    let kept = stored(&state, id).await?;
    let format = p.format.unwrap_or_else(|| "json".into());
    let card = to_card(&state, &c, kept.card).await?;
    let stem: String = c
        .name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_string();
    let stem = if stem.is_empty() { "character".to_string() } else { stem };
    let (body, ctype, ext): (Vec<u8>, &str, &str) = match format.as_str() {
        "json" => {
            let lines = top_lines(&state, &c, 20).await?;
            let v = json!({"character": c, "card": cards::to_v3_json(&card), "lines": lines});
            (
                serde_json::to_vec_pretty(&v).map_err(ApiError::internal)?,
                "application/json",
                "json",
            )
        }
        "md" => (
            markdown(&c, &card, &top_lines(&state, &c, 10).await?).into_bytes(),
            "text/markdown; charset=utf-8",
            "md",
        ),
        "chara_card_v2" => (
            serde_json::to_vec_pretty(&cards::to_v2_json(&card)).map_err(ApiError::internal)?,
            "application/json",
            "v2.json",
        ),
        "chara_card_v3" => (
            serde_json::to_vec_pretty(&cards::to_v3_json(&card)).map_err(ApiError::internal)?,
            "application/json",
            "v3.json",
        ),
        "png" => {
            let image = kept
                .image
                .as_deref()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            (
                cards::to_png(&card, image.as_deref()).map_err(ApiError::internal)?,
                "image/png",
                "png",
            )
        }
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown export format `{}`; use json, md, chara_card_v2, chara_card_v3 or png",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The character's longest lines from the book (the most characteristic, cheaply).
async fn top_lines(state: &AppState, c: &Character, n: usize) -> Result<Vec<String>, ApiError> {
    let (Some(doc), Some(sp)) = (c.document_id, crate::chat::speaker_id(c)) else {
        return Ok(Vec::new());
    };
    let rows = state
        .db
        .fetch_all(
            "SELECT start_char, end_char FROM quotes WHERE document_id = $1 AND speaker = $2 ORDER BY idx",
            &params![doc, sp],
        )
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Quotes are char ranges of the document's text (stored once, not per quote).
    let text = crate::chat::index::document_text(&state.db, doc)
        .await?
        .unwrap_or_default();
    let chars = crate::pipeline::CharIndex::new(&text);
    let mut lines: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r.get::<i64>("start_char").ok()? as usize,
                r.get::<i64>("end_char").ok()? as usize,
            ))
        })
        .map(|(s, e)| crate::chat::clean_line(crate::pipeline::slice(&text, &chars, s, e)))
        .filter(|t| t.len() >= 20)
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.len().min(300)));
    lines.truncate(n);
    Ok(lines)
}

fn markdown(c: &Character, card: &cards::Card, lines: &[String]) -> String {
    let mut s = format!("# {}\n\n", c.name);
    if c.aliases.len() > 1 {
        s.push_str(&format!("*Also called:* {}\n\n", c.aliases.join(", ")));
    }
    if let Some(g) = &c.gender {
        s.push_str(&format!("*Pronouns:* {g}\n\n"));
    }
    for (h, v) in [
        ("Description", &c.description),
        ("Personality", &c.personality),
        ("Speech style", &c.speech_style),
        ("Scenario", &c.scenario),
        ("Greeting", &c.greeting),
        ("Example dialogue", &c.example_dialogue),
    ] {
        if !v.trim().is_empty() {
            s.push_str(&format!("## {h}\n\n{}\n\n", v.trim()));
        }
    }
    if !lines.is_empty() {
        s.push_str("## In their own words\n\n");
        for l in lines {
            s.push_str(&format!("> {l}\n\n"));
        }
    }
    if let Some(book) = &card.character_book
        && !book.entries.is_empty()
    {
        s.push_str("## Lorebook\n\n");
        for e in &book.entries {
            s.push_str(&format!("- **{}**: {}\n", e.keys.join(", "), e.content));
        }
        s.push('\n');
    }
    if !c.tags.is_empty() {
        s.push_str(&format!("*Tags:* {}\n", c.tags.join(", ")));
    }
    s
}

/// What an import made, and what it had to drop or assume.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub character: Character,
    /// `V1`, `V2` or `V3`.
    pub format: String,
    pub warnings: Vec<String>,
}

/// The multipart form of an import (for the spec).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CardForm {
    /// A character card: V1/V2/V3 JSON, a PNG card, or this API's `json` export.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// Imports a character card (multipart field `file`): Character Card V1/V2/V3 JSON, a PNG card (`ccv3` or `chara`
/// chunk), or the `json` export of this API. The new character is yours and linked to no document.
#[utoipa::path(post, path = "/characters/import", tag = "characters",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    request_body(content = CardForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "the imported character", body = ImportResult),
        (status = 400, description = "no `file` field or a broken multipart body", body = Problem),
        (status = 413, description = "larger than 20 MiB", body = Problem),
        (status = 415, description = "not a multipart body", body = Problem),
        (status = 422, description = "not a character card, or a field dramatis cannot hold", body = Problem),
    ))]
async fn import_character(
    State(state): State<AppState>,
    user: AuthUser,
    form: FileForm,
) -> Result<(StatusCode, Json<ImportResult>), ApiError> {
    let too_large = format!("a card file is at most {} MiB", MAX_CARD_BYTES >> 20);
    let bytes = form
        .read_file(MAX_CARD_BYTES as u64, too_large, async |field| field.bytes().await)
        .await?;
    if bytes.is_empty() {
        return Err(ApiError::Unprocessable("the file is empty".into()));
    }
    // This API's own `json` export carries the card under `card`.
    let own = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("card").filter(|c| c.get("spec").is_some()).cloned());
    let imported = match own {
        Some(card) => cards::import(&serde_json::to_vec(&card).map_err(ApiError::internal)?),
        None => cards::import(&bytes),
    }
    .map_err(|e| ApiError::Unprocessable(format!("not a usable character card: {e}")))?;
    let mut warnings = imported.warnings;
    let mut card = imported.card;
    let name = characters::check_name(&card.name)?;
    for (f, v) in [
        ("description", &card.description),
        ("personality", &card.personality),
        ("scenario", &card.scenario),
        ("first_mes", &card.first_mes),
        ("mes_example", &card.mes_example),
    ] {
        characters::check_text(f, v)?;
    }
    let mut tags: Vec<String> = Vec::new();
    for t in &card.tags {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) || tags.len() == 50 {
            warnings.push(format!(
                "tag `{}` was left out (dramatis keeps 50 tags of 1-64 characters)",
                t.chars().take(64).collect::<String>()
            ));
            continue;
        }
        tags.push(t.to_string());
    }
    let ours = card.extensions.get("dramatis").cloned().unwrap_or_default();
    let speech_style = ours["speech_style"].as_str().unwrap_or_default().to_string();
    characters::check_text("extensions.dramatis.speech_style", &speech_style)?;
    let aliases: Vec<String> = ours["aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(str::to_string)
                .take(100)
                .collect()
        })
        .unwrap_or_default();
    let gender = ours["gender"].as_str().filter(|g| g.len() <= 32).map(str::to_string);
    let llm: LlmSettings = match ours.get("llm") {
        Some(v) => match serde_json::from_value::<LlmSettings>(v.clone()) {
            Ok(l) if l.check().is_ok() => l,
            _ => {
                warnings.push("extensions.dramatis.llm was not valid model settings and was left out".into());
                LlmSettings::default()
            }
        },
        None => LlmSettings::default(),
    };
    let image = match imported.image {
        Some(img) if img.len() <= MAX_KEPT_IMAGE => Some(base64::engine::general_purpose::STANDARD.encode(img)),
        Some(_) => {
            warnings.push(format!(
                "the card's picture is over {} MiB and was not kept",
                MAX_KEPT_IMAGE >> 20
            ));
            None
        }
        None => None,
    };
    // The columns hold the mapped fields; the card column the rest (and the
    // mapped ones as they came, which the columns override on export).
    card.tags = tags.clone();
    let kept = serde_json::to_string(&Stored {
        card: Some(card.clone()),
        image,
    })
    .map_err(ApiError::internal)?;
    let id = Uuid::new_v4();
    let t = now();
    let values: Vec<Value> = params![
        id,
        user.id,
        name,
        card.description.as_str(),
        card.personality.as_str(),
        speech_style,
        card.scenario.as_str(),
        card.first_mes.as_str(),
        card.mes_example.as_str(),
        serde_json::to_string(&tags).map_err(ApiError::internal)?,
        serde_json::to_string(&aliases).map_err(ApiError::internal)?,
        gender,
        llm.check()?,
        kept,
        t
    ]
    .to_vec();
    state
        .db
        .execute(
            "INSERT INTO characters (id, user_id, name, description, personality, speech_style, scenario, greeting, \
             example_dialogue, tags, aliases, gender, llm, card, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
            &values,
        )
        .await?;
    let character = characters::load(&state, &user, id).await?;
    let format = match imported.format {
        cards::Format::V1 => "V1",
        cards::Format::V2 => "V2",
        cards::Format::V3 => "V3",
    };
    Ok((
        StatusCode::CREATED,
        Json(ImportResult {
            character,
            format: format.into(),
            warnings,
        }),
    ))
}
