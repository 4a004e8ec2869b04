//! Quality table: extracted text vs the reference text of every corpus file.
//!
//! ```sh
//! cargo run -p reader --release --example compare -- ../shared/data/docs [--floor]
//! ```
//!
//! Prints, per format and per file, word F1 and order similarity against
//! `NAME.ref.txt` (see `tests/common/mod.rs` for the definitions), the
//! errors by kind, panics and timeouts, then a summary per format. With
//! `--floor` it prints instead the rows of `tests/corpus_floor.tsv` (the
//! current scores rounded down), used to refresh the floor after an
//! improvement.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Outcome, corpus_files, manifest, run, score};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let floor_mode = args.iter().any(|a| a == "--floor");
    let only: Option<&String> = args.iter().skip_while(|a| *a != "--only").nth(1);
    let root = args
        .iter()
        .find(|a| !a.starts_with("--") && Some(*a) != only)
        .map(PathBuf::from)
        .unwrap_or_else(common::corpus_dir);
    let manifest = manifest(&root);
    if !floor_mode {
        println!(
            "{:<6} {:<62} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}  outcome / note",
            "format", "file", "F1", "recall", "order", "words", "ref", "ms"
        );
    }
    for folder in ["docx", "epub", "md", "pdf"] {
        let mut n = 0;
        let mut scored = 0;
        let (mut sum_f1, mut sum_order) = (0.0, 0.0);
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        let (mut panics, mut timeouts) = (0, 0);
        let mut below = Vec::new();
        for path in corpus_files(&root, folder) {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(o) = only
                && !file.contains(o.as_str())
            {
                continue;
            }
            n += 1;
            let key = format!("{folder}/{file}");
            let special = manifest.get(&key).cloned().unwrap_or_default();
            let flagged = special.contains("REFERENCE INCOMPLETE")
                || special.contains("reference is empty")
                || special.contains("garble");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let reference = std::fs::read_to_string(format!("{}.ref.txt", path.display())).ok();
            let (outcome, took) = run(bytes, file.clone(), Duration::from_secs(120));
            let ms = took.as_millis();
            match outcome {
                Outcome::Ok(doc) => {
                    if let Some(r) = &reference {
                        let s = score(&doc.text, r);
                        scored += 1;
                        sum_f1 += s.f1;
                        sum_order += s.order;
                        let target = if folder == "pdf" {
                            s.f1 >= 0.95
                        } else {
                            s.f1 >= 0.98 && s.order >= 0.95
                        };
                        if !target {
                            below.push((file.clone(), s.f1, s.recall, s.order, flagged));
                        }
                        if floor_mode {
                            println!("{key}\tok\t{:.3}\t{:.3}", floor2(s.f1), floor2(s.order));
                        } else {
                            println!(
                                "{folder:<6} {file:<62} {:>7.4} {:>7.4} {:>7.4} {:>8} {:>8} {ms:>8}  ok{}",
                                s.f1,
                                s.recall,
                                s.order,
                                s.ours_words,
                                s.ref_words,
                                if flagged {
                                    "  (reference flagged in MANIFEST)"
                                } else {
                                    ""
                                }
                            );
                        }
                    } else if floor_mode {
                        println!("{key}\tok\t-\t-");
                    } else {
                        println!(
                            "{folder:<6} {file:<62} {:>7} {:>7} {:>7} {:>8} {:>8} {ms:>8}  ok, no reference ({} chars)",
                            "-",
                            "-",
                            "-",
                            common::words(&doc.text).len(),
                            "-",
                            doc.text.chars().count()
                        );
                    }
                }
                Outcome::Err(e) => {
                    *errors.entry(e.kind().to_string()).or_default() += 1;
                    if floor_mode {
                        println!("{key}\terror:{}\t-\t-", e.kind());
                    } else {
                        println!(
                            "{folder:<6} {file:<62} {:>7} {:>7} {:>7} {:>8} {:>8} {ms:>8}  error {}: {}{}",
                            "-",
                            "-",
                            "-",
                            "-",
                            "-",
                            e.kind(),
                            e,
                            if reference.is_some() {
                                "  (reference exists!)"
                            } else {
                                ""
                            }
                        );
                    }
                }
                Outcome::Panic(msg) => {
                    panics += 1;
                    println!("{folder:<6} {file:<62} PANIC {msg}");
                }
                Outcome::Timeout => {
                    timeouts += 1;
                    println!("{folder:<6} {file:<62} TIMEOUT");
                }
            }
        }
        if floor_mode || n == 0 {
            continue;
        }
        let mean = |s: f64| if scored == 0 { 0.0 } else { s / scored as f64 };
        println!(
            "== {folder}: {n} files, {scored} scored, mean F1 {:.4}, mean order {:.4}, errors {:?}, panics {panics}, timeouts {timeouts}",
            mean(sum_f1),
            mean(sum_order),
            errors
        );
        for (file, f1, recall, order, flagged) in below {
            println!(
                "   under target: {file} F1 {f1:.4} recall {recall:.4} order {order:.4}{}",
                if flagged { " (reference flagged)" } else { "" }
            );
        }
        println!();
    }
}

fn floor2(x: f64) -> f64 {
    // Round down to 3 decimals, less a small tolerance.
    ((x * 1000.0).floor() / 1000.0 - 0.002).max(0.0)
}
