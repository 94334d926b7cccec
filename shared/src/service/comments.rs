//! Comments (SPEC §3 "Comments"): the conversation on a ticket, with internal notes only
//! staff write and see. A comment is one read round (caller and ticket) and one
//! transaction; a reporter's public reply to a CLOSED ticket reopens it in that same
//! transaction (ticket, counts, history, comment, event).

use super::tickets::{
    Created, caller_and_ticket, change, fingerprint, opt_user, recorded, reopen_assignment, replay,
};
use super::{Authed, Ctx, denied};
use crate::ApiError;
use crate::counters::count_deltas;
use crate::model::{
    CommentBody, CommentSnapshot, EVENT_SCHEMA_VERSION, EventType, IdempotencyKey, TicketEvent,
    TicketId, TicketStatus, Timestamp, UserType, new_ulid,
};
use crate::policy;
use crate::retry;
use crate::store::{
    CommentRecord, CommentWriteError, HistoryEntry, IdempotencyRecord, Listing, TicketChange,
    TicketWriteError,
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
    add_comment_once(ctx, who, id, new, None)
        .await
        .map(Created::into_inner)
}

/// POST /tickets/{ticketId}/comments with an optional `Idempotency-Key` (SPEC §3): the
/// key's record is written in the comment's own transaction, and a retry replays the
/// original answer (another body under the key: 422), as for ticket creation.
pub async fn add_comment_once(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    new: NewComment,
    key: Option<&IdempotencyKey>,
) -> Result<Created<CommentSnapshot>, ApiError> {
    let id = TicketId::parse(id)?;
    let fingerprint = fingerprint(&json!({
        "ticketId": id.as_str(),
        "body": new.body.as_str(),
        "internal": new.internal,
    }));
    let seen = || recorded(ctx, who, key);
    for attempt in retry::attempts() {
        let ((caller, before), record) =
            tokio::try_join!(caller_and_ticket(ctx, who, &id), async {
                Ok::<_, ApiError>(seen().await?)
            })?;
        if let Some(r) = record {
            return replay(r, &fingerprint);
        }
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
        let mut bound = None;
        let mut previous_assignee = None;
        if reopens {
            changes.push(change(
                "status",
                json!(before.status.as_str()),
                json!(TicketStatus::Open.as_str()),
            ));
            after.status = TicketStatus::Open;
            after.version = before.version + 1;
            after.updated_at = now.rfc3339();
            // Reopened while its assignee cannot work on it: assigned in the same write,
            // like a new ticket (SPEC §3 "Leaving").
            if let Some(re) = reopen_assignment(ctx, &before).await? {
                changes.push(change(
                    "assignee",
                    opt_user(before.assignee.as_ref()),
                    opt_user(re.assignee.as_ref()),
                ));
                previous_assignee = before.assignee.clone();
                after.assignee = re.assignee;
                bound = re.below;
            }
        }
        let ev = TicketEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            event_id: new_ulid().to_string(),
            event_type: EventType::CommentAdded,
            occurred_at: now.rfc3339(),
            actor: caller.user_id.as_str().to_owned(),
            ticket: after.snapshot(),
            changes: changes.clone(),
            previous_assignee: previous_assignee.as_ref().map(|u| u.as_str().to_owned()),
            comment: Some(comment.snapshot()),
        };
        let mut idem = match key {
            Some(k) => vec![
                ctx.store.idempotency_write(
                    &caller.user_id,
                    k,
                    &IdempotencyRecord {
                        fingerprint: fingerprint.clone(),
                        location: format!("{}/tickets/{id}/comments", crate::http::BASE_PATH),
                        data: serde_json::to_value(comment.snapshot())
                            .map_err(|e| ApiError::internal(e.to_string()))?,
                        expires_at: IdempotencyRecord::expiry(now, ctx.idempotency_ttl_seconds),
                    },
                    now,
                )?,
            ],
            None => vec![],
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
                    assignee_check: (after.assignee != before.assignee)
                        .then_some(after.assignee.as_ref())
                        .flatten()
                        .map(|a| (a, bound)),
                    history: &history,
                    event: &ev,
                    extra: {
                        let mut extra = vec![comment.write()?];
                        extra.append(&mut idem);
                        extra
                    },
                })
                .await
            {
                Ok(()) => false,
                Err(TicketWriteError::TicketChanged | TicketWriteError::AssigneeChanged) => true,
                // The idempotency key was taken meanwhile (the comment's own key is new).
                Err(TicketWriteError::ExtraRefused(_)) => true,
                Err(TicketWriteError::Store(e)) => return Err(e.into()),
            }
        } else {
            match ctx.store.add_comment(&before, &comment, &ev, idem).await {
                Ok(()) => false,
                Err(CommentWriteError::TicketChanged | CommentWriteError::ExtraRefused) => true,
                Err(CommentWriteError::Store(e)) => return Err(e.into()),
            }
        };
        if retry {
            retry::pause(attempt).await;
            continue;
        }
        ctx.publisher.publish(&ev).await;
        return Ok(Created::New(comment.snapshot()));
    }
    Err(ApiError::ticket_changed())
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
