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
use std::collections::HashMap;
use std::io::{Cursor, Read};
use zip::ZipArchive;
use zip::result::ZipError;

pub(crate) struct Container<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Normalised entry name → index.
    names: HashMap<String, usize>,
    /// Lower-cased entry name → index, for producers that get case wrong.
    lower: HashMap<String, usize>,
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
        Ok(Container {
            zip,
            names,
            lower,
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
}
