//! Reading and changing users (SPEC §2), and creating admins from the backend.

use super::{Authed, Ctx, UserView};
use crate::ApiError;
use crate::auth::PasswordHasher;
use crate::error::ErrorCode;
use crate::model::{Email, Name, Password, SYSTEM_ACTOR, Timestamp, UserId, UserStatus, UserType};
use crate::policy;
use crate::retry;
use crate::store::{Listing, Store, UpdateUserError, UserFilter, UserRecord, keys};

/// The seed's default admin, created by `crm serve` on first start when no admin exists.
pub const DEFAULT_ADMIN: (&str, &str, &str, &str) =
    ("admin", "crmService@1", "john@email.com", "John Doe");

/// A parsed PUT /users/{userId} body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub name: Option<Name>,
    pub user_type: Option<UserType>,
    pub user_status: Option<UserStatus>,
    /// The email as the client sent it back: refused (400) when it differs from the user's.
    pub email: Option<Email>,
}

fn cursor_scope(f: &UserFilter) -> String {
    format!(
        "users|{}|{}",
        f.user_type.map(|t| t.as_str()).unwrap_or("-"),
        f.user_status.map(|s| s.as_str()).unwrap_or("-")
    )
}

/// GET /users: approved admins only; the caller check runs beside the listing query when the
/// token says admin.
pub async fn list_users(
    ctx: &Ctx,
    who: &Authed,
    filter: UserFilter,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<UserView>, ApiError> {
    let scope = cursor_scope(&filter);
    let after = ctx.decode_cursor(next_token, &scope)?;
    let (caller, page) = if who.hints_admin() {
        let (c, p) = tokio::try_join!(
            ctx.store.get_user(&who.id),
            ctx.store.list_users(filter, after.clone(), limit)
        )?;
        (c, Some(p))
    } else {
        (ctx.store.get_user(&who.id).await?, None)
    };
    let caller = who.active(caller)?;
    policy::list_users(&caller.caller())?;
    let page = match page {
        Some(p) => p,
        None => ctx.store.list_users(filter, after, limit).await?,
    };
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page.items.iter().map(UserView::from).collect(),
        next,
    })
}

/// Reads the caller and (when different, and worth it) the target in one round.
async fn caller_and_target(
    ctx: &Ctx,
    who: &Authed,
    target: &UserId,
) -> Result<(UserRecord, Option<UserRecord>), ApiError> {
    if &who.id == target {
        let me = who.active(ctx.store.get_user(&who.id).await?)?;
        return Ok((me.clone(), Some(me)));
    }
    if who.hints_admin() {
        let (c, t) = tokio::try_join!(ctx.store.get_user(&who.id), ctx.store.get_user(target))?;
        let c = who.active(c)?;
        policy::view_user(&c.caller(), target)?;
        return Ok((c, t));
    }
    let c = who.active(ctx.store.get_user(&who.id).await?)?;
    policy::view_user(&c.caller(), target)?;
    let t = ctx.store.get_user(target).await?;
    Ok((c, t))
}

/// The path's userId, taken exactly as sent. One that no user can have is answered like any
/// other unknown userId: 403 unless the caller is an approved admin (so the check still comes
/// before existence), 404 for an admin.
async fn target_id(ctx: &Ctx, who: &Authed, raw: &str) -> Result<UserId, ApiError> {
    match UserId::parse(raw) {
        Ok(id) if id.as_str() == raw => Ok(id),
        _ => {
            let caller = who.active(ctx.store.get_user(&who.id).await?)?;
            if caller.is_approved_admin() {
                Err(ApiError::user_not_found())
            } else {
                Err(policy::Denied::AdminOrSelf.into())
            }
        }
    }
}

/// GET /users/{userId}: admins, or the user themself; others get 403 before any lookup.
pub async fn get_user(ctx: &Ctx, who: &Authed, target: &str) -> Result<UserView, ApiError> {
    let target = target_id(ctx, who, target).await?;
    let (_, t) = caller_and_target(ctx, who, &target).await?;
    t.as_ref()
        .map(UserView::from)
        .ok_or_else(ApiError::user_not_found)
}

/// PUT /users/{userId}: name, userType, userStatus, with SPEC §2's rules. Retries on a
/// concurrent change of the same user (a ticket moving its count, another admin).
pub async fn update_user(
    ctx: &Ctx,
    who: &Authed,
    target: &str,
    change: UserUpdate,
) -> Result<UserView, ApiError> {
    let target = target_id(ctx, who, target).await?;
    let changes_status = change.user_status.is_some();
    for attempt in retry::attempts() {
        let (caller, t) = caller_and_target(ctx, who, &target).await?;
        policy::update_user(&caller.caller(), &target, changes_status)?;
        let before = t.ok_or_else(ApiError::user_not_found)?;
        if change.email.as_ref().is_some_and(|e| *e != before.email) {
            return Err(ApiError::invalid("email", "email cannot be changed."));
        }
        let (user_type, user_status) = policy::next_type_and_status(
            (before.user_type, before.user_status),
            change.user_type,
            change.user_status,
        );
        let name = change.name.clone().unwrap_or_else(|| before.name.clone());
        if name == before.name && user_type == before.user_type && user_status == before.user_status
        {
            return Ok(UserView::from(&before));
        }
        let now = Timestamp::now();
        let mut after = before.clone();
        after.name = name;
        after.user_type = user_type;
        after.user_status = user_status;
        after.updated_at = now.rfc3339();
        if after.is_assignable() && !before.is_assignable() {
            // Newly approved engineer: ranks after engineers approved before, at equal load.
            after.load_key = keys::load_key(after.tickets_working_on_count, now.millis());
        }
        // An engineer who arrives drains the backlog; one who leaves hands tickets on: the
        // job is committed with the change and runs after it (service/workload.rs).
        let job = super::workload::job_for_user_change(&before, &after, now);
        let event = super::user_events::updated(caller.user_id.as_str(), &before, &after);
        let mut extra = ctx.store.event_writes(&event)?;
        if let Some(j) = &job {
            extra.push(ctx.store.job_write(j, now)?);
        }
        match ctx.store.update_user_with(&before, after, extra).await {
            Ok(stored) => {
                ctx.publisher.publish(&event).await;
                if let Some(j) = &job {
                    ctx.jobs.publish(j).await;
                }
                return Ok(UserView::from(&stored));
            }
            Err(UpdateUserError::Conflict) => {
                retry::pause(attempt).await;
            }
            Err(UpdateUserError::LastAdmin) => {
                return Err(ApiError::new(
                    ErrorCode::LastAdmin,
                    "The last approved ADMIN cannot be demoted, set pending or rejected.",
                ));
            }
            Err(UpdateUserError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "The user was changed concurrently. Please retry.",
    ))
}

/// Creates an approved ADMIN directly in the store (never through the API).
pub async fn create_admin(
    store: &Store,
    passwords: &PasswordHasher,
    user_id: UserId,
    name: Name,
    email: Email,
    password: &Password,
) -> Result<UserRecord, ApiError> {
    super::auth::reserved(&user_id)?;
    let hash = passwords.hash(password).await.map_err(ApiError::internal)?;
    let user = UserRecord::new(
        user_id,
        name,
        email,
        UserType::Admin,
        UserStatus::Approved,
        hash,
        Timestamp::now(),
    );
    // Made from the backend: the event waits in the outbox for the sweep.
    let event = super::user_events::created(SYSTEM_ACTOR, &user);
    store
        .create_user_with(&user, store.event_writes(&event)?)
        .await?;
    Ok(user)
}

/// Creates the seed's default admin when no ADMIN exists at all (local server only).
/// Returns whether it was created.
pub async fn ensure_default_admin(ctx: &Ctx) -> Result<bool, ApiError> {
    if ctx.store.any_admin().await? {
        return Ok(false);
    }
    let (id, pw, email, name) = DEFAULT_ADMIN;
    let parsed = (
        UserId::parse(id),
        Name::parse(name),
        Email::parse(email),
        Password::parse(pw),
    );
    let (Ok(id), Ok(name), Ok(email), Ok(pw)) = parsed else {
        return Err(ApiError::internal("default admin does not validate"));
    };
    match create_admin(&ctx.store, &ctx.passwords, id, name, email, &pw).await {
        Ok(_) => Ok(true),
        // An "admin" user (or its email) exists but is not an approved admin: leave it to
        // the operator.
        Err(e) if matches!(e.code, ErrorCode::UserIdTaken | ErrorCode::EmailTaken) => Ok(false),
        Err(e) => Err(e),
    }
}
