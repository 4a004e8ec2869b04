//! Quality floor on the shared corpus: every DOCX, EPUB, Markdown and PDF file
//! listed in `tests/corpus_floor.tsv` must still read (or fail with the same
//! error kind) and score at least its recorded word F1 and order similarity
//! against the reference text. Refresh the floor after an improvement with
//! `cargo run -p reader --release --example compare -- --floor > crates/reader/tests/corpus_floor.tsv`.
//!
//! The corpus must be checked out beside the repository (`../shared`), as it
//! is in CI: a missing corpus fails the test rather than skipping it.

mod common;

use std::time::Duration;

#[test]
fn corpus_quality_floor() {
    let root = common::corpus_dir();
    assert!(
        root.join("MANIFEST.tsv").exists(),
        "corpus not found at {} (the shared data must sit beside the repository)",
        root.display()
    );
    let floor = include_str!("corpus_floor.tsv");
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in floor.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, outcome, min_f1, min_order] = cols[..] else {
            failures.push(format!("bad floor line: {line}"));
            continue;
        };
        let path = root.join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            failures.push(format!("{file}: missing from the corpus"));
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (result, took) = common::run(bytes, name, Duration::from_secs(60));
        checked += 1;
        match (result, outcome) {
            (common::Outcome::Ok(doc), "ok") => {
                let Ok(reference) = std::fs::read_to_string(format!("{}.ref.txt", path.display())) else {
                    continue;
                };
                let s = common::score(&doc.text, &reference);
                let (Ok(f), Ok(o)) = (min_f1.parse::<f64>(), min_order.parse::<f64>()) else {
                    continue;
                };
                if s.f1 < f || s.order < o {
                    failures.push(format!(
                        "{file}: F1 {:.4} (floor {f}), order {:.4} (floor {o})",
                        s.f1, s.order
                    ));
                }
            }
            (common::Outcome::Err(e), expected) if expected == format!("error:{}", e.kind()) => {}
            (common::Outcome::Err(e), expected) => failures.push(format!("{file}: error {e}, expected {expected}")),
            (common::Outcome::Ok(_), expected) => failures.push(format!("{file}: read fine, expected {expected}")),
            (common::Outcome::Panic(m), _) => failures.push(format!("{file}: PANIC {m}")),
            (common::Outcome::Timeout, _) => failures.push(format!("{file}: timeout after {took:?}")),
        }
    }
    assert!(checked > 90, "only {checked} corpus files checked");
    assert!(failures.is_empty(), "corpus regressions:\n{}", failures.join("\n"));
}
