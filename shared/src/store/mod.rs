//! The single-table model, written once over the item-level `backend` interface, and the
//! backends behind it: DynamoDB in the cloud; on one machine SQLite, which lives in its own
//! crate (crm-embedded) and plugs in through `ItemBackend`, so that no build of a Lambda
//! function can link it.

mod attachments;
mod backend;
mod comments;
mod copies;
mod dynamo;
pub mod feed;
#[cfg(feature = "test-hooks")]
mod feed_hooks;
mod idempotency;
mod jobs;
pub mod keys;
#[cfg(feature = "test-hooks")]
mod lag;
mod outbox;
mod paging;
mod plug;
mod ratings;
pub mod schema;
mod signin;
mod sla;
mod stats;
mod tickets;
mod users;
mod webhooks;
/// The webhook items' keys (for tools that read the table: the bench's cost floors).
pub mod webhooks_keys {
    pub use super::webhooks::{delivery_key, subscription_key};
}

pub use attachments::{ATTACHMENT_PENDING_SECONDS, AttachmentRecord};
pub use backend::{
    Cond, Item, Key, Query, QueryPage, Range, Refused, SortKey, StoreError, Tx, Write,
    apply_update, holds, key_of,
};
pub use comments::CommentRecord;
pub use copies::{MAX_COPY_WRITES, following_source, tag_sources};
pub use dynamo::DynamoBackend;
pub use feed::{FeedClock, FeedPage, FeedRefusal, FeedStart, Position};
pub use idempotency::{IDEMPOTENCY_TTL_SECONDS, IdempotencyRecord};
pub use jobs::JobEntry;
#[cfg(feature = "test-hooks")]
pub use lag::IndexLag;
pub use outbox::{Claim, Delivery, DeliveryState, MARKER_TTL_SECONDS, Mailed, OutboxEntry};
pub use paging::Listing;
pub use paging::Source;
pub use plug::{BoxFuture, ItemBackend};
pub use ratings::{RATINGS, RatingEntry};
pub use signin::{Attempt, SigninFailures};
pub use sla::{SlaPolicyRecord, SlaWriteError};
pub use stats::{Cost, Stats, Usage};
pub use tickets::{
    HistoryEntry, TicketChange, TicketRecord, TicketWriteError, assignee_source, reporter_source,
    status_source,
};
pub use users::{CreateUserError, UpdateUserError, UserFilter, UserRecord, approved_user_check};
pub use webhooks::{
    CreateSubscriptionError, DELIVERY_TTL_SECONDS, DeliveryRecord, DeliveryStatus,
    MAX_SUBSCRIPTIONS, SecretText, SubscriptionRecord, Written,
};

use stats::CallKind;
use std::sync::Arc;

#[derive(Clone)]
enum Backend {
    Dynamo(DynamoBackend),
    Plugged(Arc<dyn ItemBackend>),
}

/// The store: the model's operations over one backend. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    stats: Option<Arc<Stats>>,
    #[cfg(feature = "test-hooks")]
    hooks: Hooks,
    /// The change feed's horizon, and what it asks of a commit that carries a feed item.
    feed: FeedClock,
}

/// Test fault injection, compiled only with the `test-hooks` feature (the tests and the bench
/// turn it on; the functions and `crm` do not).
#[cfg(feature = "test-hooks")]
#[derive(Clone, Default)]
struct Hooks {
    /// Index queries answered from a lagging view (tests: DynamoDB's GSIs lag, emulators not).
    lag: Option<Arc<IndexLag>>,
    /// Transactions still to be answered "unavailable" after they committed (tests: a
    /// timeout that hides a commit, as a real network can).
    lost_answers: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Store {
    fn over(backend: Backend) -> Self {
        Self {
            backend,
            stats: None,
            #[cfg(feature = "test-hooks")]
            hooks: Hooks::default(),
            feed: FeedClock::default(),
        }
    }

    pub fn dynamo(b: DynamoBackend) -> Self {
        Self::over(Backend::Dynamo(b))
    }

    /// The store over another backend (the embedded one: `crm_embedded::SqliteBackend`).
    pub fn plugged(b: impl ItemBackend) -> Self {
        Self::over(Backend::Plugged(Arc::new(b)))
    }

    /// Counts every round trip from now on (tests and benchmarks).
    pub fn with_stats(mut self) -> (Self, Arc<Stats>) {
        let s = Arc::new(Stats::default());
        self.stats = Some(s.clone());
        (self, s)
    }

    /// Answers index queries from a view up to `lag` old from now on, as DynamoDB's
    /// eventually consistent GSIs may (tests and benchmarks; see lag.rs).
    #[cfg(feature = "test-hooks")]
    pub fn with_index_lag(mut self, lag: std::time::Duration) -> Self {
        self.hooks.lag = Some(Arc::new(IndexLag::new(lag)));
        self
    }

    /// From now on, the next `n` transactions of more than one write commit and then report
    /// `Unavailable`, as a timeout after the commit would (tests). The counter says how many
    /// are still to come.
    #[cfg(feature = "test-hooks")]
    pub fn with_lost_answers(mut self, n: usize) -> (Self, Arc<std::sync::atomic::AtomicUsize>) {
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(n));
        self.hooks.lost_answers = Some(left.clone());
        (self, left)
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Dynamo(_) => "dynamodb",
            Backend::Plugged(b) => b.name(),
        }
    }

    /// The plugged backend, when it is a `B` (the embedded store's checkpoint and purge).
    pub fn plugged_as<B: ItemBackend>(&self) -> Option<&B> {
        match &self.backend {
            Backend::Plugged(b) => b.as_any().downcast_ref(),
            Backend::Dynamo(_) => None,
        }
    }

    /// Counts a call when stats are on. The start is taken when the call is made, not when
    /// its future is first polled, and the finish only after yielding once, so calls joined
    /// together count as concurrent even when one finishes within its first poll.
    fn timed<'a, T: 'a>(
        &self,
        kind: CallKind,
        items: impl FnOnce(&T) -> usize + 'a,
        f: impl std::future::Future<Output = Result<T, StoreError>> + 'a,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + 'a {
        let probe = self.stats.clone().map(|s| {
            let start = s.start();
            (s, start)
        });
        async move {
            let out = f.await;
            if let Some((s, start)) = probe {
                // Let calls joined with this one start before it counts as finished (a fast
                // backend can finish within the first poll, before its siblings are polled).
                tokio::task::yield_now().await;
                s.finish(kind, start, out.as_ref().map(items).unwrap_or(0));
            }
            out
        }
    }

    /// A strongly consistent read: what every request that decides on an item uses.
    pub fn get<'a>(
        &'a self,
        key: &'a Key,
    ) -> impl std::future::Future<Output = Result<Option<Item>, StoreError>> + 'a {
        self.read(key, true)
    }

    /// As `get`, eventually consistent on DynamoDB (half the read units; may miss a write of
    /// the last second). Only for items whose staleness nothing depends on: who is mailed at
    /// send time (the embedded store has one consistency and reads as `get`).
    pub fn get_eventually<'a>(
        &'a self,
        key: &'a Key,
    ) -> impl std::future::Future<Output = Result<Option<Item>, StoreError>> + 'a {
        self.read(key, false)
    }

    fn read<'a>(
        &'a self,
        key: &'a Key,
        consistent: bool,
    ) -> impl std::future::Future<Output = Result<Option<Item>, StoreError>> + 'a {
        self.timed(
            CallKind::Get,
            |i: &Option<Item>| usize::from(i.is_some()),
            async move {
                match &self.backend {
                    Backend::Dynamo(b) => b.get_with(key, consistent).await,
                    Backend::Plugged(b) => b.get(key).await,
                }
            },
        )
    }

    pub fn query<'a>(
        &'a self,
        q: &'a Query,
    ) -> impl std::future::Future<Output = Result<QueryPage, StoreError>> + 'a {
        self.timed(CallKind::Query, |p: &QueryPage| p.items.len(), async move {
            #[cfg(feature = "test-hooks")]
            let lag = self
                .hooks
                .lag
                .as_ref()
                .filter(|_| q.index != schema::Index::Table);
            #[cfg(feature = "test-hooks")]
            if let Some(page) = lag.and_then(|l| l.view(q)) {
                return Ok(page);
            }
            let page = match &self.backend {
                Backend::Dynamo(b) => b.query(q).await,
                Backend::Plugged(b) => b.query(q).await,
            }?;
            #[cfg(feature = "test-hooks")]
            if let Some(l) = lag {
                l.remember(q, &page);
            }
            Ok(page)
        })
    }

    /// Commits `tx` as one transaction; failed conditions come back as the tags of the writes
    /// they guarded.
    pub async fn commit<T: Copy>(&self, tx: Tx<T>) -> Result<(), Refused<T>> {
        let (writes, tags) = tx.into_parts();
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed(failed)) => Err(Refused::Conditions(
                failed
                    .iter()
                    .filter_map(|i| tags.get(*i).copied())
                    .collect(),
            )),
            Err(e) => Err(Refused::Store(e)),
        }
    }

    pub fn transact(
        &self,
        writes: Vec<Write>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + '_ {
        let n = writes.len();
        self.timed(CallKind::Write, move |_: &()| n, async move {
            match &self.backend {
                Backend::Dynamo(b) => b.transact_with(writes, &self.feed).await,
                Backend::Plugged(b) => b.transact(writes, &self.feed).await,
            }?;
            #[cfg(feature = "test-hooks")]
            self.hooks.lose_answer(n)?;
            Ok(())
        })
    }
}

#[cfg(feature = "test-hooks")]
impl Hooks {
    /// Reports a committed transaction of more than one write as lost while any are left.
    fn lose_answer(&self, n: usize) -> Result<(), StoreError> {
        let lose = self.lost_answers.as_ref().is_some_and(|left| {
            n > 1
                && left
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |k| k.checked_sub(1),
                    )
                    .is_ok()
        });
        if lose {
            return Err(StoreError::Unavailable(
                "timed out after the commit (simulated)".into(),
            ));
        }
        Ok(())
    }
}

/// Serializes a record and adds its keys: the one way items are made from records.
pub(crate) fn to_item<T: serde::Serialize>(
    record: &T,
    keys: &[(&'static str, serde_json::Value)],
) -> Result<Item, StoreError> {
    let mut item = match serde_json::to_value(record) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(_) => return Err(StoreError::Internal("record is not an object".into())),
        Err(e) => return Err(StoreError::Internal(format!("encode record: {e}"))),
    };
    for (k, v) in keys {
        item.insert((*k).to_owned(), v.clone());
    }
    Ok(item)
}

pub(crate) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::Object(item))
        .map_err(|e| StoreError::Internal(format!("decode record: {e}")))
}
