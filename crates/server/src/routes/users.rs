//! `/users`: the admin's view of every account.

use crate::auth::AdminUser;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, PageParams, Paginated};
use crate::state::AppState;
use crate::users::{self, UserOut};
use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users))
}

/// Every user (admin only).
#[utoipa::path(get, path = "/users", tag = "users",
    security(("OAuth2PasswordBearer" = []), ("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "a page of users", body = Paginated<UserOut>),
        (status = 401, description = "not authenticated", body = Problem),
        (status = 403, description = "not an admin", body = Problem),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Paginated<UserOut>>, ApiError> {
    let page = page.validate()?;
    let (items, total) = users::list(&state.db, page.skip, page.limit).await?;
    Ok(Json(Paginated {
        items,
        total,
        skip: page.skip,
        limit: page.limit,
    }))
}
