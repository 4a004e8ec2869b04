//! DOCX (WordprocessingML): body text in order, headings, lists, tables,
//! notes; headers, footers and comments left out.
//!
//! We stream the main part with quick-xml instead of using `docx-rs`: we need
//! only text and a little structure, `docx-rs` builds the whole object model
//! (and fails on files it does not expect), and a streaming pass lets every
//! limit apply. Elements are matched by local name so that the transitional
//! and strict (ISO 29500) namespaces and odd prefixes (`ns0:`) all work.
//!
//! Decisions:
//! - The main part is found through `_rels/.rels` (it need not be
//!   `word/document.xml`); its relationships give styles, numbering, notes
//!   and `altChunk` parts.
//! - Tracked changes are resolved as accepted: `w:ins`/`w:moveTo` are read,
//!   `w:del`/`w:moveFrom` and `w:delText` are not.
//! - `mc:AlternateContent` is read through its first `mc:Choice` only (the
//!   `mc:Fallback` repeats the same content as VML).
//! - Text boxes and shapes (`w:txbxContent`) are read, each of their
//!   paragraphs a block of its own, placed before the paragraph anchoring
//!   them. Field instructions (`w:instrText`) and ruby guides (`w:rt`) are not.
//! - Headings: a style named `heading N` or `Title`, or an outline level in
//!   the paragraph or its style chain.
//! - Lists: numbering from `numbering.xml` gives `1.`, `a.`, `i.` markers
//!   (counters per list and level), bullets become `-`.
//! - Tables: a row is one line, its cells separated by ` | `, paragraphs of a
//!   cell joined by a space; nested tables flatten into their cell.
//! - Footnotes and endnotes: `[n]` at the reference, the notes appended at
//!   the end as `[n] text`, in reference order.

use crate::container::{Container, resolve};
use crate::textbuf::TextBuf;
use crate::xml::{Events, attr, decode, element_text, entity, local};
use crate::{Budget, Document, Error, Format, Limits};
use quick_xml::events::Event;
use std::collections::HashMap;

pub(crate) fn read(bytes: &[u8], limits: &Limits, budget: &Budget) -> Result<Document, Error> {
    let mut zip = Container::open(bytes, limits, Format::Docx)?;
    let mut doc = Document::empty(Format::Docx);

    let package_rels = read_rels(&mut zip, "_rels/.rels", "", limits, budget)?;
    let main = package_rels
        .iter()
        .find(|r| r.kind.ends_with("/officeDocument"))
        .map(|r| r.target.clone())
        .filter(|t| zip.contains(t))
        .unwrap_or_else(|| "word/document.xml".to_string());
    if let Some(core) = package_rels
        .iter()
        .find(|r| r.kind.ends_with("/core-properties"))
        .map(|r| r.target.clone())
        .or_else(|| Some("docProps/core.xml".to_string()))
        && let Some(xml) = zip.read(&core)?
    {
        core_properties(&decode(&xml), &mut doc, limits, budget)?;
    }
    let Some(main_xml) = zip.read(&main)? else {
        return Err(Error::corrupt(
            Format::Docx,
            "no main document part (word/document.xml)",
        ));
    };
    let rels_name = rels_path(&main);
    let rels = read_rels(&mut zip, &rels_name, &main, limits, budget)?;
    let part = |suffix: &str, default: &str| -> String {
        rels.iter()
            .find(|r| r.kind.ends_with(suffix))
            .map(|r| r.target.clone())
            .unwrap_or_else(|| default.to_string())
    };
    let styles = match zip.read(&part("/styles", "word/styles.xml"))? {
        Some(x) => parse_styles(&decode(&x), limits, budget)?,
        None => Styles::default(),
    };
    let numbering = match zip.read(&part("/numbering", "word/numbering.xml"))? {
        Some(x) => parse_numbering(&decode(&x), limits, budget)?,
        None => Numbering::default(),
    };
    let mut walker = Walker {
        styles: &styles,
        numbering,
        counters: HashMap::new(),
        note_refs: Vec::new(),
        blocks: Vec::new(),
        drop_cap: String::new(),
    };
    let alt_chunks: HashMap<String, String> = rels
        .iter()
        .filter(|r| r.kind.ends_with("/aFChunk"))
        .map(|r| (r.id.clone(), r.target.clone()))
        .collect();
    let mut chunk_texts: HashMap<String, String> = HashMap::new();
    for (id, target) in &alt_chunks {
        if let Some(b) = zip.read(target)? {
            chunk_texts.insert(id.clone(), crate::markdown::strip_tags(&decode(&b)));
        }
    }
    walker.walk(&decode(&main_xml), None, &chunk_texts, limits, budget)?;
    let body_blocks = std::mem::take(&mut walker.blocks);

    // Notes, in the order they were referenced.
    let mut notes: HashMap<(bool, String), Vec<Block>> = HashMap::new();
    if !walker.note_refs.is_empty() {
        for (endnote, suffix, default) in [
            (false, "/footnotes", "word/footnotes.xml"),
            (true, "/endnotes", "word/endnotes.xml"),
        ] {
            if let Some(x) = zip.read(&part(suffix, default))? {
                walker.walk(&decode(&x), Some(endnote), &chunk_texts, limits, budget)?;
                for b in std::mem::take(&mut walker.blocks) {
                    if let Some(id) = &b.note {
                        notes.entry((endnote, id.clone())).or_default().push(b);
                    }
                }
            }
        }
    }

    let mut buf = TextBuf::new();
    for b in &body_blocks {
        emit(&mut buf, b, None);
    }
    for (endnote, id, n) in &walker.note_refs {
        if let Some(blocks) = notes.get(&(*endnote, id.clone())) {
            for (i, b) in blocks.iter().enumerate() {
                let label = format!("[{n}]");
                emit(&mut buf, b, (i == 0).then_some(label.as_str()));
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

fn emit(buf: &mut TextBuf, b: &Block, label: Option<&str>) {
    match &b.kind {
        Kind::Heading(level) if label.is_none() => buf.start_heading(*level),
        _ => buf.end_block(),
    }
    if let Some(l) = label {
        buf.push_word(l);
        buf.push_space();
    }
    if let Kind::Item(marker) = &b.kind {
        buf.push_word(marker);
        buf.push_space();
    }
    if let Kind::Table = b.kind {
        buf.push_verbatim(&b.text);
    } else {
        for (i, line) in b.text.split('\n').enumerate() {
            if i > 0 {
                buf.line_break();
            }
            buf.push_inline(line);
        }
    }
    if let Kind::Heading(_) = b.kind {
        buf.end_heading();
    } else {
        buf.end_block();
    }
}

struct Rel {
    id: String,
    kind: String,
    target: String,
}

fn rels_path(part: &str) -> String {
    match part.rfind('/') {
        Some(i) => format!("{}/_rels/{}.rels", &part[..i], &part[i + 1..]),
        None => format!("_rels/{part}.rels"),
    }
}

/// Relationships of a part; targets resolved against `source` (internal
/// targets only: external links and traversal are dropped).
fn read_rels(
    zip: &mut Container<'_>,
    name: &str,
    source: &str,
    limits: &Limits,
    budget: &Budget,
) -> Result<Vec<Rel>, Error> {
    let Some(bytes) = zip.read(name)? else {
        return Ok(Vec::new());
    };
    let text = decode(&bytes);
    let mut ev = Events::new(&text, limits, budget, Format::Docx);
    let mut out = Vec::new();
    while let Some(e) = ev.next()? {
        if let Event::Start(s) | Event::Empty(s) = &e
            && local(s) == "Relationship"
        {
            if attr(s, "TargetMode").is_some_and(|m| m == "External") {
                continue;
            }
            let (Some(id), Some(kind), Some(target)) = (attr(s, "Id"), attr(s, "Type"), attr(s, "Target")) else {
                continue;
            };
            if let Some(target) = resolve(source, &target) {
                out.push(Rel { id, kind, target });
            }
        }
    }
    Ok(out)
}

fn core_properties(xml: &str, doc: &mut Document, limits: &Limits, budget: &Budget) -> Result<(), Error> {
    let mut ev = Events::new(xml, limits, budget, Format::Docx);
    while let Some(e) = ev.next()? {
        if let Event::Start(s) = &e
            && ev.depth() == 2
        {
            let name = local(s).to_string();
            let value = element_text(&mut ev)?;
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "title" => doc.title = Some(value.clone()),
                "creator" => {
                    doc.authors = value
                        .split(';')
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect()
                }
                "language" => doc.language = Some(value.clone()),
                _ => {}
            }
            doc.metadata.insert(name, value);
        }
    }
    Ok(())
}

#[derive(Default)]
struct Style {
    name: String,
    based_on: Option<String>,
    outline: Option<u8>,
    num: Option<(String, u8)>,
}

#[derive(Default)]
struct Styles {
    by_id: HashMap<String, Style>,
}

impl Styles {
    /// Heading level of a style (its name, or an outline level up its chain).
    fn heading_level(&self, id: &str) -> Option<u8> {
        let mut cur = Some(id);
        for _ in 0..16 {
            let sid = cur?;
            let Some(style) = self.by_id.get(sid) else {
                return heading_from_name(sid);
            };
            if let Some(l) = heading_from_name(&style.name) {
                return Some(l);
            }
            if let Some(o) = style.outline {
                return (o < 9).then_some(o + 1);
            }
            cur = style.based_on.as_deref();
        }
        None
    }

    fn numbering(&self, id: &str) -> Option<(String, u8)> {
        let mut cur = Some(id);
        for _ in 0..16 {
            let style = self.by_id.get(cur?)?;
            if let Some(n) = &style.num {
                return Some(n.clone());
            }
            cur = style.based_on.as_deref();
        }
        None
    }
}

/// `heading 3` / `Heading3` → 3, `Title` → 1.
fn heading_from_name(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    if lower == "title" {
        return Some(1);
    }
    let rest = lower.strip_prefix("heading")?.trim();
    let n: u8 = rest.parse().ok()?;
    (1..=9).contains(&n).then_some(n)
}

fn parse_styles(xml: &str, limits: &Limits, budget: &Budget) -> Result<Styles, Error> {
    let mut styles = Styles::default();
    let mut ev = Events::new(xml, limits, budget, Format::Docx);
    let mut cur: Option<(String, Style)> = None;
    let mut num_id: Option<String> = None;
    let mut ilvl: u8 = 0;
    while let Some(e) = ev.next()? {
        match &e {
            Event::Start(s) | Event::Empty(s) => match local(s) {
                "style" => {
                    if let Some((id, st)) = cur.take() {
                        styles.by_id.insert(id, st);
                    }
                    if let Some(id) = attr(s, "styleId") {
                        cur = Some((id, Style::default()));
                    }
                }
                "name" => {
                    if let (Some((_, st)), Some(v)) = (cur.as_mut(), attr(s, "val")) {
                        st.name = v;
                    }
                }
                "basedOn" => {
                    if let Some((_, st)) = cur.as_mut() {
                        st.based_on = attr(s, "val");
                    }
                }
                "outlineLvl" => {
                    if let Some((_, st)) = cur.as_mut() {
                        st.outline = attr(s, "val").and_then(|v| v.parse().ok());
                    }
                }
                "numId" => num_id = attr(s, "val"),
                "ilvl" => ilvl = attr(s, "val").and_then(|v| v.parse().ok()).unwrap_or(0),
                _ => {}
            },
            Event::End(s) => match s.local_name().as_ref() {
                "numPr" => {
                    if let (Some((_, st)), Some(id)) = (cur.as_mut(), num_id.take()) {
                        st.num = Some((id, ilvl));
                    }
                    ilvl = 0;
                }
                "style" => {
                    if let Some((id, st)) = cur.take() {
                        styles.by_id.insert(id, st);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    Ok(styles)
}

#[derive(Default)]
struct Numbering {
    /// numId → abstractNumId.
    nums: HashMap<String, String>,
    /// (abstractNumId, level) → (format, start).
    levels: HashMap<(String, u8), (String, u32)>,
}

fn parse_numbering(xml: &str, limits: &Limits, budget: &Budget) -> Result<Numbering, Error> {
    let mut n = Numbering::default();
    let mut ev = Events::new(xml, limits, budget, Format::Docx);
    let mut abs: Option<String> = None;
    let mut lvl: Option<u8> = None;
    let mut fmt = String::from("decimal");
    let mut start = 1u32;
    let mut num: Option<String> = None;
    while let Some(e) = ev.next()? {
        match &e {
            Event::Start(s) | Event::Empty(s) => match local(s) {
                "abstractNum" => abs = attr(s, "abstractNumId"),
                "lvl" => {
                    lvl = attr(s, "ilvl").and_then(|v| v.parse().ok());
                    fmt = "decimal".into();
                    start = 1;
                }
                "numFmt" if lvl.is_some() => fmt = attr(s, "val").unwrap_or_default(),
                "start" if lvl.is_some() => start = attr(s, "val").and_then(|v| v.parse().ok()).unwrap_or(1),
                "num" => num = attr(s, "numId"),
                "abstractNumId" => {
                    if let (Some(id), Some(a)) = (num.clone(), attr(s, "val")) {
                        n.nums.insert(id, a);
                    }
                }
                _ => {}
            },
            Event::End(s) => match s.local_name().as_ref() {
                "lvl" => {
                    if let (Some(a), Some(l)) = (&abs, lvl.take()) {
                        n.levels.insert((a.clone(), l), (fmt.clone(), start));
                    }
                }
                "abstractNum" => abs = None,
                "num" => num = None,
                _ => {}
            },
            _ => {}
        }
    }
    Ok(n)
}

enum Kind {
    Para,
    Heading(u8),
    Item(String),
    Table,
}

struct Block {
    kind: Kind,
    text: String,
    /// The note (footnote or endnote id) this block belongs to.
    note: Option<String>,
}

#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
    outline: Option<u8>,
    num_id: Option<String>,
    ilvl: u8,
    drop_cap: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: Vec<String>,
}

struct Walker<'s> {
    styles: &'s Styles,
    numbering: Numbering,
    /// numId → counters per level.
    counters: HashMap<String, [u32; 10]>,
    /// (is endnote, note id, number shown), in reference order.
    note_refs: Vec<(bool, String, usize)>,
    blocks: Vec<Block>,
    /// The letter(s) of a drop capital, waiting for their paragraph.
    drop_cap: String,
}

impl Walker<'_> {
    /// Walks a body, footnotes or endnotes part (`notes` = Some(is_endnote)).
    fn walk(
        &mut self,
        xml: &str,
        notes: Option<bool>,
        chunks: &HashMap<String, String>,
        limits: &Limits,
        budget: &Budget,
    ) -> Result<(), Error> {
        let mut ev = Events::new(xml, limits, budget, Format::Docx);
        let mut paras: Vec<Para> = Vec::new();
        let mut tables: Vec<Table> = Vec::new();
        let mut in_text = false;
        let mut note: Option<String> = None;
        // Inside a run's properties; the run's vertical alignment (true =
        // superscript); open OMML `m:sup`/`m:sub` (true = superscript).
        let mut in_rpr = false;
        let mut run_script: Option<bool> = None;
        let mut math_script: Vec<bool> = Vec::new();
        while let Some(e) = ev.next()? {
            match e {
                Event::Start(s) => {
                    let name = local(&s);
                    match name {
                        "p" => paras.push(Para::default()),
                        "t" => in_text = true,
                        // Deleted and moved-away text, field instructions,
                        // ruby guides, VML fallbacks and properties that
                        // hold no text of the document.
                        "del" | "moveFrom" | "delText" | "instrText" | "Fallback" | "delInstrText" | "rPrChange"
                        | "sectPr" => ev.skip_element()?,
                        // Run properties are read for the vertical alignment only.
                        "rPr" => in_rpr = true,
                        "r" => run_script = None,
                        // OMML superscripts and subscripts.
                        "sup" | "sub" => math_script.push(name == "sup"),
                        "tbl" => tables.push(Table::default()),
                        // Ruby guides in parentheses after their base text.
                        "rt" => {
                            if let Some(p) = paras.last_mut() {
                                p.text.push('(');
                            }
                        }
                        "tc" => {
                            if let Some(t) = tables.last_mut() {
                                t.cells.push(String::new());
                            }
                        }
                        "footnote" | "endnote" if notes.is_some() => {
                            let kind = attr(&s, "type").unwrap_or_default();
                            if kind == "separator" || kind == "continuationSeparator" || kind == "continuationNotice" {
                                ev.skip_element()?;
                            } else {
                                note = attr(&s, "id");
                            }
                        }
                        _ => {}
                    }
                }
                Event::Empty(s) => {
                    let name = local(&s);
                    if let Some(p) = paras.last_mut() {
                        match name {
                            "tab" | "ptab" => p.text.push('\t'),
                            "br" => {
                                let kind = attr(&s, "type").unwrap_or_default();
                                if kind != "page" && kind != "column" {
                                    p.text.push('\n');
                                }
                            }
                            "cr" => p.text.push('\n'),
                            "noBreakHyphen" => p.text.push('-'),
                            "sym" => {
                                let font = attr(&s, "font").unwrap_or_default();
                                if let Some(c) = attr(&s, "char")
                                    .and_then(|h| u32::from_str_radix(&h, 16).ok())
                                    .and_then(|v| symbol_char(&font, v))
                                {
                                    p.text.push(c);
                                }
                            }
                            "vertAlign" if in_rpr => {
                                run_script = match attr(&s, "val").as_deref() {
                                    Some("superscript") => Some(true),
                                    Some("subscript") => Some(false),
                                    _ => None,
                                }
                            }
                            "pStyle" => p.style = attr(&s, "val"),
                            "framePr" => p.drop_cap = attr(&s, "dropCap").is_some_and(|v| v != "none"),
                            "outlineLvl" => p.outline = attr(&s, "val").and_then(|v| v.parse().ok()),
                            "numId" => p.num_id = attr(&s, "val"),
                            "ilvl" => p.ilvl = attr(&s, "val").and_then(|v| v.parse().ok()).unwrap_or(0),
                            "footnoteReference" | "endnoteReference" => {
                                if let Some(id) = attr(&s, "id") {
                                    let endnote = name == "endnoteReference";
                                    let n = self.note_refs.len() + 1;
                                    self.note_refs.push((endnote, id, n));
                                    p.text.push_str(&format!("[{n}]"));
                                }
                            }
                            _ => {}
                        }
                    } else if name == "altChunk"
                        && let Some(text) = attr(&s, "id").and_then(|id| chunks.get(&id))
                    {
                        for line in text.split('\n') {
                            if !line.trim().is_empty() {
                                self.push(Kind::Para, line.to_string(), None, &mut tables);
                            }
                        }
                    }
                }
                Event::Text(t) if in_text => {
                    if let Some(p) = paras.last_mut() {
                        let t = t.xml10_content();
                        match run_script
                            .or(math_script.last().copied())
                            .and_then(|sup| crate::textbuf::script_text(&t, sup))
                        {
                            Some(m) => p.text.push_str(&m),
                            None => p.text.push_str(&t),
                        }
                    }
                }
                Event::CData(t) if in_text => {
                    if let Some(p) = paras.last_mut() {
                        p.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) if in_text => {
                    if let (Some(p), Some(t)) = (paras.last_mut(), entity(&r)) {
                        p.text.push_str(&t);
                    }
                }
                Event::End(s) => {
                    let lname = s.local_name();
                    match lname.as_ref() {
                        "t" => in_text = false,
                        "rPr" => in_rpr = false,
                        "sup" | "sub" => {
                            math_script.pop();
                        }
                        // An OMML fraction: numerator/denominator.
                        "num" => {
                            if let Some(p) = paras.last_mut() {
                                p.text.push('/');
                            }
                        }
                        "rt" => {
                            if let Some(p) = paras.last_mut() {
                                p.text.push(')');
                            }
                        }
                        "p" => {
                            if let Some(p) = paras.pop() {
                                self.finish_para(p, note.clone(), &mut tables);
                            }
                        }
                        "tr" => {
                            if let Some(t) = tables.last_mut() {
                                let cells: Vec<String> = t.cells.drain(..).map(|c| c.trim().to_string()).collect();
                                let line = cells.join(" | ");
                                if !line.replace('|', "").trim().is_empty() {
                                    t.rows.push(line);
                                }
                            }
                        }
                        "tbl" => {
                            if let Some(t) = tables.pop() {
                                let text = t.rows.join("\n");
                                if let Some(outer) = tables.last_mut() {
                                    append_cell(outer, &text.replace('\n', " "));
                                } else if !text.trim().is_empty() {
                                    self.blocks.push(Block {
                                        kind: Kind::Table,
                                        text,
                                        note: note.clone(),
                                    });
                                }
                            }
                        }
                        "footnote" | "endnote" => note = None,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // Unclosed paragraphs of a truncated part.
        while let Some(p) = paras.pop() {
            self.finish_para(p, note.clone(), &mut tables);
        }
        Ok(())
    }

    fn finish_para(&mut self, p: Para, note: Option<String>, tables: &mut [Table]) {
        let mut text = p.text.replace('\t', " ");
        if p.drop_cap {
            // A drop capital is a frame of its own holding the first letter
            // of the next paragraph.
            self.drop_cap.push_str(text.trim());
            return;
        }
        if !self.drop_cap.is_empty() {
            text = format!("{}{}", std::mem::take(&mut self.drop_cap), text.trim_start());
        }
        let mut kind = Kind::Para;
        let heading = p
            .outline
            .filter(|&o| o < 9)
            .map(|o| o + 1)
            .or_else(|| p.style.as_deref().and_then(|s| self.styles.heading_level(s)));
        if let Some(level) = heading {
            kind = Kind::Heading(level);
        } else {
            let num = match &p.num_id {
                Some(id) => Some((id.clone(), p.ilvl)),
                None => p.style.as_deref().and_then(|s| self.styles.numbering(s)),
            };
            if let Some((id, ilvl)) = num
                && id != "0"
                && !text.trim().is_empty()
            {
                kind = Kind::Item(self.marker(&id, ilvl));
            }
        }
        if text.trim().is_empty() {
            return;
        }
        self.push(kind, text, note, tables);
    }

    fn push(&mut self, kind: Kind, text: String, note: Option<String>, tables: &mut [Table]) {
        if let Some(t) = tables.last_mut() {
            let text = match &kind {
                Kind::Item(m) => format!("{m} {text}"),
                _ => text,
            };
            append_cell(t, &text.replace('\n', " "));
        } else {
            self.blocks.push(Block { kind, text, note });
        }
    }

    /// The list marker for the next item of list `num_id` at level `ilvl`.
    fn marker(&mut self, num_id: &str, ilvl: u8) -> String {
        let lvl = (ilvl as usize).min(9);
        let (fmt, start) = self
            .numbering
            .nums
            .get(num_id)
            .and_then(|a| self.numbering.levels.get(&(a.clone(), lvl as u8)))
            .cloned()
            .unwrap_or_else(|| ("bullet".to_string(), 1));
        let counters = self.counters.entry(num_id.to_string()).or_insert([0; 10]);
        if counters[lvl] == 0 {
            counters[lvl] = start.max(1);
        } else {
            counters[lvl] = counters[lvl].saturating_add(1);
        }
        for c in counters.iter_mut().skip(lvl + 1) {
            *c = 0;
        }
        let n = counters[lvl];
        match fmt.as_str() {
            "bullet" | "none" | "" => "-".to_string(),
            "lowerLetter" => format!("{}.", letters(n)),
            "upperLetter" => format!("{}.", letters(n).to_uppercase()),
            "lowerRoman" => format!("{}.", roman(n).to_lowercase()),
            "upperRoman" => format!("{}.", roman(n)),
            _ => format!("{n}."),
        }
    }
}

/// The Unicode char of a `w:sym`: the Symbol font's Greek and mathematical
/// glyphs are mapped; other symbol fonts (Wingdings...) have no text.
fn symbol_char(font: &str, code: u32) -> Option<char> {
    let byte = if (0xF000..=0xF0FF).contains(&code) {
        code - 0xF000
    } else {
        code
    };
    if !font.eq_ignore_ascii_case("symbol") {
        return (!(0xE000..=0xF8FF).contains(&code) && !font.to_ascii_lowercase().contains("wingding"))
            .then(|| char::from_u32(code))
            .flatten();
    }
    const UPPER: &str = "ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ";
    const LOWER: &str = "αβχδεφγηιϕκλμνοπθρστυϖωξψζ";
    const HIGH: &[(u32, char)] = &[
        (0x22, '∀'),
        (0x24, '∃'),
        (0x27, '∋'),
        (0x2D, '−'),
        (0x40, '≅'),
        (0x5C, '∴'),
        (0x5E, '⊥'),
        (0x7E, '∼'),
        (0xA0, '€'),
        (0xA2, '′'),
        (0xA3, '≤'),
        (0xA5, '∞'),
        (0xAB, '↔'),
        (0xAC, '←'),
        (0xAD, '↑'),
        (0xAE, '→'),
        (0xAF, '↓'),
        (0xB0, '°'),
        (0xB1, '±'),
        (0xB2, '″'),
        (0xB3, '≥'),
        (0xB4, '×'),
        (0xB6, '∂'),
        (0xB7, '•'),
        (0xB8, '÷'),
        (0xB9, '≠'),
        (0xBB, '≈'),
        (0xBC, '…'),
        (0xC4, '⊗'),
        (0xC5, '⊕'),
        (0xC6, '∅'),
        (0xC7, '∩'),
        (0xC8, '∪'),
        (0xC9, '⊃'),
        (0xCC, '⊂'),
        (0xCE, '∈'),
        (0xD1, '∇'),
        (0xD2, '®'),
        (0xD3, '©'),
        (0xD4, '™'),
        (0xD5, '∏'),
        (0xD6, '√'),
        (0xD7, '⋅'),
        (0xD8, '¬'),
        (0xD9, '∧'),
        (0xDA, '∨'),
        (0xDB, '⇔'),
        (0xDE, '⇒'),
        (0xE0, '◊'),
        (0xE1, '〈'),
        (0xE5, '∑'),
        (0xF1, '〉'),
        (0xF2, '∫'),
    ];
    match byte {
        0x41..=0x5A => UPPER.chars().nth((byte - 0x41) as usize),
        0x61..=0x7A => LOWER.chars().nth((byte - 0x61) as usize),
        _ => HIGH
            .iter()
            .find(|(b, _)| *b == byte)
            .map(|(_, c)| *c)
            .or_else(|| (0x20..0x7F).contains(&byte).then(|| char::from_u32(byte)).flatten()),
    }
}

fn append_cell(t: &mut Table, text: &str) {
    if t.cells.is_empty() {
        t.cells.push(String::new());
    }
    if let Some(c) = t.cells.last_mut() {
        if !c.is_empty() {
            c.push(' ');
        }
        c.push_str(text.trim());
    }
}

fn letters(n: u32) -> String {
    let mut n = n.max(1);
    let mut s = Vec::new();
    while n > 0 {
        n -= 1;
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    s.iter().rev().collect()
}

/// Roman numerals (capped at 40 chars for absurd list counters); also used to validate numeral headings in text.
pub(crate) fn roman(mut n: u32) -> String {
    const TABLE: &[(u32, &str)] = &[
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for &(v, s) in TABLE {
        while n >= v && out.len() < 40 {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{section_text, zip};

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006""#;

    fn docx(body: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let document =
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>{body}</w:body></w:document>"#);
        let styles = format!(
            r#"<w:styles {W}><w:style w:styleId="H1"><w:name w:val="heading 1"/></w:style><w:style w:styleId="Chap"><w:name w:val="Chapter"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style></w:styles>"#
        );
        let numbering = format!(
            r#"<w:numbering {W}><w:abstractNum w:abstractNumId="7"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/></w:lvl><w:lvl w:ilvl="1"><w:numFmt w:val="lowerLetter"/></w:lvl></w:abstractNum><w:abstractNum w:abstractNumId="8"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="7"/></w:num><w:num w:numId="2"><w:abstractNumId w:val="8"/></w:num></w:numbering>"#
        );
        let core = r#"<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tést Title</dc:title><dc:creator>Ann Author</dc:creator><dc:language>fr-FR</dc:language></cp:coreProperties>"#;
        let mut entries = vec![
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", document.as_str()),
            ("word/styles.xml", styles.as_str()),
            ("word/numbering.xml", numbering.as_str()),
            ("docProps/core.xml", core),
        ];
        entries.extend_from_slice(extra);
        zip(&entries)
    }

    fn p(text: &str) -> String {
        format!("<w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
    }

    fn read_docx(bytes: &[u8]) -> Document {
        let limits = Limits::default();
        read(bytes, &limits, &Budget::new(&limits)).unwrap()
    }

    #[test]
    fn headings_lists_tables_changes() {
        let body = [
            r#"<w:p><w:pPr><w:pStyle w:val="H1"/></w:pPr><w:r><w:t>Chapter Ünë</w:t></w:r></w:p>"#.to_string(),
            p("First paragraph with  two   spaces."),
            r#"<w:p><w:r><w:t>Kept </w:t></w:r><w:ins><w:r><w:t>inserted</w:t></w:r></w:ins><w:del><w:r><w:delText>deleted</w:delText></w:r></w:del><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>HYPERLINK "x"</w:instrText></w:r><w:r><w:t> text</w:t></w:r><w:r><w:tab/><w:t>tab</w:t><w:br/><w:t>line</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>one</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>sub</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>two</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="2"/></w:numPr></w:pPr><w:r><w:t>bullet</w:t></w:r></w:p>"#.to_string(),
            r#"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>a2</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b2</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"#.to_string(),
            r#"<w:p><w:pPr><w:pStyle w:val="Chap"/></w:pPr><w:r><w:t>Second</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>In a box</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>In a box</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>Anchor.</w:t></w:r></w:p>"#.to_string(),
            r#"<w:p><w:r><w:moveFrom><w:r><w:t>gone</w:t></w:r></w:moveFrom><w:t>End</w:t></w:r></w:p>"#.to_string(),
        ]
        .concat();
        let d = read_docx(&docx(&body, &[]));
        assert_eq!(
            d.text,
            "Chapter Ünë\n\nFirst paragraph with two spaces.\n\nKept inserted text tab\nline\n\n1. one\n\na. sub\n\n2. two\n\n- bullet\n\na1 | b1 more\na2 | b2\n\nSecond\n\nIn a box\n\nAnchor.\n\nEnd"
        );
        assert_eq!(d.title.as_deref(), Some("Tést Title"));
        assert_eq!(d.authors, vec!["Ann Author".to_string()]);
        assert_eq!(d.language.as_deref(), Some("fr-FR"));
        assert_eq!(d.sections.len(), 2);
        assert_eq!((d.sections[0].title.as_str(), d.sections[0].level), ("Chapter Ünë", 1));
        assert_eq!((d.sections[1].title.as_str(), d.sections[1].level), ("Second", 2));
        assert!(section_text(&d, 0).ends_with("a2 | b2\n\nSecond\n\nIn a box\n\nAnchor.\n\nEnd"));
        assert_eq!(section_text(&d, 1), "Second\n\nIn a box\n\nAnchor.\n\nEnd");
    }

    #[test]
    fn vertical_alignment_and_math() {
        let m = r#"xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math""#;
        let body = [
            // A superscript run, a subscript run, a superscript that has no
            // Unicode form, and a tracked formatting change (old properties).
            r#"<w:p><w:r><w:t>10 m</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>2</w:t></w:r><w:r><w:t> of H</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="subscript"/></w:rPr><w:t>2</w:t></w:r><w:r><w:rPr><w:rPrChange><w:rPr><w:vertAlign w:val="superscript"/></w:rPr></w:rPrChange></w:rPr><w:t>O, the 1</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>st</w:t></w:r><w:r><w:t> 3</w:t></w:r></w:p>"#.to_string(),
            format!(r#"<w:p {m}><m:oMath><m:f><m:num><m:r><m:t>3</m:t></m:r></m:num><m:den><m:r><m:t>4</m:t></m:r></m:den></m:f><m:r><m:t> + x</m:t></m:r><m:sSup><m:e><m:r><m:t>y</m:t></m:r></m:e><m:sup><m:r><m:t>2</m:t></m:r></m:sup></m:sSup></m:oMath></w:p>"#),
        ]
        .concat();
        let d = read_docx(&docx(&body, &[]));
        assert_eq!(d.text, "10 m² of H₂O, the 1st 3\n\n3/4 + xy²");
    }

    #[test]
    fn notes_are_appended() {
        let body = r#"<w:p><w:r><w:t>Ouch</w:t></w:r><w:r><w:footnoteReference w:id="2"/></w:r><w:r><w:t>.</w:t></w:r><w:r><w:endnoteReference w:id="5"/></w:r></w:p>"#;
        let foot = format!(
            r#"<w:footnotes {W}><w:footnote w:type="separator" w:id="0"><w:p><w:r><w:separator/></w:r></w:p></w:footnote><w:footnote w:id="2"><w:p><w:r><w:t>A tachyon.</w:t></w:r></w:p></w:footnote></w:footnotes>"#
        );
        let end = format!(
            r#"<w:endnotes {W}><w:endnote w:id="5"><w:p><w:r><w:t>Fin.</w:t></w:r></w:p></w:endnote></w:endnotes>"#
        );
        let d = read_docx(&docx(
            body,
            &[("word/footnotes.xml", &foot), ("word/endnotes.xml", &end)],
        ));
        assert_eq!(d.text, "Ouch[1].[2]\n\n[1] A tachyon.\n\n[2] Fin.");
    }

    #[test]
    fn hostile_parts() {
        let limits = Limits::default();
        let budget = Budget::new(&limits);
        // External entity and entity expansion are not resolved.
        let body = r#"<w:p><w:r><w:t>safe &xxe; &lol9;</w:t></w:r></w:p>"#;
        let doc = format!(
            r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY lol "lol"><!ENTITY lol9 "&lol;&lol;">]><w:document {W}><w:body>{body}</w:body></w:document>"#
        );
        let bytes = zip(&[("word/document.xml", &doc)]);
        let d = read(&bytes, &limits, &budget).unwrap();
        assert_eq!(d.text, "safe");
        // Deep nesting.
        let deep = format!(
            "<w:document {W}><w:body>{}</w:body></w:document>",
            "<w:sdt>".repeat(5000)
        );
        let bytes = zip(&[("word/document.xml", &deep)]);
        let err = read(&bytes, &limits, &budget).unwrap_err();
        assert!(err.to_string().contains("max_xml_depth"), "{err}");
        // Relationship targets that climb out of the archive are ignored.
        let rels = r#"<Relationships><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="../../../etc/passwd"/></Relationships>"#;
        let bytes = zip(&[
            ("_rels/.rels", rels),
            (
                "word/document.xml",
                &format!("<w:document {W}><w:body>{}</w:body></w:document>", p("ok")),
            ),
        ]);
        assert_eq!(read(&bytes, &limits, &budget).unwrap().text, "ok");
        // No main part.
        let bytes = zip(&[("word/other.xml", "<x/>")]);
        assert!(matches!(read(&bytes, &limits, &budget), Err(Error::Corrupt { .. })));
    }
}
