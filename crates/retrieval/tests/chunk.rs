//! `chunk` must split exactly as the server's pipeline always has: stored passage ids and offsets depend on it.

use retrieval::{PASSAGE_CHARS, chunk};

/// The server's `pipeline::passages`, verbatim but for the target, as the reference.
fn reference(text: &str, target: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut pos = 0usize;
    for para in text.split("\n\n") {
        let n = para.chars().count();
        let end = pos + n;
        if end - start >= target && end > start {
            out.push((start, end));
            start = end + 2;
        }
        pos = end + 2;
    }
    let total = text.chars().count();
    if start < total {
        out.push((start, total));
    }
    out.retain(|(s, e)| e > s);
    out
}

fn slice(text: &str, (s, e): (usize, usize)) -> String {
    text.chars().skip(s).take(e - s).collect()
}

#[test]
fn passages_cover_the_text_at_paragraph_breaks() {
    let para = "word ".repeat(100); // 500 chars
    let text = [para.trim_end(); 7].join("\n\n");
    let ps = chunk(&text, PASSAGE_CHARS);
    // 499-char paragraphs: three make a passage (499 + 2 + 499 + 2 + 499 = 1501 >= 1200), the seventh is left.
    assert_eq!(ps, vec![(0, 1501), (1503, 3004), (3006, 3505)]);
    assert_eq!(ps.last().unwrap().1, text.chars().count());
    for w in ps.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 2, "only the paragraph break lies between passages");
        assert_eq!(slice(&text, (w[0].1, w[1].0)), "\n\n");
    }
    for &p in &ps {
        let t = slice(&text, p);
        assert!(!t.starts_with('\n') && !t.ends_with('\n'), "{t:?}");
    }
}

#[test]
fn empty_short_and_unbroken_text() {
    assert!(chunk("", PASSAGE_CHARS).is_empty());
    // A lone break is kept as a (blank) passage, as the pipeline always did: callers that index passages skip blanks.
    assert_eq!(chunk("\n\n", PASSAGE_CHARS), vec![(0, 2)]);
    assert_eq!(chunk("Short.", PASSAGE_CHARS), vec![(0, 6)]);
    let long = "x".repeat(5000);
    assert_eq!(
        chunk(&long, PASSAGE_CHARS),
        vec![(0, 5000)],
        "no paragraph break: one passage"
    );
    assert_eq!(chunk("ab\n\ncd", 0), vec![(0, 2), (4, 6)]);
}

#[test]
fn offsets_are_chars_not_bytes() {
    let text = "Zoë said “hi”.\n\nÉmile — 🎉 — répondit.\n\nFin.";
    let ps = chunk(text, 10);
    assert_eq!(ps, vec![(0, 14), (16, 37), (39, 43)]);
    assert_eq!(slice(text, ps[0]), "Zoë said “hi”.");
    assert_eq!(slice(text, ps[1]), "Émile — 🎉 — répondit.");
    assert_eq!(slice(text, ps[2]), "Fin.");
}

#[test]
fn same_as_the_pipeline_on_many_texts() {
    // Texts built from pieces that stress the splitting: runs of newlines, multibyte chars, empty paragraphs.
    let pieces = [
        "a",
        "word ",
        "\n",
        "\n\n",
        "\n\n\n",
        "é",
        "🎉",
        "  ",
        "Paragraph of some length. ",
        "\r\n",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % 60) as usize;
        let mut text = String::new();
        let mut s = state;
        for _ in 0..n {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text.push_str(pieces[(s >> 33) as usize % pieces.len()]);
        }
        for target in [0, 1, 5, 20, 100, PASSAGE_CHARS] {
            assert_eq!(
                chunk(&text, target),
                reference(&text, target),
                "{text:?} target {target}"
            );
        }
    }
}
