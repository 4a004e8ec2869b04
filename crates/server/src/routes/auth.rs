//! `/auth`: register, login (OAuth2 password form), refresh, me, logout.

use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiForm, ApiJson};
use crate::routes::ClientAddr;
use crate::state::AppState;
use crate::users::{self, NewUser, UserOut};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .routes(routes!(logout))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "lizzy", "password": "Pemberley-1813", "email": "lizzy@example.com"}))]
pub struct RegisterRequest {
    /// 3–32 characters: letters, digits, `_`, `-`, `.`; starts with a letter or digit.
    pub username: String,
    /// 8–128 characters, not a common password, not the username.
    pub password: String,
    pub email: Option<String>,
}

/// Creates an account with the `user` role.
#[utoipa::path(post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "account created", body = UserOut),
        (status = 409, description = "username taken", body = Problem),
        (status = 422, description = "invalid username, password or email", body = Problem),
    ))]
async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let user = users::create(
        &state,
        NewUser {
            username: req.username,
            password: req.password,
            email: req.email,
            admin: false,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The OAuth2 password-flow form (what Swagger UI's Authorize sends).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    /// Must be `password` when present.
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Tokens issued at login and refresh.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "refresh_token": "q3Jx…", "token_type": "bearer", "expires_in": 900}))]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<crate::auth::tokens::TokenPair> for TokenResponse {
    fn from(p: crate::auth::tokens::TokenPair) -> Self {
        TokenResponse {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "bearer",
            expires_in: p.expires_in,
        }
    }
}

/// Logs in with username and password (form-encoded, OAuth2 password flow).
/// Failed attempts are limited per account and per client address.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "logged in", body = TokenResponse),
        (status = 401, description = "wrong username or password", body = Problem),
        (status = 429, description = "too many failed attempts; see Retry-After", body = Problem),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiForm(form): ApiForm<LoginForm>,
) -> Result<Json<TokenResponse>, ApiError> {
    if form
        .grant_type
        .as_deref()
        .is_some_and(|g| !g.is_empty() && g != "password")
    {
        return Err(ApiError::BadRequest("grant_type must be `password`".into()));
    }
    if let Err(retry_after) = state.limiter.check(&form.username, addr) {
        return Err(ApiError::TooManyRequests {
            detail: format!("too many failed logins; try again in {retry_after} s"),
            retry_after,
        });
    }
    let user = users::find_by_username(&state.db, &form.username).await?;
    let ok = state
        .hasher
        .verify(&form.password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok && u.is_active => u,
        _ => {
            state.limiter.record_failure(&form.username, addr);
            return Err(ApiError::Unauthorized("incorrect username or password".into()));
        }
    };
    state.limiter.record_success(&form.username, addr);
    let pair = state.tokens.issue_pair(&state.db, user.id, &user.role).await?;
    Ok(Json(pair.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair. Each refresh token works once:
/// presenting a used one revokes every token of that login.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "new tokens", body = TokenResponse),
        (status = 401, description = "invalid, expired or reused refresh token", body = Problem),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if req.refresh_token.len() > 512 {
        return Err(ApiError::Unauthorized("the refresh token is invalid or expired".into()));
    }
    Ok(Json(state.tokens.rotate(&state.db, &req.refresh_token).await?.into()))
}

/// The current user.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = UserOut),
        (status = 401, description = "missing, invalid or expired token", body = Problem),
    ))]
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserOut>, ApiError> {
    users::get(&state.db, user.id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::Unauthorized("the token's user no longer exists".into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The refresh token of this session; without it, every session of the
    /// user is logged out.
    pub refresh_token: Option<String>,
}

/// Logs out: revokes this access token and the refresh token's family (or
/// all of the user's refresh tokens when none is given).
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    request_body(content = Option<LogoutRequest>),
    responses(
        (status = 204, description = "logged out"),
        (status = 401, description = "missing, invalid or expired token", body = Problem),
    ))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional, so it is parsed by hand rather than by ApiJson.
    let req: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Unprocessable(format!("invalid JSON body: {e}")))?
    };
    state
        .tokens
        .revoke(&state.db, user.id, req.refresh_token.as_deref())
        .await?;
    state
        .tokens
        .revoke_access(&state.db, user.id, &user.jti, user.exp)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
