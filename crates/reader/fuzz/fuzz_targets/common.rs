// Shared by the fuzz targets: tight limits so one input cannot stall the
// fuzzer, and a check of the text invariants on every success.
use reader::{Document, Limits};
use std::time::Duration;

/// libFuzzer's panic hook aborts on every panic, even one that the reader
/// catches on purpose (the PDF module isolates `pdf-extract` panics in a
/// thread). This hook only prints, so caught panics are not findings;
/// uncaught ones still abort through libfuzzer-sys's `catch_unwind`.
pub fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}"))));
}

pub fn limits() -> Limits {
    quiet_caught_panics();
    Limits {
        max_input_bytes: 4 << 20,
        max_decompressed_bytes: 64 << 20,
        max_zip_entries: 2_000,
        max_xml_depth: 256,
        time_budget: Duration::from_secs(5),
    }
}

/// The invariants every Document keeps: sections inside the text, no
/// trailing spaces, no runs of more than one blank line.
pub fn check(doc: &Document) {
    let chars = doc.text.chars().count();
    for s in &doc.sections {
        assert!(s.start <= s.end && s.end <= chars, "section out of range");
    }
    assert!(!doc.text.contains("\n\n\n"), "more than one blank line");
    assert!(!doc.text.contains(" \n"), "trailing space");
}

#[allow(dead_code)]
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        if w.start_file(*name, opts).is_err() || w.write_all(data).is_err() {
            return Vec::new();
        }
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}
