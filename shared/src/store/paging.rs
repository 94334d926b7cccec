//! Ordered, paginated listing over one or more key ranges (index partitions) at once: a
//! k-way merge by sort key with duplicates removed, an optional predicate, and a cursor
//! ("continue after this sort key") that works for every source because they share one
//! ordering. An unfiltered page costs one round of concurrent queries.

use super::Store;
use super::backend::{Item, Query, Range, SortKey, StoreError};
use super::schema::Index;
use std::collections::VecDeque;

/// One key range: a partition of the table or of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub index: Index,
    pub pk: String,
    /// Restricts the source to sort keys with this prefix: the first page queries the
    /// prefix, later ones continue after the cursor and stop at the first key without it.
    pub prefix: Option<String>,
}

impl Source {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            prefix: None,
        }
    }
}

/// A page of items and the sort key to continue after, when more may follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }
}

impl Listing<Item> {
    /// The page's items as records.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(self) -> Result<Listing<T>, StoreError> {
        let items = self
            .items
            .into_iter()
            .map(super::from_item)
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Listing {
            items,
            next: self.next,
        })
    }
}

/// How a listing reads: `limit` items after `after`, keeping those `keep` accepts.
pub(crate) struct Spec<'a> {
    pub sources: Vec<Source>,
    pub after: Option<String>,
    pub limit: usize,
    pub keep: Option<&'a (dyn Fn(&Item) -> bool + Sync)>,
    /// At most this many rounds of queries before returning a short page with a cursor.
    pub max_rounds: usize,
}

struct Cursor {
    source: Source,
    buf: VecDeque<(String, Item)>,
    done: bool,
    last: Option<String>,
}

fn sort_key(index: Index, item: &Item) -> Result<String, StoreError> {
    let (_, sk) = index.key_attrs();
    item.get(sk)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Internal(format!("item without string sort key {sk}")))
}

impl Store {
    pub(crate) async fn list(&self, spec: Spec<'_>) -> Result<Listing<Item>, StoreError> {
        if spec.limit == 0 {
            return Ok(Listing::default());
        }
        let fetch = if spec.keep.is_some() {
            100
        } else {
            spec.limit.max(1)
        };
        let mut cursors: Vec<Cursor> = spec
            .sources
            .into_iter()
            .map(|source| Cursor {
                source,
                buf: VecDeque::new(),
                done: false,
                last: spec.after.clone(),
            })
            .collect();
        let mut out = Vec::new();
        let mut examined: Option<String> = None;
        let mut rounds = 0;
        loop {
            // Refill every source that may hold the next smallest key.
            let need: Vec<usize> = (0..cursors.len())
                .filter(|&i| cursors[i].buf.is_empty() && !cursors[i].done)
                .collect();
            if !need.is_empty() {
                if rounds == spec.max_rounds.max(1) {
                    // Out of budget: a short page, continuing where we stopped looking.
                    let next = examined.or(spec.after);
                    return Ok(Listing { items: out, next });
                }
                rounds += 1;
                let queries: Vec<Query> = need
                    .iter()
                    .map(|&i| {
                        let c = &cursors[i];
                        Query {
                            index: c.source.index,
                            pk: c.source.pk.clone(),
                            range: match (&c.last, &c.source.prefix) {
                                (Some(s), _) => Range::After(SortKey::S(s.clone())),
                                (None, Some(p)) => Range::Prefix(p.clone()),
                                (None, None) => Range::All,
                            },
                            limit: fetch,
                        }
                    })
                    .collect();
                let pages =
                    futures_util::future::try_join_all(queries.iter().map(|q| self.query(q)))
                        .await?;
                for (&i, page) in need.iter().zip(pages) {
                    let c = &mut cursors[i];
                    c.done = !page.more;
                    for item in page.items {
                        let sk = sort_key(c.source.index, &item)?;
                        // A later page reads "after the cursor": past the prefixed range
                        // come other items of the partition, and nothing of the source.
                        if c.source.prefix.as_ref().is_some_and(|p| !sk.starts_with(p)) {
                            c.done = true;
                            break;
                        }
                        c.last = Some(sk.clone());
                        c.buf.push_back((sk, item));
                    }
                }
                continue;
            }
            // Every live source has a head: take the smallest, dropping equal heads elsewhere.
            let Some(min) = cursors
                .iter()
                .filter_map(|c| c.buf.front().map(|(k, _)| k.clone()))
                .min()
            else {
                return Ok(Listing {
                    items: out,
                    next: None,
                });
            };
            let mut taken = None;
            for c in cursors.iter_mut() {
                if c.buf.front().is_some_and(|(k, _)| *k == min) {
                    let (_, item) = c
                        .buf
                        .pop_front()
                        .ok_or_else(|| StoreError::Internal("empty".into()))?;
                    taken.get_or_insert(item);
                }
            }
            examined = Some(min.clone());
            if let Some(item) = taken
                && spec.keep.is_none_or(|k| k(&item))
            {
                out.push(item);
                if out.len() == spec.limit {
                    // More follow if a source has unread items, or (without another read)
                    // if an already fetched item would be kept.
                    let unread = cursors.iter().any(|c| !c.done);
                    let buffered = cursors
                        .iter()
                        .any(|c| c.buf.iter().any(|(_, i)| spec.keep.is_none_or(|k| k(i))));
                    let more = unread || buffered;
                    return Ok(Listing {
                        items: out,
                        next: more.then_some(min),
                    });
                }
            }
        }
    }
}
