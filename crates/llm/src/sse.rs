//! A minimal Server-Sent Events parser: bytes in, event `data` payloads out.
//!
//! Why hand-written: the chat-completions wire format only uses `data:` fields, and what
//! matters is robustness at the byte level. TCP (and HTTP chunking) may split the stream
//! anywhere, including inside a multi-byte UTF-8 character or between the `\r` and `\n` of a
//! CRLF, so bytes are buffered until a whole line is present and only then decoded as UTF-8.
//!
//! Follows the WHATWG event-stream rules that matter here: lines end in `\r\n`, `\n` or `\r`;
//! lines starting with `:` are comments (keep-alives); `data:` lines of one event are joined
//! with `\n`; a blank line dispatches the event; `event:`, `id:` and `retry:` are ignored.

/// Incremental SSE parser. Feed it body chunks as they arrive; it appends complete event
/// payloads to the output collection.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` at the start of the next chunk belongs to it.
    after_cr: bool,
    /// `data:` payload of the event being assembled.
    data: String,
    /// Whether the event being assembled has at least one `data:` line (an empty one counts).
    has_data: bool,
}

impl SseParser {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Consumes one chunk of the body. Invalid UTF-8 in a line is replaced rather than
    /// rejected: the JSON parser downstream reports a clearer error than a byte offset would.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], out: &mut impl Extend<String>) {
        if self.after_cr {
            self.after_cr = false;
            if let [b'\n', rest @ ..] = bytes {
                bytes = rest;
            }
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.is_empty() {
                self.process_line_bytes(&bytes[..pos], out);
            } else {
                // Reuse the buffer's allocation for the next partial line.
                self.line.extend_from_slice(&bytes[..pos]);
                let mut line = std::mem::take(&mut self.line);
                self.process_line_bytes(&line, out);
                line.clear();
                self.line = line;
            }
            if bytes[pos] == b'\r' {
                match bytes.get(pos + 1) {
                    Some(b'\n') => bytes = &bytes[pos + 2..],
                    Some(_) => bytes = &bytes[pos + 1..],
                    None => {
                        self.after_cr = true;
                        bytes = &[];
                    }
                }
            } else {
                bytes = &bytes[pos + 1..];
            }
        }
        self.line.extend_from_slice(bytes);
    }

    /// Called at end of body: an unterminated last line and an event without its closing blank
    /// line are still delivered, because some servers close the connection right after
    /// `data: [DONE]` without the trailing blank line.
    pub(crate) fn finish(&mut self, out: &mut impl Extend<String>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line_bytes(&line, out);
        }
        self.dispatch(out);
    }

    fn process_line_bytes(&mut self, line: &[u8], out: &mut impl Extend<String>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment, e.g. `: keep-alive` or OpenRouter's `: PROCESSING`
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(&String::from_utf8_lossy(value));
            self.has_data = true;
        }
    }

    fn dispatch(&mut self, out: &mut impl Extend<String>) {
        if self.has_data {
            out.extend(Some(std::mem::take(&mut self.data)));
            self.has_data = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], sizes: &[usize]) -> Vec<String> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            parser.feed(&rest[..n], &mut out);
            rest = &rest[n..];
            i += 1;
        }
        parser.finish(&mut out);
        out
    }

    const SAMPLE: &str = ": keep-alive\r\n\r\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\r\n\r\nevent: x\ndata: one\ndata:two\n\ndata: [DONE]\r\r";

    #[test]
    fn whole_input() {
        let out = parse_in_pieces(SAMPLE.as_bytes(), &[usize::MAX]);
        assert_eq!(out, ["{\"a\":\"h\u{e9}llo \u{1F600}\"}", "one\ntwo", "[DONE]"]);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = parse_in_pieces(SAMPLE.as_bytes(), &[usize::MAX]);
        let bytes = SAMPLE.as_bytes();
        for cut in 1..bytes.len() {
            let mut parser = SseParser::new();
            let mut out = Vec::new();
            parser.feed(&bytes[..cut], &mut out);
            parser.feed(&bytes[cut..], &mut out);
            parser.finish(&mut out);
            assert_eq!(out, whole, "split at byte {cut}");
        }
        for sizes in [&[1][..], &[2], &[3], &[1, 2, 3], &[3, 1, 2, 1]] {
            assert_eq!(parse_in_pieces(bytes, sizes), whole, "sizes {sizes:?}");
        }
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(b"data: a\r", &mut out);
        parser.feed(b"\n\r", &mut out);
        assert_eq!(out, ["a"]);
        parser.feed(b"\ndata: b\n\n", &mut out);
        assert_eq!(out, ["a", "b"]);
    }

    #[test]
    fn unterminated_last_event_is_delivered_at_eof() {
        assert_eq!(parse_in_pieces(b"data: [DONE]", &[5]), ["[DONE]"]);
    }

    #[test]
    fn empty_data_line_is_an_event_but_comments_and_other_fields_are_not() {
        assert_eq!(parse_in_pieces(b"data:\n\n: hi\n\nid: 3\nretry: 10\n\n", &[4]), [""]);
    }
}
