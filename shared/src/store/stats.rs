//! Counts the store's round trips per operation, and how many of them had to wait for
//! another (the sequential depth), for tests and benchmarks. Off unless enabled.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Get,
    Query,
    Write,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    kind: CallKind,
    start: u64,
    end: u64,
    /// Items returned (reads) or written (writes).
    items: usize,
}

#[derive(Debug, Default)]
pub struct Stats {
    clock: AtomicU64,
    calls: Mutex<Vec<Call>>,
}

/// What a stretch of work cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub gets: usize,
    pub queries: usize,
    pub writes: usize,
    /// Longest chain of calls each started after the previous one finished.
    pub depth: usize,
}

/// A `Cost` and how many items the calls moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cost: Cost,
    /// Items returned by gets and queries.
    pub items_read: usize,
    /// Items put, updated, deleted or checked by writes.
    pub items_written: usize,
}

impl Cost {
    pub fn reads(&self) -> usize {
        self.gets + self.queries
    }

    pub fn total(&self) -> usize {
        self.gets + self.queries + self.writes
    }
}

impl Stats {
    pub(crate) fn start(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn finish(&self, kind: CallKind, start: u64, items: usize) {
        let end = self.clock.fetch_add(1, Ordering::SeqCst);
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Call {
                kind,
                start,
                end,
                items,
            });
    }

    /// The cost of everything since the last `take`, and a fresh start.
    pub fn take(&self) -> Cost {
        self.take_usage().cost
    }

    /// The cost and item counts of everything since the last `take`, and a fresh start.
    pub fn take_usage(&self) -> Usage {
        let mut calls = std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()));
        calls.sort_by_key(|c| c.start);
        let mut depth = vec![0usize; calls.len()];
        for i in 0..calls.len() {
            let before = (0..i)
                .filter(|&j| calls[j].end < calls[i].start)
                .map(|j| depth[j])
                .max()
                .unwrap_or(0);
            depth[i] = before + 1;
        }
        let count = |k| calls.iter().filter(|c| c.kind == k).count();
        let items = |w: bool| {
            calls
                .iter()
                .filter(|c| (c.kind == CallKind::Write) == w)
                .map(|c| c.items)
                .sum()
        };
        Usage {
            cost: Cost {
                gets: count(CallKind::Get),
                queries: count(CallKind::Query),
                writes: count(CallKind::Write),
                depth: depth.into_iter().max().unwrap_or(0),
            },
            items_read: items(false),
            items_written: items(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_share_a_level_and_chained_calls_add_one() {
        let s = Stats::default();
        let a = s.start();
        let b = s.start();
        s.finish(CallKind::Get, a, 1);
        s.finish(CallKind::Query, b, 7);
        let c = s.start();
        s.finish(CallKind::Write, c, 3);
        assert_eq!(
            s.take_usage(),
            Usage {
                cost: Cost {
                    gets: 1,
                    queries: 1,
                    writes: 1,
                    depth: 2
                },
                items_read: 8,
                items_written: 3,
            }
        );
        assert_eq!(s.take(), Cost::default());
    }
}
