//! `/jobs`: the caller's background jobs: status, progress, cancellation.

use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, IdPath, PageParams, Paginated};
use crate::jobs::{COLS, Job};
use crate::params;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job, cancel_job))
}

async fn load(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Job, ApiError> {
    match state.queue.get(id).await? {
        Some(j) if user.is_admin() || j.user_id == Some(user.id) => Ok(j),
        _ => Err(ApiError::not_found("job")),
    }
}

/// One job with its progress.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 404, description = "no such job of yours", body = Problem),
    ))]
async fn get_job(State(state): State<AppState>, user: AuthUser, IdPath(id): IdPath) -> Result<Json<Job>, ApiError> {
    Ok(Json(load(&state, &user, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// `queued`, `running`, `succeeded`, `dead` or `cancelled`.
    pub status: Option<String>,
    pub skip: Option<i64>,
    pub limit: Option<i64>,
}

const STATUSES: &[&str] = &["queued", "running", "succeeded", "dead", "cancelled"];

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(JobFilter),
    responses(
        (status = 200, description = "a page of jobs", body = Paginated<Job>),
        (status = 422, description = "bad filter or pagination", body = Problem),
    ))]
async fn list_jobs(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(f): ApiQuery<JobFilter>,
) -> Result<Json<Paginated<Job>>, ApiError> {
    let page = PageParams {
        skip: f.skip,
        limit: f.limit,
    }
    .validate()?;
    if let Some(s) = &f.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::Unprocessable(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let status = f.status.unwrap_or_default();
    let items = state
        .db
        .fetch_as(
            &format!(
                "SELECT {COLS} FROM jobs WHERE user_id = $1 AND ($2 = '' OR status = $2) \
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ),
            &params![user.id, status.as_str(), page.limit, page.skip],
        )
        .await?;
    let total = state
        .db
        .fetch_one(
            "SELECT COUNT(*) AS n FROM jobs WHERE user_id = $1 AND ($2 = '' OR status = $2)",
            &params![user.id, status.as_str()],
        )
        .await?
        .get("n")?;
    Ok(Json(Paginated {
        items,
        total,
        skip: page.skip,
        limit: page.limit,
    }))
}

/// Cancels a job: a queued one at once, a running one at its next step.
#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 202, description = "cancellation requested", body = Job),
        (status = 404, description = "no such job of yours", body = Problem),
        (status = 409, description = "the job already finished", body = Problem),
    ))]
async fn cancel_job(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let job = load(&state, &user, id).await?;
    if !state.queue.cancel(id).await? {
        return Err(ApiError::Conflict(format!("the job already finished ({})", job.status)));
    }
    Ok((StatusCode::ACCEPTED, Json(load(&state, &user, id).await?)))
}
