//! Sign-up and sign-in (SPEC §2).

use super::{Ctx, SigninView, UserView};
use crate::ApiError;
use crate::error::ErrorCode;
use crate::model::{Email, Name, Password, Timestamp, UserId, UserStatus, UserType};
use crate::store::UserRecord;

/// A parsed sign-up body.
#[derive(Debug, Clone)]
pub struct SignupInput {
    pub name: Name,
    pub user_id: UserId,
    pub email: Email,
    pub password: Password,
    pub user_type: UserType,
}

/// A parsed sign-in body: taken as sent; a userId that could not exist simply fails.
#[derive(Debug, Clone)]
pub struct SigninInput {
    pub user_id: String,
    pub password: String,
}

pub async fn signup(ctx: &Ctx, input: SignupInput) -> Result<UserView, ApiError> {
    if input.user_type == UserType::Admin {
        return Err(ApiError::new(
            ErrorCode::AdminSignupNotAllowed,
            "User registration as ADMIN userType not allowed.",
        ));
    }
    reserved(&input.user_id)?;
    let hash = ctx
        .passwords
        .hash(&input.password)
        .await
        .map_err(ApiError::internal)?;
    let user = UserRecord::new(
        input.user_id,
        input.name,
        input.email,
        input.user_type,
        input.user_type.initial_status(),
        hash,
        Timestamp::now(),
    );
    let event = super::user_events::created(user.user_id.as_str(), &user);
    ctx.store
        .create_user_with(&user, ctx.store.event_writes(&event)?)
        .await?;
    ctx.publisher.publish(&event).await;
    Ok(UserView::from(&user))
}

/// No user may take the system's id (history and events name the system's changes by it).
pub(super) fn reserved(id: &UserId) -> Result<(), ApiError> {
    if id.is_reserved() {
        return Err(ApiError::invalid("userId", "This userId is reserved."));
    }
    Ok(())
}

/// Signs in: one read of the user beside the reservation of one password check (SPEC §2:
/// the lock-out holds under any concurrency), then bcrypt. An unknown userId and a wrong
/// password get the same answer after the same work (the failure recorded either way); a
/// locked userId gets `429` without any, and so does one whose checks are all in flight
/// (`SIGNIN_BUSY`, a short Retry-After: they are no failures).
pub async fn signin(ctx: &Ctx, input: SigninInput) -> Result<SigninView, ApiError> {
    // SPEC §2: a missing userId or password is a 400; an empty one is missing (and checks
    // no password, so it counts toward nothing).
    if input.user_id.is_empty() {
        return Err(ApiError::invalid("userId", "userId is required."));
    }
    if input.password.is_empty() {
        return Err(ApiError::invalid("password", "password is required."));
    }
    let now = Timestamp::now();
    let Ok(id) = UserId::parse(&input.user_id) else {
        // Cannot exist: spend the same time and say the same thing.
        ctx.passwords.verify_decoy(&input.password).await;
        return Err(ApiError::bad_credentials());
    };
    let (user, attempt) = tokio::try_join!(
        ctx.store.get_user(&id),
        ctx.store.reserve_signin_attempt(&id, now)
    )?;
    if let Some(e) = ApiError::refused_signin(attempt) {
        return Err(e);
    }
    let ok = match &user {
        Some(u) => {
            ctx.passwords
                .verify(&input.password, &u.password_hash)
                .await
        }
        None => ctx.passwords.verify_decoy(&input.password).await,
    };
    // A wrong password keeps its reservation, now a failure.
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            ctx.store.record_signin_failure(&id, now).await?;
            return Err(ApiError::bad_credentials());
        }
    };
    ctx.store.release_signin_attempt(&id, now).await?;
    if user.user_status != UserStatus::Approved {
        return Err(ApiError::not_approved(user.user_status));
    }
    let token = ctx
        .tokens
        .issue_generation(&user.user_id, user.user_type, user.token_generation, now)
        .map_err(ApiError::internal)?;
    Ok(SigninView {
        user: UserView::from(&user),
        access_token: token,
    })
}
