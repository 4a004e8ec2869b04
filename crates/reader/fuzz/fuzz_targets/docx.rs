//! The DOCX reader: a zip as is (seeds from the corpus), or else the input
//! as `word/document.xml` (and, split at the first NUL, `word/styles.xml`)
//! of a generated package, so the fuzzer reaches the XML walker.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let bytes = if data.starts_with(b"PK") {
        data.to_vec()
    } else {
        let (doc, styles) = match data.iter().position(|&b| b == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &b""[..]),
        };
        common::zip(&[
            ("word/document.xml", doc),
            ("word/styles.xml", styles),
            ("word/footnotes.xml", styles),
        ])
    };
    if let Ok(doc) = reader::read_as(&bytes, reader::Format::Docx, &common::limits()) {
        common::check(&doc);
    }
});
