//! Comments (SPEC §3 "Comments"): the conversation on a ticket, with internal notes only
//! staff write and see. A comment is one read round (caller and ticket) and one transition
//! (service/transition.rs); a reporter's public reply to a CLOSED ticket reopens it in that
//! same transaction (ticket, counts, history, comment, event).

use super::assign::reopen_assignment;
use super::attachments::{keep_uploads, read_uploads};
use super::idempotency::{Created, fingerprint, recorded, replay};
use super::tickets::caller_and_ticket;
use super::transition::{Transition, Tries};
use super::{Authed, Ctx};
use crate::ApiError;
use crate::attachments::AttachmentId;
use crate::error::ErrorCode;
use crate::model::{
    CommentBody, CommentSnapshot, IdempotencyKey, TicketId, TicketStatus, UserType, new_ulid,
};
use crate::policy;
use crate::store::{CommentRecord, Listing};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct NewComment {
    pub body: CommentBody,
    pub internal: bool,
    /// Uploads to link (SPEC §13): at most 10, no id twice.
    pub attachments: Vec<AttachmentId>,
}

/// POST /tickets/{ticketId}/comments: the comment as stored.
pub async fn add_comment(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    new: NewComment,
) -> Result<CommentSnapshot, ApiError> {
    add_comment_once(ctx, who, id, new, None)
        .await
        .map(Created::into_inner)
}

/// POST /tickets/{ticketId}/comments with an optional `Idempotency-Key` (SPEC §3): the
/// key's record is written in the comment's own transaction, and a retry replays the
/// original answer (another body under the key: 422), as for ticket creation. A reporter's
/// public reply to a CLOSED ticket reopens it in that transaction. A comment to a merged
/// ticket is added to the ticket it was merged into (SPEC §12).
pub async fn add_comment_once(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    new: NewComment,
    key: Option<&IdempotencyKey>,
) -> Result<Created<CommentSnapshot>, ApiError> {
    add_comment_kept(ctx, who, id, new, key, ctx.idempotency_ttl_seconds).await
}

/// `add_comment_once` with the key remembered `ttl` seconds (service/intake.rs).
pub(super) async fn add_comment_kept(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    new: NewComment,
    key: Option<&IdempotencyKey>,
    ttl: i64,
) -> Result<Created<CommentSnapshot>, ApiError> {
    let fingerprint = fingerprint(&json!({
        "ticketId": id.as_str(),
        "body": new.body.as_str(),
        "internal": new.internal,
        "attachments": new.attachments.iter().map(AttachmentId::as_str).collect::<Vec<_>>(),
    }));
    let w = ctx.writer();
    let mut tries = Tries::default();
    while tries.next().await.is_some() {
        let now = ctx.clock.now();
        // The uploads to link (their items and a HEAD of each file) are read beside the
        // caller, the ticket and the idempotency record: the same request depth.
        let ((caller, before), record, uploads) = tokio::try_join!(
            caller_and_ticket(ctx, who, id),
            async { Ok::<_, ApiError>(recorded(ctx, who, key).await?) },
            // Boxed: the comment's future stays the size it was without attachments.
            Box::pin(read_uploads(ctx, id, &new.attachments, now))
        )?;
        if let Some(r) = record {
            return replay(r, &fingerprint);
        }
        let before = merged_target(ctx, &caller, before).await?;
        policy::comment(&caller.caller(), new.internal)?;
        if before.ticket_id != *id && !new.attachments.is_empty() {
            // Files are uploaded to one ticket and shown by it: a comment redirected to the
            // merge's target cannot carry the source's uploads.
            return Err(ApiError::new(
                ErrorCode::TicketMerged,
                format!(
                    "This ticket was merged into {}; upload the files to that ticket and comment there.",
                    before.ticket_id.as_str()
                ),
            ));
        }
        let linked = uploads.into_links(&caller.user_id, id)?;
        let comment = CommentRecord {
            comment_id: new_ulid().to_string(),
            ticket_id: before.ticket_id.clone(),
            author: caller.user_id.clone(),
            body: new.body.clone(),
            internal: new.internal,
            created_at: now.rfc3339(),
            attachments: linked.iter().map(|a| a.reference()).collect(),
        };
        let mut after = before.clone();
        let mut bound = None;
        if policy::comment_reopens(
            &caller.user_id,
            &before.reporter,
            new.internal,
            before.status,
        ) {
            after.status = TicketStatus::Open;
            // Reopened while its assignee cannot work on it: assigned in the same write,
            // like a new ticket (SPEC §3 "Leaving").
            if let Some(re) = reopen_assignment(&ctx.store, ctx.engineer_capacity, &before).await? {
                after.assignee = re.assignee;
                bound = re.below;
            }
        }
        let snapshot = comment.snapshot();
        let links: Vec<_> = linked
            .iter()
            .map(|a| a.link_write(&comment.comment_id, new.internal, now))
            .collect();
        let mut t = Transition::comment(caller.user_id, comment, before, after)
            .at(now)
            .by(caller.user_type)
            .chosen_under(bound)
            .remembered(key, &fingerprint, ttl);
        Box::pin(keep_uploads(ctx, &linked, now)).await?;
        // Linked in the comment's own transaction, only while each is still unlinked.
        for link in links {
            t = t.checked(link);
        }
        if let Some(c) = tries.commit(t, &w).await? {
            c.publish(&w).await;
            return Ok(Created::New(snapshot));
        }
    }
    Err(ApiError::ticket_changed())
}

/// How many merges a comment follows to the ticket that took the conversation (a target
/// merged later into another is followed on).
const MERGE_HOPS: usize = 10;

/// SPEC §12: a comment to a merged ticket goes to the ticket it was merged into (as
/// Zendesk does), so a reply never reopens a merged ticket and the conversation stays in
/// one place; the caller must be concerned with that ticket too (the source's reporter and
/// followers became its followers). One more read per merge followed.
async fn merged_target(
    ctx: &Ctx,
    caller: &crate::store::UserRecord,
    mut ticket: crate::store::TicketRecord,
) -> Result<crate::store::TicketRecord, ApiError> {
    for _ in 0..MERGE_HOPS {
        let Some(into) = ticket.merged_into.clone() else {
            return Ok(ticket);
        };
        ticket = ctx
            .store
            .get_ticket(&into)
            .await?
            .ok_or_else(ApiError::ticket_not_found)?;
        policy::concerned(&caller.caller(), &ticket.parties())?;
    }
    match &ticket.merged_into {
        None => Ok(ticket),
        // A chain longer than any merge history makes: refused rather than written to (and
        // perhaps reopening) a merged ticket.
        Some(m) => Err(ApiError::new(
            ErrorCode::TicketMerged,
            format!("This ticket was merged into {m} and that one again; comment there."),
        )),
    }
}

/// GET /tickets/{ticketId}/comments: oldest first; a customer's page leaves internal notes
/// out. The first page is read beside the caller and the ticket, filtered by the token's
/// user type, and read again in the rare case the stored type sees otherwise.
pub async fn list_comments(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<CommentSnapshot>, ApiError> {
    let scope = format!("comments|{id}");
    let after = ctx.decode_cursor(next_token, &scope)?;
    let hinted = policy::sees_internal_notes(who.claims.user_type.unwrap_or(UserType::Customer));
    let ((caller, _), page) = tokio::try_join!(caller_and_ticket(ctx, who, id), async {
        Ok::<_, ApiError>(
            ctx.store
                .ticket_comments(id, hinted, after.clone(), limit)
                .await?,
        )
    })?;
    let sees = policy::sees_internal_notes(caller.user_type);
    let page = if sees == hinted {
        page
    } else {
        ctx.store.ticket_comments(id, sees, after, limit).await?
    };
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page.items.iter().map(CommentRecord::snapshot).collect(),
        next,
    })
}
