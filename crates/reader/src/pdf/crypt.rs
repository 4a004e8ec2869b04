//! Crypt filters that lopdf cannot use.
//!
//! With `/V 4` or `/V 5` encryption the `/CF` dictionary names the filter
//! method (`/CFM /AESV2`, `/AESV3`) that `/StmF` and `/StrF` select. lopdf
//! reads `/CF` and each filter only when they are direct dictionaries; an
//! indirect `/CF 7 0 R` (allowed by the standard) or a damaged filter object
//! leaves it without the named filter, and it then decrypts everything with
//! RC4: the file "opens" and every string and stream is noise.
//!
//! For those files we load the document with the trailer's `/Encrypt` key
//! hidden (same length, so no offset moves), put the key back, rewrite the
//! encryption dictionary with its filters resolved and inlined (a filter
//! named by `/StmF`/`/StrF` that cannot be read gets the only method its
//! version allows: AESV3 for V 5; AESV2 for V 4, the common choice), and let
//! lopdf authenticate and decrypt that.

use super::engine::{self, Dictionary, Object};

/// Whether the encryption dictionary of the file has V 4 or 5 and crypt
/// filters that are not all direct dictionaries (or no `/CF` at all).
pub(crate) fn needs_fix(bytes: &[u8]) -> bool {
    let Some(body) = encrypt_dict_bytes(bytes) else {
        return false;
    };
    let version = key_int(body, b"/V");
    if !matches!(version, Some(4 | 5)) {
        return false;
    }
    match find(body, b"/CF") {
        None => true,
        Some(p) => {
            let rest = &body[p + 3..];
            let q = skip_ws(rest, 0);
            // `/CF N G R`, or a filter inside given by reference.
            !rest[q..].starts_with(b"<<") || has_reference(&rest[q..])
        }
    }
}

/// Loads an encrypted document whose crypt filters need resolving; None
/// when that fails (the caller then loads it the usual way), Err when the
/// empty user password does not open it.
pub(crate) fn load_fixed(bytes: &[u8]) -> Option<Result<engine::Document, engine::Error>> {
    let mut hidden = bytes.to_vec();
    let mut from = 0;
    let mut any = false;
    while let Some(p) = find(&hidden[from..], b"/Encrypt") {
        let at = from + p;
        let next = hidden.get(at + 8).copied().unwrap_or(b' ');
        if !next.is_ascii_alphanumeric() {
            hidden[at + 7] = b'x';
            any = true;
        }
        from = at + 8;
    }
    if !any {
        return None;
    }
    let mut doc = engine::Document::load_mem(&hidden).ok()?;
    let enc = doc.trailer.remove(b"Encrypx")?;
    let enc_id = enc.as_reference().ok()?;
    doc.trailer.set("Encrypt", enc);
    let mut dict = doc.get_object(enc_id).ok()?.as_dict().ok()?.clone();
    let version = dict.get(b"V").and_then(Object::as_i64).unwrap_or(0);
    let resolve = |o: &Object| -> Object {
        match o {
            Object::Reference(id) => doc.get_object(*id).cloned().unwrap_or(Object::Null),
            o => o.clone(),
        }
    };
    let mut filters = Dictionary::new();
    if let Ok(cf) = dict.get(b"CF").map(resolve)
        && let Ok(cf) = cf.as_dict()
    {
        for (name, f) in cf.iter() {
            let f = resolve(f);
            if f.as_dict().is_ok_and(|d| d.get(b"CFM").is_ok()) {
                filters.set(name.clone(), f);
            }
        }
    }
    let method: &[u8] = if version == 5 { b"AESV3" } else { b"AESV2" };
    for key in [b"StmF".as_slice(), b"StrF".as_slice()] {
        if let Ok(name) = dict.get(key).and_then(Object::as_name)
            && name != b"Identity"
            && !filters.has(name)
        {
            let mut f = Dictionary::new();
            f.set("CFM", Object::Name(method.to_vec()));
            f.set("AuthEvent", Object::Name(b"DocOpen".to_vec()));
            f.set("Length", Object::Integer(if version == 5 { 32 } else { 16 }));
            filters.set(name.to_vec(), Object::Dictionary(f));
        }
    }
    dict.set("CF", Object::Dictionary(filters));
    doc.objects.insert(enc_id, Object::Dictionary(dict));
    Some(doc.decrypt("").map(|()| doc))
}

/// The bytes of the encryption dictionary object (`/Encrypt N G R` in the
/// last trailer that has one), up to its `endobj`.
fn encrypt_dict_bytes(bytes: &[u8]) -> Option<&[u8]> {
    let (n, g) = last_ref(bytes, b"/Encrypt")?;
    let header = format!("{n} {g} obj");
    let mut from = 0;
    let mut found = None;
    while let Some(p) = find(&bytes[from..], header.as_bytes()) {
        let at = from + p;
        if at == 0 || matches!(bytes[at - 1], b'\n' | b'\r' | b' ' | b'\t') {
            found = Some(at + header.len());
        }
        from = at + header.len();
    }
    let start = found?;
    let end = find(&bytes[start..], b"endobj").map_or(bytes.len(), |e| start + e);
    Some(&bytes[start..end.min(start + 65_536)])
}

/// The last `KEY N G R` in `bytes` (not `/EncryptMetadata` for `/Encrypt`).
fn last_ref(bytes: &[u8], key: &[u8]) -> Option<(u64, u64)> {
    let mut best = None;
    let mut from = 0;
    while let Some(p) = find(&bytes[from..], key) {
        let at = from + p + key.len();
        from = at;
        if bytes.get(at).is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let (n, q) = match digits(bytes, skip_ws(bytes, at)) {
            Some(v) => v,
            None => continue,
        };
        let Some((g, r)) = digits(bytes, skip_ws(bytes, q)) else {
            continue;
        };
        if bytes.get(skip_ws(bytes, r)) == Some(&b'R') {
            best = Some((n, g));
        }
    }
    best
}

/// The integer after `KEY` (followed by a delimiter) in a dictionary.
fn key_int(body: &[u8], key: &[u8]) -> Option<u64> {
    let mut from = 0;
    while let Some(p) = find(&body[from..], key) {
        let at = from + p + key.len();
        from = at;
        if body.get(at).is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        return digits(body, skip_ws(body, at)).map(|(v, _)| v);
    }
    None
}

/// Whether an `N G R` reference occurs in the `<< … >>` that `b` starts with.
fn has_reference(b: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"<<") {
            depth += 1;
            i += 2;
            continue;
        }
        if b[i..].starts_with(b">>") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return false;
            }
            i += 2;
            continue;
        }
        if b[i] == b'R' && i > 0 && matches!(b[i - 1], b' ' | b'\n' | b'\r' | b'\t') {
            let before = &b[..i];
            let t = before.trim_ascii_end();
            if t.last().is_some_and(u8::is_ascii_digit) {
                return true;
            }
        }
        i += 1;
    }
    false
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

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0') {
        p += 1;
    }
    p
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_indirect_filters() {
        let direct = b"1 0 obj << >> endobj\n6 0 obj << /CF << /StdCF << /CFM /AESV3 >> >> /V 5 /StmF /StdCF >> endobj\ntrailer << /Encrypt 6 0 R >>";
        assert!(!needs_fix(direct));
        let indirect = b"6 0 obj << /CF 7 0 R /V 5 >> endobj\n7 0 obj << /StdCF 8 0 R >> endobj\ntrailer << /Encrypt 6 0 R /EncryptMetadata false >>";
        assert!(needs_fix(indirect));
        let inner = b"6 0 obj << /CF << /StdCF 8 0 R >> /V 4 >> endobj\ntrailer << /Encrypt 6 0 R >>";
        assert!(needs_fix(inner));
        let rc4 = b"6 0 obj << /V 2 /R 3 >> endobj\ntrailer << /Encrypt 6 0 R >>";
        assert!(!needs_fix(rc4));
        assert!(!needs_fix(b"no encryption"));
    }
}
