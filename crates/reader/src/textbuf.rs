//! `TextBuf`: the one place where document text is assembled.
//!
//! Every format module (and the PDF module, which may use it too) feeds text
//! into a `TextBuf` as inline runs, line breaks, block ends and headings; the
//! buffer enforces the text invariants of [`crate::Document`] so no module has
//! to: paragraphs are separated by exactly one blank line, no line has
//! trailing spaces, inline whitespace collapses to one space, and section
//! offsets are counted in chars (Unicode scalar values), not bytes, as they
//! are written. Section ends are computed once in [`TextBuf::finish`]: a
//! section runs to the start of the next section of the same or a higher
//! (numerically smaller or equal) level.

use crate::Section;

/// Builds the document text and its sections with char offsets.
#[derive(Debug, Default)]
pub(crate) struct TextBuf {
    out: String,
    out_chars: usize,
    cur: String,
    space_pending: bool,
    heading: Option<u8>,
    /// Sections waiting for the next block to learn their start.
    marks: Vec<(String, u8)>,
    sections: Vec<(String, u8, usize)>,
}

impl TextBuf {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends inline text; runs of whitespace become one space.
    pub(crate) fn push_inline(&mut self, s: &str) {
        let s = &*without_soft_hyphens(s);
        if s.is_empty() {
            return;
        }
        if s.starts_with(char::is_whitespace) {
            self.space_pending = true;
        }
        for word in s.split_whitespace() {
            if self.space_pending && !self.cur.is_empty() && !self.cur.ends_with('\n') {
                self.cur.push(' ');
            }
            self.space_pending = true;
            self.cur.push_str(word);
        }
        self.space_pending = s.ends_with(char::is_whitespace);
    }

    /// Appends inline text with no whitespace handling beyond the line rules
    /// (for a single char or a word known to have no whitespace).
    pub(crate) fn push_word(&mut self, s: &str) {
        let s = &*without_soft_hyphens(s);
        if s.contains(char::is_whitespace) {
            // Not a word after all (a label with spaces): collapse them.
            let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if joined.is_empty() {
                return;
            }
            if self.space_pending && !self.cur.is_empty() && !self.cur.ends_with('\n') {
                self.cur.push(' ');
            }
            self.space_pending = false;
            self.cur.push_str(&joined);
            return;
        }
        if self.space_pending && !self.cur.is_empty() && !self.cur.ends_with('\n') {
            self.cur.push(' ');
        }
        self.space_pending = false;
        self.cur.push_str(s);
    }

    /// A soft separator: a space unless at the start of a line.
    pub(crate) fn push_space(&mut self) {
        self.space_pending = true;
    }

    /// Appends preformatted text: its line breaks are kept (trailing spaces
    /// trimmed), a blank line ends the block.
    pub(crate) fn push_verbatim(&mut self, s: &str) {
        let s = &*without_soft_hyphens(s);
        let normalised;
        let s = if s.contains('\r') {
            normalised = s.replace("\r\n", "\n").replace('\r', "\n");
            normalised.as_str()
        } else {
            s
        };
        let mut lines = s.split('\n').peekable();
        while let Some(line) = lines.next() {
            let line = line.trim_end();
            if line.is_empty() {
                if lines.peek().is_some() {
                    self.end_block();
                }
                continue;
            }
            if self.space_pending && !self.cur.is_empty() && !self.cur.ends_with('\n') {
                self.cur.push(' ');
            }
            self.space_pending = false;
            self.cur.push_str(line);
            if lines.peek().is_some() {
                self.line_break();
            }
        }
    }

    /// A hard line break inside a block.
    pub(crate) fn line_break(&mut self) {
        self.trim_cur_end_spaces();
        if !self.cur.is_empty() && !self.cur.ends_with('\n') {
            self.cur.push('\n');
        }
        self.space_pending = false;
    }

    fn trim_cur_end_spaces(&mut self) {
        let keep = self
            .cur
            .trim_end_matches(|c: char| c != '\n' && c.is_whitespace())
            .len();
        self.cur.truncate(keep);
    }

    /// Ends the current block (paragraph, list item, table cell row...).
    pub(crate) fn end_block(&mut self) {
        self.space_pending = false;
        let keep = self.cur.trim_end().len();
        self.cur.truncate(keep);
        if self.cur.is_empty() {
            return;
        }
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
            self.out_chars += 2;
        }
        let start = self.out_chars;
        for (title, level) in self.marks.drain(..) {
            self.sections.push((title, level, start));
        }
        if let Some(level) = self.heading {
            let title = clean_title(&self.cur);
            if !title.is_empty() {
                self.sections.push((title, level, start));
            }
        }
        self.out_chars += self.cur.chars().count();
        self.out.push_str(&self.cur);
        self.cur.clear();
    }

    /// Starts a heading block of `level` (1 = highest); its text becomes the
    /// section title.
    pub(crate) fn start_heading(&mut self, level: u8) {
        self.end_block();
        self.heading = Some(level.max(1));
    }

    /// Ends the heading started by [`TextBuf::start_heading`].
    pub(crate) fn end_heading(&mut self) {
        self.end_block();
        self.heading = None;
    }

    /// Whether a heading is open.
    pub(crate) fn in_heading(&self) -> bool {
        self.heading.is_some()
    }

    /// A section with a known title that starts at the next block written
    /// (EPUB navigation entries, detected chapter lines).
    pub(crate) fn mark_section(&mut self, title: &str, level: u8) {
        self.end_block();
        let title = clean_title(title);
        if !title.is_empty() {
            self.marks.push((title, level.max(1)));
        }
    }

    /// Finishes the text: returns it with its sections, ends computed.
    pub(crate) fn finish(mut self) -> (String, Vec<Section>) {
        self.end_block();
        let total = self.out_chars;
        for (title, level) in self.marks.drain(..) {
            self.sections.push((title, level, total));
        }
        let mut sections: Vec<Section> = Vec::with_capacity(self.sections.len());
        // Ends: walk backwards keeping, per level, the start of the nearest
        // following section of that level or a higher one.
        let n = self.sections.len();
        let mut ends = vec![total; n];
        let mut next_at_or_above = [total; 256];
        for i in (0..n).rev() {
            let (_, level, start) = &self.sections[i];
            let lvl = *level as usize;
            ends[i] = next_at_or_above[lvl];
            for slot in next_at_or_above.iter_mut().skip(lvl) {
                *slot = *start;
            }
        }
        for (i, (title, level, start)) in self.sections.into_iter().enumerate() {
            sections.push(Section {
                title,
                level,
                start,
                // The blank line before the next section is not part of this one.
                end: if ends[i] >= total {
                    total
                } else {
                    ends[i].saturating_sub(2).max(start)
                },
            });
        }
        (self.out, sections)
    }
}

/// Text without soft hyphens (U+00AD): one is invisible unless a word breaks
/// at it, and inside a word it would split the word for every later reader
/// (the PDF module drops them too).
fn without_soft_hyphens(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\u{AD}') {
        std::borrow::Cow::Owned(s.replace('\u{AD}', ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Superscript (`sup`) or subscript text in Unicode script characters when
/// every char has one (digits, `+ - = ( )`, spaces), as pandoc's plain
/// writer does: `m<sup>2</sup>` is "m²", `H<sub>2</sub>O` is "H₂O", not
/// "m2" and "H2O". None when some char has no such form ("1<sup>st</sup>"
/// stays "1st").
pub(crate) fn script_text(s: &str, sup: bool) -> Option<String> {
    let mut out = String::with_capacity(s.len() * 3);
    for c in s.chars() {
        let m = match (c, sup) {
            (c, _) if c.is_whitespace() => c,
            ('1', true) => '\u{B9}',
            ('2', true) => '\u{B2}',
            ('3', true) => '\u{B3}',
            ('0' | '4'..='9', true) => char::from_u32(0x2070 + (c as u32 - '0' as u32))?,
            ('0'..='9', false) => char::from_u32(0x2080 + (c as u32 - '0' as u32))?,
            ('+', true) => '\u{207A}',
            ('-' | '\u{2212}', true) => '\u{207B}',
            ('=', true) => '\u{207C}',
            ('(', true) => '\u{207D}',
            (')', true) => '\u{207E}',
            ('+', false) => '\u{208A}',
            ('-' | '\u{2212}', false) => '\u{208B}',
            ('=', false) => '\u{208C}',
            ('(', false) => '\u{208D}',
            (')', false) => '\u{208E}',
            _ => return None,
        };
        out.push(m);
    }
    Some(out)
}

/// A section title: whitespace collapsed, at most 300 chars.
pub(crate) fn clean_title(s: &str) -> String {
    let mut t = String::new();
    for (i, w) in s.split_whitespace().enumerate() {
        if i > 0 {
            t.push(' ');
        }
        t.push_str(w);
        if t.len() > 1200 {
            break;
        }
    }
    if t.chars().count() > 300 {
        t = t.chars().take(300).collect();
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_whitespace() {
        let mut b = TextBuf::new();
        b.push_inline("  Hello   ");
        b.push_inline("world \n again ");
        b.end_block();
        b.end_block();
        b.push_inline("Second");
        b.line_break();
        b.line_break();
        b.push_inline("  line  ");
        b.push_inline(" opt\u{AD}ional \u{AD} x");
        b.push_word("\u{AD}");
        let (text, _) = b.finish();
        assert_eq!(text, "Hello world again\n\nSecond\nline optional x");
    }

    #[test]
    fn sections_have_char_offsets_and_ends() {
        let mut b = TextBuf::new();
        b.push_inline("Préface ünïcode");
        b.end_block();
        b.start_heading(1);
        b.push_inline("Book Ⅰ");
        b.end_heading();
        b.start_heading(2);
        b.push_inline("Chapter 1");
        b.end_heading();
        b.push_inline("Text é.");
        b.start_heading(2);
        b.push_inline("Chapter 2");
        b.end_heading();
        b.push_inline("More.");
        b.mark_section("Book II", 1);
        b.push_inline("Last.");
        let (text, sections) = b.finish();
        let chars: Vec<char> = text.chars().collect();
        let slice = |s: &Section| chars[s.start..s.end].iter().collect::<String>();
        assert_eq!(sections.len(), 4);
        assert!(slice(&sections[0]).starts_with("Book Ⅰ\n\nChapter 1"));
        assert!(slice(&sections[0]).ends_with("More."));
        assert_eq!(slice(&sections[1]), "Chapter 1\n\nText é.");
        assert_eq!(slice(&sections[2]), "Chapter 2\n\nMore.");
        assert_eq!(sections[3].title, "Book II");
        assert_eq!(slice(&sections[3]), "Last.");
        assert_eq!(sections[3].end, chars.len());
    }

    #[test]
    fn script_chars() {
        assert_eq!(script_text("2", true).as_deref(), Some("²"));
        assert_eq!(script_text("-10", true).as_deref(), Some("⁻¹⁰"));
        assert_eq!(script_text("23", false).as_deref(), Some("₂₃"));
        assert_eq!(script_text("(n)", true), None);
        assert_eq!(script_text("st", true), None);
    }

    #[test]
    fn verbatim_keeps_lines() {
        let mut b = TextBuf::new();
        b.push_verbatim("fn main() {   \n    x();\n}\n\n\n\nafter\n");
        let (text, _) = b.finish();
        assert_eq!(text, "fn main() {\n    x();\n}\n\nafter");
    }
}
