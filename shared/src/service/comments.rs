//! Comments (SPEC §3 "Comments"): the conversation on a ticket, with internal notes only
//! staff write and see. A comment is one read round (caller and ticket) and one
//! transaction; a reporter's public reply to a CLOSED ticket reopens it in that same
//! transaction (ticket, counts, history, comment, event).

use super::tickets::{ATTEMPTS, caller_and_ticket, change, jitter};
use super::{Authed, Ctx, denied};
use crate::ApiError;
use crate::counters::count_deltas;
use crate::model::{
    CommentBody, CommentSnapshot, EVENT_SCHEMA_VERSION, EventType, TicketEvent, TicketId,
    TicketStatus, Timestamp, UserType, new_ulid,
};
use crate::policy;
use crate::store::{
    CommentRecord, CommentWriteError, HistoryEntry, Listing, TicketChange, TicketWriteError,
};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct NewComment {
    pub body: CommentBody,
    pub internal: bool,
}

/// POST /tickets/{ticketId}/comments: the comment as stored.
pub async fn add_comment(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    new: NewComment,
) -> Result<CommentSnapshot, ApiError> {
    let id = TicketId::parse(id)?;
    for attempt in 0..ATTEMPTS {
        let (caller, before) = caller_and_ticket(ctx, who, &id).await?;
        policy::comment(&caller.caller(), new.internal).map_err(denied)?;
        let now = Timestamp::now();
        let comment = CommentRecord {
            comment_id: new_ulid().to_string(),
            ticket_id: id.clone(),
            author: caller.user_id.clone(),
            body: new.body.clone(),
            internal: new.internal,
            created_at: now.rfc3339(),
        };
        let reopens = policy::comment_reopens(
            &caller.user_id,
            &before.reporter,
            new.internal,
            before.status,
        );
        let mut after = before.clone();
        let mut changes = Vec::new();
        if reopens {
            // The assignee stays whoever it is, approved engineer or not.
            changes.push(change(
                "status",
                json!(before.status.as_str()),
                json!(TicketStatus::Open.as_str()),
            ));
            after.status = TicketStatus::Open;
            after.version = before.version + 1;
            after.updated_at = now.rfc3339();
        }
        let ev = TicketEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            event_id: new_ulid().to_string(),
            event_type: EventType::CommentAdded,
            occurred_at: now.rfc3339(),
            actor: caller.user_id.as_str().to_owned(),
            ticket: after.snapshot(),
            changes: changes.clone(),
            previous_assignee: None,
            comment: Some(comment.snapshot()),
        };
        let retry = if reopens {
            let history = HistoryEntry {
                version: after.version,
                actor: caller.user_id.clone(),
                at: now.rfc3339(),
                changes,
            };
            let deltas = count_deltas(
                Some((before.status, before.assignee.as_ref())),
                (after.status, after.assignee.as_ref()),
            );
            match ctx
                .store
                .commit_ticket(TicketChange {
                    before: Some(&before),
                    after: &after,
                    deltas: &deltas,
                    assignee_check: None,
                    history: &history,
                    event: &ev,
                    extra: vec![comment.write()?],
                })
                .await
            {
                Ok(()) => false,
                Err(TicketWriteError::TicketChanged | TicketWriteError::AssigneeChanged) => true,
                Err(TicketWriteError::ExtraRefused(_)) => {
                    return Err(ApiError::internal("a new comment's key was taken"));
                }
                Err(TicketWriteError::Store(e)) => return Err(e.into()),
            }
        } else {
            match ctx.store.add_comment(&before, &comment, &ev).await {
                Ok(()) => false,
                Err(CommentWriteError::TicketChanged) => true,
                Err(CommentWriteError::Store(e)) => return Err(e.into()),
            }
        };
        if retry {
            tokio::time::sleep(jitter(attempt)).await;
            continue;
        }
        ctx.publisher.publish(&ev).await;
        return Ok(comment.snapshot());
    }
    Err(ApiError::conflict(
        "CONFLICT",
        "The ticket kept changing concurrently. Please retry.",
    ))
}

/// GET /tickets/{ticketId}/comments: oldest first; a customer's page leaves internal notes
/// out. The first page is read beside the caller and the ticket, filtered by the token's
/// user type, and read again in the rare case the stored type sees otherwise.
pub async fn list_comments(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<CommentSnapshot>, ApiError> {
    let id = TicketId::parse(id)?;
    let scope = format!("comments|{id}");
    let after = ctx.decode_cursor(next_token, &scope)?;
    let hinted = policy::sees_internal_notes(who.claims.user_type.unwrap_or(UserType::Customer));
    let ((caller, _), page) = tokio::try_join!(caller_and_ticket(ctx, who, &id), async {
        Ok::<_, ApiError>(
            ctx.store
                .ticket_comments(&id, hinted, after.clone(), limit)
                .await?,
        )
    })?;
    let sees = policy::sees_internal_notes(caller.user_type);
    let page = if sees == hinted {
        page
    } else {
        ctx.store.ticket_comments(&id, sees, after, limit).await?
    };
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page.items.iter().map(CommentRecord::snapshot).collect(),
        next,
    })
}
