//! Per-stage benchmarks on Pride and Prejudice (or the first LitBank book
//! found): `cargo bench -p nlp --bench stages`.
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn book() -> String {
    for p in [
        "../../../shared/data/litbank/original/1342_pride_and_prejudice.txt",
        "../shared/data/litbank/original/1342_pride_and_prejudice.txt",
    ] {
        if let Ok(t) = std::fs::read_to_string(p) {
            return t;
        }
    }
    // fallback: a synthetic book so the bench still runs
    "\u{201C}My dear Mr. Bennet,\u{201D} said his lady to him one day, \u{201C}have you heard that Netherfield Park is let at last?\u{201D}\n\nMr. Bennet replied that he had not.\n\n".repeat(3000)
}

fn stages(c: &mut Criterion) {
    let text = book();
    let mut g = c.benchmark_group("stages");
    g.sample_size(10);
    g.bench_function("tokenize", |b| b.iter(|| nlp::token::tokenize(black_box(&text))));
    let toks = nlp::token::tokenize(&text);
    g.bench_function("sentences+paragraphs", |b| {
        b.iter(|| {
            let mut t = toks.clone();
            let s = nlp::token::sentences(&text, &mut t);
            (s, nlp::token::paragraphs(&t))
        })
    });
    let mut toks = toks;
    let _ = nlp::token::sentences(&text, &mut toks);
    let paras = nlp::token::paragraphs(&toks);
    g.bench_function("quotes", |b| b.iter(|| nlp::quotes::find_quotes(&text, &toks, &paras)));
    let stats = nlp::ner::DocStats::from_tokens(&text, &toks);
    let seq = nlp::ner::Seq {
        words: toks.iter().map(|t| t.text(&text)).collect(),
        starts: toks.iter().map(|t| t.is(nlp::token::Token::SENT_START)).collect(),
    };
    let model = nlp::ner::default_model();
    g.bench_function("names", |b| b.iter(|| nlp::ner::tag(model, &seq, &stats)));
    let spans = nlp::ner::tag(model, &seq, &stats);
    let forms: Vec<Vec<&str>> = spans.iter().map(|&(a, b)| seq.words[a..b].to_vec()).collect();
    g.bench_function("aliases", |b| {
        b.iter(|| nlp::cluster::cluster(&forms, &[], |w| stats.is_namey(w)))
    });
    g.bench_function("process (all stages)", |b| {
        b.iter(|| nlp::process(black_box(&text)).speakers.len())
    });
    g.bench_function("analyze (with JSON types)", |b| {
        b.iter(|| nlp::analyze(black_box(&text), &[]))
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
