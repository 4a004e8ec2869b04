//! A short-lived, in-process cache of checked access tokens.
//!
//! Without it every authenticated request pays for a signature check and a
//! database read (does the user still exist, is it active, its role, is this
//! token revoked) before the handler runs; on the hot list route that read was
//! a third of the statements. The cache maps the raw token to the user the
//! check produced, so a hit skips both.
//!
//! Staleness, and why it is bounded:
//! - **This process**: exact. Every write to `users` or `revoked_tokens`
//!   through [`Db`](crate::db::Db) (delete a user, change a role, deactivate,
//!   log out) bumps the handle's auth epoch after it commits; entries carry
//!   the epoch read *before* their query and are ignored once it moved. So a
//!   deleted user's token answers 401 on the very next request here.
//! - **Other instances** (several API processes on one PostgreSQL) do not see
//!   this process's epoch: a user deleted or a token revoked there keeps
//!   working here for at most [`TTL`] (2 s), after which the entry is checked
//!   against the database again. That is the price of skipping the read; it
//!   is far below the access token's own lifetime, which already bounds how
//!   long a token lives on without any check.
//! - Expiry is never extended: an entry is only served while the token's
//!   `exp` is in the future; after that the full check runs (and rejects).
//!
//! Only successful checks are cached; a failed one is answered from the
//! database each time. The map is bounded ([`MAX_ENTRIES`]).

use super::{AuthUser, Role};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a checked token is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(2);
/// At most this many tokens are remembered; beyond, expired entries are swept, then everything is dropped.
pub const MAX_ENTRIES: usize = 16_384;

struct Entry {
    id: Uuid,
    username: String,
    role: Role,
    jti: String,
    exp: i64,
    epoch: u64,
    until: Instant,
}

/// Checked tokens by their raw text. One per [`Db`](crate::db::Db) handle (and its clones).
#[derive(Default)]
pub struct TokenCache {
    map: RwLock<HashMap<Box<str>, Entry>>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl TokenCache {
    /// The user `token` was checked to be, if that check is recent, no write since could have changed it
    /// (`epoch` is the current one), and the token has not expired.
    pub fn get(&self, token: &str, epoch: u64) -> Option<AuthUser> {
        let map = self.map.read().ok()?;
        let e = map.get(token)?;
        if e.epoch != epoch || e.until <= Instant::now() || e.exp <= unix_now() {
            return None;
        }
        Some(AuthUser {
            id: e.id,
            username: e.username.clone(),
            role: e.role,
            jti: e.jti.clone(),
            exp: e.exp,
        })
    }

    /// Remembers a successful check made with the database as of `epoch` (read before the query).
    pub fn insert(&self, token: &str, user: &AuthUser, epoch: u64) {
        let Ok(mut map) = self.map.write() else {
            return;
        };
        let now = Instant::now();
        if map.len() >= MAX_ENTRIES && !map.contains_key(token) {
            map.retain(|_, e| e.until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            token.into(),
            Entry {
                id: user.id,
                username: user.username.clone(),
                role: user.role,
                jti: user.jti.clone(),
                exp: user.exp,
                epoch,
                until: now + TTL,
            },
        );
    }

    /// Forgets every entry (tests, or after changing users outside [`Db`](crate::db::Db)).
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(exp: i64) -> AuthUser {
        AuthUser {
            id: Uuid::new_v4(),
            username: "lizzy".into(),
            role: Role::User,
            jti: "j".into(),
            exp,
        }
    }

    #[test]
    fn hit_needs_same_epoch_and_unexpired_token() {
        let c = TokenCache::default();
        let far = unix_now() + 900;
        c.insert("tok", &user(far), 3);
        assert_eq!(c.get("tok", 3).map(|u| u.username), Some("lizzy".into()));
        assert!(c.get("tok", 4).is_none(), "a write since the check invalidates it");
        assert!(c.get("other", 3).is_none());
        c.insert("old", &user(unix_now() - 1), 3);
        assert!(
            c.get("old", 3).is_none(),
            "an expired token is never served from the cache"
        );
    }

    #[test]
    fn bounded() {
        let c = TokenCache::default();
        let far = unix_now() + 900;
        for i in 0..MAX_ENTRIES + 10 {
            c.insert(&format!("t{i}"), &user(far), 0);
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
