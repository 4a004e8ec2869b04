//! PDF extraction on real files from the shared corpus: reading order,
//! hyphenation, running headers, sections, encryption, scans, limits, and
//! damaged files (cut and bit-flipped) that must give an error, never a
//! panic or a hang.

use reader::{Error, Format, Limits, read_as};
use std::time::{Duration, Instant};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/docs/pdf/");

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read(name: &str) -> Result<reader::Document, Error> {
    read_as(&file(name), Format::Pdf, &Limits::default())
}

fn text(name: &str) -> String {
    match read(name) {
        Ok(d) => d.text,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Whitespace-insensitive containment.
fn contains(hay: &str, needle: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    squeeze(hay).contains(&squeeze(needle))
}

#[test]
fn libreoffice_text_and_metadata() {
    let d = read("pypdf-002-trivial-libre-office-writer.pdf").unwrap();
    assert_eq!(d.format, Format::Pdf);
    assert!(d.text.contains("Lorem ipsum"), "{}", d.text);
    assert!(!d.text.contains('\u{FFFD}'));
}

#[test]
fn two_columns_are_read_one_after_the_other() {
    let d = read("pypdf-multicolumn.pdf").unwrap();
    let t = &d.text;
    // Each paragraph is one line: the columns were not interleaved.
    assert!(t.contains("\n\n"), "paragraphs are separated by blank lines");
    let w = t.split_whitespace().count();
    assert!(w > 900, "{w} words");
}

#[test]
fn academic_paper_reading_order_hyphens_sections() {
    let d = read("pdfjs-tracemonkey.pdf").unwrap();
    let t = &d.text;
    assert!(contains(
        t,
        "Dynamic languages such as JavaScript are more difficult to compile than statically typed ones."
    ));
    // A sentence that is broken across lines inside a column comes out whole.
    assert!(contains(t, "Since no concrete type information is available"));
    // Superscript footnote marks stay with their names.
    assert!(t.contains("Andreas Gal"), "{}", &t[..300]);
    // Headings found from font size (this file has no outline).
    assert!(
        d.sections.iter().any(|s| s.title.contains("Introduction")),
        "{:?}",
        d.sections
    );
    for s in &d.sections {
        assert!(s.start <= s.end && s.end <= t.chars().count());
    }
    // Ligatures are expanded.
    assert!(!t.contains('\u{FB01}') && !t.contains('\u{FB02}'));
    assert_eq!(
        d.title.as_deref(),
        Some("Trace-based Just-in-Time Type Specialization for Dynamic Languages")
    );
}

#[test]
fn book_outline_headers_and_hyphenation() {
    let d = read("pdfjs-freeculture.pdf").unwrap();
    let t = &d.text;
    assert_eq!(d.title.as_deref(), Some("Free Culture"));
    assert_eq!(d.authors, vec!["Lawrence Lessig".to_string()]);
    // Sections come from the outline, placed at their headings.
    let chapter = d
        .sections
        .iter()
        .find(|s| s.title.contains("Creators"))
        .expect("outline has Chapter 1: Creators");
    let at: String = t.chars().skip(chapter.start).take(40).collect();
    assert!(at.starts_with("CHAPTER ONE"), "{at:?}");
    assert!(d.sections.iter().any(|s| s.level == 2));
    // The running footers ("14773_01_1-174_r9jm.qxd 3/04/04 10:51 PM Page 2")
    // and page headers are dropped.
    // (pdftotext keeps 183 of them; a stray one on an odd page may stay.)
    let n = t.matches("r9jm.qxd").count();
    assert!(n < 5, "{n} footers left");
    // A word hyphenated at the end of a page is rejoined across the page
    // break (and the running footer between the halves is gone), while
    // the book's own hyphens ("so-called") stay.
    assert!(contains(t, "necessary to protect commercial creativity"));
    assert!(t.contains("so-called"));
}

#[test]
fn right_to_left_lines_in_logical_order() {
    let t = text("pdfjs-issue11656.pdf");
    assert!(t.contains("שלום עולם"), "{t}");
    let t = text("pdfjs-ArabicCIDTrueType.pdf");
    // Presentation forms are normalised to letters, in logical order.
    assert!(t.contains("العربية"), "{t}");
}

#[test]
fn cid_fonts_with_tounicode() {
    let t = text("pdfjs-issue12963.pdf");
    assert!(t.split_whitespace().count() > 1000);
    let t = text("pdfjs-bug898853.pdf");
    assert!(!t.trim().is_empty());
}

#[test]
fn soft_hyphens_and_overlapping_text() {
    let t = text("tika-testOptionalHyphen.pdf");
    assert!(!t.contains('\u{AD}'));
    let t = text("tika-testOverlappingText.pdf");
    assert!(t.contains("Text the first time"), "{t}");
}

#[test]
fn empty_user_password_is_read() {
    let t = text("tika-testPDF_protected.pdf");
    assert!(t.split_whitespace().count() > 5000);
}

#[test]
fn user_password_gives_encrypted() {
    for f in [
        "pypdf-libreoffice-writer-password.pdf",
        "pdfjs-issue6010_1.pdf",
        "tika-testPassword4Spaces.pdf",
        "pdfjs-saslprep-r6.pdf",
    ] {
        assert!(matches!(read(f), Err(Error::Encrypted)), "{f}: {:?}", read(f));
    }
}

#[test]
fn scans_give_no_text_layer() {
    assert!(matches!(read("tika-testOCR.pdf"), Err(Error::NoTextLayer)));
}

#[test]
fn inline_images_do_not_hide_the_text_after_them() {
    // A scan with a broken xref and an inline image before a line of text:
    // lopdf's content parser gave up on the image and lost the page (it was
    // taken for a scan); pdftotext reads "pdf.js", and so do we.
    assert!(contains(&text("pdfjs-scan-bad.pdf"), "pdf.js"));
}

#[test]
fn an_empty_page_is_an_empty_document() {
    let d = read("pdfjs-empty.pdf").unwrap();
    assert!(d.text.is_empty());
}

#[test]
fn broken_files_give_clear_errors() {
    for f in [
        "pdfjs-REDHAT-1531897-0.pdf",
        "pdfjs-issue9418.pdf",
        "pdfjs-Brotli-Prototype-FileA.pdf",
    ] {
        assert!(matches!(read(f), Err(Error::Corrupt { .. })), "{f}");
    }
    assert!(matches!(
        read_as(b"%PDF-1.4\nnothing", Format::Pdf, &Limits::default()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn limits_are_named() {
    let bytes = file("pdfjs-tracemonkey.pdf");
    let small = Limits {
        max_decompressed_bytes: 10_000,
        ..Limits::default()
    };
    match read_as(&bytes, Format::Pdf, &small) {
        Err(Error::Limit(m)) => assert!(m.contains("max_decompressed_bytes"), "{m}"),
        other => panic!("{other:?}"),
    }
    let quick = Limits {
        time_budget: Duration::ZERO,
        ..Limits::default()
    };
    match read_as(&bytes, Format::Pdf, &quick) {
        Err(Error::Limit(m)) => assert!(m.contains("time_budget"), "{m}"),
        other => panic!("{other:?}"),
    }
    let tiny = Limits {
        max_input_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(read_as(&bytes, Format::Pdf, &tiny), Err(Error::Limit(_))));
}

/// A small deterministic generator for the damage tests.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn cut_and_flipped_files_never_panic_or_hang() {
    let limits = Limits {
        time_budget: Duration::from_secs(20),
        ..Limits::default()
    };
    let mut rng = Lcg(42);
    for name in [
        "pypdf-002-trivial-libre-office-writer.pdf",
        "pdfjs-issue12963.pdf",
        "tika-testPDFVarious.pdf",
        "pdfjs-bug898853.pdf",
    ] {
        let bytes = file(name);
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for k in 1..8 {
            variants.push(bytes[..bytes.len() * k / 8].to_vec());
        }
        for _ in 0..12 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next() % 16 {
                let i = (rng.next() as usize) % b.len();
                b[i] ^= 1 << (rng.next() % 8);
            }
            variants.push(b);
        }
        for (i, v) in variants.iter().enumerate() {
            let start = Instant::now();
            // Any result is fine; a panic would fail the test.
            let r = read_as(v, Format::Pdf, &limits);
            if let Ok(d) = &r {
                for s in &d.sections {
                    assert!(s.start <= s.end, "{name} variant {i}");
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(25),
                "{name} variant {i} took {:?}",
                start.elapsed()
            );
        }
    }
}

/// A minimal PDF from object bodies (object 1 is the catalog).
/// A stream object: `<< {entries} /Length n >>`, then `data`.
fn stream_obj(entries: &str, data: &[u8]) -> Vec<u8> {
    let sep = if entries.is_empty() { "" } else { " " };
    let mut obj = format!("<< {entries}{sep}/Length {} >>\nstream\n", data.len()).into_bytes();
    obj.extend_from_slice(data);
    obj.extend_from_slice(b"\nendstream");
    obj
}

fn build_pdf(objs: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(o);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[test]
fn decompression_bomb_is_a_limit() {
    use std::io::Write;
    // 40 MB of spaces deflate to about 40 kB.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..40 {
        z.write_all(&chunk).unwrap();
    }
    let bomb = z.finish().unwrap();
    let content = stream_obj("/Filter /FlateDecode", &bomb);
    let pdf = build_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>".to_vec(),
        content,
    ]);
    let start = Instant::now();
    match read_as(&pdf, Format::Pdf, &Limits::default()) {
        Err(Error::Limit(m)) => assert!(m.contains("max_decompressed_bytes"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn self_referencing_form_is_a_limit_not_a_crash() {
    // Page draws form 4, which draws itself.
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 5 0 R \
         /Resources << /XObject << /X 4 0 R >> >> >>",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] \
         /Resources << /XObject << /X 4 0 R >> >> /Length 5 >>\nstream\n/X Do\nendstream",
        "<< /Length 5 >>\nstream\n/X Do\nendstream",
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    match read_as(&pdf, Format::Pdf, &Limits::default()) {
        Err(Error::Limit(m)) => assert!(m.contains("recursion"), "{m}"),
        other => panic!("{other:?}"),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Made with `qpdf --encrypt "" owner-secret 256` (AES-256, revision 6) from
/// a one-line page; the second with the user password "letmein".
#[test]
fn aes256_r6_with_empty_user_password_is_read() {
    let d = read_as(
        &fixture("aes256-r6-empty-user-password.pdf"),
        Format::Pdf,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.text.trim(), "Encrypted with AES-256, revision six.");
    let r = read_as(&fixture("aes256-r6-user-password.pdf"), Format::Pdf, &Limits::default());
    assert!(matches!(r, Err(Error::Encrypted)), "{r:?}");
}

/// The AES-256 fixture with its crypt filters moved out of the encryption
/// dictionary: `/CF 7 0 R`, and object 7 holding `/StdCF 8 0 R` (both
/// allowed), appended as an incremental update; the dictionary is rewritten
/// in place with spaces so no offset moves. lopdf alone does not resolve the
/// references and decrypts with RC4 (noise); with `damaged`, object 8 is not
/// a dictionary at all (pdf.js issue 7665), and V 5 implies AESV3.
fn indirect_crypt_filters(damaged: bool) -> Vec<u8> {
    let mut b = fixture("aes256-r6-empty-user-password.pdf");
    let cf: &[u8] = b"/CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >> >>";
    let at = b.windows(cf.len()).position(|w| w == cf).expect("fixture has its /CF");
    let mut repl = b"/CF 7 0 R".to_vec();
    repl.resize(cf.len(), b' ');
    b[at..at + cf.len()].copy_from_slice(&repl);
    let prev = {
        let t = String::from_utf8_lossy(&b[b.len() - 30..]).to_string();
        t.split_whitespace().rev().nth(1).unwrap().parse::<usize>().unwrap()
    };
    let o7 = b.len();
    b.extend_from_slice(b"7 0 obj\n<< /StdCF 8 0 R >>\nendobj\n");
    let o8 = b.len();
    if damaged {
        b.extend_from_slice(b"8 0 obj\n/AuthEvent /DocOpen /CFM /AESV3 /Length 32\nendobj\n");
    } else {
        b.extend_from_slice(b"8 0 obj\n<< /AuthEvent /DocOpen /CFM /AESV3 /Length 32 >>\nendobj\n");
    }
    let x = b.len();
    let id = String::from_utf8_lossy(&b)
        .split("/ID")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .to_string();
    b.extend_from_slice(
        format!(
            "xref\n7 2\n{o7:010} 00000 n \n{o8:010} 00000 n \ntrailer << /Root 1 0 R /Size 9 /ID{id}] /Encrypt 6 0 R /Prev {prev} >>\nstartxref\n{x}\n%%EOF\n"
        )
        .as_bytes(),
    );
    b
}

#[test]
fn aes256_with_indirect_crypt_filters_is_read() {
    for damaged in [false, true] {
        let d = read_as(&indirect_crypt_filters(damaged), Format::Pdf, &Limits::default()).unwrap();
        assert_eq!(
            d.text.trim(),
            "Encrypted with AES-256, revision six.",
            "damaged: {damaged}"
        );
    }
}

/// A pdf fuzz-target input (a mutated corpus file with a broken xref and a
/// stream without a good `/Length`) that hit libFuzzer's 10 s timeout once
/// while the machine was compiling; alone it takes 0.2–0.4 s under the
/// sanitizer and ~20 ms in release. Kept so a real slowdown on it shows up.
#[test]
fn fuzz_timeout_input_reads_within_the_budget() {
    let limits = Limits {
        time_budget: Duration::from_secs(5),
        ..Limits::default()
    };
    let start = Instant::now();
    let r = read_as(&fixture("fuzz-pdf-timeout-f5725de4.pdf"), Format::Pdf, &limits);
    assert!(!matches!(r, Err(Error::Limit(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

/// A page whose content stream is `content`, with the stream dictionary
/// `stream_dict` (so tests can omit or falsify /Length) and font `font`.
fn one_page(font: &[u8], stream_dict: &[u8], content: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = stream_dict.to_vec();
    stream.extend_from_slice(b"\nstream\n");
    stream.extend_from_slice(content);
    stream.extend_from_slice(b"\nendstream");
    let mut objs = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_vec(),
        font.to_vec(),
        stream,
    ];
    objs.extend(extra.iter().cloned());
    build_pdf(&objs)
}

const HELVETICA: &[u8] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";

#[test]
fn streams_with_a_missing_or_wrong_length_are_read() {
    let content = b"BT /F1 12 Tf 72 720 Td (Length is not what it says) Tj ET";
    for dict in [
        b"<< >>".as_slice(),
        b"<< /Length 9999 >>",
        b"<< /Length 3 >>",
        b"<< /Length 6 0 R >>",
    ] {
        let pdf = one_page(HELVETICA, dict, content, &[b"7".to_vec()]);
        let d = read_as(&pdf, Format::Pdf, &Limits::default()).unwrap_or_else(|e| panic!("{dict:?}: {e}"));
        assert_eq!(d.text.trim(), "Length is not what it says", "{dict:?}");
    }
    assert!(contains(&text("pdfjs-issue1293r.pdf"), "Issue 1293"));
}

#[test]
fn cid_fonts_identity_h_with_tounicode() {
    // Two-byte codes 0x0102 and 0x0103 map to 漢 and 字 (UTF-16BE 6F22, 5B57).
    let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n2 beginbfchar <0102> <6F22> <0103> <5B57> endbfchar\nendcmap end end";
    let tounicode = stream_obj("", cmap);
    let font = b"<< /Type /Font /Subtype /Type0 /BaseFont /Test /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 6 0 R >>";
    let descendant = b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Test /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 /W [258 [1000 1000]] >>".to_vec();
    let content = b"BT /F1 12 Tf 72 720 Td <01020103> Tj ET";
    let pdf = one_page(
        font,
        format!("<< /Length {} >>", content.len()).as_bytes(),
        content,
        &[tounicode, descendant],
    );
    let d = read_as(&pdf, Format::Pdf, &Limits::default()).unwrap();
    assert_eq!(d.text.trim(), "漢字");
}

#[test]
fn cid_fonts_with_predefined_cmaps_and_no_tounicode() {
    // UniJIS-UCS2-H: codes are UCS-2; 90ms-RKSJ-H: codes are Shift-JIS
    // (one byte for ASCII, two for kanji); a missing descendant font is
    // tolerated.
    for (encoding, string, want) in [
        ("UniJIS-UCS2-H", "<65E5672C>", "日本"),
        ("90ms-RKSJ-H", "<41938C8B9E>", "A東京"),
    ] {
        let font =
            format!("<< /Type /Font /Subtype /Type0 /BaseFont /Test /Encoding /{encoding} /DescendantFonts [null] >>");
        let content = format!("BT /F1 12 Tf 72 720 Td {string} Tj ET");
        let pdf = one_page(
            font.as_bytes(),
            format!("<< /Length {} >>", content.len()).as_bytes(),
            content.as_bytes(),
            &[],
        );
        let d = read_as(&pdf, Format::Pdf, &Limits::default()).unwrap_or_else(|e| panic!("{encoding}: {e}"));
        assert_eq!(d.text.replace(' ', "").trim(), want, "{encoding}");
    }
    assert!(contains(&text("pdfjs-90ms_rksj_h_sample.pdf"), "日本語テスト"));
    assert!(contains(&text("pdfjs-noembed-sjis.pdf"), "あいうえお"));
    assert!(contains(&text("pdfjs-issue12823.pdf"), "可替换为所需图片"));
}

fn page_text(content: &[u8], extra: &[Vec<u8>]) -> String {
    let pdf = one_page(
        HELVETICA,
        format!("<< /Length {} >>", content.len()).as_bytes(),
        content,
        extra,
    );
    read_as(&pdf, Format::Pdf, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .text
}

#[test]
fn text_drawn_twice_in_place_is_kept_once() {
    // Fake bold: the same words drawn again 0.4 pt to the right.
    let t = page_text(
        b"BT /F1 12 Tf 72 720 Td (Bold heading) Tj ET BT /F1 12 Tf 72.4 720 Td (Bold heading) Tj ET",
        &[],
    );
    assert_eq!(t.trim(), "Bold heading");
    // tika: "Text the first time" and "Text the second time" drawn at the
    // same origin; the shared "Text the " is drawn twice, the rest differs
    // and is kept whole, not interleaved letter by letter.
    let t = text("tika-testOverlappingText.pdf");
    assert_eq!(
        t.split_whitespace().collect::<Vec<_>>().join(" "),
        "Text the first time second time"
    );
}

#[test]
fn form_xobjects_are_drawn_where_their_matrix_and_the_ctm_put_them() {
    // The form draws its label at y 720 in form space; /Matrix moves it down
    // 200 pt and the `cm` before `Do` another 100: on the page it sits at
    // y 420, between the two body lines (upstream drew it at 720, on top).
    let form = b"BT /F1 12 Tf 72 720 Td (Figure label) Tj ET";
    let xobj = stream_obj(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Matrix [1 0 0 1 0 -200] \
         /Resources << /Font << /F1 4 0 R >> >>",
        form,
    );
    let content = b"BT /F1 12 Tf 72 700 Td (Body top.) Tj ET q 1 0 0 1 0 -100 cm /Fm Do Q \
                    BT /F1 12 Tf 72 300 Td (Body bottom.) Tj ET";
    let mut objs = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> \
          /XObject << /Fm 6 0 R >> >> /Contents 5 0 R >>"
            .to_vec(),
        HELVETICA.to_vec(),
    ];
    let stream = stream_obj("", content);
    objs.push(stream);
    objs.push(xobj);
    let d = read_as(&build_pdf(&objs), Format::Pdf, &Limits::default()).unwrap();
    let words: Vec<&str> = d.text.split_whitespace().collect();
    assert_eq!(
        words,
        ["Body", "top.", "Figure", "label", "Body", "bottom."],
        "{}",
        d.text
    );
}

#[test]
fn rotated_text_is_laid_out_in_its_own_frame() {
    // A line turned 90° (running down the page, tops of the glyphs to the
    // right, so the next line is to its left), then the word "test" set
    // glyph by glyph at 90° with Helvetica's advances (t 3.336, e 6.672,
    // s 6.0 at 12 pt) on that next line, then an upright title.
    let t = page_text(
        b"BT /F1 12 Tf 0 -1 1 0 100 600 Tm (rotated words here) Tj ET \
          BT /F1 12 Tf 0 -1 1 0 80 600 Tm (t) Tj 0 -1 1 0 80 596.664 Tm (e) Tj \
          0 -1 1 0 80 589.992 Tm (s) Tj 0 -1 1 0 80 583.992 Tm (t) Tj ET \
          BT /F1 12 Tf 72 720 Td (Upright title) Tj ET",
        &[],
    );
    let words: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(words, ["Upright", "title", "rotated", "words", "here", "test"], "{t}");
    // pdf.js rotated.pdf: "test" horizontal, at 90° and at 45° (glyph by
    // glyph), and as four upright letters stacked in a column.
    let t = text("pdfjs-rotated.pdf");
    assert_eq!(t.split_whitespace().filter(|w| *w == "test").count(), 3, "{t}");
}

#[test]
fn letter_spaced_words_with_space_glyphs_stay_whole() {
    // 2 pt character spacing at 10 pt (0.2 em between letters); the word
    // spaces are drawn, so the tracking is not taken for word gaps.
    let t = page_text(b"BT /F1 10 Tf 2 Tc 72 600 Td (Size of range) Tj ET", &[]);
    assert_eq!(t.trim(), "Size of range");
    // Without drawn spaces, gaps are all there is.
    let t = page_text(b"BT /F1 10 Tf 72 600 Td [(Size) -400 (of) -400 (range)] TJ ET", &[]);
    assert_eq!(t.trim(), "Size of range");
}

#[test]
fn an_exponent_drawn_before_its_base_follows_it() {
    // "such that" then the exponent 2 (raised 3 pt, at x 127.3), then its
    // base i (at x 124.5): one run in the stream, out of order on the page.
    let t = page_text(
        b"BT /F1 12 Tf 1 0 0 1 72 600 Tm (such that) Tj /F1 7 Tf 1 0 0 1 127.3 603 Tm (2) Tj \
          /F1 12 Tf 1 0 0 1 124.5 600 Tm (i) Tj ET",
        &[],
    );
    assert_eq!(t.trim(), "such that i2");
}

#[test]
fn symbol_font_private_use_codes_become_their_characters() {
    // A subset of Symbol whose ToUnicode gives U+F02B, U+F03D and U+F0B1
    // (Windows' symbol cmap, as Word writes it): "+", "=" and "±".
    let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <00> <FF> endcodespacerange\n3 beginbfchar <2B> <F02B> <3D> <F03D> <B1> <F0B1> endbfchar\nendcmap end end";
    let tounicode = stream_obj("", cmap);
    let widths = vec!["549"; 224].join(" ");
    let symbol = format!(
        "<< /Type /Font /Subtype /TrueType /BaseFont /BIOPPG+Symbol /FirstChar 32 /LastChar 255 \
         /Widths [{widths}] /ToUnicode 7 0 R >>"
    );
    let content = b"BT /F1 12 Tf 72 700 Td (x ) Tj /F2 12 Tf (+) Tj /F1 12 Tf ( y ) Tj /F2 12 Tf (=) Tj \
                    /F1 12 Tf ( 2 ) Tj /F2 12 Tf (\\261) Tj /F1 12 Tf ( 1) Tj ET";
    let stream = stream_obj("", content);
    let objs = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R /F2 6 0 R >> >> \
          /Contents 5 0 R >>"
            .to_vec(),
        HELVETICA.to_vec(),
        stream,
        symbol.into_bytes(),
        tounicode,
    ];
    let d = read_as(&build_pdf(&objs), Format::Pdf, &Limits::default()).unwrap();
    assert_eq!(d.text.trim(), "x + y = 2 ± 1");
}
