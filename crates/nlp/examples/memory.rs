//! Peak heap of one analysis, measured by a counting global allocator.
//!
//! `memory FILE` reads FILE, then prints the heap in use before the analysis
//! (the input `String` plus the lazily built model and word lists, warmed up
//! on a short text first), the peak during `process` (the NLP stages) and
//! during the whole `analyze`, and the size of the result — each as bytes and
//! as a multiple of the text size. Unlike the process's peak RSS this leaves
//! out the binary, the stack and allocator slack, so a change shows exactly.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let c = CUR.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(c, Relaxed);
            LIVE.fetch_add(1, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CUR.fetch_sub(l.size(), Relaxed);
        LIVE.fetch_sub(1, Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let c = CUR.fetch_add(new - l.size(), Relaxed) + new - l.size();
                PEAK.fetch_max(c, Relaxed);
            } else {
                CUR.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: memory FILE");
        std::process::exit(2);
    };
    // build the lazily parsed model and word lists first
    std::hint::black_box(nlp::analyze(
        "\u{201C}Hello,\u{201D} said Mr. Bennet to Elizabeth.",
        &[],
    ));
    let text = std::fs::read_to_string(&path).expect("read");
    let n = text.len() as f64;
    let base = CUR.load(Relaxed);
    let live0 = LIVE.load(Relaxed);
    let show = |what: &str, bytes: usize| {
        println!("{what:32} {:>10} B  {:5.2}× the text", bytes, bytes as f64 / n);
    };
    println!("{path}: {} bytes", text.len());
    show("before (text + model + lists)", base);
    PEAK.store(base, Relaxed);
    let doc = nlp::process(&text);
    show("peak in process, above before", PEAK.load(Relaxed) - base);
    show("Doc, above before", CUR.load(Relaxed) - base);
    drop(doc);
    PEAK.store(CUR.load(Relaxed), Relaxed);
    let a = nlp::analyze(&text, &[]);
    show("peak in analyze, above before", PEAK.load(Relaxed) - base);
    show("Analysis, above before", CUR.load(Relaxed) - base);
    println!(
        "{:32} {:>10}",
        "allocations in the Analysis",
        LIVE.load(Relaxed) - live0
    );
    drop(a);
}
