//! Followers (SPEC §11): users besides the reporter and the assignee whom a ticket
//! concerns. Adding or removing one is a ticket change like any other, one transition
//! (service/transition.rs): a history entry and a `ticket.updated` event with the
//! `followers` change, version + 1, and in the same transaction the follower's copy of the
//! ticket (store/copies.rs) written or deleted, so their access and listing follow at once.
//! It changes no count and no assignment.

use super::tickets::caller_and_ticket;
use super::transition::{Transition, Tries};
use super::{Authed, Ctx};
use crate::ApiError;
use crate::error::ErrorCode;
use crate::model::{TicketId, TicketSnapshot, UserId};
use crate::policy::{self, CannotFollow, MAX_FOLLOWERS};
use crate::store::approved_user_check;

/// The userId of a follower, from a body or a path (400 naming `userId` when malformed).
fn follower_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::invalid("userId", e.message))
}

fn cannot_follow(c: CannotFollow) -> ApiError {
    ApiError::invalid(
        "userId",
        match c {
            // One answer whether the user does not exist or is not approved.
            CannotFollow::NotAnApprovedUser => "userId must be the userId of an approved user.",
            CannotFollow::IsReporter => {
                "userId is the ticket's reporter, who is concerned with it already."
            }
            CannotFollow::IsAssignee => {
                "userId is the ticket's assignee, who is concerned with it already."
            }
        },
    )
}

/// POST /tickets/{ticketId}/followers `{"userId"}`: by the reporter or concerned staff; the
/// user must be APPROVED (still at commit), neither reporter nor assignee, and the ticket
/// below 20 followers. Adding a follower already there changes nothing. Returns the ticket.
pub async fn add_follower(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    user: &str,
) -> Result<TicketSnapshot, ApiError> {
    let target = follower_id(user)?;
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        // The caller, the ticket and the new follower, in one round.
        let ((caller, before), user) = tokio::try_join!(caller_and_ticket(ctx, who, id), async {
            Ok::<_, ApiError>(ctx.store.get_user(&target).await?)
        })?;
        let parties = before.parties();
        policy::add_follower(&caller.caller(), &parties)?;
        policy::may_follow(&target, user.map(|u| u.user_status), &parties)
            .map_err(cannot_follow)?;
        if parties.follows(&target) {
            return Ok(before.snapshot());
        }
        if before.followers.len() >= MAX_FOLLOWERS {
            return Err(ApiError::new(
                ErrorCode::FollowerLimit,
                "The ticket has 20 followers already.",
            ));
        }
        let mut after = before.clone();
        after.followers.push(target.clone());
        let t =
            Transition::update(caller.user_id, before, after).checked(approved_user_check(&target));
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            return Ok(c.ticket.snapshot());
        }
    }
    Err(ApiError::ticket_changed())
}

/// DELETE /tickets/{ticketId}/followers/{userId}: anyone concerned removes themself; the
/// reporter or concerned staff remove another (rights before whether they follow: 404
/// `FOLLOWER_NOT_FOUND` then). Returns the ticket.
pub async fn remove_follower(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    user: &str,
) -> Result<TicketSnapshot, ApiError> {
    let target = follower_id(user)?;
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        let (caller, before) = caller_and_ticket(ctx, who, id).await?;
        policy::remove_follower(&caller.caller(), &before.parties(), &target)?;
        if !before.parties().follows(&target) {
            return Err(ApiError::new(
                ErrorCode::FollowerNotFound,
                "userId is not a follower of this ticket.",
            ));
        }
        let mut after = before.clone();
        after.followers.retain(|f| f != &target);
        let t = Transition::update(caller.user_id, before, after);
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            return Ok(c.ticket.snapshot());
        }
    }
    Err(ApiError::ticket_changed())
}
