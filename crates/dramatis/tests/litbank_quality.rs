//! The NLP quality floor, through the contract other tools use: the LitBank
//! harness (`../shared/eval/litbank_eval.py`) runs `dramatis analyze --format
//! json` on the 80 train books and every total must stay at or above the
//! floor in `crates/nlp/quality-floor.json`. A change that makes the cast,
//! aliases, quotes or speakers worse fails here.

use std::path::Path;
use std::process::Command;

#[test]
fn litbank_train_split_stays_above_the_floor() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared");
    let harness = shared.join("eval/litbank_eval.py");
    assert!(harness.exists(), "the LitBank harness must be at {}", harness.display());
    let floor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("crates/nlp/quality-floor.json")).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("train.json");
    let status = Command::new("python3")
        .arg(&harness)
        .arg("--mirror")
        .arg(shared.join("data/litbank"))
        .arg("--books")
        .arg(shared.join("data/litbank/train-books.txt"))
        .arg("--cmd")
        .arg(format!("{} analyze --format json {{}}", env!("CARGO_BIN_EXE_dramatis")))
        .arg("--timeout")
        .arg("120")
        .arg("--json")
        .arg(&report)
        .status()
        .expect("python3 runs the harness");
    assert!(status.success(), "the harness failed");
    let got: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let totals = &got["totals"];
    let mut below = Vec::new();
    for (key, min) in floor["floor"].as_object().unwrap() {
        let value = totals[key]
            .as_f64()
            .unwrap_or_else(|| panic!("harness total {key} missing: {totals}"));
        let min = min.as_f64().unwrap();
        eprintln!("{key}: {value:.4} (floor {min:.4})");
        if value < min {
            below.push(format!("{key} = {value:.4} < floor {min:.4}"));
        }
    }
    assert!(below.is_empty(), "quality fell below the floor: {below:?}");
    let problems = got["problems"].as_array().map_or(0, Vec::len);
    assert_eq!(problems, 0, "the harness reported problems: {}", got["problems"]);
}
