//! Reading tickets (SPEC §3): a caller's listing, planned onto the index partitions that hold
//! what they may see (so its cost follows their tickets, not the table), and a ticket's
//! history.

use super::tickets::caller_and_ticket;
use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::{Change, Priority, TicketId, TicketSnapshot, TicketStatus, UserId, UserType};
use crate::policy::{self, Caller};
use crate::store::{
    Listing, Source, TicketRecord, assignee_source, reporter_source, status_source,
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
    /// `slaBreached` (SPEC §10): `true`, tickets with a breach; `false`, tickets under a
    /// target with none (a ticket with no `sla` is neither).
    pub sla_breached: Option<bool>,
    /// `sort`: creation (the default) or `resolutionDueAt`.
    pub sort: TicketOrder,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TicketOrder {
    /// Oldest first.
    #[default]
    Created,
    /// `sort=resolutionDueAt`: soonest resolution due time first, tickets without one last
    /// (oldest first among them).
    ResolutionDueAt,
}

impl TicketOrder {
    /// The `sort` query value (400 for another).
    pub fn parse(raw: &str) -> Result<Self, crate::model::Invalid> {
        match raw.trim() {
            "resolutionDueAt" => Ok(TicketOrder::ResolutionDueAt),
            _ => Err(crate::model::Invalid::new(
                "sort",
                "sort must be resolutionDueAt (the default order is by creation).",
            )),
        }
    }
}

impl TicketFilter {
    fn is_empty(&self) -> bool {
        TicketFilter {
            sort: TicketOrder::Created,
            ..self.clone()
        } == TicketFilter::default()
    }

    pub(super) fn matches(&self, t: &TicketRecord) -> bool {
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
            && self.sla_breached.is_none_or(|want| {
                t.sla
                    .as_ref()
                    .is_some_and(|s| s.under_target() && s.breached() == want)
            })
    }

    /// A stable description, so a nextToken is only valid for the listing it came from.
    fn scope(&self, caller: &UserId) -> String {
        let mut scope = format!(
            "tickets|{caller}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.status, self.reporter, self.assignee, self.priority, self.title, self.description
        );
        // Only when set, so tokens of listings without them stay valid.
        if self.sla_breached.is_some() || self.sort != TicketOrder::Created {
            scope.push_str(&format!("|{:?}|{:?}", self.sla_breached, self.sort));
        }
        scope
    }
}

/// The index partitions that hold every ticket this caller may see that could match, and
/// the filters the partitions do not already imply. None: nothing can match.
pub(super) fn plan(caller: &Caller, f: &TicketFilter) -> Option<(Vec<Source>, TicketFilter)> {
    let me = &caller.id;
    let mut rest = f.clone();
    let sources = match caller.user_type {
        UserType::Customer => {
            if f.reporter.as_ref().is_some_and(|r| r != me) {
                return None;
            }
            rest.reporter = None;
            vec![reporter_source(me)]
        }
        UserType::Engineer => {
            let by_me = f.reporter.as_ref().map(|r| r == me);
            let to_me = f.assignee.as_ref().map(|a| a.as_ref() == Some(me));
            match (by_me, to_me) {
                (Some(false), Some(false)) => return None,
                (Some(true), _) => {
                    rest.reporter = None;
                    vec![reporter_source(me)]
                }
                (_, Some(true)) => {
                    rest.assignee = None;
                    vec![assignee_source(Some(me))]
                }
                (Some(false), None) => vec![assignee_source(Some(me))],
                (None, Some(false)) => vec![reporter_source(me)],
                (None, None) => vec![reporter_source(me), assignee_source(Some(me))],
            }
        }
        UserType::Admin => {
            if let Some(r) = &f.reporter {
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
    Some((sources, rest))
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
    if filter.sort == TicketOrder::ResolutionDueAt {
        let caller = who.active(ctx.store.get_user(&who.id).await?)?.caller();
        let page =
            super::sla_listing::by_resolution_due(ctx, &caller, &filter, after, limit).await?;
        let next = ctx.encode_cursor(page.next.clone(), &scope)?;
        return Ok(Listing {
            items: page.items.iter().map(TicketRecord::snapshot).collect(),
            next,
        });
    }
    let hinted = Caller {
        id: who.id.clone(),
        user_type: who.claims.user_type.unwrap_or(UserType::Customer),
        status: crate::model::UserStatus::Approved,
    };
    let read = |caller: Caller| {
        let filter = filter.clone();
        let after = after.clone();
        async move {
            let Some((sources, rest)) = plan(&caller, &filter) else {
                return Ok(Listing::default());
            };
            let keep = move |t: &TicketRecord| {
                rest.matches(t)
                    && policy::concerned(&caller, &t.reporter, t.assignee.as_ref()).is_ok()
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
