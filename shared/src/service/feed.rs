//! GET /events (SPEC §8): the change feed, for approved admins. The page comes from the store
//! (store/feed.rs: every event in commit order, never one skipped); its cursor is the feed
//! position it ends at, signed like every `nextToken` (`auth::CursorCodec`), so a tampered
//! or foreign cursor is a 400. A position older than the 30-day retention is a 410: the
//! events after it may be gone. Kept apart from the other use cases, with its handler in a
//! file of its own, so that both move together to the integrations function.

use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::{Event, EventType, Timestamp};
use crate::policy;
use crate::store::{FeedPage, FeedRefusal, FeedStart, Position};

/// What a cursor is signed for: the feed, whatever the filter (a cursor is a position,
/// valid with any `type` and any limit).
const SCOPE: &str = "events|v1";

/// A request for a page of the feed, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsQuery {
    /// `after`: a previous page's `nextCursor`, as sent.
    pub after: Option<String>,
    /// `since`: start at this time instead of the oldest event kept.
    pub since: Option<Timestamp>,
    /// 1–1000.
    pub limit: usize,
    /// `type`: only events of this type.
    pub event_type: Option<EventType>,
}

/// A page of the feed: its events (as the webhooks and the bus carry them) and the cursor of
/// the next page, on every page (an empty one too).
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    pub events: Vec<Event>,
    pub next_cursor: String,
}

/// Where a request starts, and whether that is older than the retention.
struct Start {
    from: Position,
    expired: Option<FeedRefusal>,
}

fn start(ctx: &Ctx, q: &EventsQuery) -> Result<Start, FeedRefusal> {
    let oldest = ctx.store.feed_clock().retention_start();
    let (from, what) = match (&q.after, q.since) {
        (Some(_), Some(_)) => return Err(FeedRefusal::AfterAndSince),
        (Some(cursor), None) => (decode(ctx, cursor)?, FeedStart::Cursor),
        (None, Some(t)) => (Position::at(t), FeedStart::Since),
        (None, None) => {
            return Ok(Start {
                from: oldest,
                expired: None,
            });
        }
    };
    let expired = (from < oldest).then_some(FeedRefusal::Expired(what));
    Ok(Start { from, expired })
}

fn decode(ctx: &Ctx, cursor: &str) -> Result<Position, FeedRefusal> {
    ctx.cursors
        .decode(cursor, SCOPE)
        .as_deref()
        .and_then(Position::parse)
        .ok_or(FeedRefusal::NotACursor)
}

/// GET /events: a page of the feed. The first read goes out beside the caller check when the
/// token says admin (one round trip), else after it.
pub async fn events(ctx: &Ctx, who: &Authed, q: EventsQuery) -> Result<EventsPage, ApiError> {
    let Start { from, expired } = start(ctx, &q)?;
    let is_expired = expired.is_some();
    let read = || async {
        match is_expired {
            true => Ok(None),
            false => ctx
                .store
                .feed_page(&from, q.limit, q.event_type)
                .await
                .map(Some),
        }
    };
    let (caller, page) = if who.hints_admin() {
        tokio::try_join!(ctx.store.get_user(&who.id), read())?
    } else {
        (ctx.store.get_user(&who.id).await?, None)
    };
    let caller = who.active(caller)?;
    policy::read_events(&caller.caller())?;
    if let Some(refusal) = expired {
        return Err(refusal.into());
    }
    let FeedPage { events, next } = match page {
        Some(p) => p,
        None => read()
            .await?
            .ok_or_else(|| ApiError::internal("no feed page"))?,
    };
    let next_cursor = ctx
        .cursors
        .encode(next.as_str(), SCOPE)
        .map_err(ApiError::internal)?;
    Ok(EventsPage {
        events,
        next_cursor,
    })
}
