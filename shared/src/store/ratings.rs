//! The rating index (SPEC §12): one small item per rated ticket under a time-ordered key in
//! one partition, `RATINGS` / `<ratedAt ms:013>#<ticket ulid>`, written (and the replaced
//! rating's deleted) in the rating's own ticket transaction. `GET /reports/satisfaction`
//! reads the key range of its window and nothing else: its cost follows the ratings given
//! in the window, never the tickets or the ratings outside it. Ratings are rare (one per
//! closed ticket at most, from a person), so one partition takes their writes with room
//! to spare; the report reads it in pages of [`PAGE`].

use super::backend::{Cond, Item, Key, Query, Range, SortKey, StoreError, Write};
use super::schema::{Index, TABLE};
use super::{Store, from_item, to_item};
use crate::model::{Rating, Satisfaction, TicketId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The partition of the rating index.
pub const RATINGS: &str = "RATINGS";

/// Items read per query of the index.
const PAGE: usize = 1000;

/// One rating as the index keeps it: enough to count it for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingEntry {
    pub ticket_id: TicketId,
    pub rating: Rating,
    /// The ticket's assignee when it was rated (None: unassigned).
    pub assignee: Option<UserId>,
    pub rated_at: String,
}

/// A stored ticket, as far as the index goes (store/tickets.rs's record).
pub(super) trait Rated {
    fn ticket_id(&self) -> &TicketId;
    fn satisfaction(&self) -> Option<&Satisfaction>;
    fn assignee(&self) -> Option<&UserId>;
}

fn key(rated_at: Timestamp, ticket: &TicketId) -> Key {
    Key::new(RATINGS, format!("{}#{ticket}", rated_at.sort_key()))
}

/// The key of a ticket's entry, when it is rated.
fn entry_key(t: &impl Rated) -> Option<Key> {
    let s = t.satisfaction()?;
    let at = Timestamp::parse_rfc3339(&s.rated_at)?;
    Some(key(at, t.ticket_id()))
}

/// What keeps the index in step when a ticket is written as `after`: its entry (re)put
/// when its rating changed, the entry of the rating it replaced deleted. Unconditional:
/// the ticket's own write carries the version check.
pub(super) fn rating_writes<T: Rated>(
    before: Option<&T>,
    after: &T,
) -> Result<Vec<Write>, StoreError> {
    let was = before.and_then(Rated::satisfaction);
    if was == after.satisfaction() {
        return Ok(Vec::new());
    }
    let mut writes = Vec::new();
    let old = before.and_then(entry_key);
    let new = entry_key(after);
    if let Some(k) = old.filter(|o| Some(o) != new.as_ref()) {
        writes.push(Write::Delete {
            key: k,
            cond: Cond::Always,
        });
    }
    if let (Some(k), Some(s)) = (new, after.satisfaction()) {
        let entry = RatingEntry {
            ticket_id: after.ticket_id().clone(),
            rating: s.rating,
            assignee: after.assignee().cloned(),
            rated_at: s.rated_at.clone(),
        };
        writes.push(Write::Put {
            item: to_item(
                &entry,
                &[
                    (TABLE.pk, Value::String(k.pk)),
                    (TABLE.sk, Value::String(k.sk)),
                ],
            )?,
            cond: Cond::Always,
        });
    }
    Ok(writes)
}

impl Store {
    /// Every rating given from `from` (included) to `to` (excluded), oldest first: one query
    /// per [`PAGE`] ratings of the window.
    pub async fn ratings_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RatingEntry>, StoreError> {
        let mut out = Vec::new();
        if to <= from {
            return Ok(out);
        }
        // `~` sorts after every character of a ticket id: the last millisecond whole.
        let end = SortKey::S(format!(
            "{}#~",
            Timestamp::from_millis(to.millis() - 1).sort_key()
        ));
        let mut start = SortKey::S(from.sort_key());
        loop {
            let page = self
                .query(&Query {
                    index: Index::Table,
                    pk: RATINGS.into(),
                    range: Range::Between(start, end.clone()),
                    limit: PAGE,
                })
                .await?;
            let last = page
                .items
                .last()
                .and_then(|i| i.get(TABLE.sk))
                .and_then(Value::as_str)
                .map(str::to_owned);
            for item in page.items {
                out.push(from_item::<RatingEntry>(strip(item))?);
            }
            match last {
                // Keys are all of one length: the next one after `last` sorts after this.
                Some(l) if page.more => start = SortKey::S(format!("{l}!")),
                _ => return Ok(out),
            }
        }
    }
}

/// An index item without its keys (the entry's own fields).
fn strip(mut item: Item) -> Item {
    item.remove(TABLE.pk);
    item.remove(TABLE.sk);
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(TicketId, Option<Satisfaction>, Option<UserId>);

    impl Rated for T {
        fn ticket_id(&self) -> &TicketId {
            &self.0
        }
        fn satisfaction(&self) -> Option<&Satisfaction> {
            self.1.as_ref()
        }
        fn assignee(&self) -> Option<&UserId> {
            self.2.as_ref()
        }
    }

    fn rated(id: &TicketId, r: Rating, at: &str) -> T {
        T(
            id.clone(),
            Some(Satisfaction {
                rating: r,
                comment: None,
                rated_at: at.into(),
            }),
            UserId::parse("eng").ok(),
        )
    }

    fn summary(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .map(|w| match w {
                Write::Put { item, .. } => format!(
                    "put {} {}",
                    item["sk"].as_str().unwrap_or_default(),
                    item["rating"].as_str().unwrap_or_default()
                ),
                Write::Delete { key, .. } => format!("delete {}", key.sk),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_rating_puts_its_entry_and_a_replacement_deletes_the_old_one() {
        let id = TicketId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap();
        let none = T(id.clone(), None, None);
        let first = rated(&id, Rating::Bad, "2026-12-06T12:00:00.000Z");
        let ms = Timestamp::parse_rfc3339("2026-12-06T12:00:00.000Z")
            .unwrap()
            .sort_key();
        assert_eq!(
            summary(&rating_writes(Some(&none), &first).unwrap()),
            [format!("put {ms}#{id} bad")]
        );
        let again = rated(&id, Rating::Good, "2026-12-07T12:00:00.000Z");
        let ms2 = Timestamp::parse_rfc3339("2026-12-07T12:00:00.000Z")
            .unwrap()
            .sort_key();
        assert_eq!(
            summary(&rating_writes(Some(&first), &again).unwrap()),
            [format!("delete {ms}#{id}"), format!("put {ms2}#{id} good")]
        );
        // Any other change of a rated ticket leaves its entry alone.
        assert!(rating_writes(Some(&again), &again).unwrap().is_empty());
        assert!(rating_writes(None, &none).unwrap().is_empty());
    }
}
