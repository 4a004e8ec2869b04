//! Prints the tagger's decision for every occurrence of a word:
//! `ner_debug FILE WORD [--model ner.bin]` (for error analysis): the tag
//! (0 = O, 1 = B, 2 = I) and the O (after the penalty), B and I scores of the
//! first pass; with `FEATS=1` also each feature's B − O weight, in the order
//! `ner::features_with` pushes them.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("read");
    let word = &args[2];
    let model = args
        .iter()
        .position(|a| a == "--model")
        .and_then(|i| args.get(i + 1))
        .map(|p| nlp::ner::Model::from_bytes(&std::fs::read(p).expect("read model")));
    let model = model.as_ref().unwrap_or_else(|| nlp::ner::default_model());
    let mut toks = nlp::token::tokenize(&text);
    let _ = nlp::token::sentences(&text, &mut toks);
    let stats = nlp::ner::DocStats::from_tokens(&text, &toks);
    let seq = nlp::ner::Seq::new(&text, &toks);
    let words: Vec<&str> = seq.words().collect();
    let tags = nlp::ner::tag_seq(model, &seq, &stats);
    let mut feats = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if w != word {
            continue;
        }
        let p = if i > 0 && nlp::ner::is_upper_initial(words[i - 1]) {
            tags[i - 1]
        } else {
            nlp::ner::O
        };
        nlp::ner::features(&seq, &stats, model.classes.as_deref(), i, p, &mut feats);
        let s = model.scores(&feats);
        let ctx = words[i.saturating_sub(4)..(i + 4).min(words.len())].join(" ");
        println!(
            "{} [{:.1} {:.1} {:.1}] {}",
            tags[i],
            s[0] - model.o_penalty,
            s[1],
            s[2],
            ctx
        );
        if std::env::var_os("FEATS").is_some() {
            let parts: Vec<String> = feats
                .iter()
                .enumerate()
                .map(|(k, f)| {
                    let w = model.w.get(f).copied().unwrap_or([0.0; 3]);
                    format!("{k}:{:+.0}", w[1] - w[0])
                })
                .collect();
            println!("    {}", parts.join(" "));
        }
    }
}
