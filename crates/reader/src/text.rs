//! Plain text: encoding, line endings, Project Gutenberg frame, chapters.
//!
//! Encoding: a BOM decides (UTF-8, UTF-16 LE/BE); else UTF-16 without BOM is
//! recognised by its NUL pattern; else valid UTF-8 is UTF-8; else the text
//! is decoded as Windows-1252, the superset of Latin-1 that legacy English
//! and Western European files almost always are (a warning says so).
//!
//! Structure: line endings become `\n`, trailing spaces go, runs of blank
//! lines become one, and lines inside a paragraph are kept as they are
//! (verse and letters keep their shape; the NLP side treats a single newline
//! as a space).
//!
//! Project Gutenberg: the header before `*** START OF ...` and the licence
//! after `*** END OF ...` are left out of the text; the header's `Title:`,
//! `Author:` and `Language:` fill the metadata and both parts are kept in
//! `metadata` (`gutenberg_header`, `gutenberg_footer`). Without a Gutenberg
//! frame the title is guessed from a short first line.
//!
//! Chapters: a paragraph whose first line is a short heading such as
//! `CHAPTER I.`, `Chapter 12`, `BOOK THE FIRST`, `PART II`, `STAVE ONE` or a
//! bare roman numeral (`XII.`) starts a section (books, parts and volumes at
//! level 1, chapters at level 2).

use crate::textbuf::TextBuf;
use crate::{Budget, Document, Error, Format};
use std::borrow::Cow;

pub(crate) fn read(bytes: &[u8], budget: &Budget) -> Result<Document, Error> {
    let mut doc = Document::empty(Format::Text);
    let (text, warning) = decode(bytes);
    if let Some(w) = warning {
        doc.warnings.push(w);
    }
    let text = normalise_newlines(&text);
    let (body, header, footer) = split_gutenberg(&text);
    if let Some(h) = header {
        for (key, value) in header_fields(h) {
            match key.as_str() {
                "title" => doc.title = Some(value.clone()),
                "author" => {
                    doc.authors = value
                        .split(" and ")
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect()
                }
                "language" => doc.language = Some(value.clone()),
                _ => {}
            }
            doc.metadata.insert(key, value);
        }
        doc.metadata.insert("gutenberg_header".into(), h.trim().to_string());
    }
    if let Some(f) = footer {
        doc.metadata.insert("gutenberg_footer".into(), f.trim().to_string());
    }
    let mut buf = TextBuf::new();
    let mut block: Vec<&str> = Vec::new();
    let mut n = 0u32;
    let mut lines = body.split('\n').peekable();
    while let Some(line) = lines.next() {
        n = n.wrapping_add(1);
        if n.is_multiple_of(8192) {
            budget.check()?;
        }
        let line = line.trim_end();
        if !line.is_empty() {
            block.push(line);
            if lines.peek().is_some() {
                continue;
            }
        }
        if block.is_empty() {
            continue;
        }
        let first = block[0];
        if let Some(level) = chapter_level(first) {
            // The heading line, plus a following short title line when the
            // block is only two lines ("CHAPTER I." / "The Beginning").
            let title = if block.len() == 2 && block[1].trim().chars().count() < 70 {
                format!("{} {}", first.trim(), block[1].trim())
            } else {
                first.trim().to_string()
            };
            buf.mark_section(&title, level);
        }
        for (i, l) in block.iter().enumerate() {
            if i > 0 {
                buf.line_break();
            }
            buf.push_verbatim(l);
        }
        buf.end_block();
        block.clear();
    }
    let (text, sections) = buf.finish();
    if doc.title.is_none() {
        doc.title = guess_title(&text);
    }
    doc.text = text;
    doc.sections = sections;
    Ok(doc)
}

/// Decodes a whole text file; the second value is a warning when a legacy
/// encoding was guessed or bytes were replaced.
pub(crate) fn decode(bytes: &[u8]) -> (Cow<'_, str>, Option<String>) {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        let w = had_errors.then(|| format!("invalid {} sequences were replaced", enc.name()));
        return (text, w);
    }
    if let Some(enc) = utf16_without_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return (text, Some(format!("no BOM; decoded as {}", enc.name())));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), None),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text, Some("not UTF-8; decoded as Windows-1252".to_string()))
        }
    }
}

/// Decodes a sample for detection (same rules as [`decode`], lossy).
pub(crate) fn decode_sample(bytes: &[u8]) -> Cow<'_, str> {
    if std::str::from_utf8(bytes).is_err()
        && let Err(e) = std::str::from_utf8(bytes)
        && e.error_len().is_none()
    {
        // A char cut at the end of the sample.
        return String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
    }
    decode(bytes).0
}

/// UTF-16 without a BOM: one byte of each pair is mostly NUL.
pub(crate) fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 8 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zero = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_zero = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if odd_zero * 10 >= pairs * 7 && even_zero * 20 <= pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even_zero * 10 >= pairs * 7 && odd_zero * 20 <= pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// `\r\n` and lone `\r` become `\n`; form feeds and the DOS EOF mark go.
fn normalise_newlines(s: &str) -> Cow<'_, str> {
    if !s.contains(['\r', '\u{c}', '\u{1a}']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\u{c}' => out.push('\n'),
            '\u{1a}' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Splits a Project Gutenberg file into (body, header, footer).
fn split_gutenberg(text: &str) -> (&str, Option<&str>, Option<&str>) {
    let mut body_start = 0;
    let mut header = None;
    // The START marker is within the first part of the file.
    let head_len = floor_boundary(text, 100_000);
    if let Some(pos) = find_marker_line(
        &text[..head_len],
        &["*** START OF", "***START OF", "*END*THE SMALL PRINT"],
    ) {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        header = Some(&text[..line_end]);
        body_start = line_end;
    } else if text[..head_len].contains("Project Gutenberg") {
        // Old files: header paragraphs then the text, no marker; keep all.
    }
    let rest = &text[body_start..];
    let mut footer = None;
    let mut body_end = rest.len();
    if let Some(pos) = find_marker_line(
        rest,
        &[
            "*** END OF",
            "***END OF",
            "End of the Project Gutenberg",
            "End of Project Gutenberg",
            "END OF THE PROJECT GUTENBERG",
            "END OF THIS PROJECT GUTENBERG",
        ],
    ) && (header.is_some() || pos * 2 > rest.len())
    {
        footer = Some(&rest[pos..]);
        body_end = pos;
    }
    (&rest[..body_end], header, footer)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte offset of the start of the first line that starts with one of the
/// markers (after optional spaces) and mentions Gutenberg when it is a
/// `***` line.
fn find_marker_line(text: &str, markers: &[&str]) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        for m in markers {
            if t.starts_with(m) {
                let upper = t.to_uppercase();
                if !m.starts_with('*') || upper.contains("GUTENBERG") || m.contains("SMALL PRINT") {
                    return Some(offset);
                }
            }
        }
        offset += line.len();
    }
    None
}

/// `Key: value` fields of a Gutenberg header (indented continuation lines
/// are joined), keys lower-cased.
fn header_fields(header: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut last_was_field = false;
    for line in header.lines() {
        if line.starts_with(' ') && last_was_field && !line.trim().is_empty() {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        last_was_field = false;
        if let Some((k, v)) = line.split_once(':') {
            let key = k.trim();
            let known = [
                "Title",
                "Author",
                "Language",
                "Release Date",
                "Translator",
                "Editor",
                "Illustrator",
                "Credits",
                "Original publication",
                "Most recently updated",
                "Character set encoding",
            ];
            if known.contains(&key) && !v.trim().is_empty() {
                out.push((key.to_lowercase().replace(' ', "_"), v.trim().to_string()));
                last_was_field = true;
            }
        }
    }
    out
}

const NUMBER_WORDS: &[&str] = &[
    "ONE",
    "TWO",
    "THREE",
    "FOUR",
    "FIVE",
    "SIX",
    "SEVEN",
    "EIGHT",
    "NINE",
    "TEN",
    "ELEVEN",
    "TWELVE",
    "THIRTEEN",
    "FOURTEEN",
    "FIFTEEN",
    "SIXTEEN",
    "SEVENTEEN",
    "EIGHTEEN",
    "NINETEEN",
    "TWENTY",
    "THIRTY",
    "FORTY",
    "FIFTY",
    "THE",
    "FIRST",
    "SECOND",
    "THIRD",
    "FOURTH",
    "FIFTH",
    "SIXTH",
    "SEVENTH",
    "EIGHTH",
    "NINTH",
    "TENTH",
    "LAST",
    "FINAL",
];

/// The section level of a chapter heading line, if it is one.
pub(crate) fn chapter_level(line: &str) -> Option<u8> {
    let t = line.trim();
    if t.is_empty() || t.chars().count() > 80 {
        return None;
    }
    let mut words = t.split_whitespace();
    let first = words.next()?;
    let first_clean = first.trim_end_matches(['.', ':']);
    let upper = first_clean.to_uppercase();
    let level = match upper.as_str() {
        "BOOK" | "PART" | "VOLUME" => 1,
        "CHAPTER" | "STAVE" | "LETTER" => 2,
        _ => {
            // A bare roman numeral (optionally with a short title after it).
            if is_roman(first_clean) && first_clean.len() <= 8 && first_clean == first_clean.to_uppercase() {
                let rest: Vec<&str> = words.collect();
                if rest.is_empty() {
                    // "I" alone could be a pronoun line; require a dot or
                    // more than one letter.
                    if first_clean == "I" && !first.ends_with('.') {
                        return None;
                    }
                    return Some(2);
                }
                if first.ends_with('.') && rest.join(" ").chars().count() < 60 {
                    let tail = rest.join(" ");
                    if tail.chars().next().is_some_and(|c| c.is_uppercase()) {
                        return Some(2);
                    }
                }
            }
            return None;
        }
    };
    // The heading keyword must be capitalised ("Chapter", "CHAPTER").
    if !first.chars().next().is_some_and(|c| c.is_uppercase()) {
        return None;
    }
    let second = words.next()?;
    let second_clean = second.trim_end_matches(['.', ':', ',']);
    let number_like = second_clean.chars().all(|c| c.is_ascii_digit())
        || is_roman(second_clean)
        || NUMBER_WORDS.contains(&second_clean.to_uppercase().as_str());
    if !number_like || second_clean.is_empty() {
        return None;
    }
    // Prose that starts with "Part of the ..." is not a heading: the
    // number-like word filters most of it; a sentence ending is the rest.
    if t.ends_with(',') || t.ends_with(';') {
        return None;
    }
    Some(level)
}

fn is_roman(s: &str) -> bool {
    // Canonical numerals only (so "CIVIL" or "DID" are not numbers).
    let upper = s.to_ascii_uppercase();
    if upper.is_empty() || upper.len() > 12 {
        return false;
    }
    let mut value = 0u32;
    let mut prev = 0u32;
    for c in upper.chars().rev() {
        let v = match c {
            'I' => 1,
            'V' => 5,
            'X' => 10,
            'L' => 50,
            'C' => 100,
            'D' => 500,
            'M' => 1000,
            _ => return false,
        };
        if v < prev {
            value = value.saturating_sub(v);
        } else {
            value += v;
            prev = v;
        }
    }
    crate::docx::roman(value) == upper
}

/// A title guessed from a short first paragraph.
fn guess_title(text: &str) -> Option<String> {
    let first = text.split("\n\n").next()?.trim();
    if first.is_empty() || first.contains('\n') || first.chars().count() > 100 {
        return None;
    }
    if first.ends_with(['.', ',', ';']) {
        return None;
    }
    Some(first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn read_str(bytes: &[u8]) -> Document {
        read(bytes, &Budget::new(&Limits::default())).unwrap()
    }

    #[test]
    fn encodings() {
        assert_eq!(read_str(b"\xEF\xBB\xBFcaf\xC3\xA9").text, "café");
        assert_eq!(read_str(b"\xFF\xFEc\0a\0f\0\xE9\0").text, "café");
        assert_eq!(read_str(b"\xFE\xFF\0c\0a\0f\0\xE9").text, "café");
        let d = read_str(b"caf\xe9 \x93quoted\x94");
        assert_eq!(d.text, "café \u{201c}quoted\u{201d}");
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(read_str(b"a\r\nb\r\n\r\n\r\nc  \rd").text, "a\nb\n\nc\nd");
    }

    #[test]
    fn gutenberg_and_chapters() {
        let src = "The Project Gutenberg eBook of Tiny Book\r\n\r\nTitle: Tiny Book\r\n\r\nAuthor: Ann Writer\r\n\r\nLanguage: English\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK TINY BOOK ***\r\n\r\n\r\nBOOK THE FIRST\r\n\r\nCHAPTER I.\r\nThe Start\r\n\r\nIt was a dark night.\r\nRain fell.\r\n\r\nChapter 2\r\n\r\nMorning came. Ünïcödé.\r\n\r\nXII.\r\n\r\nEnd.\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK TINY BOOK ***\r\n\r\nLicence text here.\r\n";
        let d = read_str(src.as_bytes());
        assert_eq!(d.title.as_deref(), Some("Tiny Book"));
        assert_eq!(d.authors, vec!["Ann Writer".to_string()]);
        assert_eq!(d.language.as_deref(), Some("English"));
        assert!(!d.text.contains("Gutenberg"), "{}", d.text);
        assert!(d.metadata["gutenberg_footer"].contains("Licence text"));
        assert!(
            d.text
                .starts_with("BOOK THE FIRST\n\nCHAPTER I.\nThe Start\n\nIt was a dark night.\nRain fell.")
        );
        let titles: Vec<_> = d.sections.iter().map(|s| (s.title.as_str(), s.level)).collect();
        assert_eq!(
            titles,
            vec![
                ("BOOK THE FIRST", 1),
                ("CHAPTER I. The Start", 2),
                ("Chapter 2", 2),
                ("XII.", 2)
            ]
        );
        let chars: Vec<char> = d.text.chars().collect();
        let s = &d.sections[2];
        let body: String = chars[s.start..s.end].iter().collect();
        assert_eq!(body, "Chapter 2\n\nMorning came. Ünïcödé.");
        assert_eq!(d.sections[0].end, chars.len());
    }

    #[test]
    fn not_chapters() {
        assert_eq!(chapter_level("Part of the reason was money."), None);
        assert_eq!(chapter_level("I"), None);
        assert_eq!(chapter_level("chapter 3"), None);
        assert_eq!(chapter_level("Chapter 12"), Some(2));
        assert_eq!(chapter_level("PART II"), Some(1));
        assert_eq!(chapter_level("IV. The Return"), Some(2));
        assert_eq!(chapter_level("CIVIL"), None);
        assert_eq!(chapter_level("XLII"), Some(2));
    }
}
