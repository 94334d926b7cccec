//! The auth function: sign-up, sign-in and sign-out (SPEC §2), and in the cloud the API's
//! `$default` route (anything no route matches: SPEC's 404). Parses bodies into domain types,
//! calls the service, renders the result.

use crm_shared::ApiError;
use crm_shared::http::{ApiResponse, BASE_PATH, Body, ResponseExt, Router};
use crm_shared::model::{Email, Name, Password, UserId, UserType};
use crm_shared::service::{self, Authed, Ctx, SigninInput, SignupInput};
use http::{Method, StatusCode};

/// The auth function's routes.
pub fn router() -> Router {
    Router::new()
        .public(Method::POST, "/auth/signup", "signup", signup)
        .public(Method::POST, "/auth/signin", "signin", signin)
        .authenticated(Method::POST, "/auth/signout", "signout", signout)
}

async fn signup(ctx: &Ctx, b: Body) -> Result<ApiResponse, ApiError> {
    let input = SignupInput {
        name: Name::parse(b.required_str("name")?)?,
        user_id: UserId::parse(b.required_str("userId")?)?,
        email: Email::parse(b.required_str("email")?)?,
        password: Password::parse(b.required_str("password")?)?,
        user_type: b
            .str("userType")?
            .map(UserType::parse)
            .transpose()?
            .unwrap_or(UserType::Customer),
    };
    let user = service::signup(ctx, input).await?;
    Ok(ApiResponse::data(StatusCode::CREATED, None, &user)
        .created_at(&format!("{BASE_PATH}/users/{}", user.user_id)))
}

async fn signin(ctx: &Ctx, b: Body) -> Result<ApiResponse, ApiError> {
    let input = SigninInput {
        user_id: b.required_str("userId")?.trim().to_owned(),
        password: b.required_str("password")?.to_owned(),
    };
    let view = service::signin(ctx, input).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &view))
}

async fn signout(ctx: &Ctx, who: Authed) -> Result<ApiResponse, ApiError> {
    service::signout(ctx, &who).await?;
    Ok(ApiResponse::message(StatusCode::OK, "Signed out."))
}
