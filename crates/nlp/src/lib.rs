//! The literary NLP engine: `&str` in, [`Analysis`] out.
//!
//! Pure, deterministic, synchronous, no I/O.

use serde::{Deserialize, Serialize};

/// A section of the input (a chapter), char offsets into the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub start: usize,
    pub end: usize,
}

/// The analysis of one text; serialises as the analysis JSON of DESIGN.md.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Analysis {
    pub text: String,
    pub sections: Vec<Section>,
}

/// Analyses a text whose sections the caller already knows (may be empty).
pub fn analyze(text: &str, sections: &[Section]) -> Analysis {
    Analysis {
        text: text.to_string(),
        sections: sections.to_vec(),
    }
}
