//! Document structure and metadata: the outline (bookmarks) as sections,
//! headings from font size when there is no outline, the info dictionary,
//! XMP metadata and the catalog's language.

use super::engine::{Dictionary, Document, Object, ObjectId};
use super::text::Para;
use crate::Section;
use std::collections::{HashMap, HashSet};

/// How many outline items are read at most; deeper or longer outlines are
/// cut (hostile files can make them cyclic or huge).
const MAX_OUTLINE_ITEMS: usize = 10_000;
const MAX_OUTLINE_DEPTH: usize = 16;

/// Follows references (a bounded number of times).
pub(crate) fn deref<'a>(doc: &'a Document, mut obj: &'a Object) -> Option<&'a Object> {
    for _ in 0..16 {
        match obj {
            Object::Reference(id) => obj = doc.objects.get(id)?,
            _ => return Some(obj),
        }
    }
    None
}

pub(crate) fn dict_get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    deref(doc, d.get(key).ok()?)
}

fn dict_of<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Dictionary> {
    match deref(doc, obj)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

pub(crate) fn catalog(doc: &Document) -> Option<&Dictionary> {
    dict_of(doc, doc.trailer.get(b"Root").ok()?)
}

/// Decodes a PDF text string: UTF-16BE/LE with BOM, UTF-8 with BOM, else
/// PDFDocEncoding (Latin-1 for our purposes).
pub(crate) fn text_string(bytes: &[u8]) -> String {
    let s = if bytes.starts_with(&[0xFE, 0xFF]) {
        let u: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&u)
    } else if bytes.starts_with(&[0xFF, 0xFE]) {
        let u: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&u)
    } else if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes.iter().map(|&b| pdfdoc_char(b)).collect()
    };
    s.chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn pdfdoc_char(b: u8) -> char {
    match b {
        0x80 => '\u{2022}',
        0x81 => '\u{2020}',
        0x82 => '\u{2021}',
        0x83 => '\u{2026}',
        0x84 => '\u{2014}',
        0x85 => '\u{2013}',
        0x8D => '\u{201C}',
        0x8E => '\u{201D}',
        0x8F => '\u{2018}',
        0x90 => '\u{2019}',
        0x91 => '\u{201A}',
        0x92 => '\u{2122}',
        0x93 => '\u{FB01}',
        0x94 => '\u{FB02}',
        _ => b as char,
    }
}

fn obj_text(doc: &Document, obj: Option<&Object>) -> Option<String> {
    match deref(doc, obj?)? {
        Object::String(b, _) => {
            let s = text_string(b);
            (!s.is_empty()).then_some(s)
        }
        Object::Name(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Title, authors and language from the info dictionary, XMP and catalog.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    /// Other info-dictionary entries (Subject, Keywords, Creator, Producer,
    /// dates), keyed by their PDF names.
    pub other: std::collections::BTreeMap<String, String>,
}

pub(crate) fn metadata(doc: &Document) -> Meta {
    let mut meta = Meta::default();
    if let Some(info) = doc.trailer.get(b"Info").ok().and_then(|o| dict_of(doc, o)) {
        meta.title = obj_text(doc, info.get(b"Title").ok());
        if let Some(a) = obj_text(doc, info.get(b"Author").ok()) {
            meta.authors = split_authors(&a);
        }
        for (k, v) in info.iter().take(64) {
            if k == b"Title" || k == b"Author" {
                continue;
            }
            if let Some(v) = obj_text(doc, Some(v)).filter(|v| v.len() <= 4096) {
                meta.other.insert(String::from_utf8_lossy(k).into_owned(), v);
            }
        }
    }
    if let Some(cat) = catalog(doc) {
        meta.language = obj_text(doc, cat.get(b"Lang").ok());
        if let Some(Object::Stream(s)) = dict_get(doc, cat, b"Metadata")
            && let Ok(xml) = s.decompressed_content().or_else(|_| Ok::<_, ()>(s.content.clone()))
            && xml.len() < 4 << 20
        {
            let xml = String::from_utf8_lossy(&xml);
            if meta.title.is_none() {
                meta.title = xmp_values(&xml, "dc:title").into_iter().next();
            }
            if meta.authors.is_empty() {
                meta.authors = xmp_values(&xml, "dc:creator");
            }
            if meta.language.is_none() {
                meta.language = xmp_values(&xml, "dc:language").into_iter().next();
            }
        }
    }
    if let Some(t) = &meta.title {
        // Producers often put a file name or a placeholder here.
        let l = t.to_lowercase();
        if l == "untitled"
            || l.ends_with(".doc")
            || l.ends_with(".docx")
            || l.ends_with(".pdf")
            || l.starts_with("microsoft word")
        {
            meta.title = None;
        }
    }
    meta.language = meta
        .language
        .filter(|l| !l.is_empty() && l.len() < 36 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    meta
}

fn split_authors(s: &str) -> Vec<String> {
    s.split([';', '&'])
        .flat_map(|p| p.split(" and "))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The values of an XMP property: the text of its `rdf:li` items, or the
/// element's own text.
fn xmp_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let Some(start) = xml.find(&open) else {
        return Vec::new();
    };
    let Some(end) = xml[start..].find(&close) else {
        return Vec::new();
    };
    let body = &xml[start..start + end];
    let body = match body.find('>') {
        Some(i) => &body[i + 1..],
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<rdf:li") {
        rest = &rest[i..];
        let Some(gt) = rest.find('>') else { break };
        let Some(end) = rest.find("</rdf:li>") else {
            break;
        };
        if gt < end {
            let v = unescape_xml(rest[gt + 1..end].trim());
            if !v.is_empty() {
                out.push(v);
            }
        }
        rest = &rest[end + 9..];
    }
    if out.is_empty() && !body.contains('<') {
        let v = unescape_xml(body.trim());
        if !v.is_empty() {
            out.push(v);
        }
    }
    out
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One outline item, resolved to a page.
#[derive(Debug, Clone)]
pub(crate) struct OutlineItem {
    pub title: String,
    pub level: u8,
    pub page: usize,
    /// The destination's top in flipped page space (y down), if given.
    pub top: Option<f32>,
}

/// The outline, resolved to page indexes. `page_tops` gives each page's
/// media-box top (to flip destination coordinates).
pub(crate) fn outline(doc: &Document, page_ids: &[ObjectId], page_tops: &[f32]) -> Vec<OutlineItem> {
    let Some(cat) = catalog(doc) else {
        return Vec::new();
    };
    let Some(root) = dict_get(doc, cat, b"Outlines").and_then(|o| dict_of(doc, o)) else {
        return Vec::new();
    };
    let page_index: HashMap<ObjectId, usize> = page_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut names = NamedDests::new(doc, cat);
    let mut out = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    // Iterative walk: (first child reference, level).
    let mut stack: Vec<(Option<ObjectId>, usize)> =
        vec![(root.get(b"First").ok().and_then(|o| o.as_reference().ok()), 1)];
    let mut visited = 0usize;
    while let Some((cur, level)) = stack.pop() {
        let Some(id) = cur else { continue };
        if !seen.insert(id) || visited >= MAX_OUTLINE_ITEMS {
            continue;
        }
        visited += 1;
        let Some(item) = doc.objects.get(&id).and_then(|o| o.as_dict().ok()) else {
            continue;
        };
        // Siblings after this item, then its children first.
        stack.push((item.get(b"Next").ok().and_then(|o| o.as_reference().ok()), level));
        if level < MAX_OUTLINE_DEPTH {
            stack.push((item.get(b"First").ok().and_then(|o| o.as_reference().ok()), level + 1));
        }
        let title = obj_text(doc, item.get(b"Title").ok()).unwrap_or_default();
        if title.is_empty() {
            continue;
        }
        let dest = item.get(b"Dest").ok().or_else(|| {
            let a = dict_of(doc, item.get(b"A").ok()?)?;
            a.get(b"D").ok()
        });
        let Some(dest) = dest.and_then(|d| names.resolve(d)) else {
            continue;
        };
        let Some(arr) = deref(doc, dest).and_then(|o| o.as_array().ok()) else {
            continue;
        };
        let page = match arr.first() {
            Some(Object::Reference(r)) => page_index.get(r).copied(),
            Some(Object::Integer(i)) if *i >= 0 => Some(*i as usize),
            _ => None,
        };
        let Some(page) = page.filter(|&p| p < page_ids.len()) else {
            continue;
        };
        let kind = arr.get(1).and_then(|o| o.as_name().ok()).unwrap_or(b"");
        let top = match kind {
            b"XYZ" => arr.get(3),
            b"FitH" | b"FitBH" => arr.get(2),
            _ => None,
        }
        .and_then(|o| o.as_float().ok())
        .map(|y| page_tops[page] - y);
        out.push(OutlineItem {
            title,
            level: level.min(255) as u8,
            page,
            top,
        });
    }
    out
}

/// Named destinations: the catalog's `/Dests` dictionary and the
/// `/Names /Dests` name tree, loaded on first use.
struct NamedDests<'a> {
    doc: &'a Document,
    cat: &'a Dictionary,
    map: Option<HashMap<Vec<u8>, &'a Object>>,
}

impl<'a> NamedDests<'a> {
    fn new(doc: &'a Document, cat: &'a Dictionary) -> Self {
        NamedDests { doc, cat, map: None }
    }

    fn resolve(&mut self, dest: &'a Object) -> Option<&'a Object> {
        let d = deref(self.doc, dest)?;
        let name = match d {
            Object::Array(_) => return Some(d),
            Object::Name(n) => n,
            Object::String(s, _) => s,
            _ => return None,
        };
        if self.map.is_none() {
            self.map = Some(self.load());
        }
        let target = *self.map.as_ref()?.get(name)?;
        match deref(self.doc, target)? {
            Object::Dictionary(dd) => dd.get(b"D").ok(),
            other => Some(other),
        }
    }

    fn load(&self) -> HashMap<Vec<u8>, &'a Object> {
        let mut map = HashMap::new();
        if let Some(d) = dict_get(self.doc, self.cat, b"Dests").and_then(|o| dict_of(self.doc, o)) {
            for (k, v) in d.iter() {
                map.insert(k.clone(), v);
            }
        }
        let tree = dict_get(self.doc, self.cat, b"Names")
            .and_then(|o| dict_of(self.doc, o))
            .and_then(|n| dict_get(self.doc, n, b"Dests"))
            .and_then(|o| dict_of(self.doc, o));
        if let Some(tree) = tree {
            let mut stack = vec![(tree, 0usize)];
            let mut nodes = 0usize;
            while let Some((node, depth)) = stack.pop() {
                nodes += 1;
                if nodes > 100_000 || depth > 32 {
                    break;
                }
                if let Some(Object::Array(names)) = dict_get(self.doc, node, b"Names") {
                    for pair in names.chunks_exact(2) {
                        if let Some(Object::String(k, _)) = deref(self.doc, &pair[0]) {
                            map.insert(k.clone(), &pair[1]);
                        }
                    }
                }
                if let Some(Object::Array(kids)) = dict_get(self.doc, node, b"Kids") {
                    for k in kids {
                        if let Some(kd) = dict_of(self.doc, k) {
                            stack.push((kd, depth + 1));
                        }
                    }
                }
            }
        }
        map
    }
}

fn norm_title(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .take(24)
        .collect()
}

/// Sections from the outline: each item is placed at the paragraph on its
/// page that starts with its title, else the first paragraph at or below
/// the destination's top, else the page's first paragraph.
pub(crate) fn sections_from_outline(items: &[OutlineItem], paras: &[Para], text_chars: usize) -> Vec<Section> {
    let mut starts: Vec<(usize, u8, String)> = Vec::new();
    for item in items {
        let first = paras.partition_point(|p| p.page < item.page);
        if first >= paras.len() {
            continue;
        }
        let key = norm_title(&item.title);
        let on_page = paras[first..]
            .iter()
            .enumerate()
            .take_while(|(_, p)| p.page <= item.page + 1)
            .filter(|(_, p)| !p.text.is_empty());
        let mut by_title = None;
        let mut by_top = None;
        for (i, p) in on_page {
            if by_title.is_none() && !key.is_empty() {
                let pk = norm_title(&p.text);
                if pk.starts_with(&key) || (!pk.is_empty() && key.starts_with(&pk) && pk.len() >= 4) {
                    by_title = Some(first + i);
                }
            }
            if by_top.is_none() && p.page == item.page && item.top.is_none_or(|t| p.top >= t - 2.0 * p.size) {
                by_top = Some(first + i);
            }
        }
        let idx = by_title.or(by_top).unwrap_or(first);
        starts.push((paras[idx].start, item.level, item.title.clone()));
    }
    finish_sections(starts, text_chars)
}

/// Headings from font size: short paragraphs set clearly larger than the
/// body text. The largest sizes become level 1, then 2, then 3.
pub(crate) fn sections_from_headings(paras: &[Para], body: f32, text_chars: usize) -> Vec<Section> {
    // A heading is followed by body text, starts with a capital letter or
    // a number, and is short.
    let cands: Vec<&Para> = paras
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            p.size >= body * 1.15
                && p.lines.len() <= 3
                && !p.text.is_empty()
                && p.text.chars().count() <= 120
                && p.text
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_uppercase() || c.is_numeric())
                && p.text.chars().filter(|c| c.is_alphabetic()).count() >= 3
                && paras[i + 1..]
                    .iter()
                    .find(|q| !q.text.is_empty())
                    .is_some_and(|q| (q.size - body).abs() < 0.1 * body && q.text.len() >= 40)
        })
        .map(|(_, p)| p)
        .collect();
    if cands.is_empty() || cands.len() * 3 > paras.len().max(3) {
        return Vec::new();
    }
    // Sizes used once are figure labels or titles more often than
    // headings: they count only when headings are rare anyway.
    let mut count: HashMap<i32, usize> = HashMap::new();
    for p in &cands {
        *count.entry((p.size * 2.0).round() as i32).or_insert(0) += 1;
    }
    let cands: Vec<&Para> = if cands.len() > 3 {
        cands
            .into_iter()
            .filter(|p| count[&((p.size * 2.0).round() as i32)] >= 2)
            .collect()
    } else {
        cands
    };
    let mut sizes: Vec<i32> = cands.iter().map(|p| (p.size * 2.0).round() as i32).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    let starts = cands
        .iter()
        .map(|p| {
            let k = (p.size * 2.0).round() as i32;
            let level = sizes.iter().position(|&s| s == k).unwrap_or(0).min(2) as u8 + 1;
            (p.start, level, p.text.clone())
        })
        .collect();
    finish_sections(starts, text_chars)
}

fn finish_sections(mut starts: Vec<(usize, u8, String)>, text_chars: usize) -> Vec<Section> {
    starts.sort_by_key(|s| s.0);
    let mut out: Vec<Section> = Vec::with_capacity(starts.len());
    for i in 0..starts.len() {
        let (start, level, ref title) = starts[i];
        let end = starts[i + 1..]
            .iter()
            .find(|s| s.1 <= level)
            .map(|s| s.0)
            .unwrap_or(text_chars)
            .max(start);
        out.push(Section {
            title: title.clone(),
            level,
            start,
            end,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmp() {
        let xml = r#"<dc:title><rdf:Alt><rdf:li xml:lang="x-default">A &amp; B</rdf:li></rdf:Alt></dc:title>
        <dc:creator><rdf:Seq><rdf:li>Ann</rdf:li><rdf:li>Bob</rdf:li></rdf:Seq></dc:creator>"#;
        assert_eq!(xmp_values(xml, "dc:title"), vec!["A & B"]);
        assert_eq!(xmp_values(xml, "dc:creator"), vec!["Ann", "Bob"]);
        assert!(xmp_values(xml, "dc:language").is_empty());
    }

    #[test]
    fn text_strings() {
        assert_eq!(text_string(b"\xFE\xFF\x00H\x00i"), "Hi");
        assert_eq!(text_string(b"Caf\xE9"), "Café");
    }

    #[test]
    fn section_ends() {
        let s = finish_sections(vec![(0, 1, "A".into()), (10, 2, "A.1".into()), (20, 1, "B".into())], 30);
        assert_eq!((s[0].start, s[0].end), (0, 20));
        assert_eq!((s[1].start, s[1].end), (10, 20));
        assert_eq!((s[2].start, s[2].end), (20, 30));
    }
}

/// A guess at the language of a text (BCP 47 primary tag) from its script,
/// or for Latin script from the most frequent function words. `None` when
/// there is too little text or no clear winner.
pub(crate) fn guess_language(text: &str) -> Option<String> {
    let sample: String = text.chars().take(200_000).collect();
    let (mut latin, mut han, mut kana, mut hangul, mut cyr, mut arabic, mut hebrew, mut thai, mut greek) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    for c in sample.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => latin += 1,
            '\u{3040}'..='\u{30FF}' => kana += 1,
            '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' => han += 1,
            '\u{AC00}'..='\u{D7AF}' => hangul += 1,
            '\u{0400}'..='\u{04FF}' => cyr += 1,
            '\u{0600}'..='\u{06FF}' => arabic += 1,
            '\u{0590}'..='\u{05FF}' => hebrew += 1,
            '\u{0E00}'..='\u{0E7F}' => thai += 1,
            '\u{0370}'..='\u{03FF}' => greek += 1,
            _ => {}
        }
    }
    let letters = latin + han + kana + hangul + cyr + arabic + hebrew + thai + greek;
    if letters < 20 {
        return None;
    }
    let script = [
        (kana + han, if kana * 10 >= han { "ja" } else { "zh" }),
        (hangul, "ko"),
        (cyr, "ru"),
        (arabic, "ar"),
        (hebrew, "he"),
        (thai, "th"),
        (greek, "el"),
    ];
    if let Some((n, tag)) = script.iter().max_by_key(|(n, _)| *n)
        && *n * 2 > letters
    {
        return Some((*tag).to_string());
    }
    if latin * 2 <= letters {
        return None;
    }
    const WORDS: &[(&str, &[&str])] = &[
        (
            "en",
            &["the", "and", "of", "to", "is", "that", "with", "was", "for", "this"],
        ),
        (
            "de",
            &["der", "die", "und", "das", "ist", "nicht", "mit", "ein", "sich", "auf"],
        ),
        (
            "fr",
            &["le", "la", "les", "et", "des", "est", "une", "dans", "que", "pour"],
        ),
        (
            "es",
            &["el", "la", "los", "con", "que", "en", "del", "las", "por", "una"],
        ),
        (
            "it",
            &["il", "di", "che", "e", "la", "per", "non", "una", "sono", "della"],
        ),
        ("pt", &["os", "de", "que", "uma", "do", "da", "em", "um", "para", "não"]),
        (
            "nl",
            &["de", "het", "een", "en", "van", "is", "dat", "niet", "op", "zijn"],
        ),
    ];
    let mut counts = [0usize; 7];
    let mut total = 0usize;
    for w in sample
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .take(30_000)
    {
        total += 1;
        let w = w.to_lowercase();
        for (i, (_, list)) in WORDS.iter().enumerate() {
            if list.contains(&w.as_str()) {
                counts[i] += 1;
            }
        }
    }
    let (best, n) = counts.iter().enumerate().max_by_key(|(_, n)| **n)?;
    let second = counts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best)
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    (total >= 20 && *n * 20 >= total && *n > second + second / 4).then(|| WORDS[best].0.to_string())
}

#[cfg(test)]
mod language_tests {
    use super::guess_language;

    #[test]
    fn guesses() {
        let en = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families.";
        assert_eq!(guess_language(en).as_deref(), Some("en"));
        let de = "Die Produkttopologie ist die gröbste Topologie, für die alle Projektionen stetig sind. Sei X ein topologischer Raum und A eine Teilmenge, dann ist die Spurtopologie auf A die Menge der Schnitte mit offenen Mengen, und das ist nicht schwer.";
        assert_eq!(guess_language(de).as_deref(), Some("de"));
        assert_eq!(
            guess_language("東京は日本の首都です。ここには多くの人が住んでいます。とても大きな都市です。").as_deref(),
            Some("ja")
        );
        assert_eq!(guess_language("short"), None);
    }
}
