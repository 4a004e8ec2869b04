//! Hostile and broken input: every limit hit is a clear error naming the
//! limit, and no input panics or hangs (bombs, billion laughs, deep nesting,
//! truncated and bit-flipped corpus files).

mod common;

use reader::{Error, Limits, read};
use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

fn limit_name(r: Result<reader::Document, Error>) -> String {
    match r {
        Err(Error::Limit(msg)) => msg.split(':').next().unwrap_or_default().to_string(),
        Err(e) => panic!("expected a limit error, got {e}"),
        Ok(_) => panic!("expected a limit error, got a document"),
    }
}

#[test]
fn zip_bomb_stops_at_the_decompressed_limit() {
    // 50 MB of zeros deflate to ~50 kB.
    let zeros = vec![b'a'; 50 << 20];
    let body = format!("<w:document {W}><w:body><w:p><w:r><w:t>");
    let mut doc = body.into_bytes();
    doc.extend_from_slice(&zeros);
    let bytes = zip(&[("word/document.xml", &doc)]);
    assert!(bytes.len() < 1 << 20);
    let limits = Limits {
        max_decompressed_bytes: 10 << 20,
        ..Limits::default()
    };
    assert_eq!(
        limit_name(read(&bytes, Some("bomb.docx"), &limits)),
        "max_decompressed_bytes"
    );
}

#[test]
fn zip_entry_count_is_limited() {
    let names: Vec<String> = (0..50).map(|i| format!("f{i}.xml")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("mimetype", b"application/epub+zip")];
    entries.extend(names.iter().map(|n| (n.as_str(), &b"<x/>"[..])));
    let bytes = zip(&entries);
    let limits = Limits {
        max_zip_entries: 10,
        ..Limits::default()
    };
    assert_eq!(limit_name(read(&bytes, None, &limits)), "max_zip_entries");
}

#[test]
fn billion_laughs_and_deep_nesting() {
    let mut dtd = String::from("<!DOCTYPE d [<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        let prev = format!("&l{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY l{i} \"{prev}\">"));
    }
    dtd.push_str("]>");
    let doc = format!(
        "<?xml version=\"1.0\"?>{dtd}<w:document {W}><w:body><w:p><w:r><w:t>a&l9;b</w:t></w:r></w:p></w:body></w:document>"
    );
    let bytes = zip(&[("word/document.xml", doc.as_bytes())]);
    let start = Instant::now();
    let d = read(&bytes, None, &Limits::default()).expect("read");
    assert_eq!(d.text, "ab");
    assert!(start.elapsed() < Duration::from_secs(2));

    let deep = format!(
        "<w:document {W}><w:body>{}</w:body></w:document>",
        "<w:p>".repeat(100_000)
    );
    let bytes = zip(&[("word/document.xml", deep.as_bytes())]);
    assert_eq!(limit_name(read(&bytes, None, &Limits::default())), "max_xml_depth");
}

#[test]
fn input_size_and_time_budget() {
    let limits = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        limit_name(read(b"hello world, this is long", None, &limits)),
        "max_input_bytes"
    );
    // A zero budget runs out at the first check of a long text.
    let text = "word\n".repeat(2_000_000);
    let limits = Limits {
        time_budget: Duration::ZERO,
        ..Limits::default()
    };
    assert_eq!(limit_name(read(text.as_bytes(), Some("a.txt"), &limits)), "time_budget");
}

#[test]
fn unknown_types_are_clear_errors() {
    for (bytes, name) in [
        (&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], "x.png"),
        (&b"\x7fELF\x02\x01\x01\0\0\0\0"[..], "x.docx"),
        (&b""[..], "x.txt"),
        (&[0u8, 159, 146, 150, 0, 1, 2, 3][..], "x.bin"),
    ] {
        assert!(matches!(
            read(bytes, Some(name), &Limits::default()),
            Err(Error::Unsupported(_))
        ));
    }
    let d = read(b"plain words", Some("notes.docx"), &Limits::default()).expect("text");
    assert!(d.warnings.iter().any(|w| w.contains("file name suggests docx")));
}

/// Cut and bit-flipped versions of every corpus file (except PDF, which has
/// its own tests): each read must return, never panic or hang.
#[test]
fn damaged_corpus_files_never_panic() {
    let root = common::corpus_dir();
    let limits = Limits {
        time_budget: Duration::from_secs(10),
        ..Limits::default()
    };
    let mut checked = 0;
    for folder in ["docx", "epub", "md"] {
        for path in common::corpus_files(&root, folder) {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            if bytes.len() > 1 << 20 {
                continue;
            }
            let name = path.display().to_string();
            let mut variants: Vec<Vec<u8>> = Vec::new();
            for frac in [2, 3, 10] {
                variants.push(bytes[..bytes.len() * (frac - 1) / frac].to_vec());
            }
            let mut seed = bytes.len() as u64 | 1;
            for _ in 0..4 {
                let mut v = bytes.clone();
                for _ in 0..8 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if !v.is_empty() {
                        let i = (seed as usize) % v.len();
                        v[i] ^= 1 << (seed % 8);
                    }
                }
                variants.push(v);
            }
            for v in variants {
                let start = Instant::now();
                let r = std::panic::catch_unwind(|| read(&v, Some(&name), &limits));
                assert!(r.is_ok(), "panic on a damaged copy of {name}");
                assert!(start.elapsed() < Duration::from_secs(20), "{name} took too long");
                checked += 1;
            }
        }
    }
    if root.exists() {
        assert!(checked > 100, "only {checked} damaged files checked");
    }
}
