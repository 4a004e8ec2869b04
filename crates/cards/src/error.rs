//! One error type for everything that can go wrong reading or writing a card.
//!
//! Cards arrive from strangers (uploads, chub.ai downloads), so every variant is a
//! message a user can act on: which chunk, which JSON path, which limit.

/// Why a card could not be imported or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The bytes are neither a PNG nor a JSON object that looks like a V1/V2/V3 card.
    #[error("not a character card: {0}")]
    NotACard(String),

    /// An input (or a decoded part of it) is over one of the size limits in [`crate::limits`].
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },

    /// The PNG ends in the middle of a chunk, or before its `IEND` chunk.
    #[error("PNG is truncated: {0}")]
    PngTruncated(String),

    /// A chunk's stored CRC-32 does not match its type and data (PNG spec, section 5.3).
    #[error("PNG chunk {chunk:?} at byte {offset} has a bad CRC (stored {stored:#010x}, computed {computed:#010x})")]
    PngBadCrc {
        chunk: String,
        offset: usize,
        stored: u32,
        computed: u32,
    },

    /// Structurally wrong PNG: bad signature, `IHDR` not first, absurd chunk length, bad text chunk, ...
    #[error("malformed PNG: {0}")]
    PngMalformed(String),

    /// A `chara`/`ccv3` text chunk is neither base64 nor raw JSON.
    #[error("the {chunk:?} text chunk is not valid base64: {source}")]
    BadBase64 {
        chunk: String,
        #[source]
        source: base64::DecodeError,
    },

    /// The card text is not UTF-8 (the specs say the JSON is UTF-8 before base64).
    #[error("{0} is not valid UTF-8")]
    NotUtf8(String),

    /// The card text is not JSON at all (syntax error; serde_json reports line and column).
    #[error("invalid JSON in {what}: {source}")]
    BadJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// The JSON parsed, but a field has the wrong type (`path` is like `data.character_book.entries[2].keys[0]`).
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
    },

    /// The card has no usable `name` (absent, null or blank); a character needs one.
    #[error("the card has no name ({0} is missing or empty)")]
    MissingName(&'static str),
}
