//! Benchmarks of the feature stages on Pride and Prejudice:
//! `cargo bench -p nlp --bench features`.
//!
//! Inputs (sentences, sections, mentions, quotes) come from the plain helpers
//! in `tests/features_support`, not from the core pipeline, so these numbers
//! measure only the feature modules.
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "../tests/features_support/mod.rs"]
mod support;

use nlp::{keywords, lang, profile, relations, stats, summary};

fn features(c: &mut Criterion) {
    let text = support::book(support::PRIDE).unwrap_or_else(|| {
        // Fallback so the bench still runs without the shared data.
        "“My dear Mr. Bennet,” said his lady to him one day, “have you heard that \
         Netherfield Park is let at last?”\n\nMr. Bennet replied that he had not.\n\n"
            .repeat(3000)
    });
    let sents = support::sentences(&text);
    let paras = support::paragraphs(&text);
    let secs = support::sections(&text);
    let ms = support::mentions(&text, support::PRIDE_CAST);
    let qs = support::quotes(&text, &ms);
    // Warm the lazily parsed word lists once, outside the measurements.
    let _ = keywords::top("warm up", 1);
    let _ = profile::build("Jane was here.", &[], &[], &[], &[]);

    let mut g = c.benchmark_group("features");
    g.sample_size(30);
    g.bench_function("stats", |b| b.iter(|| stats::compute(black_box(&text), &sents, paras)));
    g.bench_function("lang", |b| b.iter(|| lang::detect(black_box(&text))));
    g.bench_function("keywords", |b| b.iter(|| keywords::top(black_box(&text), 20)));
    g.bench_function("stats+keywords (one pass)", |b| {
        b.iter(|| stats::compute_with_keywords(black_box(&text), &sents, paras, 20, &Default::default()))
    });
    g.bench_function("summary", |b| b.iter(|| summary::extract(black_box(&text), &sents, 10)));
    g.bench_function("relations", |b| {
        b.iter(|| relations::compute(black_box(&ms), &qs, &secs, relations::DEFAULT_WINDOW))
    });
    g.bench_function("profile", |b| {
        b.iter(|| profile::build(black_box(&text), &sents, &ms, &qs, &secs))
    });
    g.bench_function("all feature stages", |b| {
        b.iter(|| {
            let (s, k) = stats::compute_with_keywords(black_box(&text), &sents, paras, 20, &Default::default());
            let l = lang::detect(&text);
            let su = summary::extract(&text, &sents, 10);
            let r = relations::compute(&ms, &qs, &secs, relations::DEFAULT_WINDOW);
            let p = profile::build(&text, &sents, &ms, &qs, &secs);
            (s.words, l, k.len(), su.len(), r.pairs.len(), p.len())
        })
    });
    g.finish();
}

criterion_group!(benches, features);
criterion_main!(benches);
