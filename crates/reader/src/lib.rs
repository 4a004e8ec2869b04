//! The universal document reader.
//!
//! Bytes and an optional file name in, a [`Document`] out: the plain text of
//! the document with paragraphs separated by a blank line, its sections
//! (headings and chapters with char ranges into the text), its metadata and
//! any warnings.
//!
//! What it is not: it does no I/O of its own (no network, no files, no
//! database), keeps no state, and never panics on bad input; every limit
//! (sizes, depth, time) is a parameter in [`Limits`] with a safe default.
//!
//! Layout: [`detect`] decides the format from the content (magic bytes, zip
//! container contents; the name is only a hint) and [`read`] dispatches to one
//! module per format. The formats share three helpers: `textbuf` builds the
//! text and computes char offsets of sections, `container` opens zip files
//! under the limits, and `xml` decodes XML parts and resolves entities without
//! ever expanding DTD-declared ones.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod container;
mod detect;
mod docx;
mod epub;
mod markdown;
mod pdf;
mod text;
mod textbuf;
mod xml;

pub use detect::detect;

/// The formats the reader understands. The format is decided by content; a
/// file name is only a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Docx,
    Epub,
    Markdown,
    Text,
}

impl Format {
    /// The lowercase name used in JSON and messages (`"pdf"`, `"docx"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Epub => "epub",
            Format::Markdown => "markdown",
            Format::Text => "text",
        }
    }
}

/// A heading or chapter: `start..end` are char (Unicode scalar value) offsets
/// into [`Document::text`], end exclusive; a section runs to the start of the
/// next section of the same or a higher level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub level: u8,
    pub start: usize,
    pub end: usize,
}

/// What the reader extracted from one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format: Format,
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub text: String,
    pub sections: Vec<Section>,
    pub warnings: Vec<String>,
    /// Every other piece of metadata the format carries (DOCX core
    /// properties, EPUB OPF `dc:*`, Markdown front matter keys, the Project
    /// Gutenberg header and licence), keyed by its name in the source.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Document {
    /// An empty document of the given format, to be filled by a format module.
    pub(crate) fn empty(format: Format) -> Self {
        Document {
            format,
            title: None,
            authors: Vec::new(),
            language: None,
            text: String::new(),
            sections: Vec::new(),
            warnings: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }
}

/// Resource limits; every one of them hit becomes an [`Error::Limit`] naming it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest input accepted at all (`max_input_bytes`).
    pub max_input_bytes: u64,
    /// Total bytes decompressed from a zip container (`max_decompressed_bytes`).
    pub max_decompressed_bytes: u64,
    /// Entries in a zip container's central directory (`max_zip_entries`).
    pub max_zip_entries: usize,
    /// Element nesting depth in any XML part (`max_xml_depth`).
    pub max_xml_depth: usize,
    /// Wall-clock budget for one document (`time_budget`).
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 512 * 1024 * 1024,
            max_decompressed_bytes: 1024 * 1024 * 1024,
            max_zip_entries: 20_000,
            max_xml_depth: 256,
            time_budget: Duration::from_secs(120),
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    /// The message starts with the name of the [`Limits`] field that was hit.
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("the document is encrypted and needs a password")]
    Encrypted,
    #[error("the PDF has no text layer (an image-only or scanned document)")]
    NoTextLayer,
    #[error("corrupt or unreadable {format:?} file: {detail}")]
    Corrupt { format: Format, detail: String },
}

impl Error {
    /// A short stable name for the kind of error (for logs and statistics).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unsupported(_) => "unsupported",
            Error::Limit(_) => "limit",
            Error::Encrypted => "encrypted",
            Error::NoTextLayer => "no_text_layer",
            Error::Corrupt { .. } => "corrupt",
        }
    }

    pub(crate) fn corrupt(format: Format, detail: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            format,
            detail: detail.to_string(),
        }
    }
}

/// The time budget of one document: format modules call [`Budget::check`]
/// in their loops, so a hostile file cannot hold a worker forever.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) deadline: Instant,
    pub(crate) budget: Duration,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        let now = Instant::now();
        Budget {
            deadline: now
                .checked_add(limits.time_budget)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            budget: limits.time_budget,
        }
    }

    /// `Err(Error::Limit)` once the deadline has passed.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if Instant::now() > self.deadline {
            Err(Error::Limit(format!(
                "time_budget: reading took longer than {:?}",
                self.budget
            )))
        } else {
            Ok(())
        }
    }
}

/// Reads a document: detects its format from the content and extracts its
/// text, sections and metadata under `limits`.
pub fn read(bytes: &[u8], name_hint: Option<&str>, limits: &Limits) -> Result<Document, Error> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(Error::Limit(format!(
            "max_input_bytes: the input has {} bytes, more than {}",
            bytes.len(),
            limits.max_input_bytes
        )));
    }
    let format = detect(bytes, name_hint)?;
    let mut doc = read_as(bytes, format, limits)?;
    if let Some(hinted) = name_hint.and_then(detect::format_from_name)
        && hinted != format
        && !(hinted == Format::Text && format == Format::Markdown)
    {
        doc.warnings.insert(
            0,
            format!(
                "the file name suggests {} but the content is {}",
                hinted.name(),
                format.name()
            ),
        );
    }
    Ok(doc)
}

/// Reads a document whose format is already known (no detection).
pub fn read_as(bytes: &[u8], format: Format, limits: &Limits) -> Result<Document, Error> {
    let budget = Budget::new(limits);
    match format {
        Format::Pdf => pdf::read(bytes, limits, budget.deadline),
        Format::Docx => docx::read(bytes, limits, &budget),
        Format::Epub => epub::read(bytes, limits, &budget),
        Format::Markdown => markdown::read(bytes, &budget),
        Format::Text => text::read(bytes, &budget),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builds small zip containers for the format modules' tests.
    use std::io::{Cursor, Write};

    /// A zip with these (name, content) entries, `mimetype` stored.
    pub(crate) fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            let opts = zip::write::SimpleFileOptions::default().compression_method(if *name == "mimetype" {
                zip::CompressionMethod::Stored
            } else {
                zip::CompressionMethod::Deflated
            });
            w.start_file(*name, opts).expect("zip entry");
            w.write_all(data.as_bytes()).expect("zip write");
        }
        w.finish().expect("zip finish").into_inner()
    }

    /// The text of a section.
    pub(crate) fn section_text(doc: &crate::Document, i: usize) -> String {
        let s = &doc.sections[i];
        doc.text.chars().skip(s.start).take(s.end - s.start).collect()
    }
}
