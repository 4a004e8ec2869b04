//! Users: validation rules, creation, lookup.

use crate::db::{Db, DbError, FromRow, Row, now};
use crate::error::ApiError;
use crate::params;
use crate::state::AppState;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "3f0c…", "username": "lizzy", "email": "lizzy@example.com", "role": "user", "is_active": true, "created_at": "2026-11-27T16:43:01.123456Z"}))]
pub struct UserOut {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    /// `user` or `admin`.
    pub role: String,
    pub is_active: bool,
    pub created_at: String,
}

impl FromRow for UserOut {
    fn from_row(r: &Row) -> Result<Self, DbError> {
        Ok(UserOut {
            id: r.get("id")?,
            username: r.get("username")?,
            email: r.get("email")?,
            role: r.get("role")?,
            is_active: r.get("is_active")?,
            created_at: r.get("created_at")?,
        })
    }
}

/// A user with the fields login needs.
pub struct UserAuth {
    pub id: Uuid,
    pub role: String,
    pub is_active: bool,
    pub password_hash: String,
}

pub struct NewUser {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub admin: bool,
}

const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "11111111",
    "00000000",
    "abcdefgh",
    "abc12345",
    "letmein1",
    "welcome1",
    "passw0rd",
    "admin123",
    "changeme",
];

/// Why a username is not acceptable, if it is not.
pub fn check_username(u: &str) -> Result<(), String> {
    let n = u.chars().count();
    if !(3..=32).contains(&n) {
        return Err(format!("username must be 3–32 characters, got {n}"));
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err("username may contain only letters, digits, `_`, `-` and `.`".into());
    }
    if !u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err("username must start with a letter or digit".into());
    }
    Ok(())
}

/// Why a password is not acceptable, if it is not.
pub fn check_password(p: &str, username: &str) -> Result<(), String> {
    let n = p.chars().count();
    if n < 8 {
        return Err("password must be at least 8 characters".into());
    }
    if n > 128 {
        return Err("password must be at most 128 characters".into());
    }
    if p.chars().any(|c| c == '\0') {
        return Err("password must not contain NUL characters".into());
    }
    let lower = p.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err("this password is too common".into());
    }
    if lower == username.to_lowercase() {
        return Err("password must not be the username".into());
    }
    if p.chars().collect::<std::collections::BTreeSet<_>>().len() < 4 {
        return Err("password must have at least 4 distinct characters".into());
    }
    Ok(())
}

fn check_email(e: &str) -> Result<(), String> {
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an email address",
            e.chars().take(64).collect::<String>()
        ))
    }
}

/// Validates and creates a user.
pub async fn create(state: &AppState, new: NewUser) -> Result<UserOut, ApiError> {
    create_with(&state.db, &state.hasher, new).await
}

pub async fn create_with(
    db: &Db,
    hasher: &crate::auth::password::PasswordHasher,
    new: NewUser,
) -> Result<UserOut, ApiError> {
    check_username(&new.username).map_err(ApiError::Unprocessable)?;
    check_password(&new.password, &new.username).map_err(ApiError::Unprocessable)?;
    let email = new.email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
    if let Some(e) = &email {
        check_email(e).map_err(ApiError::Unprocessable)?;
    }
    let key = new.username.to_lowercase();
    if find_by_username(db, &key).await?.is_some() {
        return Err(ApiError::Conflict(format!("the username `{}` is taken", new.username)));
    }
    let hash = hasher.hash(&new.password).await.map_err(ApiError::internal)?;
    let id = Uuid::new_v4();
    let t = now();
    let role = if new.admin { "admin" } else { "user" };
    db.execute(
        "INSERT INTO users (id, username, username_key, email, password_hash, role, is_active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        &params![id, new.username.as_str(), key, email.clone(), hash, role, t.as_str()],
    )
    .await
    .map_err(|e| match e {
        DbError::Unique(_) => ApiError::Conflict(format!("the username `{}` is taken", new.username)),
        other => other.into(),
    })?;
    Ok(UserOut {
        id,
        username: new.username,
        email,
        role: role.into(),
        is_active: true,
        created_at: t,
    })
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<UserAuth>, DbError> {
    let Some(r) = db
        .fetch_optional(
            "SELECT id, role, is_active, password_hash FROM users WHERE username_key = $1",
            &params![username.to_lowercase()],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(UserAuth {
        id: r.get("id")?,
        role: r.get("role")?,
        is_active: r.get("is_active")?,
        password_hash: r.get("password_hash")?,
    }))
}

const USER_COLS: &str = "id, username, email, role, is_active, created_at";

pub async fn get(db: &Db, id: Uuid) -> Result<Option<UserOut>, DbError> {
    db.fetch_optional_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"), &params![id])
        .await
}

pub async fn list(db: &Db, skip: i64, limit: i64) -> Result<(Vec<UserOut>, i64), DbError> {
    let items = db
        .fetch_as(
            &format!("SELECT {USER_COLS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"),
            &params![limit, skip],
        )
        .await?;
    let total = db.fetch_one("SELECT COUNT(*) AS n FROM users", &[]).await?.get("n")?;
    Ok((items, total))
}

/// Deletes a user and, by cascade, everything they own.
pub async fn delete(db: &Db, id: Uuid) -> Result<bool, DbError> {
    Ok(db.execute("DELETE FROM users WHERE id = $1", &params![id]).await? > 0)
}

/// The development user of the old app, created if missing.
pub const DEV_USER: (&str, &str) = ("testuser", "testpass123");

pub async fn ensure_dev_user(db: &Db, hasher: &crate::auth::password::PasswordHasher) -> Result<(), ApiError> {
    if find_by_username(db, DEV_USER.0).await?.is_some() {
        return Ok(());
    }
    match create_with(
        db,
        hasher,
        NewUser {
            username: DEV_USER.0.into(),
            password: DEV_USER.1.into(),
            email: None,
            admin: false,
        },
    )
    .await
    {
        Ok(_) | Err(ApiError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(check_username("testuser").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username("_lead").is_err());
        assert!(check_username("has space").is_err());
        assert!(check_username("emoji😀").is_err());
        assert!(check_username(&"x".repeat(33)).is_err());
    }

    #[test]
    fn password_rules() {
        assert!(check_password("testpass123", "testuser").is_ok());
        assert!(check_password("short", "u").is_err());
        assert!(check_password("password123", "u").is_err());
        assert!(check_password("aaaaaaaaaa", "u").is_err());
        assert!(check_password("Lizzy-Bennet", "lizzy-bennet").is_err());
        assert!(check_password(&"ab1-".repeat(40), "u").is_err());
    }

    #[test]
    fn email_rules() {
        assert!(check_email("a@b.co").is_ok());
        assert!(check_email("no-at").is_err());
        assert!(check_email("a@b").is_err());
        assert!(check_email("a b@c.de").is_err());
    }
}
