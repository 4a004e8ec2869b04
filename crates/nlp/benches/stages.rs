//! Per-stage benchmarks on Pride and Prejudice (or the first LitBank book
//! found): `cargo bench -p nlp --bench stages`. Each stage is fed the output
//! of the real earlier stages, so a regression shows where it is: tokens,
//! sentences, quotes, names (tagger), aliases, speakers, relationships with
//! the timeline, profiles, then the whole `process` and `analyze`.
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
    let seq = nlp::ner::Seq::new(&text, &toks);
    let model = nlp::ner::default_model();
    g.bench_function("names", |b| b.iter(|| nlp::ner::tag(model, &seq, &stats)));
    let spans = nlp::ner::tag(model, &seq, &stats);
    let forms: Vec<Vec<&str>> = spans
        .iter()
        .map(|&(a, b)| (a..b).map(|k| seq.word(k)).collect())
        .collect();
    g.bench_function("aliases", |b| {
        b.iter(|| nlp::cluster::cluster(&forms, &[], |w| stats.is_namey(w)))
    });
    let (assign, clusters) = nlp::cluster::cluster(&forms, &[], |w| stats.is_namey(w));
    let names: Vec<(usize, usize, usize)> = spans
        .iter()
        .zip(&assign)
        .filter_map(|(&(a, b), c)| c.map(|c| (a, b, c)))
        .collect();
    let sents = {
        let mut t = toks.clone();
        nlp::token::sentences(&text, &mut t)
    };
    let quotes = nlp::quotes::find_quotes(&text, &toks, &paras);
    g.bench_function("speakers", |b| {
        b.iter(|| nlp::speaker::attribute(&text, &toks, &sents, &paras, &quotes, &names, &clusters))
    });
    // the later stages on the full pipeline's output, in byte offsets
    let doc = nlp::process(&text);
    let mentions: Vec<nlp::relations::MentionRef> = doc
        .mentions
        .iter()
        .map(|m| nlp::relations::MentionRef {
            start: doc.tokens[m.tok_start as usize].start as usize,
            end: doc.tokens[m.tok_end as usize - 1].end as usize,
            character: m.character as u32,
        })
        .collect();
    let qrefs: Vec<nlp::relations::QuoteRef> = doc
        .quotes
        .iter()
        .zip(&doc.speakers)
        .map(|(q, s)| nlp::relations::QuoteRef {
            start: q.start as usize,
            end: q.end as usize,
            speaker: s.map(|c| c as u32),
        })
        .collect();
    let sentence_ranges: Vec<std::ops::Range<usize>> = doc
        .sentences
        .iter()
        .filter(|s| s.end > s.start)
        .map(|s| doc.tokens[s.start as usize].start as usize..doc.tokens[s.end as usize - 1].end as usize)
        .collect();
    // chapters: one section per 1/61 of the text (Pride and Prejudice has 61)
    let step = text.len() / 61 + 1;
    let sections: Vec<std::ops::Range<usize>> = (0..text.len()).step_by(step).map(|a| a..a + step).collect();
    g.bench_function("relationships+timeline", |b| {
        b.iter(|| nlp::relations::compute(&mentions, &qrefs, &sections, nlp::relations::DEFAULT_WINDOW))
    });
    g.bench_function("profiles", |b| {
        b.iter(|| nlp::profile::build(&text, &sentence_ranges, &mentions, &qrefs, &sections))
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
