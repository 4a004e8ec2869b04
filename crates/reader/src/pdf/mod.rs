//! PDF: text in reading order from the page content streams.

use crate::{Document, Error, Limits};
use std::time::Instant;

/// Reads a PDF. `deadline` is when the time budget of [`Limits`] runs out.
pub(crate) fn read(bytes: &[u8], limits: &Limits, deadline: Instant) -> Result<Document, Error> {
    let _ = (bytes, limits, deadline);
    Err(Error::Unsupported("PDF not implemented yet".into()))
}
