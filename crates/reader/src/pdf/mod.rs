//! PDF: text in reading order from the page content streams.
//!
//! # Approach
//!
//! Parsing (xref, objects, decryption, fonts, encodings, ToUnicode and CID
//! maps) is done by `pdf-extract` (pure Rust, MIT, on top of `lopdf`),
//! vendored as `engine` and changed there (fonts cached per document, CID
//! fonts and predefined CMaps fixed; see its module docs): its text is as
//! good as pdftotext's on our test files, and it exposes its content-stream
//! interpreter through the [`engine::OutputDev`] trait, which hands us
//! every glyph with its text matrix and font size.
//! MuPDF (AGPL, a 9-minute C build) and pdfium (an external `.so`) were
//! ruled out; `lopdf`'s own `extract_text` loses word spaces on many files.
//!
//! Layout is our own (`layout`, `text`): glyphs are grouped into lines by
//! baseline, spaces come from gaps, lines into blocks, blocks are put in
//! reading order by an XY-cut (so columns are read one after the other),
//! paragraphs are rebuilt from indentation, line spacing and short last
//! lines (and continue across columns and pages), running headers, footers
//! and page numbers that repeat at the top or bottom of pages are dropped,
//! line-end hyphens are rejoined when the joined word is a word of the
//! document (real hyphens are kept), and the text is NFKC-normalised
//! (ligatures, presentation forms).
//!
//! Sections come from the outline (bookmarks), else from headings set in a
//! larger font. Metadata comes from the info dictionary and XMP.
//!
//! # Hostile input
//!
//! `pdf-extract` and `lopdf` can panic on malformed files, so the work runs
//! under `catch_unwind`, page by page (one bad page costs that page, not the
//! document). It runs on a worker thread: if the time budget runs out the
//! caller gets [`Error::Limit`] at once and the worker is cancelled. The
//! worker checks the budget (deadline or cancel flag, `collect::Budget`)
//! cooperatively: between the steps, while inflating streams, every 4096
//! content-stream operations (forms included, so a page that draws no
//! text stops too), every 1024 glyphs, in the quadratic script-snapping
//! pass and between baseline bands; the splices of overlapping text count
//! every glyph they compare against a page-wide bound (`MAX_SPLICE_WORK`).
//! Only one lopdf call (loading or repairing the file) runs to its end.
//! Before interpretation we
//! bound what could blow up: the decompressed size of every Flate stream
//! (bombs), the nesting and cycles of form XObjects (pdf-extract recurses
//! into them without a guard, and a stack overflow cannot be caught), and
//! the number of glyphs per page.

mod cidmap;
mod collect;
mod content;
mod crypt;
// Vendored pdf-extract (see its module docs): upstream style, not ours.
#[allow(warnings, clippy::all)]
#[rustfmt::skip]
mod engine;
mod layout;
mod repair;
mod structure;
mod text;

use crate::{Document, Error, Format, Limits};
use collect::{Budget, Collector, STOP_DEADLINE};
use engine::{Dictionary, Object, ObjectId};
use std::collections::HashMap;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use structure::{deref, dict_get};

/// Glyphs one page may produce before we give up on the document.
const MAX_GLYPHS_PER_PAGE: usize = 2_000_000;
/// Form XObjects may nest this deep.
const MAX_FORM_DEPTH: usize = 32;
/// Form XObject invocations checked per page (a DAG can be exponential).
const MAX_FORM_CALLS: usize = 100_000;

fn corrupt(detail: impl Into<String>) -> Error {
    Error::Corrupt {
        format: Format::Pdf,
        detail: detail.into(),
    }
}

/// Reads a PDF. `deadline` is when the time budget of [`Limits`] runs out.
pub(crate) fn read(bytes: &[u8], limits: &Limits, deadline: Instant) -> Result<Document, Error> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(Error::Limit(format!(
            "max_input_bytes: the PDF is {} bytes, the limit is {}",
            bytes.len(),
            limits.max_input_bytes
        )));
    }
    let budget = Budget {
        deadline,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    match start(bytes, limits, &budget) {
        Some((rx, _worker)) => wait(&rx, limits, &budget),
        None => guarded(bytes, limits, &budget),
    }
}

type Outcome = Result<Document, Error>;

/// Starts the worker thread (`None` if no thread could be made).
fn start(
    bytes: &[u8],
    limits: &Limits,
    budget: &Budget,
) -> Option<(mpsc::Receiver<Outcome>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let data = bytes.to_vec();
    let worker_limits = limits.clone();
    let worker_budget = budget.clone();
    let handle = std::thread::Builder::new()
        .name("pdf-reader".into())
        // Deeply nested objects recurse in the parser; give it room.
        .stack_size(64 << 20)
        .spawn(move || {
            let r = guarded(&data, &worker_limits, &worker_budget);
            let _ = tx.send(r);
        })
        .ok()?;
    Some((rx, handle))
}

/// Waits for the worker until the deadline (and a moment past it, for the
/// worker to report the limit itself). On time out the worker is
/// cancelled: every long loop checks the budget, so it stops soon after
/// (only a single lopdf call, such as loading the file, runs to its end).
fn wait(rx: &mpsc::Receiver<Outcome>, limits: &Limits, budget: &Budget) -> Outcome {
    let wait = budget.deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
    match rx.recv_timeout(wait) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            budget.cancel.store(true, Ordering::Relaxed);
            Err(time_limit(limits))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(corrupt("the PDF reader stopped")),
    }
}

fn time_limit(limits: &Limits) -> Error {
    Error::Limit(format!(
        "time_budget: reading the PDF took longer than {:?}",
        limits.time_budget
    ))
}

fn guarded(bytes: &[u8], limits: &Limits, budget: &Budget) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| extract(bytes, limits, budget))) {
        Ok(r) => r,
        Err(p) => Err(corrupt(format!("the PDF parser failed: {}", panic_message(&*p)))),
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown error".into()
    }
}

fn extract(bytes: &[u8], limits: &Limits, budget: &Budget) -> Outcome {
    // Between the steps that cannot be interrupted (lopdf), the budget is
    // checked; the steps that loop check it themselves.
    let check = || {
        if budget.spent() {
            Err(time_limit(limits))
        } else {
            Ok(())
        }
    };
    if !bytes.windows(5).take(1024).any(|w| w == b"%PDF-") {
        return Err(corrupt("no %PDF header"));
    }
    let mut warnings = Vec::new();
    let fixed = repair::fix_stream_lengths(bytes);
    let bytes: &[u8] = match &fixed {
        Some((b, n)) => {
            warnings.push(format!("{n} streams had a missing or wrong /Length and were repaired"));
            b
        }
        None => bytes,
    };
    check()?;
    let mut doc = match load(bytes) {
        Ok(d) if !d.get_pages().is_empty() => d,
        Err(Error::Encrypted) => return Err(Error::Encrypted),
        first => {
            // lopdf drops every object of a file it cannot decrypt.
            if first.is_ok() && find_bytes(bytes, b"/Encrypt") {
                return Err(Error::Encrypted);
            }
            check()?;
            match repair::rebuild_xref(bytes).map(|b| load(&b)) {
                Some(Ok(d)) if !d.get_pages().is_empty() => {
                    warnings.push("the cross-reference table was broken and has been rebuilt".into());
                    d
                }
                _ => {
                    return Err(match first {
                        Ok(_) => corrupt("the PDF has no pages"),
                        Err(e) => e,
                    });
                }
            }
        }
    };
    check()?;
    check_streams(&doc, limits, bytes.len(), budget)?;
    drop_image_data(&mut doc);

    let page_ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
    let page_tops: Vec<f32> = page_ids.iter().map(|&id| page_top(&doc, id)).collect();
    let mut results = read_pages(&doc, &page_ids, budget);
    retry_bad_pages(&mut doc, &page_ids, &mut results, budget, &mut warnings);
    let mut layouts = Vec::with_capacity(page_ids.len());
    let mut bad_pages = 0usize;
    for (i, r) in results.into_iter().enumerate() {
        let num = i + 1;
        match r {
            PageResult::Done(l) => layouts.push(l),
            PageResult::Bad(l, why) => {
                bad_pages += 1;
                warnings.push(format!("page {num}: {why}"));
                layouts.push(l);
            }
            PageResult::Deadline => return Err(time_limit(limits)),
            PageResult::Glyphs(n) => {
                return Err(Error::Limit(format!(
                    "pdf glyphs per page: page {n} draws more than {MAX_GLYPHS_PER_PAGE} glyphs"
                )));
            }
            PageResult::Recursion(e) => {
                return Err(Error::Limit(format!("pdf object recursion: {e}")));
            }
        }
    }
    if bad_pages == page_ids.len() {
        return Err(corrupt(format!(
            "no page could be read ({})",
            warnings.first().map(String::as_str).unwrap_or("")
        )));
    }
    warnings.truncate(20);
    check()?;

    let body = text::body_size(&layouts);
    let dropped = text::drop_running_lines(&mut layouts, body);
    if dropped > 0 {
        warnings.push(format!(
            "dropped {dropped} running header, footer and page-number lines"
        ));
    }
    let mut paras = text::paragraphs(&layouts);
    drop(layouts);
    check()?;
    let lex = text::Lexicon::new(&paras);
    let text = text::render(&mut paras, &lex);
    drop(lex);
    if text.trim().is_empty() {
        if page_ids.iter().any(|&p| page_has_images(&doc, p)) {
            return Err(Error::NoTextLayer);
        }
        warnings.push("the PDF has no text".into());
    }
    let chars = text.chars().count();
    let items = structure::outline(&doc, &page_ids, &page_tops);
    let mut sections = structure::sections_from_outline(&items, &paras, chars);
    if sections.is_empty() {
        sections = structure::sections_from_headings(&paras, body, chars);
    }
    let meta = structure::metadata(&doc);
    let title = meta.title.or_else(|| guess_title(&paras, body));
    let mut out = Document::empty(Format::Pdf);
    out.title = title;
    out.authors = meta.authors;
    out.language = meta.language.or_else(|| structure::guess_language(&text));
    out.metadata = meta.other;
    out.text = text;
    out.sections = sections;
    out.warnings = warnings;
    Ok(out)
}

fn load(bytes: &[u8]) -> Result<engine::Document, Error> {
    let loaded = match crypt::needs_fix(bytes).then(|| crypt::load_fixed(bytes)).flatten() {
        Some(r) => r,
        None => engine::Document::load_mem(bytes),
    };
    let doc = loaded.map_err(|e| match e {
        engine::Error::InvalidPassword | engine::Error::Decryption(_) => Error::Encrypted,
        e => corrupt(e.to_string()),
    })?;
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        // lopdf tried the empty user password while loading.
        return Err(Error::Encrypted);
    }
    Ok(doc)
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What became of one page.
enum PageResult {
    Done(layout::PageLayout),
    /// Read with an error (that page's text may be partial).
    Bad(layout::PageLayout, String),
    Deadline,
    Glyphs(u32),
    Recursion(String),
}

/// Interprets and lays out all pages, on up to four threads (pages are
/// independent; each thread keeps its own font cache). Results come back
/// in page order.
fn read_pages(doc: &engine::Document, page_ids: &[ObjectId], budget: &Budget) -> Vec<PageResult> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
        .min(page_ids.len().div_ceil(4))
        .max(1);
    let next = AtomicUsize::new(0);
    let big_page = Mutex::new(());
    let stop = AtomicBool::new(false);
    let work = || {
        let mut out: Vec<(usize, PageResult)> = Vec::new();
        let mut form_cache: HashMap<ObjectId, Vec<Vec<u8>>> = HashMap::new();
        let mut collector = Collector::new(budget.clone(), MAX_GLYPHS_PER_PAGE);
        let mut engine = engine::Processor::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= page_ids.len() {
                break;
            }
            if stop.load(Ordering::Relaxed) || budget.spent() {
                out.push((i, PageResult::Deadline));
                break;
            }
            let r = read_page(
                doc,
                &mut engine,
                page_ids[i],
                i as u32 + 1,
                &mut collector,
                &mut form_cache,
                &big_page,
            );
            let fatal = matches!(
                r,
                PageResult::Deadline | PageResult::Glyphs(_) | PageResult::Recursion(_)
            );
            out.push((i, r));
            if fatal {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        out
    };
    let mut all: Vec<(usize, PageResult)> = if threads == 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| std::thread::Builder::new().stack_size(32 << 20).spawn_scoped(s, work))
                .collect();
            let mut all = Vec::new();
            let mut spawned = 0;
            for h in handles.into_iter().flatten() {
                spawned += 1;
                all.extend(h.join().unwrap_or_default());
            }
            if spawned == 0 {
                all = work();
            }
            all
        })
    };
    all.sort_by_key(|(i, _)| *i);
    // A fatal result stops the others: report the first one in page order.
    if let Some(pos) = all.iter().position(|(_, r)| {
        matches!(
            r,
            PageResult::Deadline | PageResult::Glyphs(_) | PageResult::Recursion(_)
        )
    }) {
        let (_, r) = all.swap_remove(pos);
        return vec![r];
    }
    all.into_iter().map(|(_, r)| r).collect()
}

/// Pages whose fonts pdf-extract could not decode (a simple font with
/// neither a ToUnicode map nor an encoding it understands makes it panic)
/// are read again with `/WinAnsiEncoding` given to such fonts: better
/// approximate text than none.
fn retry_bad_pages(
    doc: &mut engine::Document,
    page_ids: &[ObjectId],
    results: &mut [PageResult],
    budget: &Budget,
    warnings: &mut Vec<String>,
) {
    let bad: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, PageResult::Bad(_, why) if why.contains("unicode map")))
        .map(|(i, _)| i)
        .collect();
    if bad.is_empty() || bad.len() == results.len() && results.len() > 50 {
        return;
    }
    // Pages that were read are done, so the document is patched in place.
    let mut changed = 0usize;
    for obj in doc.objects.values_mut() {
        let Ok(d) = obj.as_dict_mut() else { continue };
        let simple = d.get(b"Type").and_then(|o| o.as_name()).ok() == Some(b"Font".as_slice())
            && matches!(
                d.get(b"Subtype").and_then(|o| o.as_name()).ok(),
                Some(b"Type1" | b"MMType1" | b"TrueType")
            );
        if simple && !d.has(b"ToUnicode") && !d.has(b"Encoding") {
            d.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
            changed += 1;
        }
    }
    if changed == 0 {
        return;
    }
    let mut collector = Collector::new(budget.clone(), MAX_GLYPHS_PER_PAGE);
    let mut form_cache = HashMap::new();
    let doc = &*doc;
    let mut engine = engine::Processor::new();
    for i in bad {
        if budget.spent() {
            return;
        }
        let r = read_page(
            doc,
            &mut engine,
            page_ids[i],
            i as u32 + 1,
            &mut collector,
            &mut form_cache,
            &Mutex::new(()),
        );
        if let PageResult::Done(layout) = r {
            warnings.push(format!(
                "page {}: fonts without an encoding were read as WinAnsiEncoding",
                i + 1
            ));
            results[i] = PageResult::Done(layout);
        }
    }
}

fn read_page<'a>(
    doc: &'a engine::Document,
    engine: &mut engine::Processor<'a>,
    page_id: ObjectId,
    num: u32,
    collector: &mut Collector,
    form_cache: &mut HashMap<ObjectId, Vec<Vec<u8>>>,
    big_page: &Mutex<()>,
) -> PageResult {
    if let Err(e) = check_forms(doc, page_id, form_cache) {
        return PageResult::Recursion(format!("page {num}: {e}"));
    }
    // The parsed content of a page takes ~20 times its compressed size:
    // interpret big pages one at a time so that memory stays in proportion
    // to the file, not to the number of threads.
    let compressed: usize = doc
        .get_page_contents(page_id)
        .iter()
        .filter_map(|id| doc.objects.get(id)?.as_stream().ok())
        .map(|s| s.content.len())
        .sum();
    let _guard = (compressed > 64 * 1024).then(|| big_page.lock().unwrap_or_else(|e| e.into_inner()));
    collector.glyph_budget = MAX_GLYPHS_PER_PAGE;
    collector.stopped = None;
    collector.page = Default::default();
    let r = catch_unwind(AssertUnwindSafe(|| engine.output_page(doc, page_id, num, collector)));
    let why = match (r, collector.stopped) {
        (_, Some(STOP_DEADLINE)) => return PageResult::Deadline,
        (_, Some(_)) => return PageResult::Glyphs(num),
        (Ok(Ok(())), None) => None,
        (Ok(Err(e)), None) => Some(format!("{e:?}")),
        (Err(p), None) => Some(format!("unreadable ({})", panic_message(&*p))),
    };
    let Some(layout) = layout::layout_page(&collector.page, &collector.budget) else {
        return PageResult::Deadline;
    };
    match why {
        None => PageResult::Done(layout),
        Some(w) => PageResult::Bad(layout, w),
    }
}

/// The largest text near the top of the first page, if clearly a title.
fn guess_title(paras: &[text::Para], body: f32) -> Option<String> {
    paras
        .iter()
        .take_while(|p| p.page == 0)
        .take(10)
        .filter(|p| p.size >= body * 1.3 && !p.text.is_empty() && p.text.chars().count() <= 150)
        .max_by(|a, b| a.size.total_cmp(&b.size))
        .map(|p| p.text.clone())
}

/// The top of a page's media box (to flip destination coordinates).
fn page_top(doc: &engine::Document, page_id: ObjectId) -> f32 {
    let mut id = page_id;
    for _ in 0..32 {
        let Some(d) = doc.objects.get(&id).and_then(|o| o.as_dict().ok()) else {
            break;
        };
        if let Some(Object::Array(mb)) = dict_get(doc, d, b"MediaBox")
            && mb.len() == 4
        {
            let v: Vec<f32> = mb
                .iter()
                .map(|o| deref(doc, o).and_then(|o| o.as_float().ok()).unwrap_or(0.0))
                .collect();
            return v[1].max(v[3]);
        }
        match d.get(b"Parent").ok().and_then(|p| p.as_reference().ok()) {
            Some(p) => id = p,
            None => break,
        }
    }
    792.0
}

/// A page's resources, inherited from the page tree if need be.
fn page_resources(doc: &engine::Document, page_id: ObjectId) -> Option<&Dictionary> {
    let mut id = page_id;
    for _ in 0..32 {
        let d = doc.objects.get(&id)?.as_dict().ok()?;
        if let Some(r) = dict_get(doc, d, b"Resources").and_then(|o| o.as_dict().ok()) {
            return Some(r);
        }
        id = d.get(b"Parent").ok()?.as_reference().ok()?;
    }
    None
}

fn page_has_images(doc: &engine::Document, page_id: ObjectId) -> bool {
    let Some(res) = page_resources(doc, page_id) else {
        return false;
    };
    let Some(xobjs) = dict_get(doc, res, b"XObject").and_then(|o| o.as_dict().ok()) else {
        return false;
    };
    xobjs.iter().any(|(_, v)| {
        matches!(deref(doc, v), Some(Object::Stream(s))
            if s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"Image".as_slice())
                || s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"Form".as_slice()))
    })
}

/// Image data is never needed (only that a page has images), but
/// pdf-extract interprets an image drawn with `Do` like a form, inflating
/// the whole image (30 MB for one scanned page) and parsing it as content:
/// empty every image stream first.
fn drop_image_data(doc: &mut engine::Document) {
    for obj in doc.objects.values_mut() {
        if let Object::Stream(s) = obj
            && s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"Image".as_slice())
        {
            s.content = Vec::new();
            s.dict.remove(b"Filter");
            s.dict.remove(b"DecodeParms");
            s.dict.set("Length", Object::Integer(0));
        }
    }
}

/// Bounds decompression: every Flate stream that is not an image is
/// inflated into a sink, and the total and per-stream sizes are capped.
fn check_streams(doc: &engine::Document, limits: &Limits, input_len: usize, budget: &Budget) -> Result<(), Error> {
    // One stream is held in memory at a time while pages are read, so a
    // single stream may not be far larger than the file (memory stays in
    // proportion to the input); the total is the configured limit.
    let per_stream = limits.max_decompressed_bytes.min((32u64 << 20) + 32 * input_len as u64);
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for obj in doc.objects.values() {
        let Object::Stream(s) = obj else { continue };
        let is_flate = match s.dict.get(b"Filter") {
            Ok(Object::Name(n)) => n == b"FlateDecode",
            Ok(Object::Array(a)) => a.len() == 1 && a[0].as_name().ok() == Some(b"FlateDecode".as_slice()),
            _ => false,
        };
        let is_image = s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"Image".as_slice());
        if !is_flate || is_image {
            continue;
        }
        // Deflate expands at most ~1032:1: a stream too small to break the
        // per-stream cap even then is not inflated here (most content
        // streams are), so the total counts only the larger streams.
        if 1032 * (s.content.len() as u64) <= per_stream.min(4 << 20) {
            continue;
        }
        let mut dec = flate2::read::ZlibDecoder::new(&s.content[..]);
        let mut n = 0u64;
        let mut reads = 0u32;
        loop {
            reads = reads.wrapping_add(1);
            if reads.is_multiple_of(64) && budget.spent() {
                return Err(time_limit(limits));
            }
            match dec.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    n += k as u64;
                    if n > per_stream {
                        return Err(Error::Limit(format!(
                            "max_decompressed_bytes: a PDF stream inflates to more than {per_stream} bytes \
                             (cap per stream: min(max_decompressed_bytes, 32 MiB + 32 × file size))"
                        )));
                    }
                }
            }
        }
        total += n;
        if total > limits.max_decompressed_bytes {
            return Err(Error::Limit(format!(
                "max_decompressed_bytes: PDF streams inflate to more than {} bytes",
                limits.max_decompressed_bytes
            )));
        }
    }
    Ok(())
}

/// Checks that form XObjects reachable from a page neither nest too deep
/// nor form a cycle (pdf-extract would recurse until the stack overflows).
fn check_forms(
    doc: &engine::Document,
    page_id: ObjectId,
    cache: &mut HashMap<ObjectId, Vec<Vec<u8>>>,
) -> Result<(), String> {
    let Some(res) = page_resources(doc, page_id) else {
        return Ok(());
    };
    let Some(xobjs) = dict_get(doc, res, b"XObject").and_then(|o| o.as_dict().ok()) else {
        return Ok(());
    };
    let names: Vec<Vec<u8>> = xobjs.iter().map(|(k, _)| k.clone()).collect();
    let mut path = Vec::new();
    let mut calls = 0usize;
    walk_forms(doc, res, &names, &mut path, &mut calls, cache)
}

fn walk_forms(
    doc: &engine::Document,
    resources: &Dictionary,
    names: &[Vec<u8>],
    path: &mut Vec<ObjectId>,
    calls: &mut usize,
    cache: &mut HashMap<ObjectId, Vec<Vec<u8>>>,
) -> Result<(), String> {
    let Some(xobjs) = dict_get(doc, resources, b"XObject").and_then(|o| o.as_dict().ok()) else {
        return Ok(());
    };
    for name in names {
        let Ok(Object::Reference(id)) = xobjs.get(name) else {
            continue;
        };
        let Some(Object::Stream(s)) = doc.objects.get(id) else {
            continue;
        };
        if s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() != Some(b"Form".as_slice()) {
            continue;
        }
        if path.contains(id) {
            return Err(format!("form XObject {} {} draws itself", id.0, id.1));
        }
        if path.len() >= MAX_FORM_DEPTH {
            return Err(format!("form XObjects nest deeper than {MAX_FORM_DEPTH}"));
        }
        *calls += 1;
        if *calls > MAX_FORM_CALLS {
            return Err(format!("more than {MAX_FORM_CALLS} form XObject calls"));
        }
        let inner = cache
            .entry(*id)
            .or_insert_with(|| {
                let content = s.get_plain_content().unwrap_or_default();
                do_names(&content)
            })
            .clone();
        if inner.is_empty() {
            continue;
        }
        let res = dict_get(doc, &s.dict, b"Resources")
            .and_then(|o| o.as_dict().ok())
            .unwrap_or(resources);
        path.push(*id);
        walk_forms(doc, res, &inner, path, calls, cache)?;
        path.pop();
    }
    Ok(())
}

/// The names a content stream invokes with `Do`.
fn do_names(content: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut prev: &[u8] = b"";
    for tok in content.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty()) {
        if tok == b"Do" && prev.len() > 1 && prev[0] == b'/' {
            let name = prev[1..].to_vec();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        prev = tok;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn do_operator_names() {
        assert_eq!(
            do_names(b"q /Fm1 Do Q\n/Im2 Do /Fm1 Do"),
            vec![b"Fm1".to_vec(), b"Im2".to_vec()]
        );
    }

    /// One page that draws a form 20,000 times; the form strokes 10,000
    /// lines and no text (about 20 s of interpretation, and no glyph for
    /// the collector to check the budget on).
    fn slow_pdf() -> Vec<u8> {
        let page = "/X Do\n".repeat(20_000);
        let form = "0 0 m 1 1 l S\n".repeat(10_000);
        let objs = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R \
             /Resources << /XObject << /X 5 0 R >> >> >>"
                .into(),
            format!("<< /Length {} >>\nstream\n{page}\nendstream", page.len()),
            format!(
                "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length {} >>\nstream\n{form}\nendstream",
                form.len()
            ),
        ];
        let mut pdf = String::from("%PDF-1.4\n");
        let mut offsets = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offsets.push(pdf.len());
            pdf += &format!("{} 0 obj\n{o}\nendobj\n", i + 1);
        }
        let xref = pdf.len();
        pdf += &format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1);
        for o in offsets {
            pdf += &format!("{o:010} 00000 n \n");
        }
        pdf += &format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        );
        pdf.into_bytes()
    }

    #[test]
    fn the_worker_stops_soon_after_the_time_budget() {
        let limits = Limits {
            time_budget: Duration::from_millis(300),
            ..Limits::default()
        };
        let budget = Budget {
            deadline: Instant::now() + limits.time_budget,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let (rx, worker) = start(&slow_pdf(), &limits, &budget).expect("a thread");
        let r = wait(&rx, &limits, &budget);
        assert!(matches!(&r, Err(Error::Limit(m)) if m.contains("time_budget")), "{r:?}");
        // The interpreter checks the budget every 4096 operations: the
        // thread ends within moments, not after the ~20 s the page takes.
        let stopped = Instant::now();
        while !worker.is_finished() && stopped.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            worker.is_finished(),
            "the worker still runs {:?} after the limit",
            stopped.elapsed()
        );
    }

    #[test]
    fn not_a_pdf() {
        let r = read(b"hello", &Limits::default(), Instant::now() + Duration::from_secs(5));
        assert!(matches!(r, Err(Error::Corrupt { .. })));
    }
}
