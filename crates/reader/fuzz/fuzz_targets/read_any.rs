//! `reader::read` on arbitrary bytes: detection plus whatever format it picks.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = reader::read(data, None, &common::limits()) {
        common::check(&doc);
    }
});
