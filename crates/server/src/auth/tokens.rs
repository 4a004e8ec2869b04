//! Access tokens (JWT, HS256) and refresh tokens (opaque, hashed, rotated).

use crate::db::{Db, DbError, now};
use crate::error::ApiError;
use crate::params;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub role: String,
}

/// Issues and checks tokens; built once from the secret.
#[derive(Clone)]
pub struct TokenService {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// A freshly issued pair, as the login and refresh endpoints return it.
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// SHA-256 of a refresh token, hex: what the database keeps.
pub fn hash_refresh(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

fn ts_after(d: Duration) -> String {
    crate::db::format_ts(time::OffsetDateTime::now_utc() + d)
}

impl TokenService {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        TokenService {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Signs an access token for `user_id`.
    pub fn issue_access(&self, user_id: Uuid, role: &str) -> Result<(String, Claims), ApiError> {
        let iat = unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            iat,
            exp: iat + self.access_ttl.as_secs() as i64,
            jti: Uuid::new_v4().to_string(),
            role: role.to_string(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc).map_err(ApiError::internal)?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm and expiry.
    pub fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.dec, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| {
                ApiError::Unauthorized(
                    match e.kind() {
                        ErrorKind::ExpiredSignature => "the access token has expired",
                        ErrorKind::InvalidSignature => "the access token's signature is invalid",
                        ErrorKind::InvalidAlgorithm => "the access token's algorithm is not accepted",
                        _ => "the access token is malformed",
                    }
                    .into(),
                )
            })
    }

    /// Stores a new refresh token for `user_id` in `family` (a new family on
    /// login) and returns the raw token, which is never stored.
    pub async fn issue_refresh(&self, db: &Db, user_id: Uuid, family: Option<&str>) -> Result<String, DbError> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(super::random_bytes::<32>());
        let family = family.map_or_else(|| Uuid::new_v4().to_string(), str::to_string);
        db.execute(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &params![
                Uuid::new_v4(),
                user_id,
                family,
                hash_refresh(&raw),
                now(),
                ts_after(self.refresh_ttl)
            ],
        )
        .await?;
        Ok(raw)
    }

    /// Login: a new access token and a refresh token in a new family.
    pub async fn issue_pair(&self, db: &Db, user_id: Uuid, role: &str) -> Result<TokenPair, ApiError> {
        let (access_token, _) = self.issue_access(user_id, role)?;
        let refresh_token = self.issue_refresh(db, user_id, None).await?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Exchanges a refresh token for a new pair. A token that was already
    /// used or revoked means it was stolen or replayed: the whole family is
    /// revoked and the caller must log in again.
    pub async fn rotate(&self, db: &Db, raw: &str) -> Result<TokenPair, ApiError> {
        let invalid = || ApiError::Unauthorized("the refresh token is invalid or expired".into());
        let mut tx = db.begin().await?;
        let row = tx
            .fetch_optional(
                "SELECT t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at, u.role, u.is_active \
                 FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                &params![hash_refresh(raw)],
            )
            .await?
            .ok_or_else(invalid)?;
        let family: String = row.get("family_id")?;
        let reused =
            row.get::<Option<String>>("used_at")?.is_some() || row.get::<Option<String>>("revoked_at")?.is_some();
        if reused {
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                &params![family.as_str(), now()],
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(family = %family, "refresh token reuse detected; family revoked");
            return Err(ApiError::Unauthorized(
                "this refresh token was already used; every session of this login has been revoked".into(),
            ));
        }
        if row.get::<String>("expires_at")? <= now() || !row.get::<bool>("is_active")? {
            return Err(invalid());
        }
        let id: String = row.get("id")?;
        let user_id: Uuid = row.get("user_id")?;
        let role: String = row.get("role")?;
        let claimed = tx
            .execute(
                "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
                &params![id, now()],
            )
            .await?;
        if claimed == 0 {
            return Err(invalid());
        }
        let new_raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(super::random_bytes::<32>());
        tx.execute(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &params![
                Uuid::new_v4(),
                user_id,
                family,
                hash_refresh(&new_raw),
                now(),
                ts_after(self.refresh_ttl)
            ],
        )
        .await?;
        tx.commit().await?;
        let (access_token, _) = self.issue_access(user_id, &role)?;
        Ok(TokenPair {
            access_token,
            refresh_token: new_raw,
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Logout: revokes the family of `raw` (if it belongs to `user_id`), or
    /// every refresh token of the user when no token is given.
    pub async fn revoke(&self, db: &Db, user_id: Uuid, raw: Option<&str>) -> Result<(), DbError> {
        match raw {
            Some(raw) => {
                db.execute(
                    "UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL AND user_id = $2 AND family_id = \
                     (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
                    &params![hash_refresh(raw), user_id, now()],
                )
                .await?
            }
            None => {
                db.execute(
                    "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                    &params![user_id, now()],
                )
                .await?
            }
        };
        Ok(())
    }

    /// Revokes one access token until it would have expired anyway.
    pub async fn revoke_access(&self, db: &Db, user_id: Uuid, jti: &str, exp: i64) -> Result<(), DbError> {
        let expires =
            time::OffsetDateTime::from_unix_timestamp(exp).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        db.execute(
            "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            &params![jti, user_id, crate::db::format_ts(expires)],
        )
        .await?;
        Ok(())
    }

    /// Deletes expired refresh tokens and revocation entries.
    pub async fn purge_expired(&self, db: &Db) -> Result<u64, DbError> {
        let t = now();
        let a = db
            .execute("DELETE FROM refresh_tokens WHERE expires_at < $1", &params![t.as_str()])
            .await?;
        let b = db
            .execute("DELETE FROM revoked_tokens WHERE expires_at < $1", &params![t])
            .await?;
        Ok(a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> TokenService {
        TokenService::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(900),
            Duration::from_secs(3600),
        )
    }

    #[test]
    fn issued_tokens_verify_and_carry_claims() {
        let s = svc();
        let id = Uuid::new_v4();
        let (tok, claims) = s.issue_access(id, "user").unwrap();
        let back = s.verify_access(&tok).unwrap();
        assert_eq!(back.sub, id.to_string());
        assert_eq!(back.jti, claims.jti);
        assert_eq!(back.exp - back.iat, 900);
    }

    #[test]
    fn foreign_signature_and_alg_none_are_rejected() {
        let s = svc();
        let other = TokenService::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(900),
            Duration::from_secs(1),
        );
        let (tok, _) = other.issue_access(Uuid::new_v4(), "user").unwrap();
        assert!(s.verify_access(&tok).is_err());
        // Hand-made token with alg none.
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&format!(
                r#"{{"sub":"{}","exp":9999999999,"iat":1,"jti":"x","role":"admin"}}"#,
                Uuid::new_v4()
            ))
        );
        assert!(s.verify_access(&none).is_err());
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let s = svc();
        let claims = Claims {
            sub: Uuid::new_v4().to_string(),
            iat: 1,
            exp: unix_now() - 3600,
            jti: "j".into(),
            role: "user".into(),
        };
        let tok = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &s.enc).unwrap();
        let err = s.verify_access(&tok).unwrap_err();
        assert!(err.to_string().contains("expired"));
    }
}
