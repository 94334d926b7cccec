//! A backend other than DynamoDB, plugged into `Store`: the embedded one lives in crate
//! crm-embedded, so that no build of a Lambda function can link it.

use super::backend::{Item, Key, Query, QueryPage, StoreError, Write};
use super::feed::FeedClock;

/// A boxed future, as a backend behind `dyn ItemBackend` returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A backend other than DynamoDB, plugged into `Store` (the embedded one, crate crm-embedded):
/// the same item-level operations with the same semantics (conditions checked against the
/// state before the transaction, each item once per transaction, queries in key order).
pub trait ItemBackend: Send + Sync + 'static {
    /// The backend's name in logs and `/health` ("embedded").
    fn name(&self) -> &'static str;
    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Item>, StoreError>>;
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<QueryPage, StoreError>>;
    /// Commits `writes`, stamping their change feed items with `clock` at the last moment
    /// before the commit and refusing to commit once the clock's budget is spent (feed.rs).
    fn transact<'a>(
        &'a self,
        writes: Vec<Write>,
        clock: &'a FeedClock,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The backend itself, for its own operations (`Store::plugged_as`).
    fn as_any(&self) -> &dyn std::any::Any;
}
