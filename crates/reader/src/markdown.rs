//! Markdown: CommonMark plus GFM tables, via `pulldown-cmark`.
//!
//! `pulldown-cmark` is a well-kept, fuzzed, linear-time CommonMark parser; we
//! walk its events and write plain text: markup goes, link text stays (URLs
//! go), code blocks stay as preformatted text, tables become one line per
//! row with cells separated by ` | `, list items become blocks with a `-` or
//! number marker. Raw HTML tags are dropped but the text between them kept.
//!
//! Metadata: YAML (`---`) or TOML (`+++`) front matter and a pandoc title
//! block (`% title`, `% author`) are read as flat `key: value` pairs (we do
//! not need a full YAML parser for `title`, `author`, `lang`, and a tiny one
//! cannot be attacked with aliases); without them the title is the first
//! heading.

use crate::textbuf::TextBuf;
use crate::{Budget, Document, Error, Format};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

pub(crate) fn read(bytes: &[u8], budget: &Budget) -> Result<Document, Error> {
    let mut doc = Document::empty(Format::Markdown);
    let (src, warning) = crate::text::decode(bytes);
    if let Some(w) = warning {
        doc.warnings.push(w);
    }
    let src = liquid_links(&src.replace("\r\n", "\n"));
    let body = pandoc_title_block(&src, &mut doc);
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_FOOTNOTES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_HEADING_ATTRIBUTES);
    opts.insert(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
    opts.insert(Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS);
    opts.insert(Options::ENABLE_DEFINITION_LIST);

    let mut buf = TextBuf::new();
    let mut in_meta = false;
    let mut meta = String::new();
    let mut in_code = false;
    let mut first_heading: Option<String> = None;
    let mut heading_text = String::new();
    // Ordered-list counters, one per open list (None = bullets).
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut first_cell = true;
    // The lines of the HTML block being read: pulldown-cmark gives one
    // event per line, and a comment, `script` or `style` may span many.
    let mut html_block: Option<String> = None;
    // Open inline `<sup>` (true) and `<sub>` (false) tags.
    let mut script: Vec<bool> = Vec::new();
    let mut n = 0u32;
    for event in Parser::new_ext(body, opts) {
        n = n.wrapping_add(1);
        if n.is_multiple_of(4096) {
            budget.check()?;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => {}
                Tag::Heading { level, .. } => {
                    buf.start_heading(level as u8);
                    heading_text.clear();
                }
                Tag::BlockQuote(_) => buf.end_block(),
                Tag::HtmlBlock => {
                    buf.end_block();
                    html_block = Some(String::new());
                }
                Tag::CodeBlock(_) => {
                    buf.end_block();
                    in_code = true;
                }
                Tag::List(start) => {
                    buf.end_block();
                    lists.push(start);
                }
                Tag::Item => {
                    buf.end_block();
                    match lists.last_mut() {
                        Some(Some(k)) => {
                            buf.push_word(&format!("{k}."));
                            *k = k.saturating_add(1);
                        }
                        _ => buf.push_word("-"),
                    }
                    buf.push_space();
                }
                Tag::FootnoteDefinition(label) => {
                    buf.end_block();
                    buf.push_word(&format!("[{label}]"));
                    buf.push_space();
                }
                Tag::DefinitionList | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => buf.end_block(),
                Tag::Table(_) | Tag::TableHead | Tag::TableRow => {
                    if matches!(tag, Tag::Table(_)) {
                        buf.end_block();
                    } else {
                        buf.line_break();
                    }
                    first_cell = true;
                }
                Tag::TableCell => {
                    if !first_cell {
                        buf.push_space();
                        buf.push_word("|");
                        buf.push_space();
                    }
                    first_cell = false;
                }
                Tag::MetadataBlock(_) => in_meta = true,
                Tag::Image { .. } | Tag::Link { .. } => {}
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => {
                    // An unclosed `<sup>` ends with its paragraph.
                    script.clear();
                    buf.end_block();
                }
                TagEnd::Heading(_) => {
                    buf.end_heading();
                    if first_heading.is_none() && !heading_text.trim().is_empty() {
                        first_heading = Some(crate::textbuf::clean_title(&heading_text));
                    }
                }
                TagEnd::CodeBlock => {
                    in_code = false;
                    buf.end_block();
                }
                TagEnd::List(_) => {
                    lists.pop();
                    buf.end_block();
                }
                TagEnd::HtmlBlock => {
                    if let Some(html) = html_block.take() {
                        html_text(&html, &mut buf);
                    }
                    buf.end_block();
                }
                TagEnd::Item
                | TagEnd::BlockQuote(_)
                | TagEnd::FootnoteDefinition
                | TagEnd::DefinitionListTitle
                | TagEnd::DefinitionListDefinition
                | TagEnd::Table => buf.end_block(),
                TagEnd::TableHead | TagEnd::TableRow => buf.line_break(),
                TagEnd::MetadataBlock(_) => {
                    in_meta = false;
                    front_matter(&meta, &mut doc);
                    meta.clear();
                }
                _ => {}
            },
            Event::Text(t) => {
                if in_meta {
                    meta.push_str(&t);
                } else if in_code {
                    buf.push_verbatim(&t);
                } else {
                    if buf.in_heading() {
                        heading_text.push_str(&t);
                    }
                    match script.last().and_then(|&sup| crate::textbuf::script_text(&t, sup)) {
                        Some(m) => buf.push_inline(&m),
                        None => buf.push_inline(&t),
                    }
                }
            }
            Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                if buf.in_heading() {
                    heading_text.push_str(&t);
                }
                buf.push_inline(&t);
            }
            Event::Html(t) => match html_block.as_mut() {
                Some(block) => block.push_str(&t),
                None => html_text(&t, &mut buf),
            },
            Event::InlineHtml(t) => {
                let lower = t.to_ascii_lowercase();
                if lower.starts_with("<br") {
                    buf.line_break();
                } else if lower.starts_with("<sup") || lower.starts_with("<sub") {
                    script.push(lower.starts_with("<sup"));
                } else if lower.starts_with("</sup") || lower.starts_with("</sub") {
                    script.pop();
                }
            }
            Event::FootnoteReference(label) => buf.push_word(&format!("[{label}]")),
            Event::SoftBreak => buf.push_space(),
            Event::HardBreak => buf.line_break(),
            Event::Rule => buf.end_block(),
            Event::TaskListMarker(done) => {
                buf.push_word(if done { "[x]" } else { "[ ]" });
                buf.push_space();
            }
        }
    }
    let (text, sections) = buf.finish();
    if doc.title.is_none() {
        doc.title = first_heading;
    }
    doc.text = text;
    doc.sections = sections;
    Ok(doc)
}

/// An HTML block: the text between its tags, one block per line.
fn html_text(html: &str, buf: &mut TextBuf) {
    let text = strip_tags(html);
    for line in text.split('\n') {
        if line.trim().is_empty() {
            buf.end_block();
        } else {
            buf.push_inline(line);
            buf.end_block();
        }
    }
}

/// Jekyll sites write link targets as `[x]({{ site.repository }}/y)`; the
/// spaces inside the Liquid tag make CommonMark reject the link, and its URL
/// would show up as text. The spaces inside such a tag are removed.
fn liquid_links(src: &str) -> String {
    if !src.contains("]({{") {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("]({{") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        if let Some(j) = rest.find("}}").filter(|&j| j < 200 && !rest[..j].contains('\n')) {
            out.extend(rest[..j].chars().filter(|c| !c.is_whitespace()));
            out.push_str("}}");
            rest = &rest[j + 2..];
        }
    }
    out.push_str(rest);
    out
}

/// A pandoc title block (`% Title` / `% Author; Author` / `% Date` as the
/// first lines) goes to metadata; returns the rest of the source.
fn pandoc_title_block<'a>(src: &'a str, doc: &mut Document) -> &'a str {
    if !src.starts_with('%') {
        return src;
    }
    let mut fields: Vec<String> = Vec::new();
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if let Some(v) = line.strip_prefix('%') {
            fields.push(v.trim().to_string());
        } else if line.starts_with(' ') && !fields.is_empty() && !line.trim().is_empty() {
            if let Some(last) = fields.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            break;
        }
        offset += line.len();
        if fields.len() > 3 {
            break;
        }
    }
    let mut it = fields.into_iter();
    if let Some(t) = it.next().filter(|t| !t.is_empty()) {
        doc.metadata.insert("title".into(), t.clone());
        doc.title = Some(t);
    }
    if let Some(a) = it.next().filter(|a| !a.is_empty()) {
        doc.metadata.insert("author".into(), a.clone());
        doc.authors = a
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    if let Some(d) = it.next().filter(|d| !d.is_empty()) {
        doc.metadata.insert("date".into(), d);
    }
    &src[offset..]
}

/// Flat `key: value` (YAML) or `key = value` (TOML) pairs of front matter.
fn front_matter(src: &str, doc: &mut Document) {
    let mut list_key: Option<String> = None;
    for line in src.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // A YAML list item under the last key (authors: \n - A \n - B).
        if let (Some(key), Some(item)) = (&list_key, trimmed.strip_prefix("- ")) {
            let item = unquote(item);
            if key == "author" || key == "authors" || key == "creator" {
                doc.authors.push(item.clone());
            }
            doc.metadata
                .entry(key.clone())
                .and_modify(|v| {
                    v.push_str("; ");
                    v.push_str(&item)
                })
                .or_insert(item);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((k, v)) = line.split_once(':').or_else(|| line.split_once('=')) else {
            continue;
        };
        let key = k.trim().trim_matches('"').to_lowercase();
        if key.is_empty() || key.contains(' ') {
            continue;
        }
        let value = unquote(v.trim());
        if value.is_empty() {
            list_key = Some(key);
            continue;
        }
        list_key = None;
        let value = value.trim_start_matches('[').trim_end_matches(']').to_string();
        match key.as_str() {
            "title" => doc.title = Some(value.clone()),
            "author" | "authors" | "creator" => {
                doc.authors.extend(
                    value
                        .split([',', ';'])
                        .map(|a| unquote(a.trim()))
                        .filter(|a| !a.is_empty()),
                );
            }
            "lang" | "language" => doc.language = Some(value.clone()),
            _ => {}
        }
        doc.metadata.insert(key, value);
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(s);
    s.to_string()
}

/// The text of an HTML fragment without its tags, comments, scripts and
/// styles; entities for `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&nbsp;` decoded.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let lower_head: String = after.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if after.starts_with("<!--") {
            after.find("-->").map(|j| j + 3)
        } else if lower_head.starts_with("<script") {
            find_ci(after, "</script>").map(|j| j + 9)
        } else if lower_head.starts_with("<style") {
            find_ci(after, "</style>").map(|j| j + 8)
        } else {
            after.find('>').map(|j| j + 1)
        };
        match skip_to {
            Some(j) => {
                let tag = &after[..j];
                let name = tag.trim_start_matches(['<', '/']).to_ascii_lowercase();
                if [
                    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                ]
                .iter()
                .any(|t| name.starts_with(t) && name[t.len()..].starts_with([' ', '>', '/']))
                {
                    out.push('\n');
                } else if name.starts_with("td") || name.starts_with("th") {
                    out.push(' ');
                }
                rest = &after[j..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
}

/// The first ASCII-case-insensitive match of `needle` (lower-case ASCII):
/// O(distance to the match), so stripping many `<style>` blocks stays linear
/// (it lower-cased the whole rest of the HTML for each one: a 1.6 MB block of
/// `<style>x</style>` took 9 s of CPU).
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes().windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn md(s: &str) -> Document {
        read(s.as_bytes(), &Budget::new(&Limits::default())).unwrap()
    }

    #[test]
    fn text_without_markup() {
        let d = md(
            "---\ntitle: \"My Book\"\nauthor:\n  - Ann\n  - Bob\nlang: en\n---\n\n# Chapter *One*\n\nSome **bold** and a [link](http://x.y/z \"t\").\nSecond line.\n\n```rust\nfn main() {\n\n    x();\n}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item one\n- item two\n\n1. first\n2. second\n\n## Ünïcode\n\nEnd.\n",
        );
        assert_eq!(d.title.as_deref(), Some("My Book"));
        assert_eq!(d.authors, vec!["Ann".to_string(), "Bob".to_string()]);
        assert_eq!(d.language.as_deref(), Some("en"));
        assert_eq!(
            d.text,
            "Chapter One\n\nSome bold and a link. Second line.\n\nfn main() {\n\n    x();\n}\n\na | b\n1 | 2\n\n- item one\n\n- item two\n\n1. first\n\n2. second\n\nÜnïcode\n\nEnd."
        );
        assert!(!d.text.contains("http"));
        assert_eq!(d.sections.len(), 2);
        assert_eq!(d.sections[0].title, "Chapter One");
        let chars: Vec<char> = d.text.chars().collect();
        let s1: String = chars[d.sections[1].start..d.sections[1].end].iter().collect();
        assert_eq!(s1, "Ünïcode\n\nEnd.");
        assert_eq!(d.sections[0].end, chars.len());
    }

    #[test]
    fn liquid_link_targets() {
        let d = md("- Fix ([#9762]({{ site.repository }}/issues/9762))\n");
        assert_eq!(d.text, "- Fix (#9762)");
    }

    #[test]
    fn title_from_heading_and_pandoc_block() {
        assert_eq!(md("Intro\n\n# The Title\n").title.as_deref(), Some("The Title"));
        let d = md("% Pandoc Test\n% John; Anonymous\n% July 17, 2006\n\nBody.\n");
        assert_eq!(d.title.as_deref(), Some("Pandoc Test"));
        assert_eq!(d.authors.len(), 2);
        assert_eq!(d.text, "Body.");
    }

    #[test]
    fn multi_line_html_comments_and_scripts_are_dropped() {
        let d = md(
            "Before.\n\n<!--\nBlah\nBlah\n-->\n\n<script>\nvar x = 1;\n</script>\n\n<div>\nKept\n</div>\n\nAfter.\n",
        );
        assert_eq!(d.text, "Before.\n\nKept\n\nAfter.");
    }

    #[test]
    fn inline_sub_and_superscripts() {
        let d = md("H<sub>2</sub>O covers 71 % of 510 km<sup>2</sup>, the 1<sup>st</sup> fact.\n");
        assert_eq!(d.text, "H₂O covers 71 % of 510 km², the 1st fact.");
    }

    #[test]
    fn many_style_blocks_are_stripped_in_linear_time() {
        let html = format!(
            "<div>\n{}A<SCRIPT>x</Script>B\n</div>\n",
            "<style>x</style>".repeat(100_000)
        );
        let start = std::time::Instant::now();
        let d = md(&html);
        assert_eq!(d.text, "AB");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }
}
