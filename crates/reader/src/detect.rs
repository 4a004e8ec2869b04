//! Format detection by content; the file name is only a hint.
//!
//! The server calls [`detect`] on every upload to answer 415 early, so it must
//! be cheap: it looks at magic bytes, at most the zip central directory (no
//! decompression except the few bytes of an EPUB `mimetype` entry), and a
//! 64 KiB sample of text. Order of decisions:
//!
//! 1. `%PDF-` in the first KiB → PDF.
//! 2. Zip: `mimetype` = `application/epub+zip` or `META-INF/container.xml`
//!    → EPUB; `word/document.xml` or a `[Content_Types].xml` naming the
//!    WordprocessingML main part → DOCX. A zip whose central directory cannot
//!    be read (truncated) is judged by its first local header name, so it is
//!    reported as a corrupt DOCX/EPUB rather than as an unknown type.
//! 3. OLE compound files: an encrypted OOXML package → [`Error::Encrypted`];
//!    other OLE files (legacy .doc/.xls) are unsupported.
//! 4. Other well-known binary signatures → unsupported, naming the type.
//! 5. Text (BOM, valid UTF-8, UTF-16 by NUL pattern, or single-byte text with
//!    few control bytes); Markdown when the name says so or the sample shows
//!    enough Markdown syntax, else plain text. Anything else is binary and
//!    unsupported.

use crate::{Error, Format};
use std::io::Cursor;

/// Decides the format from the content (magic bytes, zip container contents).
pub fn detect(bytes: &[u8], name_hint: Option<&str>) -> Result<Format, Error> {
    let hinted = name_hint.and_then(format_from_name);
    if bytes.is_empty() {
        return Err(Error::Unsupported("empty file".into()));
    }
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") || bytes.starts_with(b"PK\x07\x08") {
        return detect_zip(bytes, hinted);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // An OOXML file saved with a password is an OLE container holding an
        // `EncryptedPackage` stream (its directory names are UTF-16).
        let utf16_name: Vec<u8> = "EncryptedPackage".bytes().flat_map(|b| [b, 0]).collect();
        if find(bytes, &utf16_name).is_some() {
            return Err(Error::Encrypted);
        }
        return Err(Error::Unsupported(
            "legacy Microsoft Office (OLE compound) file such as .doc; save it as .docx".into(),
        ));
    }
    if let Some(kind) = binary_signature(bytes) {
        return Err(Error::Unsupported(kind.into()));
    }
    if !looks_like_text(bytes) {
        return Err(Error::Unsupported(
            "binary data that is not a known document format".into(),
        ));
    }
    let sample = crate::text::decode_sample(&bytes[..bytes.len().min(64 * 1024)]);
    let trimmed = sample.trim_start();
    let lower: String = trimmed.chars().take(100).collect::<String>().to_lowercase();
    if lower.starts_with("{\\rtf") {
        return Err(Error::Unsupported("RTF document".into()));
    }
    if (lower.starts_with("<!doctype html") || lower.starts_with("<html")) && hinted != Some(Format::Markdown) {
        return Err(Error::Unsupported("HTML document".into()));
    }
    match hinted {
        Some(Format::Markdown) => return Ok(Format::Markdown),
        Some(Format::Text) => return Ok(Format::Text),
        _ => {}
    }
    if markdown_score(&sample) {
        Ok(Format::Markdown)
    } else {
        Ok(Format::Text)
    }
}

/// The format a file name's extension suggests.
pub(crate) fn format_from_name(name: &str) -> Option<Format> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => Some(Format::Pdf),
        "docx" | "docm" | "dotx" => Some(Format::Docx),
        "epub" => Some(Format::Epub),
        "md" | "markdown" | "mdown" | "mkd" | "mkdn" | "mdwn" | "mdtxt" | "rmd" => Some(Format::Markdown),
        "txt" | "text" => Some(Format::Text),
        _ => None,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn detect_zip(bytes: &[u8], hinted: Option<Format>) -> Result<Format, Error> {
    match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(mut zip) => {
            let mut has_container = false;
            let mut has_word = false;
            let mut has_mimetype = false;
            let mut has_content_types = false;
            for i in 0..zip.len() {
                let Some(Ok(name)) = zip.name_for_index(i) else {
                    continue;
                };
                let name = name.trim_start_matches('/');
                match name {
                    "mimetype" => has_mimetype = true,
                    "META-INF/container.xml" => has_container = true,
                    "word/document.xml" => has_word = true,
                    "[Content_Types].xml" => has_content_types = true,
                    _ => {}
                }
            }
            if has_mimetype && let Ok(file) = zip.by_name("mimetype") {
                use std::io::Read;
                let mut buf = Vec::new();
                if file.take(64).read_to_end(&mut buf).is_ok() {
                    let m = String::from_utf8_lossy(&buf);
                    if m.trim() == "application/epub+zip" {
                        return Ok(Format::Epub);
                    }
                }
            }
            if has_container {
                return Ok(Format::Epub);
            }
            if has_word {
                return Ok(Format::Docx);
            }
            if has_content_types && let Ok(file) = zip.by_name("[Content_Types].xml") {
                use std::io::Read;
                let mut buf = Vec::new();
                if file.take(1 << 20).read_to_end(&mut buf).is_ok()
                    && find(&buf, b"wordprocessingml.document.main").is_some()
                {
                    return Ok(Format::Docx);
                }
            }
            match hinted {
                Some(f @ (Format::Docx | Format::Epub)) => Ok(f),
                _ => Err(Error::Unsupported(
                    "zip archive that is neither a DOCX nor an EPUB".into(),
                )),
            }
        }
        Err(_) => {
            // No readable central directory: judge by the first local header.
            let name = local_header_name(bytes).unwrap_or_default();
            let guess = if name == "mimetype" || name.starts_with("META-INF/") || name.starts_with("OEBPS/") {
                Some(Format::Epub)
            } else if name == "[Content_Types].xml" || name.starts_with("word/") || name.starts_with("_rels/") {
                Some(Format::Docx)
            } else {
                match hinted {
                    Some(f @ (Format::Docx | Format::Epub)) => Some(f),
                    _ => None,
                }
            };
            match guess {
                Some(f) => Ok(f),
                None => Err(Error::Unsupported("damaged zip archive of unknown content".into())),
            }
        }
    }
}

/// The name in the first local file header of a zip.
fn local_header_name(bytes: &[u8]) -> Option<String> {
    let len = u16::from_le_bytes([*bytes.get(26)?, *bytes.get(27)?]) as usize;
    let name = bytes.get(30..30 + len)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

fn binary_signature(b: &[u8]) -> Option<&'static str> {
    let sigs: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image"),
        (b"\xFF\xD8\xFF", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"\x1F\x8B", "gzip archive"),
        (b"BZh", "bzip2 archive"),
        (b"\xFD7zXZ\x00", "xz archive"),
        (b"7z\xBC\xAF\x27\x1C", "7-Zip archive"),
        (b"Rar!", "RAR archive"),
        (b"\x7FELF", "executable (ELF)"),
        (b"MZ", "executable (Windows)"),
        (b"\x00asm", "WebAssembly module"),
        (b"ID3", "MP3 audio"),
        (b"OggS", "Ogg media"),
        (b"fLaC", "FLAC audio"),
        (b"%!PS", "PostScript document"),
        (b"AT&TFORM", "DjVu document"),
        (b"SQLite format 3\x00", "SQLite database"),
        (b"\x28\xB5\x2F\xFD", "zstd archive"),
    ];
    for (sig, kind) in sigs {
        if b.starts_with(sig) {
            return Some(kind);
        }
    }
    if b.len() > 12 && &b[0..4] == b"RIFF" {
        return Some("RIFF media (audio/video/image)");
    }
    if b.len() > 12 && &b[4..8] == b"ftyp" {
        return Some("MP4/QuickTime media or HEIF image");
    }
    None
}

/// Whether a sample looks like text in some encoding.
fn looks_like_text(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    if sample.starts_with(b"\xEF\xBB\xBF") || sample.starts_with(b"\xFF\xFE") || sample.starts_with(b"\xFE\xFF") {
        return true;
    }
    if crate::text::utf16_without_bom(sample).is_some() {
        return true;
    }
    // Valid UTF-8 (a char cut at the end of the sample is fine).
    let utf8_ok = match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && sample.len() == 64 * 1024,
    };
    let controls = sample
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A | 0x1B))
        .count();
    if sample.contains(&0) {
        return false;
    }
    if utf8_ok {
        return controls * 100 <= sample.len();
    }
    // Legacy single-byte text: few control bytes.
    controls * 200 <= sample.len()
}

/// Whether a text sample is Markdown: front matter, or enough lines of
/// Markdown-only syntax (ATX headings, fences, links, tables, lists).
fn markdown_score(sample: &str) -> bool {
    let s = sample.trim_start_matches('\u{feff}');
    if (s.starts_with("---\n") || s.starts_with("---\r\n") || s.starts_with("+++\n"))
        && s.lines().skip(1).take(30).any(|l| l.contains(':') || l.contains('='))
    {
        return true;
    }
    let mut score = 0u32;
    let mut lines = 0u32;
    for line in s.lines().take(2000) {
        lines += 1;
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            score += 3;
        }
        let hashes = t.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            score += 3;
        }
        if t.contains("](") && t.contains('[') {
            score += 2;
        }
        if t.starts_with('|') && t.ends_with('|') && t.len() > 2 {
            score += 1;
        }
        if t.starts_with("|--") || t.starts_with("| --") || t.starts_with("|:-") {
            score += 3;
        }
        if t.starts_with("* ") || t.starts_with("- ") || t.starts_with("+ ") {
            score += 1;
        }
        if (t.starts_with("**") || t.contains(" **")) && t.matches("**").count() >= 2 {
            score += 1;
        }
        if t.contains('`') && t.matches('`').count() >= 2 {
            score += 1;
        }
        if t.starts_with("> ") {
            score += 1;
        }
    }
    score >= 6 && score * 20 >= lines.min(400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_and_text() {
        assert_eq!(detect(b"%PDF-1.4\n...", None).unwrap(), Format::Pdf);
        assert!(matches!(detect(b"", None), Err(Error::Unsupported(_))));
        assert!(matches!(
            detect(b"\x89PNG\r\n\x1a\n\0\0", Some("x.txt")),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            detect(&[0u8, 1, 2, 3, 255, 254, 7, 8, 0, 0, 1], None),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(detect(b"Just some words.\nAnd more.\n", None).unwrap(), Format::Text);
        assert_eq!(detect(b"Just some words.\n", Some("a.md")).unwrap(), Format::Markdown);
        assert_eq!(detect(b"caf\xe9 cr\xe8me\r\n", None).unwrap(), Format::Text);
        let md = b"# Title\n\nSome *text* with a [link](http://x).\n\n## Part\n\n```\ncode\n```\n";
        assert_eq!(detect(md, None).unwrap(), Format::Markdown);
        assert_eq!(detect(b"---\ntitle: X\n---\nbody\n", None).unwrap(), Format::Markdown);
        assert_eq!(detect(b"\xFF\xFEH\0i\0", None).unwrap(), Format::Text);
        assert_eq!(format_from_name("A.MARKDOWN"), Some(Format::Markdown));
    }

    #[test]
    fn zips() {
        use std::io::Write;
        let make = |names: &[(&str, &[u8])]| {
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            for (n, data) in names {
                w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap().into_inner()
        };
        let epub = make(&[("mimetype", b"application/epub+zip")]);
        assert_eq!(detect(&epub, Some("x.docx")).unwrap(), Format::Epub);
        let docx = make(&[("word/document.xml", b"<w:document/>")]);
        assert_eq!(detect(&docx, None).unwrap(), Format::Docx);
        let other = make(&[("a.txt", b"hello")]);
        assert!(matches!(detect(&other, None), Err(Error::Unsupported(_))));
        // Truncated: the central directory is gone.
        assert_eq!(detect(&docx[..60], None).unwrap(), Format::Docx);
    }
}
