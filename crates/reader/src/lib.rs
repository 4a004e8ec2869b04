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

use serde::{Deserialize, Serialize};
use std::time::Duration;

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
}

/// Resource limits; every one of them hit becomes an [`Error::Limit`] naming it.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_input_bytes: u64,
    pub max_decompressed_bytes: u64,
    pub max_zip_entries: usize,
    pub max_xml_depth: usize,
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
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("the document is encrypted and needs a password")]
    Encrypted,
    #[error("the PDF has no text layer (an image-only or scanned document)")]
    NoTextLayer,
    #[error("corrupt or unreadable {format:?} file: {detail}")]
    Corrupt { format: Format, detail: String },
}

/// Decides the format from the content (magic bytes, zip container contents).
pub fn detect(bytes: &[u8], name_hint: Option<&str>) -> Result<Format, Error> {
    let _ = (bytes, name_hint);
    Err(Error::Unsupported("not implemented yet".into()))
}

/// Reads a document.
pub fn read(bytes: &[u8], name_hint: Option<&str>, limits: &Limits) -> Result<Document, Error> {
    let _ = limits;
    let format = detect(bytes, name_hint)?;
    Err(Error::Unsupported(format!("{format:?} not implemented yet")))
}

mod pdf;
