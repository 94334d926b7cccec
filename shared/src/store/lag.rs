//! A stand-in for a rule of DynamoDB that neither emulator has: a global secondary index is
//! eventually consistent. "Changes to the table data are propagated to the global secondary
//! indexes within a fraction of a second, under normal conditions" and a query of one may
//! return stale data (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Reads).
//! With a lag set (tests and benchmarks only), every index query is answered from a view of
//! that index up to `lag` old; table reads stay strongly consistent.

use super::backend::{Query, QueryPage};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct IndexLag {
    lag: Duration,
    /// The last real answer to each query, and when it was read.
    views: Mutex<Vec<(Query, Instant, QueryPage)>>,
}

impl IndexLag {
    pub fn new(lag: Duration) -> Self {
        Self {
            lag,
            views: Mutex::new(Vec::new()),
        }
    }

    /// The answer as of at most `lag` ago, if one is held.
    pub(super) fn view(&self, q: &Query) -> Option<QueryPage> {
        let views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views
            .iter()
            .find(|(vq, at, _)| vq == q && at.elapsed() < self.lag)
            .map(|(_, _, page)| page.clone())
    }

    pub(super) fn remember(&self, q: &Query, page: &QueryPage) {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views.retain(|(vq, _, _)| vq != q);
        views.push((q.clone(), Instant::now(), page.clone()));
    }
}
