//! Prints the analysis JSON of a UTF-8 text file:
//! `cargo run -p nlp --release --example analyze -- FILE [--model ner.bin]`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: analyze FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let model = args
        .iter()
        .position(|a| a == "--model")
        .and_then(|i| args.get(i + 1))
        .map(|p| nlp::ner::Model::from_bytes(&std::fs::read(p).expect("read model")));
    let opts = nlp::Options {
        ner_model: model.as_ref(),
    };
    let a = nlp::analyze_with(&text, &[], &opts);
    let out = serde_json::to_string(&a).expect("serialise");
    println!("{out}");
}
