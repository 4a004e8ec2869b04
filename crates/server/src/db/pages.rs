//! Serialised list pages, kept while the database is unchanged.
//!
//! A list route (the character list above all: the old app polls it) reads a page, its total, decodes four
//! JSON columns per row and encodes the lot again on every request, though between two writes every one of
//! those requests produces the same bytes. This cache keeps those bytes, tagged with
//! [`Db::data_version`](super::Db::data_version) read *before* the query that produced them; an entry is served
//! only while the version is still the same, so what is served is exactly what the query would return now.
//! (A write that lands between reading the version and the query makes the entry newer than its tag, never
//! older: it is merely dropped at the next lookup.)
//!
//! Keys name the route, the caller's scope (user id, or admin) and every query parameter; callers build them
//! with [`PageCache::key`]. The map is bounded by bytes: when full it is emptied (a list page is cheap to make
//! again; an LRU would cost more bookkeeping per hit than it saves).

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::RwLock;

/// Pages larger than this are not kept (one such page would crowd out hundreds of ordinary ones).
const MAX_PAGE_BYTES: usize = 1024 * 1024;

pub struct PageCache {
    budget: usize,
    inner: RwLock<Pages>,
}

#[derive(Default)]
struct Pages {
    map: HashMap<Box<str>, (u128, Bytes)>,
    bytes: usize,
}

impl PageCache {
    /// A cache holding at most `budget` bytes of pages; 0 keeps nothing.
    pub fn new(budget: usize) -> Self {
        PageCache {
            budget,
            inner: RwLock::new(Pages::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The key of a page: the route, then the caller's scope and every query parameter, separated so no two
    /// lists can share one.
    pub fn key(route: &str, params: &[&dyn std::fmt::Display]) -> String {
        use std::fmt::Write;
        let mut k = String::with_capacity(route.len() + 16 * params.len());
        k.push_str(route);
        for p in params {
            k.push('\0');
            let _ = write!(k, "{p}");
        }
        k
    }

    /// The page stored under `key` if it was made at `version`.
    pub fn get(&self, key: &str, version: u128) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let pages = self.inner.read().ok()?;
        match pages.map.get(key) {
            Some((v, body)) if *v == version => Some(body.clone()),
            _ => None,
        }
    }

    /// Stores a page made from data read at `version` (read before the query).
    pub fn put(&self, key: String, version: u128, body: Bytes) {
        let size = key.len() + body.len();
        if !self.enabled() || size > MAX_PAGE_BYTES.min(self.budget) {
            return;
        }
        let Ok(mut pages) = self.inner.write() else {
            return;
        };
        if pages.bytes + size > self.budget {
            pages.map.clear();
            pages.bytes = 0;
        }
        let key_len = key.len();
        if let Some((_, old)) = pages.map.insert(key.into_boxed_str(), (version, body)) {
            pages.bytes -= key_len + old.len();
        }
        pages.bytes += size;
    }

    /// Bytes held (keys and pages).
    pub fn used(&self) -> usize {
        self.inner.read().map_or(0, |p| p.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_a_page_only_at_the_version_it_was_made() {
        let c = PageCache::new(1 << 20);
        let k = PageCache::key("characters", &[&"u1", &0, &20]);
        c.put(k.clone(), 7, Bytes::from_static(b"page"));
        assert_eq!(c.get(&k, 7).as_deref(), Some(&b"page"[..]));
        assert_eq!(c.get(&k, 8), None);
        assert_eq!(c.get(&PageCache::key("characters", &[&"u2", &0, &20]), 7), None);
    }

    #[test]
    fn keys_do_not_run_together() {
        assert_ne!(
            PageCache::key("r", &[&"a", &1, &23]),
            PageCache::key("r", &[&"a", &12, &3])
        );
    }

    #[test]
    fn stays_within_its_budget() {
        let c = PageCache::new(1000);
        for i in 0..100 {
            c.put(format!("k{i}"), 1, Bytes::from(vec![b'x'; 90]));
            assert!(c.used() <= 1000, "{} bytes held", c.used());
        }
        // Replacing a key does not count it twice.
        let c = PageCache::new(1000);
        for _ in 0..50 {
            c.put("same".into(), 1, Bytes::from(vec![b'x'; 90]));
        }
        assert_eq!(c.used(), 94);
        assert!(c.get("same", 1).is_some());
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let c = PageCache::new(0);
        c.put("k".into(), 1, Bytes::from_static(b"x"));
        assert_eq!(c.get("k", 1), None);
    }
}
