//! The markdown reader on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = reader::read_as(data, reader::Format::Markdown, &common::limits()) {
        common::check(&doc);
    }
});
