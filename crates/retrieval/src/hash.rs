//! A fast, per-process-seeded hasher for the build-time word tables.
//!
//! Building an index looks up every word of a book in a table of its distinct words; with the standard SipHash
//! that lookup was a third of the build time. Words are short, so a folded multiply per 8 bytes (the construction
//! of foldhash and aHash's fallback) does the job at a fraction of the cost. The seed comes from the standard
//! library's random keys, so a crafted upload cannot aim collisions at a known function. Nothing is hashed at query
//! time: the index itself keeps no hash table.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeded(u64);

impl Seeded {
    pub(crate) fn new() -> Self {
        Seeded(RandomState::new().hash_one(0x5EED_u64))
    }
}

impl Default for Seeded {
    fn default() -> Self {
        Seeded::new()
    }
}

impl BuildHasher for Seeded {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(self.0)
    }
}

pub(crate) struct FoldHasher(u64);

#[inline]
fn fold(x: u64, y: u64) -> u64 {
    let m = (x as u128).wrapping_mul(y as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for FoldHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = fold(self.0 ^ bytes.len() as u64, K);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = fold(
                h ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
                K,
            );
        }
        // The last 1..=7 bytes, read without a copy through the stack (the wyhash way: two overlapping u32 reads,
        // or first/middle/last byte).
        let r = chunks.remainder();
        let n = r.len();
        if n >= 4 {
            let lo = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as u64;
            let hi = u32::from_le_bytes([r[n - 4], r[n - 3], r[n - 2], r[n - 1]]) as u64;
            h = fold(h ^ (hi << 32 | lo), K);
        } else if n > 0 {
            h = fold(h ^ ((r[0] as u64) << 16 | (r[n / 2] as u64) << 8 | r[n - 1] as u64), K);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = fold(self.0 ^ i as u64, K);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // One more round so that the high bits (hashbrown's tag) depend on every input bit.
        fold(self.0, K ^ 0xA076_1D64_78BD_642F)
    }
}

pub(crate) type Map<K, V> = std::collections::HashMap<K, V, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_words_hash_apart() {
        let s = Seeded::new();
        let words = ["a", "a\0", "ab", "ba", "", "elizabeth", "elizabeth ", "elizabet"];
        let hashes: std::collections::HashSet<u64> = words.iter().map(|w| s.hash_one(w)).collect();
        assert_eq!(hashes.len(), words.len());
        assert_eq!(s.hash_one("darcy"), s.hash_one(String::from("darcy")));
    }
}
