//! The EPUB reader: a zip as is (seeds from the corpus), or else the input
//! as the package document, nav and chapter of a generated book (split at
//! NUL bytes), so the fuzzer reaches the OPF, nav and XHTML code.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

const CONTAINER: &[u8] = br#"<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>"#;
const OPF: &[u8] = br#"<package><metadata><dc:title>t</dc:title></metadata><manifest><item id="n" href="nav.xhtml" properties="nav" media-type="application/xhtml+xml"/><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c"/></spine></package>"#;

fuzz_target!(|data: &[u8]| {
    let bytes = if data.starts_with(b"PK") {
        data.to_vec()
    } else {
        let mut parts = data.split(|&b| b == 0);
        let chapter = parts.next().unwrap_or_default();
        let nav = parts
            .next()
            .unwrap_or(b"<nav><ol><li><a href=\"c.xhtml#x\">x</a></li></ol></nav>");
        let opf = parts.next().unwrap_or(OPF);
        common::zip(&[
            ("mimetype", b"application/epub+zip"),
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", opf),
            ("OEBPS/nav.xhtml", nav),
            ("OEBPS/c.xhtml", chapter),
        ])
    };
    if let Ok(doc) = reader::read_as(&bytes, reader::Format::Epub, &common::limits()) {
        common::check(&doc);
    }
});
