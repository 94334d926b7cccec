//! The users function: listing, reading and changing users, and passwords (SPEC §2). A
//! userId in a path is taken as sent: the use case answers one no user can have by the
//! caller's rights (403, or 404 for an admin).
//!
//! For now also the change feed, GET /events (SPEC §8, `events.rs`): it moves to the
//! integrations function when that exists.

mod events;

use crm_shared::ApiError;
use crm_shared::http::{ApiResponse, Body, Path, QueryParams, Router};
use crm_shared::model::{Name, Password, UserId, UserStatus, UserType};
use crm_shared::service::{self, Authed, Ctx, PasswordChange, UserUpdate};
use crm_shared::store::UserFilter;
use http::{Method, StatusCode};

/// The users function's routes.
pub fn router() -> Router {
    Router::new()
        .authenticated(Method::GET, "/users", "listUsers", list_users)
        .authenticated(Method::GET, "/users/{userId}", "getUser", get_user)
        .authenticated(Method::PUT, "/users/{userId}", "updateUser", update_user)
        .authenticated(
            Method::PUT,
            "/users/{userId}/password",
            "changePassword",
            change_password,
        )
        // The change feed (SPEC §8), here until the integrations function exists.
        .authenticated(Method::GET, "/events", "listEvents", events::list)
}

async fn list_users(ctx: &Ctx, who: Authed, q: QueryParams) -> Result<ApiResponse, ApiError> {
    let filter = UserFilter {
        user_type: q.parsed("userType", UserType::parse)?,
        user_status: q.parsed("userStatus", UserStatus::parse)?,
    };
    let page = service::list_users(ctx, &who, filter, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn get_user(ctx: &Ctx, who: Authed, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let user = service::get_user(ctx, &who, &id).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &user))
}

async fn update_user(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let change = parse_update(&b, &id)?;
    let user = service::update_user(ctx, &who, &id, change).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &user))
}

async fn change_password(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let change = PasswordChange {
        current: b.str("currentPassword")?.map(str::to_owned),
        new: Password::parse_field("newPassword", b.required_str("newPassword")?)?,
    };
    service::change_password(ctx, &who, &id, change).await?;
    Ok(ApiResponse::message(StatusCode::OK, "Password changed."))
}

/// Only name, userType and userStatus change here. A password is refused outright; a
/// userId or email is refused when it differs from the user's (sending back what GET
/// returned is fine).
fn parse_update(b: &Body, path_id: &str) -> Result<UserUpdate, ApiError> {
    if b.has("password") {
        return Err(ApiError::invalid(
            "password",
            "password cannot be changed with this request.",
        ));
    }
    if let Some(id) = b.str("userId")?
        && UserId::parse(id)
            .map(|u| u.as_str() != path_id)
            .unwrap_or(true)
    {
        return Err(ApiError::invalid("userId", "userId cannot be changed."));
    }
    Ok(UserUpdate {
        name: b.str("name")?.map(Name::parse).transpose()?,
        user_type: b.str("userType")?.map(UserType::parse).transpose()?,
        user_status: b.str("userStatus")?.map(UserStatus::parse).transpose()?,
        email: b
            .str("email")?
            .map(|e| {
                crm_shared::model::Email::parse(e)
                    .map_err(|_| ApiError::invalid("email", "email cannot be changed."))
            })
            .transpose()?,
    })
}
