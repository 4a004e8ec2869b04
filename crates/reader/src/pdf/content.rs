//! A streaming content-stream lexer: one operation at a time, operands in a
//! reused buffer.
//!
//! It replaces `lopdf::content::Content::decode`, which built the whole
//! page as a `Vec<Operation>` first (a `Vec<Object>` with room for four
//! operands per operation: 37 MB for one 2 MB content stream) and, on any
//! syntax error, gave nothing at all. Here memory is the largest single
//! operation, and junk bytes are skipped.

use lopdf::{Dictionary, Object, StringFormat};

/// Operands one operation may carry (and elements one array may hold)
/// before the rest are dropped.
const MAX_OPERANDS: usize = 1 << 16;
/// Arrays and dictionaries nest at most this deep inside a content stream.
const MAX_DEPTH: usize = 32;

pub(crate) struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

fn is_white(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delim(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(b: u8) -> bool {
    !is_white(b) && !is_delim(b)
}

/// What one token was.
enum Token<'a> {
    Object(Object),
    Operator(&'a [u8]),
    ArrayStart,
    ArrayEnd,
    DictStart,
    DictEnd,
    /// Unparseable: skipped.
    Junk,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Lexer { data, pos: 0 }
    }

    /// The next operator, with its operands in `operands` (cleared first).
    /// `None` at the end of the stream.
    pub(crate) fn next_operation(&mut self, operands: &mut Vec<Object>) -> Option<&'a [u8]> {
        operands.clear();
        loop {
            match self.token()? {
                Token::Operator(op) => {
                    if op == b"BI" {
                        self.skip_inline_image();
                        operands.clear();
                        continue;
                    }
                    return Some(op);
                }
                Token::Object(o) => {
                    if operands.len() < MAX_OPERANDS {
                        operands.push(o);
                    }
                }
                Token::ArrayStart => {
                    let a = self.array(0);
                    if operands.len() < MAX_OPERANDS {
                        operands.push(Object::Array(a));
                    }
                }
                Token::DictStart => {
                    let d = self.dict(0);
                    if operands.len() < MAX_OPERANDS {
                        operands.push(Object::Dictionary(d));
                    }
                }
                Token::ArrayEnd | Token::DictEnd | Token::Junk => {}
            }
        }
    }

    fn array(&mut self, depth: usize) -> Vec<Object> {
        let mut out = Vec::new();
        while let Some(t) = self.token() {
            let o = match t {
                Token::Object(o) => o,
                Token::ArrayStart if depth < MAX_DEPTH => Object::Array(self.array(depth + 1)),
                Token::DictStart if depth < MAX_DEPTH => Object::Dictionary(self.dict(depth + 1)),
                Token::ArrayEnd => break,
                // An operator inside an array: the array was never closed.
                Token::Operator(_) => break,
                _ => continue,
            };
            if out.len() < MAX_OPERANDS {
                out.push(o);
            }
        }
        out
    }

    fn dict(&mut self, depth: usize) -> Dictionary {
        let mut out = Dictionary::new();
        let mut key: Option<Vec<u8>> = None;
        while let Some(t) = self.token() {
            let o = match t {
                Token::DictEnd => break,
                Token::Object(o) => o,
                Token::ArrayStart if depth < MAX_DEPTH => Object::Array(self.array(depth + 1)),
                Token::DictStart if depth < MAX_DEPTH => Object::Dictionary(self.dict(depth + 1)),
                Token::Operator(_) => break,
                _ => continue,
            };
            match key.take() {
                None => {
                    if let Object::Name(n) = o {
                        key = Some(n);
                    }
                }
                Some(k) => out.set(k, o),
            }
        }
        out
    }

    fn skip_white(&mut self) {
        while self.pos < self.data.len() {
            let b = self.data[self.pos];
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self.pos < self.data.len() && !matches!(self.data[self.pos], b'\n' | b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn token(&mut self) -> Option<Token<'a>> {
        self.skip_white();
        let d = self.data;
        let b = *d.get(self.pos)?;
        Some(match b {
            b'/' => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < d.len() && is_regular(d[self.pos]) {
                    self.pos += 1;
                }
                Token::Object(Object::Name(unescape_name(&d[start..self.pos])))
            }
            b'(' => Token::Object(Object::String(self.literal_string(), StringFormat::Literal)),
            b'<' if d.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                Token::DictStart
            }
            b'<' => Token::Object(Object::String(self.hex_string(), StringFormat::Hexadecimal)),
            b'>' if d.get(self.pos + 1) == Some(&b'>') => {
                self.pos += 2;
                Token::DictEnd
            }
            b'[' => {
                self.pos += 1;
                Token::ArrayStart
            }
            b']' => {
                self.pos += 1;
                Token::ArrayEnd
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => match self.number() {
                Some(o) => Token::Object(o),
                None => Token::Junk,
            },
            _ if is_regular(b) => {
                let start = self.pos;
                while self.pos < d.len() && is_regular(d[self.pos]) {
                    self.pos += 1;
                }
                match &d[start..self.pos] {
                    b"true" => Token::Object(Object::Boolean(true)),
                    b"false" => Token::Object(Object::Boolean(false)),
                    b"null" => Token::Object(Object::Null),
                    op => Token::Operator(op),
                }
            }
            _ => {
                self.pos += 1;
                Token::Junk
            }
        })
    }

    fn number(&mut self) -> Option<Object> {
        let d = self.data;
        let start = self.pos;
        let mut p = self.pos;
        if matches!(d[p], b'+' | b'-') {
            p += 1;
        }
        // Extra signs ("--5") as some writers emit.
        while p < d.len() && matches!(d[p], b'+' | b'-') {
            p += 1;
        }
        let mut int: i64 = 0;
        let mut digits = 0;
        while p < d.len() && d[p].is_ascii_digit() {
            int = int.saturating_mul(10).saturating_add(i64::from(d[p] - b'0'));
            p += 1;
            digits += 1;
        }
        let mut real = None;
        if p < d.len() && d[p] == b'.' {
            p += 1;
            let mut frac = 0f64;
            let mut scale = 1f64;
            while p < d.len() && d[p].is_ascii_digit() {
                scale /= 10.0;
                frac += f64::from(d[p] - b'0') * scale;
                p += 1;
                digits += 1;
            }
            real = Some(int as f64 + frac);
        }
        // Anything regular glued on ("12abc") makes the token junk.
        while p < d.len() && is_regular(d[p]) && !matches!(d[p], b'+' | b'-') {
            p += 1;
            digits = 0;
        }
        self.pos = p.max(start + 1);
        if digits == 0 {
            return None;
        }
        let neg = d[start] == b'-';
        Some(match real {
            Some(r) => Object::Real(if neg { -r } else { r } as f32),
            None => Object::Integer(if neg { -int } else { int }),
        })
    }

    fn literal_string(&mut self) -> Vec<u8> {
        let d = self.data;
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1usize;
        while self.pos < d.len() {
            let b = d[self.pos];
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(&e) = d.get(self.pos) else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match d.get(self.pos) {
                                    Some(&c @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(c - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        // Line continuation.
                        b'\r' => {
                            if d.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        out
    }

    fn hex_string(&mut self) -> Vec<u8> {
        let d = self.data;
        self.pos += 1;
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        while self.pos < d.len() {
            let b = d[self.pos];
            self.pos += 1;
            let v = match b {
                b'>' => break,
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => continue,
            };
            match hi.take() {
                None => hi = Some(v),
                Some(h) => out.push(h << 4 | v),
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        out
    }

    /// After `BI`: the image dictionary, `ID`, one white-space byte, the
    /// data, and `EI` between white space (or at the end).
    fn skip_inline_image(&mut self) {
        let d = self.data;
        loop {
            match self.token() {
                None => return,
                Some(Token::Operator(b"ID")) => break,
                Some(_) => {}
            }
        }
        self.pos += 1;
        while self.pos + 1 < d.len() {
            if d[self.pos] == b'E'
                && d[self.pos + 1] == b'I'
                && self.pos > 0
                && is_white(d[self.pos - 1])
                && d.get(self.pos + 2).is_none_or(|&c| is_white(c) || is_delim(c))
            {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
        self.pos = d.len();
    }
}

fn unescape_name(raw: &[u8]) -> Vec<u8> {
    if !raw.contains(&b'#') {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#'
            && i + 2 < raw.len()
            && let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(src: &[u8]) -> Vec<(String, Vec<Object>)> {
        let mut l = Lexer::new(src);
        let mut operands = Vec::new();
        let mut out = Vec::new();
        while let Some(op) = l.next_operation(&mut operands) {
            out.push((String::from_utf8_lossy(op).into_owned(), operands.clone()));
        }
        out
    }

    #[test]
    fn lexes_text_operators() {
        let o = ops(b"BT /F1 12 Tf 1 0 0 1 72.5 -.5 Tm (a\\(b\\)\\101) Tj [(x) -250 <4142>] TJ ET");
        let names: Vec<&str> = o.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["BT", "Tf", "Tm", "Tj", "TJ", "ET"]);
        assert_eq!(o[1].1, vec![Object::Name(b"F1".to_vec()), Object::Integer(12)]);
        assert_eq!(o[2].1[4], Object::Real(72.5));
        assert_eq!(o[2].1[5], Object::Real(-0.5));
        assert_eq!(o[3].1, vec![Object::String(b"a(b)A".to_vec(), StringFormat::Literal)]);
        let Object::Array(a) = &o[4].1[0] else { panic!() };
        assert_eq!(a[1], Object::Integer(-250));
        assert_eq!(a[2], Object::String(b"AB".to_vec(), StringFormat::Hexadecimal));
    }

    #[test]
    fn skips_inline_images_comments_and_junk() {
        let o = ops(b"q % comment\nBI /W 2 /H 1 ID \x00EI\xff EI Q\n} /Tag <</MCID 3>> BDC EMC");
        let names: Vec<&str> = o.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["q", "Q", "BDC", "EMC"]);
        let Object::Dictionary(d) = &o[2].1[1] else { panic!() };
        assert_eq!(d.get(b"MCID").unwrap(), &Object::Integer(3));
    }

    #[test]
    fn never_loops_on_garbage() {
        let mut x: u32 = 7;
        let data: Vec<u8> = (0..20000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let _ = ops(&data);
        let _ = ops(b"[[[[[[(unclosed <<< /a#");
    }
}
