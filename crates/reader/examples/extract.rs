//! Extracts one file: `cargo run -p reader --release --example extract -- FILE [--json]`.
//!
//! Prints the text (or the whole `Document` as JSON) to stdout; used by
//! `scripts/bench-reader.sh` to time the reader as a process, like pandoc.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: extract FILE [--json]");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match reader::read(&bytes, Some(path), &reader::Limits::default()) {
        Ok(doc) => {
            let mut out = std::io::stdout().lock();
            if args.iter().any(|a| a == "--json") {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                let _ = writeln!(out, "{}", doc.text);
            }
            for w in &doc.warnings {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
