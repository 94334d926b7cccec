//! Reading tickets (SPEC §3): a caller's listing, planned onto the index partitions that hold
//! what they may see (so its cost follows their tickets, not the table), and a ticket's
//! history. SPEC §11 adds two kinds of partition, of ticket copies (store/copies.rs): the
//! tickets a user follows (one more partition of a customer's or engineer's listing), and
//! the tickets carrying a tag (an admin's listing by tag reads the first tag's shards).

use super::filter::{TicketFilter, TicketOrder, plan};
use super::tickets::caller_and_ticket;
use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::{Change, TicketId, TicketSnapshot, UserType};
use crate::policy::{self, Caller};
use crate::store::{Listing, TicketRecord};
use serde::Serialize;

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
