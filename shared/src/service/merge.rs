//! Merge (SPEC §12): `POST /tickets/{id}/merge {"into"}` makes a duplicate one ticket with
//! another, in ONE transaction (two transitions paired, service/transition.rs `with`):
//! - the source becomes CLOSED with `mergedInto`, and gets the public system comment
//!   "Merged into <target>" (its counts follow the invariant: an OPEN source's assignee −1);
//! - the target gets the public system comment "Merged from <source>: <title>" with the
//!   source's description, and the source's reporter and followers (those still APPROVED,
//!   other than the target's reporter and assignee) as followers, their copies with them.
//!
//! Each side has its history entry (actor: the caller) and events (`comment.created`, and
//! `ticket.updated` for what changed), both under their tickets' version checks: a merge
//! racing an update of either ticket loses or wins whole, and the loser retries.
//!
//! A merge cannot be undone. Afterwards a comment sent to the source is added to the target
//! (service/comments.rs), so a reply never reopens a merged ticket; the source's own
//! comments stay readable where they were.

use super::tickets::caller_and_ticket;
use super::transition::{Transition, Tries};
use super::{Authed, Ctx};
use crate::ApiError;
use crate::error::ErrorCode;
use crate::model::{
    CommentBody, TicketId, TicketSnapshot, TicketStatus, UserId, UserStatus, new_ulid,
};
use crate::policy::{self, MAX_FOLLOWERS};
use crate::store::{CommentRecord, TicketRecord};
use serde::Serialize;

/// The answer of a merge: both tickets as they now are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merged {
    pub source: TicketSnapshot,
    pub target: TicketSnapshot,
}

/// The system's public comment on `ticket`.
fn system_comment(ticket: &TicketId, body: String, at: &str) -> Result<CommentRecord, ApiError> {
    // Both bodies are built from text that passed the text rules (an id, a title, a
    // description): well within 10,000 characters.
    let body = CommentBody::parse(&body).map_err(|e| ApiError::internal(e.message))?;
    Ok(CommentRecord {
        comment_id: new_ulid().to_string(),
        ticket_id: ticket.clone(),
        author: UserId::system(),
        body,
        internal: false,
        created_at: at.to_owned(),
        attachments: Vec::new(),
    })
}

/// POST /tickets/{ticketId}/merge: `id` (the source) into `into` (the target).
pub async fn merge_ticket(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    into: &TicketId,
) -> Result<Merged, ApiError> {
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        // The caller and the source (visible to them) beside the target, in one round.
        let ((caller, source), target) =
            tokio::try_join!(caller_and_ticket(ctx, who, id), async {
                if id == into {
                    return Ok(None);
                }
                Ok::<_, ApiError>(ctx.store.get_ticket(into).await?)
            })?;
        // Into itself: the rights first (a caller who may not merge is told so), then 409.
        let target = match target {
            None if id == into => source.clone(),
            None => return Err(ApiError::ticket_not_found()),
            Some(t) => t,
        };
        policy::merge(&caller.caller(), &source.parties(), &target.parties())?;
        if id == into {
            return Err(ApiError::new(
                ErrorCode::MergeIntoItself,
                "A ticket cannot be merged into itself.",
            ));
        }
        if let Some(m) = &source.merged_into {
            return Err(ApiError::new(
                ErrorCode::TicketMerged,
                format!("This ticket was merged into {m} already."),
            ));
        }
        if target.merged_into.is_some() {
            return Err(ApiError::new(
                ErrorCode::TicketMerged,
                "The target ticket was merged into another; merge into that one.",
            ));
        }
        let carried = carried_followers(ctx, &source, &target).await?;
        if carried.len() > MAX_FOLLOWERS {
            return Err(ApiError::new(
                ErrorCode::FollowerLimit,
                format!(
                    "The target ticket would have {} followers; at most {MAX_FOLLOWERS}.",
                    carried.len()
                ),
            ));
        }
        let now = ctx.clock.now();
        let at = now.rfc3339();
        let mut source_after = source.clone();
        source_after.status = TicketStatus::Closed;
        source_after.merged_into = Some(target.ticket_id.clone());
        let mut target_after = target.clone();
        target_after.followers = carried;
        let source_note = system_comment(
            &source.ticket_id,
            format!("Merged into {}", target.ticket_id),
            &at,
        )?;
        let target_note = system_comment(
            &target.ticket_id,
            format!(
                "Merged from {}: {}\n\n{}",
                source.ticket_id,
                source.title.as_str(),
                source.description.as_str()
            ),
            &at,
        )?;
        let t = Transition::comment(caller.user_id.clone(), source_note, source, source_after)
            .at(now)
            .with(Transition::comment(caller.user_id, target_note, target, target_after).at(now));
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            let target = c
                .also
                .as_ref()
                .map(|o| o.ticket.snapshot())
                .ok_or_else(|| ApiError::internal("a merge committed without its target"))?;
            return Ok(Merged {
                source: c.ticket.snapshot(),
                target,
            });
        }
    }
    Err(ApiError::ticket_changed())
}

/// The target's followers after the merge: its own, then the source's reporter and
/// followers not concerned with it already, each still APPROVED (read in one round), in
/// that order.
async fn carried_followers(
    ctx: &Ctx,
    source: &TicketRecord,
    target: &TicketRecord,
) -> Result<Vec<UserId>, ApiError> {
    let parties = target.parties();
    let mut new: Vec<UserId> = Vec::new();
    for u in std::iter::once(&source.reporter).chain(&source.followers) {
        let concerned = u == parties.reporter || parties.assignee == Some(u) || parties.follows(u);
        if !concerned && !new.contains(u) {
            new.push(u.clone());
        }
    }
    let users =
        futures_util::future::try_join_all(new.iter().map(|u| ctx.store.get_user(u))).await?;
    let mut out = target.followers.clone();
    for (u, rec) in new.into_iter().zip(users) {
        if rec.is_some_and(|r| r.user_status == UserStatus::Approved) {
            out.push(u);
        }
    }
    Ok(out)
}
