//! CID → Unicode for the Adobe character collections (Japan1, GB1, CNS1,
//! Korea1): the text of a CID font that has no ToUnicode map (common in
//! Japanese PDFs with `Identity-H` fonts), as pdftotext reads it.
//!
//! The tables are built by `cidmaps/generate.py` from Adobe's
//! `Adobe-<Ordering>-UCS2` CMaps (BSD-3-Clause, © Adobe; notice in
//! `cidmaps/LICENSE-Adobe-CMaps`), stored compressed (176 kB for the four)
//! and unpacked on first use.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

pub(crate) struct Table {
    /// The BMP char of each CID (0 = none, or see `extras`).
    dense: Vec<u16>,
    /// CIDs whose text is a supplementary char or several chars.
    extras: HashMap<u32, String>,
}

impl Table {
    pub(crate) fn get(&self, cid: u32) -> Option<String> {
        match self.dense.get(cid as usize) {
            Some(&u) if u != 0 => char::from_u32(u32::from(u)).map(String::from),
            _ => self.extras.get(&cid).cloned(),
        }
    }
}

static JAPAN1: OnceLock<Option<Table>> = OnceLock::new();
static GB1: OnceLock<Option<Table>> = OnceLock::new();
static CNS1: OnceLock<Option<Table>> = OnceLock::new();
static KOREA1: OnceLock<Option<Table>> = OnceLock::new();

/// The table of an Adobe collection (`Registry` "Adobe", `Ordering` as given).
pub(crate) fn table(ordering: &[u8]) -> Option<&'static Table> {
    let (cell, data): (&'static OnceLock<Option<Table>>, &'static [u8]) = match ordering {
        b"Japan1" => (&JAPAN1, include_bytes!("cidmaps/Japan1.bin.z")),
        b"GB1" => (&GB1, include_bytes!("cidmaps/GB1.bin.z")),
        b"CNS1" => (&CNS1, include_bytes!("cidmaps/CNS1.bin.z")),
        b"Korea1" => (&KOREA1, include_bytes!("cidmaps/Korea1.bin.z")),
        _ => return None,
    };
    cell.get_or_init(|| parse(data)).as_ref()
}

fn parse(z: &[u8]) -> Option<Table> {
    let mut data = Vec::new();
    flate2::read::ZlibDecoder::new(z)
        .take(1 << 20)
        .read_to_end(&mut data)
        .ok()?;
    let u32_at = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?)) };
    let n = u32_at(0)? as usize;
    let dense_bytes = data.get(4..4 + 2 * n)?;
    let dense = dense_bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut at = 4 + 2 * n;
    let m = u32_at(at)? as usize;
    at += 4;
    let mut extras = HashMap::with_capacity(m);
    for _ in 0..m {
        let cid = u32_at(at)?;
        let len = *data.get(at + 4)? as usize;
        at += 5;
        let mut s = String::new();
        for _ in 0..len {
            s.push(char::from_u32(u32_at(at)?)?);
            at += 4;
        }
        extras.insert(cid, s);
    }
    Some(Table { dense, extras })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_map_cids() {
        // Adobe-Japan1 CID 843 is "あ", CID 1 the space; GB1 CID 4559 "中".
        let j = table(b"Japan1").unwrap();
        assert_eq!(j.get(843).as_deref(), Some("あ"));
        assert_eq!(j.get(1).as_deref(), Some(" "));
        assert_eq!(j.get(0), None);
        assert_eq!(j.get(1_000_000), None);
        assert!(table(b"GB1").unwrap().get(4559).is_some());
        assert!(table(b"CNS1").is_some() && table(b"Korea1").is_some());
        assert!(table(b"Identity").is_none());
    }
}
