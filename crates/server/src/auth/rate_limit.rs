//! Failed-login limiting, per account and per client address.
//!
//! A fixed window per key: after `max` failures within `window`, the key is
//! refused until the window ends (429 with `Retry-After`). A success clears
//! the account's count. Counting only failures means a user who types the
//! password right is never slowed down, while guessing is capped at a few
//! attempts per window per account and a few dozen per address.
//!
//! The state is per instance, in memory: behind a load balancer each
//! instance limits on its own, which bounds guessing at N× the limit. The
//! map is pruned when it grows, so a flood of random usernames cannot grow it
//! without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    start: Instant,
}

/// Limits failed logins.
pub struct LoginLimiter {
    entries: Mutex<HashMap<String, Entry>>,
    pub max_per_account: u32,
    pub max_per_address: u32,
    pub window: Duration,
}

const PRUNE_AT: usize = 100_000;

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(5, 30, Duration::from_secs(15 * 60))
    }
}

impl LoginLimiter {
    pub fn new(max_per_account: u32, max_per_address: u32, window: Duration) -> Self {
        LoginLimiter {
            entries: Mutex::new(HashMap::new()),
            max_per_account,
            max_per_address,
            window,
        }
    }

    fn keys(username: &str, addr: IpAddr) -> [String; 2] {
        [format!("u:{}", username.to_lowercase()), format!("a:{addr}")]
    }

    /// `Err(seconds)` when either key is over its limit.
    pub fn check(&self, username: &str, addr: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let [user, address] = Self::keys(username, addr);
        let mut wait = 0u64;
        for (key, max) in [(user, self.max_per_account), (address, self.max_per_address)] {
            if let Some(e) = entries.get(&key) {
                let age = now.duration_since(e.start);
                if age < self.window && e.failures >= max {
                    wait = wait.max((self.window - age).as_secs().max(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, username: &str, addr: IpAddr) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= PRUNE_AT {
            let window = self.window;
            entries.retain(|_, e| now.duration_since(e.start) < window);
        }
        for key in Self::keys(username, addr) {
            let e = entries.entry(key).or_insert(Entry {
                failures: 0,
                start: now,
            });
            if now.duration_since(e.start) >= self.window {
                *e = Entry {
                    failures: 0,
                    start: now,
                };
            }
            e.failures += 1;
        }
    }

    pub fn record_success(&self, username: &str, addr: IpAddr) {
        let [user, _] = Self::keys(username, addr);
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_account_and_address() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check("Alice", a).is_ok());
            l.record_failure("Alice", a);
        }
        let wait = l.check("alice", a).unwrap_err();
        assert!(wait > 0 && wait <= 60);
        // Another account from the same address still has address budget left…
        assert!(l.check("bob", a).is_ok());
        l.record_failure("bob", a);
        l.record_failure("bob", a);
        // …until the address limit is reached.
        assert!(l.check("carol", a).is_err());
        // Another address is unaffected for a fresh account.
        assert!(l.check("dave", "10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn success_clears_the_account() {
        let l = LoginLimiter::new(2, 100, Duration::from_secs(60));
        let a: IpAddr = "::1".parse().unwrap();
        l.record_failure("eve", a);
        l.record_success("eve", a);
        l.record_failure("eve", a);
        assert!(l.check("eve", a).is_ok());
    }
}
