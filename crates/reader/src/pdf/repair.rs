//! Cross-reference repair: when the xref table is missing or broken,
//! rebuild one by scanning the file for `N G obj` headers (the last
//! definition of an object wins, as with incremental updates) and append it
//! with a fresh trailer, so the parser can load the objects it finds.

/// The file with a rebuilt xref table appended, or `None` if no objects or
/// no catalog were found.
pub(crate) fn rebuild_xref(bytes: &[u8]) -> Option<Vec<u8>> {
    rebuild_xref_with_prev(bytes, None)
}

/// [`rebuild_xref`], chaining to the file's own last xref (`/Prev`) when
/// given, so objects found only there (in object streams) are kept.
fn rebuild_xref_with_prev(bytes: &[u8], prev: Option<usize>) -> Option<Vec<u8>> {
    let mut offsets: Vec<(u32, u16, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Object headers start a line (or follow whitespace).
        let at_start = i == 0 || matches!(bytes[i - 1], b'\n' | b'\r' | b' ' | b'\t');
        if at_start
            && bytes[i].is_ascii_digit()
            && let Some((num, generation, len)) = obj_header(&bytes[i..])
        {
            offsets.push((num, generation, i));
            i += len;
            continue;
        }
        i += 1;
    }
    if offsets.is_empty() || offsets.len() > 10_000_000 {
        return None;
    }
    let root = last_ref_after(bytes, b"/Root").or_else(|| find_catalog(bytes, &offsets))?;
    let info = last_ref_after(bytes, b"/Info");
    let max = offsets.iter().map(|o| o.0).max()? as usize;
    let mut table: Vec<Option<(u16, usize)>> = vec![None; max + 1];
    for &(n, g, off) in &offsets {
        table[n as usize] = Some((g, off));
    }
    let mut out = Vec::with_capacity(bytes.len() + 20 * (max + 1) + 128);
    out.extend_from_slice(bytes);
    out.push(b'\n');
    let xref_at = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n", max + 1).as_bytes());
    for (n, e) in table.iter().enumerate() {
        match e {
            Some((g, off)) => out.extend_from_slice(format!("{off:010} {g:05} n\r\n").as_bytes()),
            None if n == 0 => out.extend_from_slice(b"0000000000 65535 f\r\n"),
            None => out.extend_from_slice(b"0000000000 00000 f\r\n"),
        }
    }
    let mut trailer = format!("trailer\n<< /Size {} /Root {} {} R", max + 1, root.0, root.1);
    if let Some((n, g)) = info
        && (n as usize) <= max
        && table[n as usize].is_some()
    {
        trailer.push_str(&format!(" /Info {n} {g} R"));
    }
    if let Some(prev) = prev {
        trailer.push_str(&format!(" /Prev {prev}"));
    }
    trailer.push_str(&format!(" >>\nstartxref\n{xref_at}\n%%EOF\n"));
    out.extend_from_slice(trailer.as_bytes());
    Some(out)
}

/// Streams whose `/Length` is missing or wrong (the data does not end with
/// `endstream` there) get the length of the data up to the next
/// `endstream`, as pdftotext does; the parser would otherwise drop the stream
/// or the whole object. Returns the repaired file (with a rebuilt xref
/// table) and the number of streams fixed, or `None` when all were right.
pub(crate) fn fix_stream_lengths(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    // (span of the dictionary text to replace or insert at, new text)
    let mut patches: Vec<(usize, usize, String)> = Vec::new();
    let mut headers: Option<std::collections::HashMap<(u64, u64), usize>> = None;
    let mut from = 0;
    while let Some(pos) = find(&bytes[from..], b"stream") {
        let kw = from + pos;
        from = kw + 6;
        if kw >= 3 && &bytes[kw - 3..kw] == b"end" {
            continue;
        }
        // `>> stream` only.
        let mut q = kw;
        while q > 0 && matches!(bytes[q - 1], b' ' | b'\t' | b'\r' | b'\n') {
            q -= 1;
        }
        if q < 2 || &bytes[q - 2..q] != b">>" {
            continue;
        }
        let mut start = kw + 6;
        if bytes[start..].starts_with(b"\r\n") {
            start += 2;
        } else if bytes.get(start).is_some_and(|&b| b == b'\n' || b == b'\r') {
            start += 1;
        }
        let Some(dict_start) = dict_start(bytes, q) else {
            continue;
        };
        let dict = &bytes[dict_start..q];
        let length = length_entry(dict);
        let declared = match length {
            Some((_, _, Value::Direct(n))) => Some(n),
            Some((_, _, Value::Ref(n, g))) => {
                let headers = headers.get_or_insert_with(|| object_headers(bytes));
                headers.get(&(n, g)).and_then(|&at| {
                    let (v, _) = digits(bytes, spaces(bytes, at))?;
                    usize::try_from(v).ok()
                })
            }
            None => None,
        };
        if let Some(n) = declared
            && ends_at(bytes, start.saturating_add(n))
        {
            from = start + n;
            continue;
        }
        let Some(end_kw) = find(&bytes[start..], b"endstream").map(|e| start + e) else {
            continue;
        };
        let mut end = end_kw;
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let new = end - start;
        match length {
            Some((a, b, _)) => patches.push((dict_start + a, dict_start + b, format!("{new}"))),
            None => patches.push((dict_start + 2, dict_start + 2, format!("/Length {new} "))),
        }
        from = end_kw + 9;
        if patches.len() > 1_000_000 {
            return None;
        }
    }
    if patches.is_empty() {
        return None;
    }
    // A damaged file can make a later stream's dictionary start before an
    // earlier patch (an unbalanced `<<` further up): apply the patches in
    // file order and skip any that overlaps one already applied.
    patches.sort_by_key(|p| (p.0, p.1));
    let mut out = Vec::with_capacity(bytes.len() + 16 * patches.len());
    let mut at = 0;
    let mut applied = 0;
    for (a, b, text) in &patches {
        if *a < at {
            continue;
        }
        out.extend_from_slice(&bytes[at..*a]);
        out.extend_from_slice(text.as_bytes());
        at = *b;
        applied += 1;
    }
    out.extend_from_slice(&bytes[at..]);
    let prev = last_startxref(bytes);
    let fixed = rebuild_xref_with_prev(&out, prev).or_else(|| rebuild_xref(&out))?;
    Some((fixed, applied))
}

enum Value {
    Direct(usize),
    Ref(u64, u64),
}

/// Where the dictionary ending just before `end` (at `>>`) starts (`<<`).
fn dict_start(bytes: &[u8], end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = end;
    let lo = end.saturating_sub(1 << 20);
    while i >= lo + 2 {
        if &bytes[i - 2..i] == b">>" {
            depth += 1;
            i -= 2;
        } else if &bytes[i - 2..i] == b"<<" {
            depth = depth.checked_sub(1)?;
            i -= 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i -= 1;
        }
    }
    None
}

/// The top-level `/Length` entry of a dictionary's text: the span of its
/// value and the value.
fn length_entry(dict: &[u8]) -> Option<(usize, usize, Value)> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < dict.len() {
        if dict[i..].starts_with(b"<<") {
            depth += 1;
            i += 2;
            continue;
        }
        if dict[i..].starts_with(b">>") {
            depth = depth.saturating_sub(1);
            i += 2;
            continue;
        }
        if depth == 1
            && dict[i..].starts_with(b"/Length")
            && !dict.get(i + 7).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            let a = spaces(dict, i + 7);
            let (n, p) = digits(dict, a)?;
            let q = spaces(dict, p);
            if let Some((g, r)) = digits(dict, q) {
                let t = spaces(dict, r);
                if dict.get(t) == Some(&b'R') {
                    return Some((a, t + 1, Value::Ref(n, g)));
                }
            }
            return Some((a, p, Value::Direct(usize::try_from(n).ok()?)));
        }
        i += 1;
    }
    None
}

/// Where each object's body starts (after `N G obj`; the last one wins).
fn object_headers(bytes: &[u8]) -> std::collections::HashMap<(u64, u64), usize> {
    let mut out = std::collections::HashMap::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_start = i == 0 || matches!(bytes[i - 1], b'\n' | b'\r' | b' ' | b'\t');
        if at_start
            && bytes[i].is_ascii_digit()
            && let Some((num, generation, len)) = obj_header(&bytes[i..])
        {
            out.insert((u64::from(num), u64::from(generation)), i + len);
            i += len;
            continue;
        }
        i += 1;
    }
    out
}

/// `endstream` follows at `at` (after an optional end of line).
fn ends_at(bytes: &[u8], at: usize) -> bool {
    let Some(rest) = bytes.get(at..) else { return false };
    let p = spaces(rest, 0);
    rest[p..].starts_with(b"endstream")
}

fn last_startxref(bytes: &[u8]) -> Option<usize> {
    let tail = bytes.len().saturating_sub(4096);
    let p = tail + rfind(&bytes[tail..], b"startxref")? + 9;
    let (v, _) = digits(bytes, spaces(bytes, p))?;
    usize::try_from(v).ok().filter(|&v| v < bytes.len())
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Parses `N G obj` at the start of `b`: (number, generation, length).
fn obj_header(b: &[u8]) -> Option<(u32, u16, usize)> {
    let (num, mut p) = digits(b, 0)?;
    let ws = spaces(b, p);
    if ws == p {
        return None;
    }
    let (generation, q) = digits(b, ws)?;
    p = spaces(b, q);
    if p == q || !b[p..].starts_with(b"obj") {
        return None;
    }
    let end = p + 3;
    if b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((u32::try_from(num).ok()?, u16::try_from(generation).ok()?, end))
}

fn digits(b: &[u8], start: usize) -> Option<(u64, usize)> {
    let mut p = start;
    let mut v: u64 = 0;
    while p < b.len() && b[p].is_ascii_digit() && p - start < 10 {
        v = v * 10 + u64::from(b[p] - b'0');
        p += 1;
    }
    (p > start).then_some((v, p))
}

fn spaces(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0') {
        p += 1;
    }
    p
}

/// The last `KEY N G R` in the file.
fn last_ref_after(bytes: &[u8], key: &[u8]) -> Option<(u32, u16)> {
    let mut best = None;
    let mut from = 0;
    while let Some(pos) = find(&bytes[from..], key) {
        let at = from + pos + key.len();
        let p = spaces(bytes, at);
        if let Some((n, q)) = digits(bytes, p) {
            let r = spaces(bytes, q);
            if let Some((g, s)) = digits(bytes, r) {
                let t = spaces(bytes, s);
                if bytes.get(t) == Some(&b'R')
                    && let (Ok(n), Ok(g)) = (u32::try_from(n), u16::try_from(g))
                {
                    best = Some((n, g));
                }
            }
        }
        from = at;
    }
    best
}

/// An object whose dictionary says `/Type /Catalog`.
fn find_catalog(bytes: &[u8], offsets: &[(u32, u16, usize)]) -> Option<(u32, u16)> {
    for &(n, g, off) in offsets.iter().rev() {
        let end = (off + 4096).min(bytes.len());
        let window = &bytes[off..end];
        let window = match find(window, b"endobj") {
            Some(e) => &window[..e],
            None => window,
        };
        if let Some(p) = find(window, b"/Type") {
            let q = spaces(window, p + 5);
            if window[q..].starts_with(b"/Catalog") {
                return Some((n, g));
            }
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lengths() {
        let ok = b"%PDF-1.4\n1 0 obj\n<< /Length 3 >>\nstream\nabc\nendstream\nendobj\n";
        assert!(fix_stream_lengths(ok).is_none());
        let missing =
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n2 0 obj\n<< >>\nstream\nabcd\nendstream\nendobj\n";
        let (out, n) = fix_stream_lengths(missing).unwrap();
        assert_eq!(n, 1);
        assert!(
            find(&out, b"<</Length 4  >>").is_some(),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let wrong = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n2 0 obj\n<< /Length 99 /Length1 5 >>\nstream\r\nab\r\nendstream\nendobj\n";
        let (out, _) = fix_stream_lengths(wrong).unwrap();
        assert!(
            find(&out, b"<< /Length 2 /Length1 5 >>").is_some(),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // Found by the pdf fuzz target (caught, but it lost the document):
        // an unbalanced `<<` makes the second stream's dictionary start
        // before the first stream's patch, and the patches went out of order.
        let unbalanced = b"%PDF-1.4\n2 0 obj\n<< /Type /Catalog >>\nendobj\n1 0 obj\n<< /A 1\n<< /Length 99 >>\nstream\nab\nendstream\n>>\nstream\ncd\nendstream\nendobj\n";
        let (out, n) = fix_stream_lengths(unbalanced).unwrap();
        assert!(n >= 1);
        assert!(
            find(&out, b"<< /Length 2 >>").is_some(),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn headers() {
        assert_eq!(obj_header(b"12 0 obj\n<<>>"), Some((12, 0, 8)));
        assert_eq!(obj_header(b"12 0 objx"), None);
        assert_eq!(obj_header(b"12 obj"), None);
    }

    #[test]
    fn rebuilds_a_table() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n";
        let out = rebuild_xref(pdf).unwrap();
        let tail = String::from_utf8_lossy(&out[pdf.len()..]).into_owned();
        assert!(tail.contains("xref\n0 3\n"), "{tail}");
        assert!(tail.contains("/Root 1 0 R"), "{tail}");
        assert!(tail.contains("0000000009 00000 n"), "{tail}");
    }
}
