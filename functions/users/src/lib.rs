//! The users function: GET /users, GET /users/{userId}, PUT /users/{userId} and
//! PUT /users/{userId}/password.

use crm_shared::ApiError;
use crm_shared::http::{ApiRequest, ApiResponse, Body, QueryParams, Route};
use crm_shared::model::{Name, Password, UserId, UserStatus, UserType};
use crm_shared::service::{self, Ctx, PasswordChange, UserUpdate};
use crm_shared::store::UserFilter;
use http::StatusCode;

pub async fn handle(ctx: &Ctx, route: Route, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let who = ctx.authenticate(&req.headers)?;
    match route {
        Route::ListUsers => {
            let q = QueryParams::parse(req.query.as_deref())?;
            let filter = UserFilter {
                user_type: q.parsed("userType", UserType::parse)?,
                user_status: q.parsed("userStatus", UserStatus::parse)?,
            };
            let page = service::list_users(ctx, &who, filter, q.next_token(), q.limit()?).await?;
            Ok(ApiResponse::list(&page.items, page.next))
        }
        Route::GetUser(id) => {
            let user = service::get_user(ctx, &who, &id).await?;
            Ok(ApiResponse::data(StatusCode::OK, None, &user))
        }
        Route::UpdateUser(id) => {
            let change = parse_update(&req, &id)?;
            let user = service::update_user(ctx, &who, &id, change).await?;
            Ok(ApiResponse::data(StatusCode::OK, None, &user))
        }
        Route::ChangePassword(id) => {
            let b = Body::parse(&req)?;
            let change = PasswordChange {
                current: b.str("currentPassword")?.map(str::to_owned),
                new: Password::parse_field("newPassword", b.required_str("newPassword")?)?,
            };
            service::change_password(ctx, &who, &id, change).await?;
            Ok(ApiResponse::message(StatusCode::OK, "Password changed."))
        }
        _ => Err(ApiError::no_route()),
    }
}

/// Only name, userType and userStatus change here. A password is refused outright; a
/// userId or email is refused when it differs from the user's (sending back what GET
/// returned is fine).
fn parse_update(req: &ApiRequest, path_id: &str) -> Result<UserUpdate, ApiError> {
    let b = Body::parse(req)?;
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
