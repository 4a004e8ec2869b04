//! Cross-reference repair: when the xref table is missing or broken,
//! rebuild one by scanning the file for `N G obj` headers (the last
//! definition of an object wins, as with incremental updates) and append it
//! with a fresh trailer, so the parser can load the objects it finds.

/// The file with a rebuilt xref table appended, or `None` if no objects or
/// no catalog were found.
pub(crate) fn rebuild_xref(bytes: &[u8]) -> Option<Vec<u8>> {
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
    trailer.push_str(&format!(" >>\nstartxref\n{xref_at}\n%%EOF\n"));
    out.extend_from_slice(trailer.as_bytes());
    Some(out)
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
