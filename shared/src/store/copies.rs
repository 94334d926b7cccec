//! A ticket's copies (SPEC §11): one whole copy of the ticket under each of its tags (in the
//! tag's shard) and one under each of its followers, each in a table partition of its own
//! kind sorted by ticket id, written in the ticket's own transaction whenever the ticket is.
//! A listing by tag, or of the tickets a user follows, is then one more key range of the
//! k-way merge (store/paging.rs) whose items are tickets: its filters and its scope apply to
//! what it reads, with no read of the tickets themselves.

use super::backend::{Cond, Item, Key, StoreError, Write};
use super::keys;
use super::paging::Source;
use super::schema::{Index, TABLE};
use super::to_item;
use crate::model::{Tag, Tags, TicketId, UserId};
use serde::Serialize;
use serde_json::Value;

/// A stored ticket, as far as its copies go: what it is keyed by, and the whole record a
/// copy holds (store/tickets.rs's record).
pub(super) trait Copied: Serialize {
    fn ticket_id(&self) -> &TicketId;
    fn tags(&self) -> &Tags;
    fn followers(&self) -> &[UserId];
}

/// The keys of every copy `t` has: one per tag, one per follower.
pub(super) fn copy_keys(t: &impl Copied) -> Vec<Key> {
    let id = t.ticket_id();
    let shard = keys::tag_shard(id);
    t.tags()
        .iter()
        .map(|tag| keys::by_tag(tag, shard))
        .chain(t.followers().iter().map(keys::following))
        .map(|partition| keys::ticket_copy(partition, id))
        .collect()
}

fn copy_item(t: &impl Copied, key: Key) -> Result<Item, StoreError> {
    to_item(
        t,
        &[
            (TABLE.pk, Value::String(key.pk)),
            (TABLE.sk, Value::String(key.sk)),
        ],
    )
}

/// What keeps the copies in step when the ticket is written as `after` (from `before`, None
/// for a creation): every copy of `after` (re)written, and each copy of `before` that
/// `after` no longer has (a tag taken off, a follower removed) deleted. Unconditional: the
/// ticket's own write in the same transaction carries the version check.
pub(super) fn copy_writes<T: Copied>(
    before: Option<&T>,
    after: &T,
) -> Result<Vec<Write>, StoreError> {
    let keep = copy_keys(after);
    let mut writes = Vec::with_capacity(keep.len());
    if let Some(b) = before {
        for key in copy_keys(b) {
            if !keep.contains(&key) {
                writes.push(Write::Delete {
                    key,
                    cond: Cond::Always,
                });
            }
        }
    }
    for key in keep {
        writes.push(Write::Put {
            item: copy_item(after, key)?,
            cond: Cond::Always,
        });
    }
    Ok(writes)
}

/// Every shard of the copies under `tag`: the tickets carrying it.
pub fn tag_sources(tag: &Tag) -> Vec<Source> {
    (0..keys::TAG_SHARDS)
        .map(|shard| Source::new(Index::Table, keys::by_tag(tag, shard)))
        .collect()
}

/// The copies of the tickets `u` follows.
pub fn following_source(u: &UserId) -> Source {
    Source::new(Index::Table, keys::following(u))
}

/// The most writes a ticket change's copies can add to its transaction: every tag replaced
/// (20 deleted, 20 put) and every follower's copy put.
pub const MAX_COPY_WRITES: usize = 2 * crate::model::Tags::MAX + crate::policy::MAX_FOLLOWERS;

#[cfg(test)]
mod tests {
    use super::super::tickets::TicketRecord;
    use super::*;
    use crate::model::{Description, Priority, TicketStatus, Title};

    fn ticket(tags: &[&str], followers: &[&str]) -> TicketRecord {
        TicketRecord {
            ticket_id: TicketId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap(),
            title: Title::parse("Printer").unwrap(),
            description: Description::parse("Error 254").unwrap(),
            ticket_priority: Priority::LOW,
            status: TicketStatus::Open,
            reporter: UserId::parse("cust").unwrap(),
            assignee: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            version: 1,
            sla: None,
            satisfaction: None,
            merged_into: None,
            closed_at: None,
            tags: Tags::parse(tags.iter().copied()).unwrap(),
            followers: followers
                .iter()
                .map(|f| UserId::parse(f).unwrap())
                .collect(),
        }
    }

    fn summary(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .map(|w| match w {
                Write::Put { item, .. } => format!(
                    "put {} {}",
                    item["pk"].as_str().unwrap(),
                    item["sk"].as_str().unwrap()
                ),
                Write::Delete { key, .. } => format!("delete {} {}", key.pk, key.sk),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_ticket_has_one_copy_per_tag_in_its_shard_and_per_follower() {
        let t = ticket(&["vip", "printer"], &["cust2", "eng9"]);
        let id = t.ticket_id.as_str();
        assert_eq!(
            summary(&copy_writes(None, &t).unwrap()),
            [
                format!("put TAG#printer#3 {id}"),
                format!("put TAG#vip#3 {id}"),
                format!("put FOLLOWING#cust2 {id}"),
                format!("put FOLLOWING#eng9 {id}"),
            ]
        );
        let Write::Put { item, .. } = &copy_writes(None, &t).unwrap()[0] else {
            panic!("a put")
        };
        let copy: TicketRecord = super::super::from_item(item.clone()).unwrap();
        assert_eq!(copy, t, "a copy reads as the ticket");
        assert!(
            !item.keys().any(|k| k.starts_with("gsi")),
            "a copy is in no index: {item:?}"
        );
        assert!(copy_writes(None, &ticket(&[], &[])).unwrap().is_empty());
    }

    #[test]
    fn a_change_rewrites_the_copies_and_deletes_those_that_went() {
        let before = ticket(&["vip", "printer"], &["cust2", "eng9"]);
        let mut after = ticket(&["printer", "urgent"], &["eng9"]);
        after.version = 2;
        let id = after.ticket_id.as_str();
        assert_eq!(
            summary(&copy_writes(Some(&before), &after).unwrap()),
            [
                format!("delete TAG#vip#3 {id}"),
                format!("delete FOLLOWING#cust2 {id}"),
                format!("put TAG#printer#3 {id}"),
                format!("put TAG#urgent#3 {id}"),
                format!("put FOLLOWING#eng9 {id}"),
            ]
        );
    }

    #[test]
    fn the_copies_of_the_largest_change_fit_a_dynamodb_transaction() {
        let old: Vec<String> = (0..20).map(|i| format!("old{i}")).collect();
        let new: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
        let followers: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let f: Vec<&str> = followers.iter().map(String::as_str).collect();
        let before = ticket(&old.iter().map(String::as_str).collect::<Vec<_>>(), &f);
        let after = ticket(&new.iter().map(String::as_str).collect::<Vec<_>>(), &f);
        let n = copy_writes(Some(&before), &after).unwrap().len();
        assert_eq!(n, MAX_COPY_WRITES);
        // The rest of a ticket change: ticket, two counts, history, two events, a comment,
        // an idempotency record, a job, an assignee check: 10. DynamoDB takes 100.
        assert!(n + 10 <= 100);
    }
}
