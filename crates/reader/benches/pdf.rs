//! PDF extraction throughput on the benchmark novel and a two-column paper:
//! `cargo bench -p reader --bench pdf`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reader::{Format, Limits, read_as};
use std::hint::black_box;

const BENCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/docs/bench/middlemarch.pdf"
);
const PAPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/docs/pdf/pdfjs-tracemonkey.pdf"
);

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pdf");
    g.sample_size(10);
    for (name, path) in [("middlemarch", BENCH), ("tracemonkey", PAPER)] {
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("skipping {name}: {path} not found");
            continue;
        };
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let doc = read_as(black_box(&bytes), Format::Pdf, &Limits::default()).expect("readable");
                black_box(doc.text.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
