//! The auth function: POST /auth/signup, POST /auth/signin and POST /auth/signout. Parses
//! bodies into domain types, calls the service, renders the result.

use crm_shared::ApiError;
use crm_shared::http::{ApiRequest, ApiResponse, BASE_PATH, Body, ResponseExt, Route};
use crm_shared::model::{Email, Name, Password, UserId, UserType};
use crm_shared::service::{self, Ctx, SigninInput, SignupInput};
use http::StatusCode;

pub async fn handle(ctx: &Ctx, route: Route, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    match route {
        Route::Signup => signup(ctx, &req).await,
        Route::Signin => signin(ctx, &req).await,
        Route::Signout => {
            let who = ctx.authenticate(&req.headers)?;
            service::signout(ctx, &who).await?;
            Ok(ApiResponse::message(StatusCode::OK, "Signed out."))
        }
        _ => Err(ApiError::no_route()),
    }
}

async fn signup(ctx: &Ctx, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let b = Body::parse(req)?;
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

async fn signin(ctx: &Ctx, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let b = Body::parse(req)?;
    let input = SigninInput {
        user_id: b.required_str("userId")?.trim().to_owned(),
        password: b.required_str("password")?.to_owned(),
    };
    let view = service::signin(ctx, input).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &view))
}
