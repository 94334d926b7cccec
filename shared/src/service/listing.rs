//! Reading tickets (SPEC §3): a caller's listing, planned onto the index partitions that hold
//! what they may see (so its cost follows their tickets, not the table), and a ticket's
//! history. SPEC §11 adds two kinds of partition, of ticket copies (store/copies.rs): the
//! tickets a user follows (one more partition of a customer's or engineer's listing), and
//! the tickets carrying a tag (an admin's listing by tag reads the first tag's shards).

use super::tickets::caller_and_ticket;
use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::{
    Change, Priority, Tag, TicketId, TicketSnapshot, TicketStatus, UserId, UserType,
};
use crate::policy::{self, Caller};
use crate::store::{
    Listing, Source, TicketRecord, assignee_source, following_source, reporter_source,
    status_source, tag_sources,
};
use serde::Serialize;

/// Listing filters. `assignee: Some(None)` means unassigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub reporter: Option<UserId>,
    pub assignee: Option<Option<UserId>>,
    pub priority: Option<Priority>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// SPEC §11: tickets carrying every one of these tags.
    pub tags: Vec<Tag>,
    /// SPEC §11 (`following=true`): only the tickets the caller follows.
    pub following: bool,
}

impl TicketFilter {
    fn is_empty(&self) -> bool {
        *self == TicketFilter::default()
    }

    fn matches(&self, t: &TicketRecord) -> bool {
        let contains = |hay: &str, needle: &Option<String>| {
            needle
                .as_ref()
                .is_none_or(|n| hay.to_lowercase().contains(&n.to_lowercase()))
        };
        self.status.is_none_or(|s| t.status == s)
            && self.reporter.as_ref().is_none_or(|r| &t.reporter == r)
            && self.assignee.as_ref().is_none_or(|a| &t.assignee == a)
            && self.priority.is_none_or(|p| t.ticket_priority == p)
            && contains(t.title.as_str(), &self.title)
            && contains(t.description.as_str(), &self.description)
            && self.tags.iter().all(|tag| t.tags.contains(tag))
    }

    /// A stable description, so a nextToken is only valid for the listing it came from.
    fn scope(&self, caller: &UserId) -> String {
        let mut scope = format!(
            "tickets|{caller}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.status, self.reporter, self.assignee, self.priority, self.title, self.description
        );
        // Appended only when used, so the tokens of listings without them stay valid.
        if !self.tags.is_empty() || self.following {
            scope.push_str(&format!("|{:?}|{}", self.tags, self.following));
        }
        scope
    }
}

/// The index partitions that hold every ticket this caller may see that could match, and
/// the filters the partitions do not already imply.
///
/// A customer's or engineer's own partitions (reported, assigned, followed) each imply a
/// fact; one that a filter contradicts is left out, and one that a filter names alone
/// serves. Tags are then a filter on them: such a listing costs in proportion to the
/// caller's own tickets (SPEC §3), whatever the tag. An admin's listing by tag reads the
/// first tag's shards: in proportion to the tickets carrying it (SPEC §11).
fn plan(caller: &Caller, f: &TicketFilter) -> (Vec<Source>, TicketFilter) {
    let me = &caller.id;
    let mut rest = f.clone();
    if f.following {
        rest.following = false;
        return (vec![following_source(me)], rest);
    }
    let sources = match caller.user_type {
        UserType::Customer => match f.reporter.as_ref().map(|r| r == me) {
            Some(true) => {
                rest.reporter = None;
                vec![reporter_source(me)]
            }
            // Someone else's tickets: only those the customer follows can match.
            Some(false) => vec![following_source(me)],
            None => vec![reporter_source(me), following_source(me)],
        },
        UserType::Engineer => {
            let by_me = f.reporter.as_ref().map(|r| r == me);
            let to_me = f.assignee.as_ref().map(|a| a.as_ref() == Some(me));
            match (by_me, to_me) {
                (Some(false), Some(false)) => vec![following_source(me)],
                (Some(true), _) => {
                    rest.reporter = None;
                    vec![reporter_source(me)]
                }
                (_, Some(true)) => {
                    rest.assignee = None;
                    vec![assignee_source(Some(me))]
                }
                (Some(false), None) => {
                    vec![assignee_source(Some(me)), following_source(me)]
                }
                (None, Some(false)) => vec![reporter_source(me), following_source(me)],
                (None, None) => vec![
                    reporter_source(me),
                    assignee_source(Some(me)),
                    following_source(me),
                ],
            }
        }
        UserType::Admin => {
            if let Some(tag) = f.tags.first() {
                tag_sources(tag)
            } else if let Some(r) = &f.reporter {
                rest.reporter = None;
                vec![reporter_source(r)]
            } else if let Some(a) = &f.assignee {
                rest.assignee = None;
                vec![assignee_source(a.as_ref())]
            } else if let Some(s) = f.status {
                rest.status = None;
                vec![status_source(s)]
            } else {
                TicketStatus::ALL
                    .iter()
                    .map(|s| status_source(*s))
                    .collect()
            }
        }
    };
    (sources, rest)
}

/// GET /tickets: the caller's visible tickets matching the filters, oldest first. The read
/// is planned from the token's user type beside the caller check, and re-planned in the
/// rare case the type changed since the token was issued.
pub async fn list_tickets(
    ctx: &Ctx,
    who: &Authed,
    filter: TicketFilter,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<TicketSnapshot>, ApiError> {
    let scope = filter.scope(&who.id);
    let after = ctx.decode_cursor(next_token, &scope)?;
    let hinted = Caller {
        id: who.id.clone(),
        user_type: who.claims.user_type.unwrap_or(UserType::Customer),
        status: crate::model::UserStatus::Approved,
    };
    let read = |caller: Caller| {
        let filter = filter.clone();
        let after = after.clone();
        async move {
            let (sources, rest) = plan(&caller, &filter);
            let keep = move |t: &TicketRecord| {
                rest.matches(t) && policy::concerned(&caller, &t.parties()).is_ok()
            };
            let keep_ref: &(dyn Fn(&TicketRecord) -> bool + Sync) = &keep;
            ctx.store
                .list_tickets_from(
                    sources,
                    (!filter.is_empty()).then_some(keep_ref),
                    after,
                    limit,
                )
                .await
        }
    };
    let (caller, page) = tokio::try_join!(ctx.store.get_user(&who.id), read(hinted.clone()))?;
    let caller = who.active(caller)?.caller();
    let page = if caller.user_type == hinted.user_type {
        page
    } else {
        read(caller).await?
    };
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page.items.iter().map(TicketRecord::snapshot).collect(),
        next,
    })
}

/// One history entry as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryView {
    pub version: i64,
    pub actor: String,
    pub at: String,
    pub changes: Vec<Change>,
}

/// GET /tickets/{ticketId}/history: the first page is read beside the caller and ticket.
pub async fn ticket_history(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<HistoryView>, ApiError> {
    let scope = format!("history|{id}");
    let after = ctx.decode_cursor(next_token, &scope)?;
    let (_, page) = tokio::try_join!(caller_and_ticket(ctx, who, id), async {
        Ok::<_, ApiError>(ctx.store.ticket_history(id, after, limit).await?)
    })?;
    let next = ctx.encode_cursor(page.next.clone(), &scope)?;
    Ok(Listing {
        items: page
            .items
            .into_iter()
            .map(|h| HistoryView {
                version: h.version,
                actor: h.actor.as_str().to_owned(),
                at: h.at,
                changes: h.changes,
            })
            .collect(),
        next,
    })
}
