//! Zip containers (DOCX, EPUB) opened under the limits.
//!
//! The `zip` crate parses the central directory; this wrapper adds what a
//! server reading untrusted uploads needs on top of it:
//!
//! - the entry count is checked before anything is decompressed
//!   (`max_zip_entries`);
//! - every entry is read through `take()` against one running total for the
//!   whole document, so a zip bomb stops at `max_decompressed_bytes` however
//!   its sizes are declared;
//! - entry names that are absolute or climb out of the archive (`../`) are
//!   ignored, and relative references inside the archive are resolved with
//!   the same rule ([`resolve`]), so no path can point outside it;
//! - encrypted entries give [`Error::Encrypted`], damaged ones a
//!   [`Error::Corrupt`] naming the entry.

use crate::{Error, Format, Limits};
use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use zip::ZipArchive;
use zip::result::ZipError;

pub(crate) struct Container<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Normalised entry name → index.
    names: HashMap<String, usize>,
    /// Lower-cased entry name → index, for producers that get case wrong.
    lower: HashMap<String, usize>,
    /// Names that two entries claim, one through an Info-ZIP Unicode Path
    /// extra field that renames it and the other as its stored name: which
    /// one is "the" part depends on the reader (pandoc and Python take the
    /// stored name, the `zip` crate the Unicode one), so a scanner and a
    /// reader can be shown different documents. Reading such a name is an
    /// error, as in LibreOffice and Apache POI.
    ambiguous: HashSet<String>,
    remaining: u64,
    limit: u64,
    format: Format,
}

impl<'a> Container<'a> {
    pub(crate) fn open(bytes: &'a [u8], limits: &Limits, format: Format) -> Result<Self, Error> {
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(format, "", e))?;
        if zip.len() > limits.max_zip_entries {
            return Err(Error::Limit(format!(
                "max_zip_entries: the archive has {} entries, more than {}",
                zip.len(),
                limits.max_zip_entries
            )));
        }
        let mut names = HashMap::with_capacity(zip.len());
        let mut lower = HashMap::with_capacity(zip.len());
        for i in 0..zip.len() {
            let Some(Ok(name)) = zip.name_for_index(i) else {
                continue;
            };
            let Some(norm) = normalise(&name) else {
                continue;
            };
            lower.entry(norm.to_lowercase()).or_insert(i);
            names.entry(norm).or_insert(i);
        }
        let ambiguous = renamed_by_unicode_paths(bytes)
            .into_iter()
            .filter_map(|n| normalise(&n))
            .filter(|n| names.contains_key(n))
            .collect();
        Ok(Container {
            zip,
            names,
            lower,
            ambiguous,
            remaining: limits.max_decompressed_bytes,
            limit: limits.max_decompressed_bytes,
            format,
        })
    }

    /// Whether the archive holds an entry of this (normalised) name.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names
            .get(name)
            .or_else(|| self.lower.get(&name.to_lowercase()))
            .copied()
    }

    /// Entry names (normalised), in no particular order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// Reads an entry; `Ok(None)` when there is no such entry.
    pub(crate) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(i) = self.index(name) else {
            return Ok(None);
        };
        let format = self.format;
        if self.ambiguous.contains(name) {
            return Err(Error::corrupt(
                format,
                format!("zip entry {name}: two entries claim this name (one through a Unicode Path extra field)"),
            ));
        }
        let limit_error = limit_error(self.limit);
        let mut file = self.zip.by_index(i).map_err(|e| zip_error(format, name, e))?;
        if file.encrypted() {
            return Err(Error::Encrypted);
        }
        let declared = file.size();
        if declared > self.remaining {
            return Err(limit_error);
        }
        // The declared size is only a hint (it can lie): reserve at most 4 MiB.
        let cap = declared.min(4 << 20) as usize;
        let mut buf = Vec::with_capacity(cap);
        let read = (&mut file)
            .take(self.remaining + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::corrupt(format, format!("zip entry {name}: {e}")))?;
        if read as u64 > self.remaining {
            return Err(limit_error);
        }
        self.remaining -= read as u64;
        Ok(Some(buf))
    }
}

/// The stored names of the central directory entries that an Info-ZIP
/// Unicode Path extra field (0x7075) renames to something else. The `zip`
/// crate applies the field and keeps only the new name, so the directory is
/// walked here (bounded by the buffer; a damaged directory gives fewer names).
fn renamed_by_unicode_paths(bytes: &[u8]) -> Vec<String> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let mut out = Vec::new();
    // The end of central directory record is in the last 64 KiB + 22 bytes.
    let tail = bytes.len().saturating_sub(65_557);
    let Some(eocd) = bytes[tail..]
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .map(|p| tail + p)
    else {
        return out;
    };
    let (Some(count), Some(mut at)) = (u16_at(eocd + 10), u32_at(eocd + 16)) else {
        return out;
    };
    for _ in 0..count {
        if bytes.get(at..at + 4) != Some(b"PK\x01\x02".as_slice()) {
            break;
        }
        let (Some(name_len), Some(extra_len), Some(comment_len)) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32))
        else {
            break;
        };
        let name_at = at + 46;
        let (Some(name), Some(extra)) = (
            bytes.get(name_at..name_at + name_len),
            bytes.get(name_at + name_len..name_at + name_len + extra_len),
        ) else {
            break;
        };
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16::from_le_bytes([extra[e], extra[e + 1]]);
            let len = usize::from(u16::from_le_bytes([extra[e + 2], extra[e + 3]]));
            let Some(field) = extra.get(e + 4..e + 4 + len) else {
                break;
            };
            // version (1), CRC-32 of the stored name (4), UTF-8 name; a
            // field whose CRC does not match is ignored (as by the crate).
            if id == 0x7075 && field.len() > 5 && &field[5..] != name && field[1..5] == crc32(name).to_le_bytes() {
                out.push(String::from_utf8_lossy(name).into_owned());
            }
            e += 4 + len;
        }
        at = name_at + name_len + extra_len + comment_len;
    }
    out
}

/// CRC-32 (IEEE), bitwise: only stored names (a few bytes) are hashed.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn limit_error(limit: u64) -> Error {
    Error::Limit(format!(
        "max_decompressed_bytes: the archive decompresses to more than {limit} bytes"
    ))
}

fn zip_error(format: Format, name: &str, e: ZipError) -> Error {
    match e {
        ZipError::UnsupportedArchive(msg) if msg.to_lowercase().contains("password") => Error::Encrypted,
        ZipError::InvalidPassword => Error::Encrypted,
        other if name.is_empty() => Error::corrupt(format, format!("zip container: {other}")),
        other => Error::corrupt(format, format!("zip entry {name}: {other}")),
    }
}

/// Normalises an entry name: `/` separators, no leading `/`, `.` and `..`
/// applied. `None` for names that climb out of the archive or hold NUL.
pub(crate) fn normalise(name: &str) -> Option<String> {
    if name.contains('\0') {
        return None;
    }
    let name = name.replace('\\', "/");
    if name.contains(":/") {
        // Drive-letter paths are not archive-relative; a leading `/` is
        // read as the archive root.
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// Resolves a relative reference (`href`, relationship target) against the
/// directory of `base` (an entry name): percent-decoded, fragment and query
/// dropped. `None` if it climbs out of the archive or is an external URL.
pub(crate) fn resolve(base: &str, href: &str) -> Option<String> {
    let href = href.split(['#', '?']).next().unwrap_or("");
    if href.is_empty() || href.contains("://") || href.starts_with("mailto:") {
        return None;
    }
    let href = percent_decode(href);
    if let Some(abs) = href.strip_prefix('/') {
        return normalise(abs);
    }
    let dir = match base.rfind('/') {
        Some(i) => &base[..i],
        None => "",
    };
    if dir.is_empty() {
        normalise(&href)
    } else {
        normalise(&format!("{dir}/{href}"))
    }
}

/// `%XX` sequences decoded (as UTF-8, lossy); anything malformed kept as is.
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_references() {
        assert_eq!(normalise("/word/document.xml").as_deref(), Some("word/document.xml"));
        assert_eq!(normalise("a/./b/../c.xml").as_deref(), Some("a/c.xml"));
        assert_eq!(normalise("../../etc/passwd"), None);
        assert_eq!(normalise("a/../../x"), None);
        assert_eq!(
            resolve("OEBPS/content.opf", "text/ch%201.xhtml#p1").as_deref(),
            Some("OEBPS/text/ch 1.xhtml")
        );
        assert_eq!(resolve("OEBPS/content.opf", "../../../etc/passwd"), None);
        assert_eq!(resolve("OEBPS/content.opf", "http://example.com/x"), None);
        assert_eq!(
            resolve("word/document.xml", "/word/x.xml").as_deref(),
            Some("word/x.xml")
        );
        assert_eq!(percent_decode("%E2%82%AC%zz%4"), "€%zz%4");
    }

    /// A stored zip whose entries are (stored name, Unicode Path name, data).
    fn zip_with_unicode_paths(entries: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, unicode, data) in entries {
            let mut extra = Vec::new();
            if let Some(u) = unicode {
                extra.extend_from_slice(&0x7075u16.to_le_bytes());
                extra.extend_from_slice(&(5 + u.len() as u16).to_le_bytes());
                extra.push(1);
                extra.extend_from_slice(&crc32(name.as_bytes()).to_le_bytes());
                extra.extend_from_slice(u.as_bytes());
            }
            let offset = out.len() as u32;
            let crc = crc32(data.as_bytes());
            let size = data.len() as u32;
            let mut common = Vec::new();
            common.extend_from_slice(&20u16.to_le_bytes()); // version needed
            common.extend_from_slice(&0u16.to_le_bytes()); // flags
            common.extend_from_slice(&0u16.to_le_bytes()); // stored
            common.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            common.extend_from_slice(&crc.to_le_bytes());
            common.extend_from_slice(&size.to_le_bytes());
            common.extend_from_slice(&size.to_le_bytes());
            common.extend_from_slice(&(name.len() as u16).to_le_bytes());
            common.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&common);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&extra);
            out.extend_from_slice(data.as_bytes());
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&20u16.to_le_bytes()); // version made by
            central.extend_from_slice(&common);
            central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
            central.extend_from_slice(&extra);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn names_claimed_twice_through_unicode_paths_are_refused() {
        let limits = Limits::default();
        // Entry 1 is stored as a.xml but renamed b.xml; entry 2 the reverse.
        let swapped = zip_with_unicode_paths(&[
            ("a.xml", Some("b.xml"), "one"),
            ("b.xml", Some("a.xml"), "two"),
            ("c.xml", None, "three"),
        ]);
        let mut z = Container::open(&swapped, &limits, Format::Docx).unwrap();
        assert!(
            matches!(z.read("a.xml"), Err(Error::Corrupt { .. })),
            "a.xml is ambiguous"
        );
        assert!(matches!(z.read("b.xml"), Err(Error::Corrupt { .. })));
        assert_eq!(z.read("c.xml").unwrap().as_deref(), Some(b"three".as_slice()));
        // A Unicode Path that only spells the stored name in Unicode is fine.
        let plain = zip_with_unicode_paths(&[
            ("caf\u{e9}.xml", Some("caf\u{e9}.xml"), "x"),
            ("b.xml", Some("d.xml"), "y"),
        ]);
        let mut z = Container::open(&plain, &limits, Format::Docx).unwrap();
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(z.read("café.xml").unwrap().as_deref(), Some(b"x".as_slice()));
        assert_eq!(z.read("d.xml").unwrap().as_deref(), Some(b"y".as_slice()));
    }
}
