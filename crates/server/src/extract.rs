//! Request extractors whose rejections are problem responses.
//!
//! axum's own extractors answer bad input with plain-text bodies; these wrap
//! them so a malformed body, a wrong content type, a bad query or a
//! malformed id all come back as RFC 9457 problems that say what is wrong.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    let text = rej.body_text();
    match rej.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("expected a JSON body with Content-Type: application/json".into())
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge("the request body is too large".into()),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(text),
        _ => ApiError::BadRequest(text),
    }
}

/// A form body (the OAuth2 password flow).
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(rej) => Err(form_rejection(rej)),
        }
    }
}

fn form_rejection(rej: FormRejection) -> ApiError {
    match rej.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
            "expected a form body with Content-Type: application/x-www-form-urlencoded".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge("the request body is too large".into()),
        _ => ApiError::Unprocessable(rej.body_text()),
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(query_rejection(rej)),
        }
    }
}

fn query_rejection(rej: QueryRejection) -> ApiError {
    ApiError::Unprocessable(rej.body_text())
}

/// A UUID path parameter (`/characters/{id}`).
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(raw)) => Uuid::parse_str(&raw)
                .map(IdPath)
                .map_err(|_| ApiError::Unprocessable(format!("`{}` is not a valid UUID", truncate(&raw, 64)))),
            Err(rej) => Err(path_rejection(rej)),
        }
    }
}

/// Two UUID path parameters (`/conversations/{id}/messages/{message_id}`).
pub struct IdPairPath(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPairPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let parse = |raw: &str| {
            Uuid::parse_str(raw)
                .map_err(|_| ApiError::Unprocessable(format!("`{}` is not a valid UUID", truncate(raw, 64))))
        };
        match axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((a, b))) => Ok(IdPairPath(parse(&a)?, parse(&b)?)),
            Err(rej) => Err(path_rejection(rej)),
        }
    }
}

fn path_rejection(rej: PathRejection) -> ApiError {
    ApiError::BadRequest(rej.body_text())
}

fn truncate(s: &str, n: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// `?skip=&limit=` as DESIGN.md fixes them: `skip` from 0, `limit` 1–100,
/// default 20.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items to skip (0 or more).
    #[param(minimum = 0, example = 0)]
    pub skip: Option<i64>,
    /// Items to return (1–100, default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<i64>,
}

/// Validated pagination.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub skip: i64,
    pub limit: i64,
}

pub const MAX_LIMIT: i64 = 100;

impl PageParams {
    pub fn validate(self) -> Result<Page, ApiError> {
        let skip = self.skip.unwrap_or(0);
        let limit = self.limit.unwrap_or(20);
        if skip < 0 {
            return Err(ApiError::Unprocessable(format!("skip must be 0 or more, got {skip}")));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::Unprocessable(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            )));
        }
        Ok(Page { skip, limit })
    }
}

/// A page of results: `{items, total, skip, limit}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
}

/// A `multipart/form-data` body whose one field that matters is `file` (an upload, a card import). Not multipart:
/// 415.
pub struct FileForm(Multipart);

impl<S: Send + Sync> FromRequest<S> for FileForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Multipart::from_request(req, state).await.map(FileForm).map_err(|e| {
            ApiError::UnsupportedMediaType(format!("expected a multipart/form-data body with a `file` field ({e})"))
        })
    }
}

impl FileForm {
    /// Runs `read` on the `file` field (other fields are skipped), whose chunks may add up to `max` bytes; past
    /// that, or past the body limit, 413 with `too_large` as the detail. No `file` field or a broken body: 400.
    ///
    /// A callback rather than a returned field: the field borrows the form, and a borrow returned from inside
    /// the loop that skips other fields is one the borrow checker cannot yet see end.
    pub async fn read_file<T>(
        mut self,
        max: u64,
        too_large: String,
        read: impl AsyncFnOnce(FileField<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        loop {
            let Some(field) = self.0.next_field().await.map_err(|e| field_error(e, &too_large))? else {
                return Err(ApiError::BadRequest("the form has no `file` field".into()));
            };
            if field.name() == Some("file") {
                return read(FileField {
                    field,
                    left: max,
                    too_large,
                })
                .await;
            }
        }
    }
}

/// The `file` field of a [`FileForm`], with the bytes it may still bring.
pub struct FileField<'a> {
    field: Field<'a>,
    left: u64,
    too_large: String,
}

impl FileField<'_> {
    /// The name the client gave the file, unsanitised.
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    /// The next chunk, `None` at the end; 413 once the chunks add up to more than the limit.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        match self.field.chunk().await.map_err(|e| field_error(e, &self.too_large))? {
            Some(c) if c.len() as u64 > self.left => Err(ApiError::PayloadTooLarge(self.too_large.clone())),
            Some(c) => {
                self.left -= c.len() as u64;
                Ok(Some(c))
            }
            None => Ok(None),
        }
    }

    /// The whole file, in memory (for small files only: the limit bounds it).
    pub async fn bytes(mut self) -> Result<Vec<u8>, ApiError> {
        let mut buf = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }
}

/// A multipart read error: the body limit (413, `too_large`) or a malformed body (400).
fn field_error(e: MultipartError, too_large: &str) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(too_large.to_string())
    } else {
        ApiError::BadRequest(format!("broken multipart body: {}", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_bounds() {
        let p = |skip, limit| PageParams { skip, limit }.validate();
        assert!(p(None, None).is_ok_and(|p| p.skip == 0 && p.limit == 20));
        assert!(p(Some(-1), None).is_err());
        assert!(p(None, Some(0)).is_err());
        assert!(p(None, Some(101)).is_err());
        assert!(p(Some(i64::MAX), Some(100)).is_ok());
    }

    #[test]
    fn truncation_strips_controls() {
        assert_eq!(truncate("ab\u{0}c", 10), "abc");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
