//! EPUB 2 and 3: spine order, navigation titles, XHTML to text.
//!
//! We read the container ourselves (with [`crate::container`]) instead of
//! using `epub`/`rbook`: those crates build their own zip and XML layers that
//! our limits could not reach, and we need only four things: the package
//! document (`container.xml` → OPF), its `dc:` metadata, the spine, and the
//! navigation (EPUB 3 nav document, else the EPUB 2 NCX).
//!
//! XHTML is streamed with quick-xml (see [`crate::xml`] for the safety
//! rules). Block elements (`p`, `div`, headings, list items, table rows,
//! ...) end a block, `br` is a line break, `pre` keeps its lines, table cells
//! are separated by ` | `; `head`, `script`, `style` and `svg`/`math`
//! annotations contribute nothing. MathML becomes linear text (`x^2`,
//! `1/n`, `√π`, `4ac`: see `Math`). A spine document that is not well-formed
//! keeps the text read up to the error and adds a warning, so one broken
//! chapter does not lose the book.
//!
//! Sections: every navigation entry becomes a section at the start of its
//! spine document, or at the element whose `id` its fragment names (level =
//! nesting depth in the nav). Only when the book has no usable navigation do
//! `h1`–`h6` headings become sections.

use crate::container::{Container, resolve};
use crate::textbuf::TextBuf;
use crate::xml::{Events, attr, decode, element_text, entity, local};
use crate::{Budget, Document, Error, Format, Limits};
use quick_xml::events::Event;
use std::collections::HashMap;

struct Item {
    href: String,
    media_type: String,
    properties: String,
}

/// A navigation entry: target file, fragment, title, level.
struct NavEntry {
    file: String,
    fragment: Option<String>,
    title: String,
    level: u8,
}

pub(crate) fn read(bytes: &[u8], limits: &Limits, budget: &Budget) -> Result<Document, Error> {
    let mut zip = Container::open(bytes, limits, Format::Epub)?;
    let mut doc = Document::empty(Format::Epub);

    let opf_path = package_path(&mut zip, limits, budget)?
        .or_else(|| {
            let mut opfs: Vec<String> = zip
                .names()
                .filter(|n| n.to_ascii_lowercase().ends_with(".opf"))
                .map(str::to_string)
                .collect();
            opfs.sort();
            opfs.into_iter().next()
        })
        .ok_or_else(|| Error::corrupt(Format::Epub, "no package document (OPF) found"))?;
    let Some(opf_bytes) = zip.read(&opf_path)? else {
        return Err(Error::corrupt(
            Format::Epub,
            format!("the package document {opf_path} is missing"),
        ));
    };
    let opf = decode(&opf_bytes);
    let (items, spine, ncx_id) = parse_opf(&opf, &opf_path, &mut doc, limits, budget)?;

    // Content documents encrypted with anything but font obfuscation: DRM.
    if let Some(enc) = zip.read("META-INF/encryption.xml")? {
        let enc = decode(&enc);
        let spine_files: Vec<&str> = spine
            .iter()
            .filter_map(|(id, _)| items.get(id))
            .map(|i| i.href.as_str())
            .collect();
        if encrypted_content(&enc, &spine_files, limits, budget)? {
            return Err(Error::Encrypted);
        }
    }

    // Navigation: EPUB 3 nav document, else NCX.
    let mut nav: Vec<NavEntry> = Vec::new();
    if let Some(item) = items
        .values()
        .find(|i| i.properties.split_whitespace().any(|p| p == "nav"))
        && let Some(b) = zip.read(&item.href)?
    {
        nav = parse_nav(&decode(&b), &item.href, limits, budget).unwrap_or_default();
    }
    if nav.is_empty() {
        let ncx = ncx_id
            .and_then(|id| items.get(&id))
            .or_else(|| items.values().find(|i| i.media_type == "application/x-dtbncx+xml"));
        if let Some(item) = ncx
            && let Some(b) = zip.read(&item.href)?
        {
            nav = parse_ncx(&decode(&b), &item.href, limits, budget).unwrap_or_default();
        }
    }
    let mut nav_by_file: HashMap<&str, Vec<&NavEntry>> = HashMap::new();
    for e in &nav {
        nav_by_file.entry(e.file.as_str()).or_default().push(e);
    }
    let spine_files: std::collections::HashSet<&str> = spine
        .iter()
        .filter_map(|(id, _)| items.get(id))
        .map(|i| i.href.as_str())
        .collect();
    let use_nav = nav.iter().any(|e| spine_files.contains(e.file.as_str()));

    let mut buf = TextBuf::new();
    let mut seen = std::collections::HashSet::new();
    for (id, linear) in &spine {
        budget.check()?;
        let Some(item) = items.get(id) else {
            doc.warnings.push(format!("spine item {id} is not in the manifest"));
            continue;
        };
        // Non-linear items (pop-ups, answer keys) and the navigation
        // document are not part of the reading order.
        let is_nav = item.properties.split_whitespace().any(|p| p == "nav");
        if !linear || is_nav || !seen.insert(item.href.clone()) {
            continue;
        }
        let mt = item.media_type.as_str();
        let is_text = mt.contains("html") || (mt.contains("xml") && !mt.contains("svg") && !mt.contains("ncx"));
        if !is_text {
            continue;
        }
        let Some(b) = zip.read(&item.href)? else {
            doc.warnings.push(format!("spine document {} is missing", item.href));
            continue;
        };
        let entries: &[&NavEntry] = if use_nav {
            nav_by_file.get(item.href.as_str()).map(Vec::as_slice).unwrap_or(&[])
        } else {
            &[]
        };
        let xhtml = decode(&b);
        if let Err(e) = xhtml_to_text(&xhtml, &mut buf, entries, !use_nav, limits, budget) {
            match e {
                Error::Corrupt { detail, .. } => {
                    doc.warnings.push(format!("{}: {detail}", item.href));
                }
                other => return Err(other),
            }
        }
    }
    let (text, sections) = buf.finish();
    doc.text = text;
    doc.sections = sections;
    if doc.title.is_none() {
        doc.title = doc.sections.first().map(|s| s.title.clone());
    }
    Ok(doc)
}

/// The first rootfile of `META-INF/container.xml`.
fn package_path(zip: &mut Container<'_>, limits: &Limits, budget: &Budget) -> Result<Option<String>, Error> {
    let Some(b) = zip.read("META-INF/container.xml")? else {
        return Ok(None);
    };
    let text = decode(&b);
    let mut ev = Events::new(&text, limits, budget, Format::Epub);
    while let Some(e) = ev.next()? {
        if let Event::Start(s) | Event::Empty(s) = &e
            && local(s) == "rootfile"
            && let Some(p) = attr(s, "full-path")
            && let Some(p) = resolve("", &p)
            && zip.contains(&p)
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Manifest items by id, spine (idref, linear), NCX id.
type Opf = (HashMap<String, Item>, Vec<(String, bool)>, Option<String>);

fn parse_opf(xml: &str, opf_path: &str, doc: &mut Document, limits: &Limits, budget: &Budget) -> Result<Opf, Error> {
    let mut items = HashMap::new();
    let mut spine = Vec::new();
    let mut ncx = None;
    let mut in_metadata = false;
    let mut ev = Events::new(xml, limits, budget, Format::Epub);
    while let Some(e) = ev.next()? {
        match &e {
            Event::Start(s) | Event::Empty(s) => {
                let is_start = matches!(e, Event::Start(_));
                let name = local(s);
                let qname = s.name().0;
                match name {
                    "metadata" => in_metadata = is_start,
                    "item" => {
                        if let (Some(id), Some(href)) = (attr(s, "id"), attr(s, "href"))
                            && let Some(href) = resolve(opf_path, &href)
                        {
                            items.insert(
                                id,
                                Item {
                                    href,
                                    media_type: attr(s, "media-type").unwrap_or_default(),
                                    properties: attr(s, "properties").unwrap_or_default(),
                                },
                            );
                        }
                    }
                    "spine" => ncx = attr(s, "toc"),
                    "itemref" => {
                        if let Some(id) = attr(s, "idref") {
                            let linear = attr(s, "linear").is_none_or(|l| l.trim() != "no");
                            spine.push((id, linear));
                        }
                    }
                    _ if in_metadata
                        && is_start
                        && (qname.starts_with("dc:") || s.name().prefix().is_some_and(|p| p.as_ref() == "dc")) =>
                    {
                        let value = element_text(&mut ev)?;
                        if value.is_empty() {
                            continue;
                        }
                        match name {
                            "title" if doc.title.is_none() => doc.title = Some(value.clone()),
                            "creator" => doc.authors.push(value.clone()),
                            "language" if doc.language.is_none() => doc.language = Some(value.clone()),
                            _ => {}
                        }
                        doc.metadata
                            .entry(name.to_string())
                            .and_modify(|v| {
                                v.push_str("; ");
                                v.push_str(&value)
                            })
                            .or_insert(value);
                    }
                    _ => {}
                }
            }
            Event::End(s) if s.local_name().as_ref() == "metadata" => in_metadata = false,
            _ => {}
        }
    }
    Ok((items, spine, ncx))
}

fn encrypted_content(xml: &str, spine: &[&str], limits: &Limits, budget: &Budget) -> Result<bool, Error> {
    let mut ev = Events::new(xml, limits, budget, Format::Epub);
    let mut algorithm = String::new();
    while let Some(e) = ev.next()? {
        if let Event::Start(s) | Event::Empty(s) = &e {
            match local(s) {
                "EncryptionMethod" => algorithm = attr(s, "Algorithm").unwrap_or_default(),
                "CipherReference" => {
                    let obfuscation =
                        algorithm.contains("idpf.org/2008/embedding") || algorithm.contains("ns.adobe.com/pdf/enc");
                    if !obfuscation
                        && let Some(uri) = attr(s, "URI").and_then(|u| resolve("", &u))
                        && spine.contains(&uri.as_str())
                    {
                        return Ok(true);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(false)
}

/// Splits a resolved `file#fragment` reference.
fn target(base: &str, href: &str) -> Option<(String, Option<String>)> {
    let file = resolve(base, href)?;
    let fragment = href
        .split_once('#')
        .map(|(_, f)| crate::container::percent_decode(f))
        .filter(|f| !f.is_empty());
    Some((file, fragment))
}

/// EPUB 3 navigation document: the `toc` nav (or the first nav).
fn parse_nav(xml: &str, path: &str, limits: &Limits, budget: &Budget) -> Result<Vec<NavEntry>, Error> {
    let mut ev = Events::new(xml, limits, budget, Format::Epub);
    let mut out = Vec::new();
    let mut in_toc = false;
    let mut toc_depth = 0;
    let mut ol_depth: u8 = 0;
    let mut done_one = false;
    while let Some(e) = ev.next()? {
        match &e {
            Event::Start(s) => match local(s) {
                "nav" if !done_one => {
                    let kind = attr(s, "type").unwrap_or_default();
                    if kind.split_whitespace().any(|k| k == "toc") || kind.is_empty() {
                        in_toc = true;
                        toc_depth = ev.depth();
                    }
                }
                "ol" | "ul" if in_toc => ol_depth = ol_depth.saturating_add(1),
                "a" | "span" if in_toc => {
                    let href = attr(s, "href");
                    let title = element_text(&mut ev)?;
                    if let Some(href) = href
                        && let Some((file, fragment)) = target(path, &href)
                        && !title.is_empty()
                    {
                        out.push(NavEntry {
                            file,
                            fragment,
                            title,
                            level: ol_depth.max(1),
                        });
                    }
                }
                _ => {}
            },
            Event::End(s) => {
                let n = s.local_name();
                match n.as_ref() {
                    "ol" | "ul" if in_toc => ol_depth = ol_depth.saturating_sub(1),
                    "nav" if in_toc && ev.depth() < toc_depth => {
                        in_toc = false;
                        done_one = !out.is_empty();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// EPUB 2 NCX: nested `navPoint`s with `navLabel/text` and `content@src`.
fn parse_ncx(xml: &str, path: &str, limits: &Limits, budget: &Budget) -> Result<Vec<NavEntry>, Error> {
    let mut ev = Events::new(xml, limits, budget, Format::Epub);
    let mut out = Vec::new();
    let mut level: u8 = 0;
    let mut label = String::new();
    let mut in_navmap = false;
    while let Some(e) = ev.next()? {
        match &e {
            Event::Start(s) | Event::Empty(s) => {
                let is_start = matches!(e, Event::Start(_));
                match local(s) {
                    "navMap" => in_navmap = is_start,
                    "navPoint" if is_start && in_navmap => {
                        level = level.saturating_add(1);
                        label.clear();
                    }
                    "text" if is_start && in_navmap && label.is_empty() => label = element_text(&mut ev)?,
                    "content" if in_navmap => {
                        if let Some(src) = attr(s, "src")
                            && let Some((file, fragment)) = target(path, &src)
                            && !label.is_empty()
                        {
                            out.push(NavEntry {
                                file,
                                fragment,
                                title: std::mem::take(&mut label),
                                level: level.max(1),
                            });
                        }
                    }
                    _ => {}
                }
            }
            Event::End(s) => match s.local_name().as_ref() {
                "navPoint" => level = level.saturating_sub(1),
                "navMap" => in_navmap = false,
                _ => {}
            },
            _ => {}
        }
    }
    Ok(out)
}

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "li",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "figure",
    "figcaption",
    "dt",
    "dd",
    "dl",
    "ul",
    "ol",
    "address",
    "center",
    "main",
    "hr",
    "table",
    "caption",
    "body",
    "html",
    "details",
    "summary",
    "hgroup",
    "fieldset",
    "legend",
];

/// Appends the text of one XHTML document to `buf`.
fn xhtml_to_text(
    xml: &str,
    buf: &mut TextBuf,
    nav: &[&NavEntry],
    headings_are_sections: bool,
    limits: &Limits,
    budget: &Budget,
) -> Result<(), Error> {
    // Entries without a fragment start at the document's first block; the
    // others at the element with that id (looked up by hash: a hostile nav
    // may have many entries).
    let mut pending: Vec<(&NavEntry, bool)> = Vec::new();
    let mut wanted: HashMap<&str, Vec<usize>> = HashMap::new();
    for e in nav {
        match e.fragment.as_deref() {
            None => buf.mark_section(&e.title, e.level),
            Some(f) => {
                wanted.entry(f).or_default().push(pending.len());
                pending.push((e, false));
            }
        }
    }
    let mut ev = Events::new(xml, limits, budget, Format::Epub);
    let mut pre = 0usize;
    let mut first_cell = true;
    // Open lists: the next number of an `ol`, None for a `ul`.
    let mut lists: Vec<Option<i64>> = Vec::new();
    // Open `sup` (true) and `sub` (false) elements.
    let mut script: Vec<bool> = Vec::new();
    let mut math = Math::default();
    let result = (|| -> Result<(), Error> {
        while let Some(e) = ev.next()? {
            match &e {
                Event::Start(s) | Event::Empty(s) => {
                    let is_start = matches!(e, Event::Start(_));
                    let name = local(s);
                    // a navigation target: before the element is read, math included
                    if !wanted.is_empty()
                        && let Some(id) = attr(s, "id")
                        && let Some(ixs) = wanted.remove(id.as_str())
                    {
                        for i in ixs {
                            if let Some((entry, done)) = pending.get_mut(i) {
                                buf.mark_section(&entry.title, entry.level);
                                *done = true;
                            }
                        }
                    }
                    if name == "math" || math.active() {
                        if matches!(name, "annotation" | "annotation-xml") && is_start {
                            ev.skip_element()?;
                        } else {
                            let fence = (name == "mfenced").then(|| {
                                let open = attr(s, "open").unwrap_or_else(|| "(".into());
                                let close = attr(s, "close").unwrap_or_else(|| ")".into());
                                (open, close)
                            });
                            math.start(name, is_start, fence, buf);
                        }
                        continue;
                    }
                    match name {
                        "head" | "script" | "style" | "title" | "template" | "noscript" | "annotation"
                        | "annotation-xml" | "rp"
                            if is_start =>
                        {
                            ev.skip_element()?
                        }
                        "br" => buf.line_break(),
                        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                            if headings_are_sections && is_start {
                                let level = name.as_bytes()[1] - b'0';
                                buf.start_heading(level);
                            } else {
                                buf.end_block();
                            }
                        }
                        "pre" => {
                            buf.end_block();
                            if is_start {
                                pre += 1;
                            }
                        }
                        "tr" => {
                            buf.line_break();
                            first_cell = true;
                        }
                        "td" | "th" => {
                            if !first_cell {
                                buf.push_space();
                                buf.push_word("|");
                                buf.push_space();
                            }
                            first_cell = false;
                        }
                        "img" => {
                            if let Some(alt) = attr(s, "alt") {
                                buf.push_space();
                                buf.push_inline(&alt);
                                buf.push_space();
                            }
                        }
                        // Ruby annotations in parentheses after their base.
                        "rt" if is_start => buf.push_word("("),
                        "sup" | "sub" if is_start => script.push(name == "sup"),
                        "ol" | "ul" => {
                            buf.end_block();
                            if is_start {
                                let start = attr(s, "start").and_then(|v| v.trim().parse::<i64>().ok());
                                lists.push((name == "ol").then(|| start.unwrap_or(1)));
                            }
                        }
                        "li" => {
                            buf.end_block();
                            match lists.last_mut() {
                                Some(Some(k)) => {
                                    buf.push_word(&format!("{k}."));
                                    *k = k.saturating_add(1);
                                }
                                Some(None) => buf.push_word("-"),
                                None => {}
                            }
                            buf.push_space();
                        }
                        n if BLOCKS.contains(&n) => buf.end_block(),
                        _ => {}
                    }
                }
                Event::End(s) => {
                    let n = s.local_name();
                    let name = n.as_ref();
                    if math.active() {
                        math.end(buf);
                        continue;
                    }
                    match name {
                        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                            if buf.in_heading() {
                                buf.end_heading();
                            } else {
                                buf.end_block();
                            }
                        }
                        "pre" => {
                            pre = pre.saturating_sub(1);
                            buf.end_block();
                        }
                        "tr" => buf.line_break(),
                        "rt" => buf.push_word(")"),
                        "sup" | "sub" => {
                            script.pop();
                        }
                        "ol" | "ul" => {
                            lists.pop();
                            buf.end_block();
                        }
                        n if BLOCKS.contains(&n) => buf.end_block(),
                        _ => {}
                    }
                }
                Event::Text(t) => {
                    let t = t.xml10_content();
                    if math.active() {
                        math.text(&t, buf);
                    } else if pre > 0 {
                        buf.push_verbatim(&t);
                    } else if let Some(m) = script.last().and_then(|&sup| crate::textbuf::script_text(&t, sup)) {
                        buf.push_inline(&m);
                    } else {
                        buf.push_inline(&t);
                    }
                }
                Event::CData(t) => buf.push_inline(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    if let Some(t) = entity(r) {
                        if math.active() {
                            math.text(&t, buf);
                        } else if pre > 0 {
                            buf.push_verbatim(&t);
                        } else if !t.chars().all(char::is_whitespace) {
                            buf.push_word(&t);
                        } else {
                            buf.push_inline(&t);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    if buf.in_heading() {
        buf.end_heading();
    }
    buf.end_block();
    for (entry, done) in pending {
        if !done {
            buf.mark_section(&entry.title, entry.level);
        }
    }
    result
}

/// MathML as linear text. Whitespace between elements is layout, not
/// text: the tokens of a row follow each other (`<mn>4</mn><mi>a</mi>
/// <mi>c</mi>` is "4ac", not "4 a c"), operators are spaced, and the
/// parts of a layout schema are joined by what they mean: `x^2`, `y_i`,
/// `1/n`, `√π`; under/over scripts and table cells by a space.
#[derive(Default)]
struct Math {
    /// Open elements inside `<math>`: name, children seen so far, and the
    /// closing fence of an `mfenced`.
    open: Vec<(String, u32, Option<String>)>,
}

impl Math {
    fn active(&self) -> bool {
        !self.open.is_empty()
    }

    fn start(&mut self, name: &str, is_start: bool, fence: Option<(String, String)>, buf: &mut TextBuf) {
        if let Some((parent, n, _)) = self.open.last_mut() {
            *n += 1;
            let sep = match (parent.as_str(), *n) {
                (_, 1) => "",
                ("mfrac", _) => "/",
                ("msup" | "mover", 2) | ("msubsup" | "munderover", 3) => "^",
                ("msub" | "munder" | "msubsup" | "munderover", 2) => "_",
                ("mtable", _) => "; ",
                ("mfenced", _) => ",",
                ("mroot" | "mtr" | "mmultiscripts" | "mstack" | "mlongdiv" | "msgroup", _) => " ",
                _ => "",
            };
            match sep {
                "" => {}
                " " => buf.push_space(),
                "; " => {
                    buf.push_word(";");
                    buf.push_space();
                }
                s => buf.push_word(s),
            }
        } else {
            buf.push_space();
        }
        match name {
            "msqrt" => buf.push_word("√"),
            "mspace" => buf.push_space(),
            _ => {}
        }
        let close = fence.map(|(open, close)| {
            buf.push_word(&open);
            close
        });
        if is_start {
            self.open.push((name.to_string(), 0, close));
        } else if let Some(close) = close {
            buf.push_word(&close);
        }
    }

    fn end(&mut self, buf: &mut TextBuf) {
        // What follows a script, fraction or root is apart from it.
        let Some((name, _, close)) = self.open.pop() else {
            return;
        };
        if let Some(close) = close {
            buf.push_word(&close);
        }
        // (After the whole formula, the text around it decides.)
        if (is_schema(&name) || name == "msqrt") && !self.open.is_empty() {
            buf.push_space();
        }
    }

    fn text(&mut self, raw: &str, buf: &mut TextBuf) {
        let t = raw.trim();
        if t.is_empty() {
            return;
        }
        let Some((name, _, _)) = self.open.last() else { return };
        // An operator is spaced in a row, unless it is a prefix (the first
        // child: "−x") or a fence; under, over and in scripts it is an
        // accent or a limit.
        let n = self.open.len();
        let in_row = n < 2 || !is_schema(&self.open[n - 2].0);
        let first = n < 2 || self.open[n - 2].1 <= 1;
        match (name.as_str(), t) {
            // Function application, invisible times, separator and plus.
            (_, "\u{2061}" | "\u{2062}" | "\u{2063}" | "\u{2064}") => {}
            ("mo", "(" | ")" | "[" | "]" | "{" | "}" | "|" | "," | "." | "!" | "′") => buf.push_word(t),
            ("mo", _) if in_row && !first => {
                buf.push_space();
                buf.push_word(t);
                buf.push_space();
            }
            ("mtext", _) => buf.push_inline(raw),
            // A name of several letters ("cov", "sin", "if") is a word of
            // its own, not the start of the next identifier's.
            ("mi", _) if t.chars().nth(1).is_some() => {
                buf.push_space();
                buf.push_word(t);
                buf.push_space();
            }
            _ => buf.push_word(t),
        }
    }
}

/// MathML elements whose children are parts (base, script, numerator…),
/// not a row.
fn is_schema(name: &str) -> bool {
    matches!(
        name,
        "mfrac" | "msup" | "msub" | "msubsup" | "munder" | "mover" | "munderover" | "mroot" | "mmultiscripts"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{section_text, zip};

    const CONTAINER: &str = r#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;

    fn xhtml(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd"><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Ignored</title><style>p {{ color: red }}</style><script>var x = 1;</script></head><body>{body}</body></html>"#
        )
    }

    fn read_epub(bytes: &[u8]) -> Document {
        let limits = Limits::default();
        read(bytes, &limits, &Budget::new(&limits)).unwrap()
    }

    #[test]
    fn epub3_spine_nav_and_text() {
        let opf = r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Le Livre</dc:title><dc:creator>Ann</dc:creator><dc:creator>Bob</dc:creator><dc:language>fr</dc:language></metadata><manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/><item id="c2" href="text/c2.xhtml" media-type="application/xhtml+xml"/><item id="c1" href="text/c1.xhtml" media-type="application/xhtml+xml"/><item id="evil" href="../../../etc/passwd" media-type="application/xhtml+xml"/><item id="notes" href="text/notes.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="nav"/><itemref idref="c1"/><itemref idref="c2"/><itemref idref="evil"/><itemref idref="notes" linear="no"/></spine></package>"#;
        let nav = r##"<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="toc"><ol><li><a href="text/c1.xhtml">Chapitre Un</a><ol><li><a href="text/c1.xhtml#s2">Partie deux</a></li></ol></li><li><a href="text/c2.xhtml">Chapitre Deux</a></li></ol></nav></body></html>"##;
        let c1 = xhtml(
            "<h1>Chapitre Un</h1><p>Il était   une\n fois&#160;&amp; caf&eacute;.</p><div><p>Second <b>bold</b> <a href=\"x\">link</a>.</p></div><h2 id=\"s2\">Partie deux</h2><p>Line<br/>break</p><ul><li>a</li><li>b</li></ul><ol><li>x</li><li>y</li></ol><table><tr><td>1</td><td>2</td></tr></table><img src=\"i.png\" alt=\"A picture\"/><pre>code  line\n  indented</pre>",
        );
        let c2 = xhtml("<h1>Chapitre Deux</h1><p>Fin.</p>");
        let bytes = zip(&[
            ("mimetype", "application/epub+zip"),
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", opf),
            ("OEBPS/nav.xhtml", nav),
            ("OEBPS/text/c1.xhtml", &c1),
            ("OEBPS/text/c2.xhtml", &c2),
            ("OEBPS/text/notes.xhtml", &xhtml("<p>Non-linear note.</p>")),
        ]);
        let d = read_epub(&bytes);
        assert_eq!(d.title.as_deref(), Some("Le Livre"));
        assert_eq!(d.authors, vec!["Ann".to_string(), "Bob".to_string()]);
        assert_eq!(d.language.as_deref(), Some("fr"));
        assert_eq!(
            d.text,
            "Chapitre Un\n\nIl était une fois & café.\n\nSecond bold link.\n\nPartie deux\n\nLine\nbreak\n\n- a\n\n- b\n\n1. x\n\n2. y\n\n1 | 2\n\nA picture\n\ncode  line\n  indented\n\nChapitre Deux\n\nFin."
        );
        let titles: Vec<(&str, u8)> = d.sections.iter().map(|s| (s.title.as_str(), s.level)).collect();
        assert_eq!(
            titles,
            vec![("Chapitre Un", 1), ("Partie deux", 2), ("Chapitre Deux", 1)]
        );
        assert!(section_text(&d, 1).starts_with("Partie deux\n\nLine"));
        assert!(section_text(&d, 1).ends_with("indented"));
        assert_eq!(section_text(&d, 2), "Chapitre Deux\n\nFin.");
    }

    #[test]
    fn epub2_ncx_and_errors() {
        let opf = r#"<package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">Old</dc:title></metadata><manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/><item id="a" href="a.html" media-type="application/xhtml+xml"/><item id="b" href="b.html" media-type="application/xhtml+xml"/></manifest><spine toc="ncx"><itemref idref="a"/><itemref idref="b"/></spine></package>"#;
        let ncx = r#"<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap><navPoint id="n1"><navLabel><text>One</text></navLabel><content src="a.html"/></navPoint><navPoint id="n2"><navLabel><text>Two</text></navLabel><content src="b.html"/></navPoint></navMap></ncx>"#;
        let bytes = zip(&[
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", opf),
            ("OEBPS/toc.ncx", ncx),
            ("OEBPS/a.html", &xhtml("<p>Alpha.</p>")),
            ("OEBPS/b.html", "<html><body><p>Beta <i>broken</p></body>"),
        ]);
        let d = read_epub(&bytes);
        assert_eq!(d.text, "Alpha.\n\nBeta broken");
        assert_eq!(d.sections.len(), 2);
        assert_eq!(section_text(&d, 1), "Beta broken");
        // No package document.
        let bytes = zip(&[("mimetype", "application/epub+zip"), ("x.txt", "hi")]);
        let limits = Limits::default();
        assert!(matches!(
            read(&bytes, &limits, &Budget::new(&limits)),
            Err(Error::Corrupt { .. })
        ));
    }
    #[test]
    fn mathml_as_linear_text() {
        let opf = r#"<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/><manifest><item id="a" href="a.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="a"/></spine></package>"#;
        // Pretty-printed, as MathJax and pandoc write it: the whitespace
        // between elements is layout, not text.
        let math = r#"<p>Roots: <math xmlns="http://www.w3.org/1998/Math/MathML">
            <mi>x</mi> <mo>=</mo>
            <mfrac>
              <mrow><mo>&#x2212;</mo><mi>b</mi><mo>&#x00B1;</mo>
                <msqrt><msup><mi>b</mi><mn>2</mn></msup><mo>&#x2212;</mo><mn>4</mn><mi>a</mi><mi>c</mi></msqrt>
              </mrow>
              <mrow><mn>2</mn><mi>a</mi></mrow>
            </mfrac>
          </math> and <math><msub><mi>x</mi><mi>i</mi></msub><mo>&#x2062;</mo><mi>y</mi>
          <mspace width="thinmathspace"/><mi>sin</mi><mo>&#x2061;</mo><mfenced><mi>t</mi></mfenced></math>.</p>
          <p>Then <math id="eq2"><semantics><mi>z</mi><annotation encoding="application/x-tex">ignored</annotation></semantics></math> holds.</p>"#;
        let opf = opf.replace(
            "<manifest>",
            r#"<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>"#,
        );
        let nav = r##"<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="toc"><ol><li><a href="a.xhtml">Roots</a></li><li><a href="a.xhtml#eq2">Equation two</a></li></ol></nav></body></html>"##;
        let bytes = zip(&[
            ("META-INF/container.xml", CONTAINER),
            ("OEBPS/content.opf", &opf),
            ("OEBPS/nav.xhtml", nav),
            ("OEBPS/a.xhtml", &xhtml(math)),
        ]);
        let d = read_epub(&bytes);
        assert_eq!(
            d.text,
            "Roots: x = −b ± √b^2 − 4ac /2a and x_i y sin (t).\n\nThen\n\nz holds."
        );
        // a navigation target on a math element still starts its section
        // (there, as at any inline target, the paragraph breaks)
        let titles: Vec<&str> = d.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Roots", "Equation two"]);
        assert!(section_text(&d, 1).contains('z'), "{:?}", section_text(&d, 1));
    }
}
