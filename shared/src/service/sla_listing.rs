//! `GET /tickets?sort=resolutionDueAt` (SPEC §10): soonest resolution due time first, then
//! the tickets without one, oldest first. One cursor for both parts: the key
//! `<due ms, 13 digits>#<ticket id>` of the last ticket of a page, or `~#<ticket id>` in the
//! second part (`~` sorts after every digit).
//!
//! Cost: a customer's or an engineer's listing (and an admin's filtered by reporter or
//! assignee) reads the partitions that hold their tickets, all of them, and orders them in
//! memory: in proportion to their tickets. An admin's other listings read the SLA order index
//! (gsi1 `SLAORDER#<shard>`, the order entries of tickets with a resolution due time, 8
//! shards merged) a page at a time and get each ticket of the page; once it is exhausted the
//! status partitions give the tickets without a due time (those with one skipped while
//! reading): in proportion to the page.

use super::Ctx;
use super::filter::{TicketFilter, plan};
use crate::policy::{self, Caller};
use crate::sla::ticket::NO_DUE;
use crate::store::{Listing, StoreError, TicketRecord, status_source};

/// The listing key of a ticket.
pub(super) fn key(t: &TicketRecord) -> String {
    crate::sla::TicketSla::order_key(
        t.sla.as_ref().and_then(|s| s.resolution_due_at),
        &t.ticket_id,
    )
}

fn second_part(cursor: &str) -> Option<&str> {
    cursor.strip_prefix(NO_DUE)?.strip_prefix('#')
}

pub(super) async fn by_resolution_due(
    ctx: &Ctx,
    caller: &Caller,
    filter: &TicketFilter,
    after: Option<String>,
    limit: usize,
) -> Result<Listing<TicketRecord>, StoreError> {
    let Some((sources, rest)) = plan(caller, filter) else {
        return Ok(Listing::default());
    };
    let admin_index = caller.user_type == crate::model::UserType::Admin
        && filter.reporter.is_none()
        && filter.assignee.is_none();
    let keep =
        |t: &TicketRecord| rest.matches(t) && policy::concerned(caller, &t.parties()).is_ok();
    if !admin_index {
        return in_memory(ctx, sources, &keep, after, limit).await;
    }
    let mut items = Vec::new();
    // The first part: the order index, a page of entries, then their tickets.
    if after.as_deref().is_none_or(|a| second_part(a).is_none()) {
        let page = ctx.store.sla_order_page(after.clone(), limit).await?;
        let tickets =
            futures_util::future::try_join_all(page.ids.iter().map(|id| ctx.store.get_ticket(id)))
                .await?;
        // An entry whose ticket moved on (its due time changed meanwhile) is listed where
        // its ticket's entry is now.
        items.extend(tickets.into_iter().flatten().filter(|t| {
            keep(t)
                && t.sla
                    .as_ref()
                    .is_some_and(|s| s.resolution_due_at.is_some())
        }));
        items.retain(|t| page.keys.contains(&key(t)));
        if let Some(next) = page.next {
            return Ok(Listing {
                items,
                next: Some(next),
            });
        }
    }
    // The second part: tickets without a resolution due time, oldest first.
    let left = limit.saturating_sub(items.len());
    if left == 0 {
        let next = items.last().map(key);
        return Ok(Listing { items, next });
    }
    let after_id = after.as_deref().and_then(second_part).map(str::to_owned);
    let no_due =
        |t: &TicketRecord| keep(t) && t.sla.as_ref().is_none_or(|s| s.resolution_due_at.is_none());
    let sources = match filter.status {
        Some(s) => vec![status_source(s)],
        None => crate::model::TicketStatus::ALL
            .iter()
            .map(|s| status_source(*s))
            .collect(),
    };
    let page = ctx
        .store
        .list_tickets_from(
            sources,
            Some(&no_due),
            after_id.filter(|a| !a.is_empty()),
            left,
        )
        .await?;
    items.extend(page.items);
    Ok(Listing {
        items,
        next: page.next.map(|id| format!("{NO_DUE}#{id}")),
    })
}

/// Every ticket of the partitions that `keep` accepts, ordered by key, a page after `after`.
async fn in_memory(
    ctx: &Ctx,
    sources: Vec<crate::store::Source>,
    keep: &(dyn Fn(&TicketRecord) -> bool + Sync),
    after: Option<String>,
    limit: usize,
) -> Result<Listing<TicketRecord>, StoreError> {
    let mut all: Vec<(String, TicketRecord)> = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let page = ctx
            .store
            .list_tickets_from(sources.clone(), Some(keep), from, 1000)
            .await?;
        all.extend(page.items.into_iter().map(|t| (key(&t), t)));
        match page.next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rest = all
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .peekable();
    let mut items = Vec::new();
    let mut last = None;
    while items.len() < limit {
        let Some((k, t)) = rest.next() else { break };
        last = Some(k);
        items.push(t);
    }
    let next = rest.peek().and(last);
    Ok(Listing { items, next })
}
