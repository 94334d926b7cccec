//! The change feed (SPEC §8): every event, kept 30 days, read in commit order from a cursor.
//!
//! Every event's transaction also writes its feed item (`outbox::event_writes`, so no event
//! can be written without one): partition `FEED#<nn>`, one of [`SHARDS`] chosen by a hash of
//! the event's ULID, sort key `<commit ms:013>#<ULID>`, the event JSON and a TTL. The backend
//! stamps the commit time into the key at the last moment before it commits (the DynamoDB
//! backend right before sending the transaction, the embedded one once it holds the write
//! lock), and a transaction that carries a feed item must commit within [`FeedClock::commit_budget`]
//! of that stamp or not at all. A page reads every shard from the cursor up to
//! `now − horizon` (strongly consistent queries of the table) and merges them. Why that never
//! skips an event: docs/events.md, "The change feed".

use super::Store;
use super::backend::{Cond, Item, Query, Range, SortKey, StoreError, Write};
use super::keys;
use super::schema::{Index, TABLE};
use crate::model::{Event, EventType, Timestamp};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The feed's partitions. Each takes 1/16 of the events (docs/data-model.md, "The change
/// feed"); a page queries all of them at once. May be raised (readers read every shard below
/// it) but never lowered while items remain in the higher shards (30 days).
pub const SHARDS: usize = 16;
/// How long a feed item is kept (SPEC §8): its TTL, and the oldest position a cursor may hold.
pub const RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// `CRM_FEED_HORIZON_SECONDS`' default: SPEC §8's 10 s.
pub const DEFAULT_HORIZON: Duration =
    Duration::from_secs(crate::config::DEFAULT_FEED_HORIZON_SECONDS);
/// A feed-carrying transaction's longest time from stamp to commit, whatever the horizon:
/// the SDK's operation timeout (shared/src/cloud.rs).
pub const MAX_COMMIT_BUDGET: Duration = Duration::from_secs(5);
/// At most this many rounds of concurrent shard queries per page.
pub const MAX_ROUNDS: usize = 8;
/// At most this many items read per page (a type filter that matches few events answers a
/// short page with a cursor rather than reading on).
pub const MAX_ITEMS_READ: usize = 2_000;
/// Items each shard is asked for per round when a type filter may drop most of them.
const FILTERED_FETCH: usize = 50;

/// The attribute holding the event, as the JSON the webhooks and the bus carry.
const EVENT: &str = "e";
/// A feed item's sort key before its stamp: never stored (both backends stamp every feed
/// item of a transaction before they write it).
const UNSTAMPED: &str = "?#";

/// The shard of an event: FNV-1a of its ULID, so one event always goes to the same shard and
/// the events spread evenly.
pub fn shard_of(ulid: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ulid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Both sides are small: the remainder is below SHARDS.
    (h % SHARDS as u64) as usize
}

/// The feed item of `e`, for the transaction of the change it records. Its sort key is
/// stamped at commit (`FeedClock::stamp`).
pub(super) fn feed_write(e: &Event) -> Result<Write, StoreError> {
    let json = serde_json::to_string(e).map_err(|x| StoreError::Internal(x.to_string()))?;
    let mut item = Item::new();
    item.insert(
        TABLE.pk.into(),
        Value::String(keys::feed_shard(shard_of(e.key_id()))),
    );
    item.insert(
        TABLE.sk.into(),
        Value::String(format!("{UNSTAMPED}{}", e.key_id())),
    );
    item.insert(EVENT.into(), Value::String(json));
    Ok(Write::Put {
        item,
        cond: Cond::NotExists,
    })
}

/// A point in the feed's order, everything at or before it served: `<ms:013>` (a time:
/// every item stamped before that millisecond) or `<ms:013>#<ULID>` (an item). String order
/// is feed order: `<t>` sorts below every `<t>#…` and above every earlier millisecond.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(String);

impl Position {
    /// Before every item stamped at `t` or later, after every earlier one.
    pub fn at(t: Timestamp) -> Self {
        Self(t.sort_key())
    }

    /// A position as `as_str` wrote it, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, id) = match s.split_once('#') {
            Some((ms, id)) => (ms, Some(id)),
            None => (s, None),
        };
        let digits = ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit());
        let id_ok = id.is_none_or(|id| {
            id.len() == 26
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        });
        (digits && id_ok).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The millisecond of the position.
    pub fn millis(&self) -> i64 {
        self.0.get(..13).and_then(|ms| ms.parse().ok()).unwrap_or(0)
    }

    /// The smallest sort key above the position: no key of the feed starts with the
    /// position and goes on with a character below `#` and the digits, so `…!` is above
    /// the position and below every key after it.
    fn first_after(&self) -> String {
        format!("{}!", self.0)
    }
}

/// Why a request for the feed cannot start where it asks (error/mapping.rs gives each its
/// answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedRefusal {
    /// Both `after` (a cursor) and `since` (a time) were given: 400.
    AfterAndSince,
    /// `after` is not a cursor of this feed (tampered, foreign, another listing's): 400.
    NotACursor,
    /// The start (`after`'s position, or `since`) is older than the retention: the events
    /// after it may be gone, 410.
    Expired(FeedStart),
}

/// Where a request for the feed said to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStart {
    Cursor,
    Since,
}

/// The feed's clock: the visibility horizon, and what it asks of a feed-carrying commit.
#[derive(Debug, Clone)]
pub struct FeedClock {
    horizon: Duration,
    #[cfg(feature = "test-hooks")]
    pub(super) hooks: super::feed_hooks::Hooks,
}

impl Default for FeedClock {
    fn default() -> Self {
        Self::new(DEFAULT_HORIZON)
    }
}

impl FeedClock {
    pub fn new(horizon: Duration) -> Self {
        Self {
            horizon,
            #[cfg(feature = "test-hooks")]
            hooks: Default::default(),
        }
    }

    /// How long after its commit an event may take to be served.
    pub fn horizon(&self) -> Duration {
        self.horizon
    }

    /// The longest a transaction carrying a feed item may take from its stamp to its commit:
    /// half the horizon (the other half is the clock skew the feed tolerates between any two
    /// instances), at most the SDK's operation timeout.
    pub fn commit_budget(&self) -> Duration {
        (self.horizon / 2).min(MAX_COMMIT_BUDGET)
    }

    fn now(&self) -> Timestamp {
        #[cfg(feature = "test-hooks")]
        {
            self.hooks.now()
        }
        #[cfg(not(feature = "test-hooks"))]
        {
            Timestamp::now()
        }
    }

    /// Stamps every feed item of `writes` with the time now: its sort key and its TTL.
    /// Returns when, if the transaction carries one (its commit budget runs from then).
    pub fn stamp(&self, writes: &mut [Write]) -> Option<Instant> {
        let mut stamped = None;
        let now = self.now();
        for w in writes.iter_mut() {
            let Write::Put { item, .. } = w else { continue };
            let Some(ulid) = item
                .get(TABLE.sk)
                .and_then(Value::as_str)
                .and_then(|sk| sk.strip_prefix(UNSTAMPED))
                .map(str::to_owned)
            else {
                continue;
            };
            item.insert(
                TABLE.sk.into(),
                Value::String(format!("{}#{ulid}", now.sort_key())),
            );
            item.insert(
                TABLE.ttl_attribute.into(),
                Value::from(now.seconds() + RETENTION_SECONDS),
            );
            stamped = Some(Instant::now());
        }
        stamped
    }

    /// What is left of the commit budget of a transaction stamped at `stamped`; None when
    /// it ran out (then it must not be sent or committed).
    pub fn left(&self, stamped: Instant) -> Option<Duration> {
        self.commit_budget()
            .checked_sub(stamped.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// The refusal of a transaction whose budget ran out before it could commit.
    pub fn too_late(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the transaction could not commit within {} ms of its change feed stamp",
            self.commit_budget().as_millis()
        ))
    }

    /// Between the stamp and the send (DynamoDB): nothing, except in tests that make a
    /// writer slow there.
    pub(super) async fn after_stamp(&self) {
        #[cfg(feature = "test-hooks")]
        if let Some(d) = self.hooks.commit_delay() {
            tokio::time::sleep(d).await;
        }
    }

    /// Between the stamp and the commit (SQLite, holding the write lock): as `after_stamp`.
    pub fn after_stamp_blocking(&self) {
        #[cfg(feature = "test-hooks")]
        if let Some(d) = self.hooks.commit_delay() {
            std::thread::sleep(d);
        }
    }

    /// The feed's visible end now: every event stamped before it has committed or never will.
    pub fn visible_end(&self) -> Position {
        Position::at(Timestamp::from_millis(
            self.now()
                .millis()
                .saturating_sub(duration_ms(self.horizon)),
        ))
    }

    /// The oldest position still retained now.
    pub fn retention_start(&self) -> Position {
        Position::at(self.now().plus_seconds(-RETENTION_SECONDS))
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A page of the feed: its events in order, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub events: Vec<Event>,
    pub next: Position,
}

/// One shard as a page reads it.
struct Shard {
    pk: String,
    /// Read, not yet examined.
    buf: VecDeque<(String, Item)>,
    /// Nothing more below the page's end.
    done: bool,
    /// The last sort key read (the next query starts after it).
    last: Position,
    /// Items to ask for in its next query.
    fetch: usize,
}

fn sort_key(item: &Item) -> Result<String, StoreError> {
    item.get(TABLE.sk)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Internal("feed item without a sort key".into()))
}

fn event_of(item: &Item) -> Result<Event, StoreError> {
    let json = item
        .get(EVENT)
        .and_then(Value::as_str)
        .ok_or_else(|| StoreError::Internal("feed item without its event".into()))?;
    serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("feed event: {e}")))
}

impl Store {
    /// The feed's clock (its horizon).
    pub fn feed_clock(&self) -> &FeedClock {
        &self.feed
    }

    /// The same store with this visibility horizon (`CRM_FEED_HORIZON_SECONDS`): readers
    /// serve events stamped before `now − horizon`, and writers commit a feed item within
    /// half of it or not at all. Every process of a deployment must use the same value.
    pub fn with_feed_horizon(mut self, horizon: Duration) -> Self {
        self.feed.horizon = horizon;
        self
    }

    /// Up to `limit` events after `from` (of type `only`, when given), oldest first, up to
    /// the visible end. The shards are read in rounds of concurrent queries: each shard
    /// first gives about its share of the page, and one whose items run out before the page
    /// is full is read again (asking twice as many each time; with a filter, with every shard
    /// running low). At most [`MAX_ROUNDS`] rounds
    /// and [`MAX_ITEMS_READ`] items: past that the page ends short, its cursor at the last
    /// item examined. `next` never passes the visible end.
    pub async fn feed_page(
        &self,
        from: &Position,
        limit: usize,
        only: Option<EventType>,
    ) -> Result<FeedPage, StoreError> {
        let end = self.feed.visible_end();
        if *from >= end || limit == 0 {
            return Ok(FeedPage {
                events: Vec::new(),
                next: from.clone(),
            });
        }
        let first_fetch = match only {
            Some(_) => FILTERED_FETCH,
            None => limit.div_ceil(SHARDS) + 2,
        };
        let mut shards: Vec<Shard> = (0..SHARDS)
            .map(|n| Shard {
                pk: keys::feed_shard(n),
                buf: VecDeque::new(),
                done: false,
                last: from.clone(),
                fetch: first_fetch,
            })
            .collect();
        let mut events = Vec::new();
        let mut examined: Option<Position> = None;
        let (mut rounds, mut read) = (0, 0);
        loop {
            let dry = (0..SHARDS).any(|i| shards[i].buf.is_empty() && !shards[i].done);
            // A filter examines the shards at about the same pace: when one runs dry the
            // others are close, so every shard running low is read in the same round.
            let low = |s: &Shard| match only {
                Some(_) => s.buf.len() < FILTERED_FETCH / 2,
                None => s.buf.is_empty(),
            };
            let need: Vec<usize> = match dry {
                true => (0..SHARDS)
                    .filter(|&i| !shards[i].done && low(&shards[i]))
                    .collect(),
                false => Vec::new(),
            };
            if !need.is_empty() {
                if rounds == MAX_ROUNDS || read >= MAX_ITEMS_READ {
                    return Ok(FeedPage {
                        events,
                        next: examined.unwrap_or_else(|| from.clone()),
                    });
                }
                rounds += 1;
                // The items left to read, split so that the round's queries together never
                // ask for more (a shard whose share is nothing waits for the next page).
                let left = MAX_ITEMS_READ - read;
                let n = need.len();
                let need: Vec<(usize, usize)> = need
                    .into_iter()
                    .enumerate()
                    .map(|(k, i)| (i, left / n + usize::from(k < left % n)))
                    .filter(|&(_, share)| share > 0)
                    .collect();
                let queries: Vec<Query> = need
                    .iter()
                    .map(|&(i, share)| {
                        let s = &shards[i];
                        let cap = match only {
                            Some(_) => share,
                            None => share.min(limit - events.len() + 1),
                        };
                        Query {
                            index: Index::Table,
                            pk: s.pk.clone(),
                            range: Range::Between(
                                SortKey::S(s.last.first_after()),
                                SortKey::S(end.as_str().to_owned()),
                            ),
                            limit: s.fetch.min(cap).max(1),
                        }
                    })
                    .collect();
                let pages =
                    futures_util::future::try_join_all(queries.iter().map(|q| self.query(q)))
                        .await?;
                for (&(i, _), page) in need.iter().zip(pages) {
                    let s = &mut shards[i];
                    s.done = !page.more;
                    s.fetch = s.fetch.saturating_mul(2);
                    read += page.items.len();
                    for item in page.items {
                        let sk = sort_key(&item)?;
                        s.last = Position(sk.clone());
                        s.buf.push_back((sk, item));
                    }
                }
                continue;
            }
            // Every shard that may hold more has a head: the smallest is the next event.
            let Some(i) = (0..SHARDS)
                .filter(|&i| !shards[i].buf.is_empty())
                .min_by(|&a, &b| shards[a].buf[0].0.cmp(&shards[b].buf[0].0))
            else {
                // Every shard is read to the visible end.
                return Ok(FeedPage { events, next: end });
            };
            let Some((sk, item)) = shards[i].buf.pop_front() else {
                continue;
            };
            examined = Some(Position(sk));
            let event = event_of(&item)?;
            if only.is_none_or(|t| t == event.event_type) {
                events.push(event);
                if events.len() == limit {
                    let exhausted = shards.iter().all(|s| s.done && s.buf.is_empty());
                    let next = match (exhausted, examined) {
                        (true, _) | (false, None) => end,
                        (false, Some(p)) => p,
                    };
                    return Ok(FeedPage { events, next });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventData;

    #[test]
    fn positions_order_like_the_feed() {
        let t = Timestamp::from_millis(1_700_000_000_000);
        let at = Position::at(t);
        let item = |ms: i64, id: &str| format!("{}#{id}", Timestamp::from_millis(ms).sort_key());
        let id = "01JD3Q0J5V6XG0Y7M4F8Z2K9QH";
        assert!(at.as_str() < item(t.millis(), id).as_str());
        assert!(at.as_str() > item(t.millis() - 1, id).as_str());
        let p = Position::parse(&item(t.millis(), id)).expect("an item's position");
        assert!(p.first_after().as_str() > p.as_str());
        assert!(p.first_after() < item(t.millis(), "01JD3Q0J5V6XG0Y7M4F8Z2K9QJ"));
        assert!(p.first_after() < item(t.millis() + 1, "00000000000000000000000000"));
        assert!(at.first_after() < item(t.millis(), "00000000000000000000000000"));
        assert_eq!(p.millis(), t.millis());
        assert_eq!(Position::parse(at.as_str()), Some(at));
        for bad in [
            "",
            "170000000000",
            "1700000000000#",
            "1700000000000#x",
            "x700000000000",
            "1700000000000#01JD3Q0J5V6XG0Y7M4F8Z2K9Q!",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shards_spread_events_evenly() {
        let mut counts = [0usize; SHARDS];
        for _ in 0..16_000 {
            counts[shard_of(&crate::model::new_ulid().to_string())] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
        assert_eq!(
            shard_of("01JD3Q0J5V6XG0Y7M4F8Z2K9QH"),
            shard_of("01JD3Q0J5V6XG0Y7M4F8Z2K9QH")
        );
    }

    #[test]
    fn a_feed_item_is_stamped_at_commit_with_its_ttl() {
        let e = Event::new(EventType::TicketCreated, "t".into(), EventData::default());
        let mut writes = vec![feed_write(&e).expect("feed item")];
        let Write::Put { item, cond } = &writes[0] else {
            panic!("a put")
        };
        assert_eq!(cond, &Cond::NotExists);
        assert!(
            item["sk"]
                .as_str()
                .is_some_and(|s| s.starts_with(UNSTAMPED))
        );
        assert!(
            !item.contains_key(TABLE.ttl_attribute),
            "no TTL before the stamp"
        );
        let before = Timestamp::now();
        let clock = FeedClock::default();
        assert!(clock.stamp(&mut writes).is_some());
        let Write::Put { item, .. } = &writes[0] else {
            panic!("a put")
        };
        let sk = item["sk"].as_str().expect("sk");
        let p = Position::parse(sk).expect("a stamped position");
        assert!(p.millis() >= before.millis());
        assert!(sk.ends_with(e.key_id()));
        assert_eq!(
            item["ttl"].as_i64(),
            Some(p.millis().div_euclid(1000) + RETENTION_SECONDS)
        );
        assert_eq!(event_of(item).expect("the event"), e);
        // Nothing else is stamped.
        let mut other = vec![Write::Put {
            item: serde_json::from_value(serde_json::json!({"pk": "A", "sk": "B"})).expect("item"),
            cond: Cond::Always,
        }];
        assert!(clock.stamp(&mut other).is_none());
    }

    #[test]
    fn the_commit_budget_is_half_the_horizon_at_most_the_sdk_timeout() {
        assert_eq!(FeedClock::default().commit_budget(), Duration::from_secs(5));
        assert_eq!(
            FeedClock::new(Duration::from_secs(2)).commit_budget(),
            Duration::from_secs(1)
        );
        assert_eq!(
            FeedClock::new(Duration::from_secs(60)).commit_budget(),
            MAX_COMMIT_BUDGET
        );
    }
}
