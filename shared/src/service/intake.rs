//! Mail in and the intake commands (SPEC §9), the store side: who a mail's sender is, and a
//! mail or a command made a ticket or a comment through the same use cases as the API
//! (`create_ticket_once`, `add_comment_once`), so counts, the event, the feed, the SLA clock
//! and a reopening all ride along in the one transition.
//!
//! Once only: a mail's Message-ID (hashed) is the key of an idempotency record written in the
//! ticket's or comment's own transaction, kept `MAIL_ONCE_SECONDS`; the same message handled
//! again replays instead of writing twice. Reading and deciding on the raw message is
//! crate crm-intake's.

use super::comments::add_comment_kept;
use super::tickets::create_ticket_kept;
use super::{Authed, Created, Ctx, NewComment, NewTicket};
use crate::ApiError;
use crate::auth::Claims;
use crate::error::ErrorCode;
use crate::model::{
    CommentBody, CommentSnapshot, Description, Email, IdempotencyKey, Priority, TicketId,
    TicketSnapshot, Title, UserId, UserStatus,
};

/// How long a mail's Message-ID is remembered: as long as the inbound bucket keeps the raw
/// message (7 days, template.yaml), so no redelivery of a stored message outlives it.
pub const MAIL_ONCE_SECONDS: i64 = 7 * 24 * 3600;

/// The prefix of the idempotency keys mail takes, beside the `Idempotency-Key`s of the API.
const MAIL_KEY_PREFIX: &str = "mail:";

/// A user acting through the intake (a mail's sender, a command's reporter or author), as
/// the API's `Authed` for a token of their current generation: the use case then checks them
/// against the store as it checks any caller (APPROVED, concerned, allowed).
pub async fn acting_as(ctx: &Ctx, id: &UserId) -> Result<Authed, ApiError> {
    let user = ctx
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "No user has this userId."))?;
    Ok(authed(&user))
}

fn authed(user: &crate::store::UserRecord) -> Authed {
    Authed {
        id: user.user_id.clone(),
        claims: Claims {
            id: user.user_id.to_string(),
            sub: user.user_id.to_string(),
            iat: 0,
            exp: 0,
            user_type: Some(user.user_type),
            generation: user.token_generation,
        },
    }
}

/// Why a mail's sender does not count (SPEC §9 "Refused, silently").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SenderRefusal {
    #[error("sender is no user")]
    Unknown,
    #[error("sender is not approved")]
    NotApproved,
}

/// The APPROVED user whose address `email` is, or why there is none.
pub async fn sender(ctx: &Ctx, email: &Email) -> Result<Result<Authed, SenderRefusal>, ApiError> {
    let Some(id) = ctx.store.user_id_by_email(email).await? else {
        return Ok(Err(SenderRefusal::Unknown));
    };
    match ctx.store.get_user(&id).await? {
        // The sentinel outlived its user (a removal in progress): nobody.
        None => Ok(Err(SenderRefusal::Unknown)),
        Some(u) if u.email != *email => Ok(Err(SenderRefusal::Unknown)),
        Some(u) if u.user_status != UserStatus::Approved => Ok(Err(SenderRefusal::NotApproved)),
        Some(u) => Ok(Ok(authed(&u))),
    }
}

/// The idempotency key a message takes: its Message-ID hashed (any length, any characters in,
/// a valid key out).
pub fn mail_key(message_id: &str) -> IdempotencyKey {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(message_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match IdempotencyKey::parse(&format!("{MAIL_KEY_PREFIX}{hex}")) {
        Ok(k) => k,
        // 69 visible ASCII characters: always a valid key.
        Err(_) => unreachable!("a hex digest makes a valid idempotency key"),
    }
}

/// `s` cut to at most `max` characters, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A new mail to the plain address (SPEC §9): a ticket by `who`, titled `subject`, described
/// by `text` (cut to 5000 characters), priority 4, assigned as any new ticket.
pub async fn mail_ticket(
    ctx: &Ctx,
    who: &Authed,
    subject: Title,
    text: &str,
    message_id: &str,
) -> Result<Created<TicketSnapshot>, ApiError> {
    let new = NewTicket {
        title: subject,
        description: Description::parse(cut(text.trim(), 5000))?,
        priority: Some(Priority::LOW),
        tags: None,
    };
    create_ticket_kept(
        ctx,
        who,
        new,
        Some(&mail_key(message_id)),
        MAIL_ONCE_SECONDS,
    )
    .await
}

/// A reply to a ticket's reply address (SPEC §9): a public comment by `who` holding the new
/// text (cut to the comment limit); a reporter's reply to a CLOSED ticket reopens it, as any
/// such comment does.
pub async fn mail_comment(
    ctx: &Ctx,
    who: &Authed,
    ticket: &TicketId,
    text: &str,
    message_id: &str,
) -> Result<Created<CommentSnapshot>, ApiError> {
    let new = NewComment {
        body: CommentBody::parse(cut(text.trim(), CommentBody::MAX_CHARS))?,
        internal: false,
        attachments: Vec::new(),
    };
    add_comment_kept(
        ctx,
        who,
        ticket,
        new,
        Some(&mail_key(message_id)),
        MAIL_ONCE_SECONDS,
    )
    .await
}

/// Whether an intake failure can never succeed however often it is retried (SPEC §9: such a
/// command goes to the DLQ with its reason): a refusal of the request itself. A conflict
/// (lost races) or a store fault may pass on a retry.
pub fn is_permanent(e: &ApiError) -> bool {
    let s = e.status();
    (400..500).contains(&s) && s != 409 && s != 429
}
