//! One raw message through the mail channel (SPEC §9), the same code on both paths (the
//! intake function reading SES's stored message, `crm serve --smtp-port`): read it, drop it
//! silently when it is automatic, our own, forged, a stranger's or unreadable (one log line,
//! no content), else a ticket or a comment through crm-shared's use cases.

use crate::parse::{Inbound, parse};
use crate::quote::new_text;
use crate::{AuthResults, Verdict};
use crm_shared::ApiError;
use crm_shared::mail::{Recipient, ReplyAddresses};
use crm_shared::model::{Email, TicketId};
use crm_shared::service::Ctx;
use crm_shared::service::intake::{is_permanent, mail_comment, mail_ticket, sender};

/// Where a message came from, which says what its sender's address is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// SES receiving: the sender counts only with SES's verdicts (SPF or DKIM `pass`, DMARC
    /// `pass` where the domain publishes a policy).
    Ses,
    /// The local SMTP listener on 127.0.0.1: no verdicts, the machine's own users.
    Local,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Ticket {
        ticket_id: String,
        replayed: bool,
    },
    Comment {
        ticket_id: String,
        comment_id: String,
        replayed: bool,
    },
    /// Dropped without a word to the sender (no backscatter); the reason is logged.
    Dropped(String),
}

/// Whether SES's verdicts let the `From` address count (SPEC §9).
pub fn verdicts_pass(auth: Option<&AuthResults>) -> bool {
    let Some(a) = auth else { return false };
    let authenticated = a.spf == Some(Verdict::Pass) || a.dkim == Some(Verdict::Pass);
    // DMARC `none` (or not reported): the domain publishes no policy to meet.
    let dmarc = matches!(a.dmarc, None | Some(Verdict::Pass) | Some(Verdict::None));
    authenticated && dmarc
}

/// What the message is addressed to: a verified reply address wins, a forged one refuses
/// the whole message, else the plain address; `None` when none is the channel's.
fn target(
    replies: &ReplyAddresses,
    inbound: &Inbound,
    envelope: &[String],
) -> Result<Option<Recipient>, &'static str> {
    let mut plain = false;
    let mut reply = None;
    for r in envelope.iter().chain(&inbound.recipients) {
        match replies.classify(r) {
            Recipient::Forged => return Err("reply token does not verify"),
            Recipient::Reply(t) => match &reply {
                Some(Recipient::Reply(other)) if *other != t => {
                    return Err("reply addresses of two tickets");
                }
                _ => reply = Some(Recipient::Reply(t)),
            },
            Recipient::Plain => plain = true,
            Recipient::Other => {}
        }
    }
    Ok(reply.or(plain.then_some(Recipient::Plain)))
}

fn dropped(message_id: &str, reason: impl Into<String>) -> Taken {
    let reason = reason.into();
    // The Message-ID is visible ASCII of at most 250 characters (parse.rs), or a hash.
    tracing::info!(message_id, reason = %reason, "mail in: dropped");
    Taken::Dropped(reason)
}

/// Takes one raw message addressed (by the envelope, SMTP's RCPT or SES's receipt) to
/// `envelope`. `Err` only for what may pass on a retry (the store unreachable, lost races):
/// the caller leaves the message to be delivered again.
pub async fn take(
    ctx: &Ctx,
    replies: &ReplyAddresses,
    raw: &[u8],
    envelope: &[String],
    source: Source,
) -> Result<Taken, ApiError> {
    let inbound = match parse(raw) {
        Ok(m) => m,
        Err(refusal) => return Ok(dropped("-", refusal.to_string())),
    };
    let id = inbound.message_id.as_str();
    if let Some(why) = inbound.automatic(replies.address()) {
        return Ok(dropped(id, why.to_string()));
    }
    let target = match target(replies, &inbound, envelope) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(dropped(id, "not addressed to the mail channel")),
        Err(why) => return Ok(dropped(id, why)),
    };
    if source == Source::Ses && !verdicts_pass(inbound.auth.as_ref()) {
        return Ok(dropped(id, "sender not authenticated (SPF/DKIM/DMARC)"));
    }
    let Some(email) = inbound.from.as_deref().and_then(|f| Email::parse(f).ok()) else {
        return Ok(dropped(id, "no sender address"));
    };
    let who = match sender(ctx, &email).await? {
        Ok(who) => who,
        Err(why) => return Ok(dropped(id, why.to_string())),
    };
    let outcome = match target {
        Recipient::Reply(ticket) => reply(ctx, &who, &ticket, &inbound).await,
        _ => mail_ticket(ctx, &who, inbound.subject.clone(), &inbound.body, id)
            .await
            .map(|c| {
                let replayed = matches!(c, crm_shared::service::Created::Replayed { .. });
                Taken::Ticket {
                    ticket_id: c.into_inner().id,
                    replayed,
                }
            }),
    };
    match outcome {
        Ok(Taken::Dropped(why)) => Ok(dropped(id, why)),
        Ok(t) => {
            tracing::info!(message_id = id, outcome = ?t, "mail in: taken");
            Ok(t)
        }
        Err(e) if is_permanent(&e) => Ok(dropped(id, format!("refused: {}", e.code.as_str()))),
        Err(e) => Err(e),
    }
}

async fn reply(
    ctx: &Ctx,
    who: &crm_shared::service::Authed,
    ticket: &TicketId,
    inbound: &Inbound,
) -> Result<Taken, ApiError> {
    let text = new_text(&inbound.body);
    if text.trim().is_empty() {
        return Ok(Taken::Dropped("no new text in the reply".into()));
    }
    let c = mail_comment(ctx, who, ticket, &text, &inbound.message_id).await?;
    let replayed = matches!(c, crm_shared::service::Created::Replayed { .. });
    let c = c.into_inner();
    Ok(Taken::Comment {
        ticket_id: c.ticket_id,
        comment_id: c.id,
        replayed,
    })
}
