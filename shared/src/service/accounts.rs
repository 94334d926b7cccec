//! Accounts people can manage (SPEC §2): change a password (self, with the current one), an
//! admin's reset of another user's, an operator's from the backend, and sign-out everywhere.
//! Each moves the user's token generation on in the same write, so every older token is
//! refused at once (`401 TOKEN_REVOKED`).

use super::{Authed, Ctx};
use crate::ApiError;
use crate::auth::PasswordHasher;
use crate::error::ErrorCode;
use crate::model::{Event, Password, Timestamp, UserId};
use crate::policy;
use crate::store::{Store, UserRecord};

/// A parsed PUT /users/{userId}/password body: `currentPassword` (taken exactly as sent,
/// like a sign-in's) and the new password.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: Option<String>,
    pub new: Password,
}

/// PUT /users/{userId}/password. The user themself needs the current password (a wrong one
/// is `403 WRONG_PASSWORD` and counts toward the sign-in lock-out, so a stolen token is no
/// password oracle); an approved ADMIN resets another user's with the new one alone. Rights
/// come before existence.
pub async fn change_password(
    ctx: &Ctx,
    who: &Authed,
    target: &str,
    change: PasswordChange,
) -> Result<(), ApiError> {
    let caller = who.active(ctx.store.get_user(&who.id).await?)?;
    let target = match UserId::parse(target) {
        Ok(id) if id.as_str() == target => Some(id),
        _ => None,
    };
    let is_self = target.as_ref() == Some(&caller.user_id);
    if !is_self {
        policy::reset_password(&caller.caller())?;
        let user = match &target {
            Some(id) => ctx.store.get_user(id).await?,
            None => None,
        }
        .ok_or_else(ApiError::user_not_found)?;
        let event = set_password(
            &ctx.store,
            &ctx.passwords,
            &caller.user_id,
            &user,
            &change.new,
        )
        .await?;
        ctx.publisher.publish(&event).await;
        return Ok(());
    }
    let current = change.current.ok_or_else(|| {
        ApiError::invalid(
            "currentPassword",
            "currentPassword is required to change your own password.",
        )
    })?;
    let now = Timestamp::now();
    if let Some(e) = ApiError::refused_signin(
        ctx.store
            .reserve_signin_attempt(&caller.user_id, now)
            .await?,
    ) {
        return Err(e);
    }
    if !ctx.passwords.verify(&current, &caller.password_hash).await {
        // The reservation stays, now a failure.
        ctx.store
            .record_signin_failure(&caller.user_id, now)
            .await?;
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "currentPassword is not the password of this user.",
        ));
    }
    // The change clears the failures, this reservation with them; if it fails, the right
    // password gives its reservation back as a sign-in does.
    let changed = set_password(
        &ctx.store,
        &ctx.passwords,
        &caller.user_id,
        &caller,
        &change.new,
    )
    .await;
    match changed {
        Ok(event) => {
            ctx.publisher.publish(&event).await;
            Ok(())
        }
        Err(e) => {
            ctx.store
                .release_signin_attempt(&caller.user_id, now)
                .await?;
            Err(e)
        }
    }
}

/// Hashes and stores a new password for `user`, revoking their tokens and clearing their
/// failed sign-ins, with its `user.updated` event (also `crm admin set-password`, whose
/// event waits in the outbox for the sweep). Returns the event, for the caller to push.
pub async fn set_password(
    store: &Store,
    passwords: &PasswordHasher,
    actor: &UserId,
    user: &UserRecord,
    password: &Password,
) -> Result<Event, ApiError> {
    let hash = passwords.hash(password).await.map_err(ApiError::internal)?;
    let event = super::user_events::password_changed(actor.as_str(), user);
    let extra = store.event_writes(&event)?;
    if store
        .change_password(user, hash, Timestamp::now(), extra)
        .await?
    {
        Ok(event)
    } else {
        Err(ApiError::password_changed_concurrently())
    }
}

/// The operator's reset from the backend: by userId, no caller (so no token keys either).
pub async fn set_password_by_id(
    store: &Store,
    passwords: &PasswordHasher,
    id: &UserId,
    password: &Password,
) -> Result<(), ApiError> {
    let user = store
        .get_user(id)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    set_password(store, passwords, &UserId::system(), &user, password)
        .await
        .map(drop)
}

/// POST /auth/signout: every token of the caller stops working (all devices).
pub async fn signout(ctx: &Ctx, who: &Authed) -> Result<(), ApiError> {
    let caller = who.active(ctx.store.get_user(&who.id).await?)?;
    if !ctx.store.revoke_tokens(&caller.user_id).await? {
        // Deleted between the read and the write: as if it had been before.
        who.active(None)?;
    }
    Ok(())
}
