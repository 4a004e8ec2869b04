//! XML parts of DOCX and EPUB: decoding, a guarded event loop, entities.
//!
//! We use quick-xml's streaming reader rather than a tree (roxmltree) because
//! a streaming pass keeps memory proportional to the part, is several times
//! faster on big chapters, and lets us check depth and the time budget on
//! every element. Safety decisions:
//!
//! - DTDs are never interpreted: a `<!DOCTYPE>` with an internal subset is
//!   skipped, and references to entities it declares are dropped, so entity
//!   expansion attacks (billion laughs) and external entities (XXE) do
//!   nothing. Only the five XML entities, numeric references and the HTML5
//!   named entities (which XHTML files use through their DTD) are resolved.
//! - Element depth is limited by [`crate::Limits::max_xml_depth`].
//! - The time budget is checked every few thousand events.
//! - End tag names are not checked: real files have mismatched tags, and we
//!   would rather extract text than refuse the file.

use crate::{Budget, Error, Format, Limits};
use quick_xml::Reader;
use quick_xml::escape::{resolve_html5_entity, resolve_predefined_entity};
use quick_xml::events::{BytesRef, BytesStart, Event};
use std::borrow::Cow;

/// Decodes an XML part to text: BOM first, then the declared encoding, else
/// UTF-8 (invalid sequences replaced).
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text;
    }
    // Declared encoding in `<?xml ... encoding="..."?>`.
    let head = &bytes[..bytes.len().min(200)];
    if head.starts_with(b"<?xml")
        && let Some(end) = head.iter().position(|&b| b == b'>')
    {
        let decl = String::from_utf8_lossy(&head[..end]);
        if let Some(i) = decl.find("encoding") {
            let rest = &decl[i + 8..];
            let value: String = rest
                .trim_start_matches(|c: char| c == '=' || c.is_whitespace() || c == '"' || c == '\'')
                .chars()
                .take_while(|c| *c != '"' && *c != '\'' && !c.is_whitespace() && *c != '?')
                .collect();
            if let Some(enc) = encoding_rs::Encoding::for_label(value.as_bytes())
                && enc != encoding_rs::UTF_8
                && enc != encoding_rs::UTF_16LE
                && enc != encoding_rs::UTF_16BE
            {
                let (text, _) = enc.decode_without_bom_handling(bytes);
                return text;
            }
        }
    }
    String::from_utf8_lossy(bytes)
}

/// Text for an entity reference: numeric, the five XML ones or HTML5 names.
/// Entities declared in a DTD are deliberately not resolved (`None`).
pub(crate) fn entity(r: &BytesRef<'_>) -> Option<Cow<'static, str>> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Some(Cow::Owned(c.to_string())),
            _ => None,
        };
    }
    let name: &str = r;
    resolve_predefined_entity(name)
        .or_else(|| resolve_html5_entity(name))
        .map(Cow::Borrowed)
}

/// The value of the attribute whose local name (prefix ignored) is `local`.
pub(crate) fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    for a in e.attributes().with_checks(false).flatten() {
        if a.key.local_name().as_ref() == local {
            return Some(unescape_attr(&a.value));
        }
    }
    None
}

fn unescape_attr(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(';') {
            Some(j) if j < 40 => {
                let name = &after[..j];
                let r = BytesRef::new(name);
                match entity(&r) {
                    Some(t) => out.push_str(&t),
                    None => {
                        out.push('&');
                        out.push_str(name);
                        out.push(';');
                    }
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The local name (after any prefix) of an element.
pub(crate) fn local<'a>(e: &'a BytesStart<'_>) -> &'a str {
    let name = e.name().0;
    match name.rfind(':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// A guarded event loop over one XML part.
pub(crate) struct Events<'a> {
    reader: Reader<&'a [u8]>,
    depth: usize,
    max_depth: usize,
    budget: &'a Budget,
    count: u32,
    format: Format,
}

impl<'a> Events<'a> {
    pub(crate) fn new(text: &'a str, limits: &Limits, budget: &'a Budget, format: Format) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.allow_dangling_amp = true;
        config.check_comments = false;
        config.trim_text(false);
        Events {
            reader,
            depth: 0,
            max_depth: limits.max_xml_depth,
            budget,
            count: 0,
            format,
        }
    }

    /// Current element depth (the root element's children are at depth 1
    /// once the root's start tag has been read).
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// The next event, `None` at the end. Start/End events keep the depth.
    pub(crate) fn next(&mut self) -> Result<Option<Event<'a>>, Error> {
        self.count = self.count.wrapping_add(1);
        if self.count.is_multiple_of(4096) {
            self.budget.check()?;
        }
        match self.reader.read_event() {
            Ok(Event::Eof) => Ok(None),
            Ok(ev) => {
                match &ev {
                    // HTML void elements written without `/>` (sloppy EPUB
                    // content) have no end tag: they must not deepen.
                    Event::Start(s) if is_void(local(s)) => {}
                    Event::End(e) if is_void(e.local_name().as_ref()) => {}
                    Event::Start(_) => {
                        self.depth += 1;
                        if self.depth > self.max_depth {
                            return Err(Error::Limit(format!(
                                "max_xml_depth: elements nest deeper than {}",
                                self.max_depth
                            )));
                        }
                    }
                    Event::End(_) => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                Ok(Some(ev))
            }
            Err(e) => Err(Error::corrupt(
                self.format,
                format!("XML error at byte {}: {e}", self.reader.error_position()),
            )),
        }
    }

    /// Skips to the end of the element just started (at the current depth).
    pub(crate) fn skip_element(&mut self) -> Result<(), Error> {
        let target = self.depth.saturating_sub(1);
        while self.depth > target {
            if self.next()?.is_none() {
                break;
            }
        }
        Ok(())
    }
}

/// HTML elements that never have content.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "br" | "img"
            | "hr"
            | "meta"
            | "link"
            | "input"
            | "col"
            | "area"
            | "base"
            | "wbr"
            | "source"
            | "embed"
            | "param"
            | "track"
    )
}

/// Collects the text content of an XML element's events until its end (for
/// small metadata elements). The element's start has just been read.
pub(crate) fn element_text(ev: &mut Events<'_>) -> Result<String, Error> {
    let target = ev.depth().saturating_sub(1);
    let mut s = String::new();
    while ev.depth() > target {
        match ev.next()? {
            None => break,
            Some(Event::Text(t)) => s.push_str(&t.xml10_content()),
            Some(Event::CData(t)) => s.push_str(&t.xml10_content()),
            Some(Event::GeneralRef(r)) => {
                if let Some(t) = entity(&r) {
                    s.push_str(&t);
                }
            }
            Some(_) => {}
        }
        if s.len() > 1 << 20 {
            break;
        }
    }
    Ok(crate::textbuf::clean_title(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billion_laughs_is_not_expanded() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3; &amp; &#x41; &eacute;</lolz>"#;
        let limits = Limits::default();
        let budget = Budget::new(&limits);
        let mut ev = Events::new(xml, &limits, &budget, Format::Epub);
        let mut out = String::new();
        while let Some(e) = ev.next().unwrap() {
            match e {
                Event::Text(t) => out.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    if let Some(t) = entity(&r) {
                        out.push_str(&t)
                    }
                }
                _ => {}
            }
        }
        assert_eq!(out.trim(), "& A é");
    }

    #[test]
    fn unclosed_void_elements_do_not_deepen() {
        let xml = format!("<html><body><p>{}</p></body></html>", "a<br>".repeat(1000));
        let limits = Limits::default();
        let budget = Budget::new(&limits);
        let mut ev = Events::new(&xml, &limits, &budget, Format::Epub);
        while ev.next().unwrap().is_some() {}
        assert_eq!(ev.depth(), 0);
    }

    #[test]
    fn depth_limit() {
        let xml = "<a>".repeat(1000);
        let limits = Limits {
            max_xml_depth: 100,
            ..Limits::default()
        };
        let budget = Budget::new(&limits);
        let mut ev = Events::new(&xml, &limits, &budget, Format::Docx);
        let err = loop {
            match ev.next() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("max_xml_depth"), "{err}");
    }

    #[test]
    fn decodes_boms_and_declared_encodings() {
        assert_eq!(decode(b"\xEF\xBB\xBF<a/>"), "<a/>");
        assert_eq!(decode(b"\xFF\xFE<\0a\0/\0>\0"), "<a/>");
        let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>";
        assert!(decode(latin).contains("<a>\u{e9}</a>"));
        assert_eq!(unescape_attr("a&amp;b&eacute;&x"), "a&bé&x");
    }
}
