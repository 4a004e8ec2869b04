//! Just enough PNG to carry a card: walk chunks, read text chunks, insert new ones,
//! and draw a plain avatar when the character has no picture.
//!
//! Cards live in text chunks: CCv2 tools write `tEXt chara` = base64(V2 JSON), CCv3
//! adds `tEXt ccv3` = base64(V3 JSON) ("SPEC_V3.md", Embedding Methods). Decoding the
//! image itself is never needed, so this is a ~200-line chunk walker over `crc32fast`
//! and `miniz_oxide` rather than the `png`/`image` crates.
//!
//! The walker trusts nothing: a chunk length is checked against the bytes actually
//! left before anything is sliced (never used to size an allocation), every chunk's
//! CRC is verified, `IHDR` must come first and `IEND` must be present. Anything after
//! `IEND` is ignored, as PNG decoders do.

use base64::Engine as _;

use crate::CardError;
use crate::limits::{MAX_JSON_BYTES, MAX_PNG_BYTES, MAX_TEXT_CHUNK_BYTES};

/// The eight bytes every PNG starts with (PNG spec, section 5.2).
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// One chunk, borrowed from the file: `raw` is the whole chunk (length, type, data, CRC).
pub(crate) struct Chunk<'a> {
    pub kind: [u8; 4],
    pub data: &'a [u8],
    pub raw: &'a [u8],
}

/// Splits a PNG into its chunks, up to and including `IEND`, checking structure and CRCs.
pub(crate) fn chunks(png: &[u8]) -> Result<Vec<Chunk<'_>>, CardError> {
    if png.len() > MAX_PNG_BYTES {
        return Err(CardError::TooLarge {
            what: "PNG",
            size: png.len(),
            limit: MAX_PNG_BYTES,
        });
    }
    if !png.starts_with(&SIGNATURE) {
        return Err(CardError::PngMalformed("missing the PNG signature".into()));
    }
    let mut out = Vec::new();
    let mut pos = SIGNATURE.len();
    loop {
        let rest = &png[pos..];
        if rest.is_empty() {
            return Err(CardError::PngTruncated(format!(
                "no IEND chunk after {} chunks",
                out.len()
            )));
        }
        if rest.len() < 12 {
            return Err(CardError::PngTruncated(format!(
                "{} stray bytes where a chunk header belongs at byte {pos}",
                rest.len()
            )));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        // PNG spec 5.3: lengths above 2^31-1 are invalid; catching them here gives a clearer error than "truncated".
        if len > 0x7FFF_FFFF {
            return Err(CardError::PngMalformed(format!(
                "chunk length {len:#x} at byte {pos} exceeds 2^31-1"
            )));
        }
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let name = chunk_name(kind);
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(CardError::PngMalformed(format!(
                "chunk type {name:?} at byte {pos} is not four letters"
            )));
        }
        let len = len as usize;
        if rest.len() - 12 < len {
            return Err(CardError::PngTruncated(format!(
                "chunk {name:?} at byte {pos} claims {len} bytes, only {} remain",
                rest.len() - 12
            )));
        }
        let data = &rest[8..8 + len];
        let stored = u32::from_be_bytes([rest[8 + len], rest[9 + len], rest[10 + len], rest[11 + len]]);
        let mut h = crc32fast::Hasher::new();
        h.update(&kind);
        h.update(data);
        let computed = h.finalize();
        if stored != computed {
            return Err(CardError::PngBadCrc {
                chunk: name,
                offset: pos,
                stored,
                computed,
            });
        }
        if out.is_empty() && (&kind != b"IHDR" || len != 13) {
            return Err(CardError::PngMalformed(format!(
                "first chunk is {name:?} ({len} bytes), not a 13-byte IHDR"
            )));
        }
        let raw = &rest[..12 + len];
        out.push(Chunk { kind, data, raw });
        pos += 12 + len;
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

fn chunk_name(kind: [u8; 4]) -> String {
    kind.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// A decoded text chunk: its keyword and its text.
pub(crate) struct TextChunk {
    pub keyword: String,
    pub text: String,
}

/// Reads a `tEXt`, `zTXt` or `iTXt` chunk; `Ok(None)` for other chunk types.
///
/// CCv3 requires `tEXt`, but some image tools rewrite long text as `zTXt`/`iTXt`, so
/// all three are read. Decompression is capped at [`MAX_TEXT_CHUNK_BYTES`].
pub(crate) fn text_chunk(c: &Chunk<'_>) -> Result<Option<TextChunk>, CardError> {
    let kind = &c.kind;
    if kind != b"tEXt" && kind != b"zTXt" && kind != b"iTXt" {
        return Ok(None);
    }
    let name = chunk_name(c.kind);
    let bad = |why: &str| CardError::PngMalformed(format!("{name} chunk: {why}"));
    let nul = c
        .data
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("no NUL after the keyword"))?;
    // Keywords are Latin-1 (PNG spec 11.3.4); card keywords are ASCII, so a lossy view is enough.
    let keyword: String = c.data[..nul].iter().map(|&b| b as char).collect();
    let rest = &c.data[nul + 1..];
    let bytes: Vec<u8> = match kind {
        b"tEXt" => rest.to_vec(),
        b"zTXt" => {
            let (&method, z) = rest.split_first().ok_or_else(|| bad("no compression method"))?;
            if method != 0 {
                return Err(bad("unknown compression method"));
            }
            inflate(z, &name)?
        }
        _ => {
            // iTXt: flag, method, language tag NUL, translated keyword NUL, text (UTF-8).
            let [flag, method, tail @ ..] = rest else {
                return Err(bad("too short"));
            };
            let lang_end = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("unterminated language tag"))?;
            let tail = &tail[lang_end + 1..];
            let tk_end = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("unterminated translated keyword"))?;
            let text = &tail[tk_end + 1..];
            match (flag, method) {
                (0, _) => text.to_vec(),
                (1, 0) => inflate(text, &name)?,
                _ => return Err(bad("unknown compression flag or method")),
            }
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        // tEXt is Latin-1 by the PNG spec; base64 is ASCII either way.
        Err(e) if kind == b"tEXt" => e.into_bytes().iter().map(|&b| b as char).collect(),
        Err(_) => return Err(CardError::NotUtf8(format!("the {keyword:?} {name} chunk"))),
    };
    Ok(Some(TextChunk { keyword, text }))
}

fn inflate(z: &[u8], name: &str) -> Result<Vec<u8>, CardError> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(z, MAX_TEXT_CHUNK_BYTES).map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => CardError::TooLarge {
            what: "decompressed text chunk",
            size: MAX_TEXT_CHUNK_BYTES + 1,
            limit: MAX_TEXT_CHUNK_BYTES,
        },
        status => CardError::PngMalformed(format!("{name} chunk does not inflate: {status:?}")),
    })
}

/// Decodes a `chara`/`ccv3` payload to JSON text: base64 per the specs, or raw JSON
/// (a few tools skip the base64 step).
pub(crate) fn decode_payload(keyword: &str, text: &str) -> Result<Vec<u8>, CardError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        if trimmed.len() > MAX_JSON_BYTES {
            return Err(CardError::TooLarge {
                what: "card JSON",
                size: trimmed.len(),
                limit: MAX_JSON_BYTES,
            });
        }
        return Ok(trimmed.as_bytes().to_vec());
    }
    if trimmed.len() > MAX_TEXT_CHUNK_BYTES {
        return Err(CardError::TooLarge {
            what: "card text chunk",
            size: trimmed.len(),
            limit: MAX_TEXT_CHUNK_BYTES,
        });
    }
    // Line breaks inside base64 are common (MIME-style wrapping); padding is sometimes dropped.
    let compact: Vec<u8> = trimmed.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let standard = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let decoded = match standard.decode(&compact) {
        Ok(d) => d,
        Err(first) => base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, config)
            .decode(&compact)
            .map_err(|_| CardError::BadBase64 {
                chunk: keyword.to_owned(),
                source: first,
            })?,
    };
    if decoded.len() > MAX_JSON_BYTES {
        return Err(CardError::TooLarge {
            what: "card JSON",
            size: decoded.len(),
            limit: MAX_JSON_BYTES,
        });
    }
    Ok(decoded)
}

/// The keyword of a text chunk without decoding its text, so unrelated (possibly broken or
/// compressed) text chunks such as `Comment` are never inflated or allowed to fail an import.
pub(crate) fn text_keyword<'a>(c: &Chunk<'a>) -> Option<&'a [u8]> {
    if &c.kind != b"tEXt" && &c.kind != b"zTXt" && &c.kind != b"iTXt" {
        return None;
    }
    let nul = c.data.iter().position(|&b| b == 0)?;
    Some(&c.data[..nul])
}

/// True for the keywords that carry a card (`chara`, `ccv3`), in any case: the CCv1 text says "Chara".
pub(crate) fn is_card_keyword(k: &[u8]) -> bool {
    k.eq_ignore_ascii_case(b"chara") || k.eq_ignore_ascii_case(b"ccv3")
}

/// Copies `chunks` except card text chunks and `IEND`, appends the given `tEXt` chunks, then `IEND`.
pub(crate) fn rebuild(chunks: &[Chunk<'_>], texts: &[(&str, &str)]) -> Vec<u8> {
    let extra: usize = texts.iter().map(|(k, t)| k.len() + t.len() + 13).sum();
    let mut out = Vec::with_capacity(chunks.iter().map(|c| c.raw.len()).sum::<usize>() + extra + 8);
    out.extend_from_slice(&SIGNATURE);
    for c in chunks {
        if &c.kind == b"IEND" {
            continue;
        }
        if text_keyword(c).is_some_and(is_card_keyword) {
            continue;
        }
        out.extend_from_slice(c.raw);
    }
    for (keyword, text) in texts {
        let mut data = Vec::with_capacity(keyword.len() + 1 + text.len());
        data.extend_from_slice(keyword.as_bytes());
        data.push(0);
        data.extend_from_slice(text.as_bytes());
        write_chunk(&mut out, b"tEXt", &data);
    }
    write_chunk(&mut out, b"IEND", &[]);
    out
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // Callers keep data far below 2^31 (MAX_JSON_BYTES); saturating keeps this total anyway.
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
}

/// Side of the generated avatar, in pixels.
pub const AVATAR_SIZE: u32 = 256;

/// A 256x256 RGB PNG in two shades of one colour, picked by hashing `seed` (the name):
/// different characters look different, the same character always looks the same.
pub(crate) fn avatar(seed: &str) -> Vec<u8> {
    // FNV-1a: tiny, stable across Rust versions (unlike `DefaultHasher`).
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let hue = (hash % 360) as f32;
    let dark = hsl_to_rgb(hue, 0.45, 0.42);
    let light = hsl_to_rgb(hue, 0.50, 0.62);
    let n = AVATAR_SIZE as usize;
    let mut raw = Vec::with_capacity(n * (1 + 3 * n));
    for y in 0..n {
        raw.push(0); // filter type None
        for x in 0..n {
            // Diagonal bands 32 px wide.
            let c = if ((x + y) / 32) % 2 == 0 { dark } else { light };
            raw.extend_from_slice(&c);
        }
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&AVATAR_SIZE.to_be_bytes());
    ihdr.extend_from_slice(&AVATAR_SIZE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
    let mut out = SIGNATURE.to_vec();
    write_chunk(&mut out, b"IHDR", &ihdr);
    write_chunk(&mut out, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9));
    write_chunk(&mut out, b"IEND", &[]);
    out
}

fn hsl_to_rgb(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to(r), to(g), to(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_is_a_valid_png_and_depends_on_the_seed() {
        let a = avatar("Seraphina");
        let c = chunks(&a).expect("valid");
        assert_eq!(
            c.iter().map(|c| c.kind).collect::<Vec<_>>(),
            [*b"IHDR", *b"IDAT", *b"IEND"]
        );
        assert_ne!(a, avatar("Aria"));
        assert_eq!(a, avatar("Seraphina"));
        assert!(a.len() < 8_000, "avatar should compress well, got {} bytes", a.len());
    }

    #[test]
    fn ztxt_and_itxt_are_read() {
        let z = miniz_oxide::deflate::compress_to_vec_zlib(b"hello", 6);
        let mut data = b"chara\0\0".to_vec();
        data.extend_from_slice(&z);
        let raw = [];
        let t = text_chunk(&Chunk {
            kind: *b"zTXt",
            data: &data,
            raw: &raw,
        })
        .unwrap()
        .unwrap();
        assert_eq!((t.keyword.as_str(), t.text.as_str()), ("chara", "hello"));
        let data = b"ccv3\0\0\0en\0\0w\xc3\xb6rld".to_vec();
        let t = text_chunk(&Chunk {
            kind: *b"iTXt",
            data: &data,
            raw: &raw,
        })
        .unwrap()
        .unwrap();
        assert_eq!((t.keyword.as_str(), t.text.as_str()), ("ccv3", "wörld"));
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), [0, 0, 255]);
    }
}
