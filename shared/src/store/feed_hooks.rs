//! Test hooks on the change feed's commit path, compiled only with the `test-hooks` feature
//! (which only the tests enable: no Lambda and no release build of `crm` has them): a writer
//! made slow between taking its stamp and committing (the slow transaction the feed's
//! ordering argument is about), and a writer's clock moved, to write events as of another
//! time (retention).

use super::Store;
use crate::model::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub(super) struct Hooks {
    delay: Option<Duration>,
    offset_ms: i64,
}

impl Hooks {
    pub(super) fn now(&self) -> Timestamp {
        Timestamp::from_millis(Timestamp::now().millis().saturating_add(self.offset_ms))
    }

    pub(super) fn commit_delay(&self) -> Option<Duration> {
        self.delay
    }
}

impl Store {
    /// From now on, every transaction that carries a feed item waits `delay` between its
    /// stamp and its commit (DynamoDB: before it is sent; SQLite: holding the write lock).
    pub fn with_commit_delay(mut self, delay: Duration) -> Self {
        self.feed.hooks.delay = Some(delay);
        self
    }

    /// From now on, this store's feed clock (stamps, the visible end, the retention) runs
    /// `offset_ms` from the real one.
    pub fn with_feed_clock_offset(mut self, offset_ms: i64) -> Self {
        self.feed.hooks.offset_ms = offset_ms;
        self
    }
}
