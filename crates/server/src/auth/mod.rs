//! Authentication: password hashing, access tokens, refresh tokens, login
//! rate limiting, and the [`AuthUser`] extractor every protected handler
//! takes.
//!
//! - Passwords: Argon2id (the `argon2` crate's defaults, m=19 MiB, t=2).
//!   Hashing is deliberately slow, so it runs on blocking threads behind a
//!   semaphore: a flood of logins queues there instead of starving the async
//!   runtime that serves every other request.
//! - Access tokens: short-lived HS256 JWTs with `sub`, `exp`, `iat`, `jti`.
//!   Only HS256 is accepted, so `alg: none` and algorithm confusion fail.
//! - Refresh tokens: opaque random strings stored as SHA-256 hashes, rotated
//!   on every use; presenting a rotated one again revokes its whole family.

pub mod cache;
pub mod password;
pub mod rate_limit;
pub mod tokens;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A role; `admin` sees every user's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Role {
        if s == "admin" { Role::Admin } else { Role::User }
    }
}

/// The authenticated caller, checked against the database (user exists, is
/// active, role, token not revoked). The check is cached per token for at most
/// [`cache::TTL`] and dropped by any write to users or revocations in this
/// process, so a deleted or deactivated user's token stops working at once
/// here, and within the TTL on other instances (see [`cache`]).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    /// The access token's id and expiry, for logout.
    pub jti: String,
    pub exp: i64,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The bearer token of a request: the `Authorization` header, or for
/// browsers' WebSocket/EventSource, which cannot set headers, `?access_token=`.
pub fn bearer_token(parts: &Parts) -> Option<String> {
    if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let h = h.to_str().ok()?;
        let (scheme, token) = h.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "access_token").then(|| v.to_string())
    })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)
            .ok_or_else(|| ApiError::Unauthorized("missing bearer token (Authorization: Bearer …)".into()))?;
        // Read the epoch before anything is read from the database: a write that lands after this read bumps
        // it, so what we cache below can never outlive such a write.
        let epoch = state.db.auth_epoch();
        if let Some(user) = state.db.token_cache().get(&token, epoch) {
            return Ok(user);
        }
        let claims = state.tokens.verify_access(&token)?;
        let id = Uuid::parse_str(&claims.sub).map_err(|_| ApiError::Unauthorized("invalid token subject".into()))?;
        let row = state
            .db
            .fetch_optional(
                "SELECT u.username, u.role, u.is_active, \
                 (SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = $2) AS revoked \
                 FROM users u WHERE u.id = $1",
                &crate::params![id, claims.jti.as_str()],
            )
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the token's user no longer exists".into()))?;
        if !row.get::<bool>("is_active")? {
            return Err(ApiError::Unauthorized("this account is disabled".into()));
        }
        if row.get::<i64>("revoked")? > 0 {
            return Err(ApiError::Unauthorized(
                "this token has been revoked (logged out)".into(),
            ));
        }
        let user = AuthUser {
            id,
            username: row.get("username")?,
            role: Role::parse(&row.get::<String>("role")?),
            jti: claims.jti,
            exp: claims.exp,
        };
        state.db.token_cache().insert(&token, &user, epoch);
        Ok(user)
    }
}

/// An [`AuthUser`] that must be an admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::Forbidden("this needs the admin role".into()));
        }
        Ok(AdminUser(user))
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is not something a server can carry on from.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}
