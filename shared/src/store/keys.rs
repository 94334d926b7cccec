//! Item keys and index keys of the single-table model: every prefix in one place.
//!
//! | item | pk | sk | gsi1 | gsi2 | gsi3 | gsi4 (N) |
//! |---|---|---|---|---|---|---|
//! | user | `USER#<id>` | `PROFILE` | `USERS` / created#id | `USERS#<TYPE>#<STATUS>` / created#id | | `ENGINEERS` / load (approved engineers only) |
//! | email sentinel | `EMAIL#<email>` | `EMAIL` | | | | |
//! | admin counter | `META` | `ADMINS` | | | | |
//! | sign-in failures | `SIGNIN#<id>` | `FAILURES` | | | | |
//! | ticket | `TICKET#<ulid>` | `TICKET` | `REPORTER#<id>` / ulid | `ASSIGNEE#<id>` or `UNASSIGNED` / ulid | `STATUS#<status>` / ulid | |
//! | ticket history | `TICKET#<ulid>` | `V#<version:010>` | | | | |
//! | comment (or internal note) | `TICKET#<ulid>` | `C#<comment ulid>` | | | | |
//! | outbox event | `EVENT#<ulid>` | `OUTBOX` | `OUTBOX` / last push ms#ulid (`OUTBOX#PARKED` once parked) | | | |
//! | delivery marker | `EVENT#<ulid>` | `DELIVERED` | | | | |
//! | idempotency record | `IDEM#<userId>` | `KEY#<Idempotency-Key>` | | | | |
//! | workload job | `JOB#<ulid>` | `JOB` | `JOBS` / last push ms#ulid | | | |
//! | recipient marker (one per address mailed, SES) | `EVENT#<ulid>` | `MAILED#<email>` | | | | |
//! | change feed item | `FEED#<shard:02>` | `<commit ms:013>#<ulid>` | | | | |
//! | ticket copy under a tag (SPEC §11) | `TAG#<tag>#<shard>` | `<ticket ulid>` | | | | |
//! | ticket copy under a follower (SPEC §11) | `FOLLOWING#<userId>` | `<ticket ulid>` | | | | |
//! | rating index entry (SPEC §12; store/ratings.rs) | `RATINGS` | `<ratedAt ms:013>#<ticket ulid>` | | | | |
//! | SLA policy version / the one in force | `SLA#POLICY` | `V#<n:010>` / `CURRENT` | | | | |
//! | ticket (under an SLA with a check to come) | | | | | | `SLADUE#<shard>` / next check ms |
//! | attachment (SPEC §13: pending upload, then linked) | `ATTACHMENT#<ulid>` | `ATTACHMENT` | | | | |
//! | SLA order entry (tickets under an SLA) | `TICKET#<ulid>` | `SLA#ORDER` | `SLAORDER#<shard>` / resolution due#ulid | | | |

use super::backend::Key;
use crate::model::{Email, Timestamp, UserId, UserStatus, UserType};

pub const USER_SK: &str = "PROFILE";
pub const USERS_ALL: &str = "USERS";
pub const ENGINEERS_BY_LOAD: &str = "ENGINEERS";

/// The load key is `open tickets × LOAD_STEP + approval time (ms)`: ordering by it orders
/// engineers by load, ties going to the earliest approved. Adding ±LOAD_STEP keeps it exact
/// without reading it.
pub const LOAD_STEP: i64 = 10_000_000_000_000;

pub fn user(id: &UserId) -> Key {
    Key::new(format!("USER#{id}"), USER_SK)
}

pub fn email(e: &Email) -> Key {
    Key::new(format!("EMAIL#{e}"), "EMAIL")
}

pub fn admin_counter() -> Key {
    Key::new("META", "ADMINS")
}

pub fn attachment(id: &str) -> Key {
    Key::new(format!("ATTACHMENT#{id}"), "ATTACHMENT")
}

pub fn signin_failures(id: &UserId) -> Key {
    Key::new(format!("SIGNIN#{id}"), "FAILURES")
}

pub fn users_by(t: UserType, s: UserStatus) -> String {
    format!("USERS#{t}#{s}")
}

/// Creation order, then userId: the order of every user listing.
pub fn user_order(created: Timestamp, id: &UserId) -> String {
    format!("{}#{id}", created.sort_key())
}

pub fn load_key(open_tickets: i64, tie_break_ms: i64) -> i64 {
    open_tickets
        .saturating_mul(LOAD_STEP)
        .saturating_add(tie_break_ms.rem_euclid(LOAD_STEP))
}

/// What to ADD to a load key when the count moves by `count_delta`.
pub fn load_delta(count_delta: i64) -> i64 {
    count_delta.saturating_mul(LOAD_STEP)
}

pub const TICKET_SK: &str = "TICKET";
/// History entries sort after the ticket item in its partition, so "after entry N" never
/// reaches the ticket itself.
pub const HISTORY_PREFIX: &str = "V#";
pub const OUTBOX: &str = "OUTBOX";
/// Comments sort before the ticket item in its partition; a listing's later pages stop at
/// the first key without the prefix (shared/src/store/paging.rs).
pub const COMMENT_PREFIX: &str = "C#";

pub fn ticket(id: &crate::model::TicketId) -> Key {
    Key::new(format!("TICKET#{id}"), TICKET_SK)
}

pub fn history(id: &crate::model::TicketId, version: i64) -> Key {
    Key::new(
        format!("TICKET#{id}"),
        format!("{HISTORY_PREFIX}{version:010}"),
    )
}

/// A comment's key: in its ticket's partition, ordered by its ULID (creation time).
pub fn comment(ticket: &crate::model::TicketId, comment_id: &str) -> Key {
    Key::new(
        format!("TICKET#{ticket}"),
        format!("{COMMENT_PREFIX}{comment_id}"),
    )
}

pub fn by_reporter(u: &UserId) -> String {
    format!("REPORTER#{u}")
}

pub fn by_assignee(u: Option<&UserId>) -> String {
    match u {
        Some(u) => format!("ASSIGNEE#{u}"),
        None => "UNASSIGNED".into(),
    }
}

pub fn by_status(s: crate::model::TicketStatus) -> String {
    format!("STATUS#{s}")
}

/// The index partition of outbox items the sweep gave up on (an operator's queue).
pub const OUTBOX_PARKED: &str = "OUTBOX#PARKED";

pub fn outbox(event_id: &str) -> Key {
    Key::new(format!("EVENT#{event_id}"), OUTBOX)
}

pub const JOBS: &str = "JOBS";

pub fn job(job_id: &str) -> Key {
    Key::new(format!("JOB#{job_id}"), "JOB")
}

/// `<ms>#<id>`: the sweep's age key of an outbox event or a job.
pub fn age_key(at: Timestamp, id: &str) -> String {
    format!("{}#{id}", at.sort_key())
}

/// The caller's record of one `Idempotency-Key` (visible ASCII; a userId holds no `#`).
pub fn idempotency(caller: &UserId, key: &str) -> Key {
    Key::new(format!("IDEM#{caller}"), format!("KEY#{key}"))
}

pub fn delivery(event_id: &str) -> Key {
    Key::new(format!("EVENT#{event_id}"), "DELIVERED")
}

/// The sort-key prefix of an event's recipient markers (beside its delivery marker).
pub const MAILED_PREFIX: &str = "MAILED#";

/// The marker saying this address got its own message about this event.
pub fn mailed(event_id: &str, address: &str) -> Key {
    Key::new(
        format!("EVENT#{event_id}"),
        format!("{MAILED_PREFIX}{address}"),
    )
}

/// The partition of an event (its outbox item and markers).
pub fn event_partition(event_id: &str) -> String {
    format!("EVENT#{event_id}")
}

/// What every change feed shard's partition key starts with.
pub const FEED_PREFIX: &str = "FEED#";

/// A shard of the change feed: `FEED#00` to `FEED#15`, each holding the feed items of the
/// events whose ULID hashes to it, sorted by commit time (shared/src/store/feed.rs).
pub fn feed_shard(shard: usize) -> String {
    format!("{FEED_PREFIX}{shard:02}")
}

/// How many partitions the copies of one tag's tickets are spread over (a tag every ticket
/// carries would otherwise take every ticket change in one partition; docs/data-model.md).
pub const TAG_SHARDS: u8 = 8;

/// The shard of a ticket's copies under its tags: the last character of its ULID (random,
/// or counting up within a millisecond) in Crockford base32, modulo [`TAG_SHARDS`].
pub fn tag_shard(ticket: &crate::model::TicketId) -> u8 {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let last = ticket.as_str().bytes().last().unwrap_or(b'0');
    let value = CROCKFORD.iter().position(|c| *c == last).unwrap_or(0);
    (value % usize::from(TAG_SHARDS)) as u8
}

/// One shard of a tag's copies.
pub fn by_tag(tag: &crate::model::Tag, shard: u8) -> String {
    format!("TAG#{tag}#{shard}")
}

/// A follower's copies of the tickets they follow.
pub fn following(u: &UserId) -> String {
    format!("FOLLOWING#{u}")
}

/// A ticket's copy in a partition of copies: sorted by ticket id, like every ticket index.
pub fn ticket_copy(partition: String, ticket: &crate::model::TicketId) -> Key {
    Key::new(partition, ticket.as_str())
}

/// The partition of the SLA policy's versions and of the pointer to the one in force.
pub const SLA_POLICY: &str = "SLA#POLICY";

pub fn sla_current() -> Key {
    Key::new(SLA_POLICY, "CURRENT")
}

pub fn sla_version(version: i64) -> Key {
    Key::new(SLA_POLICY, format!("{HISTORY_PREFIX}{version:010}"))
}

/// How many partitions the SLA indexes spread over: each takes about 1/8 of the writes of
/// tickets under an SLA, and a reader queries all 8 at once.
pub const SLA_SHARDS: u8 = 8;

/// A ticket's shard: its ULID's random bits modulo the shards.
pub fn sla_shard(id: &crate::model::TicketId) -> u8 {
    ulid::Ulid::from_string(id.as_str())
        .map(|u| (u.random() % u128::from(SLA_SHARDS)) as u8)
        .unwrap_or(0)
}

/// The sweep's index partition (gsi4, by next check time) of a shard.
pub fn sla_due(shard: u8) -> String {
    format!("SLADUE#{shard}")
}

/// The listing's index partition (gsi1, by resolution due time) of a shard.
pub fn sla_order(shard: u8) -> String {
    format!("SLAORDER#{shard}")
}

/// A ticket's order entry: its place in `sort=resolutionDueAt`, beside it in its partition.
pub fn sla_order_entry(id: &crate::model::TicketId) -> Key {
    Key::new(format!("TICKET#{id}"), "SLA#ORDER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_keys_order_by_count_then_approval_time() {
        let early = 1_700_000_000_000;
        let late = 1_800_000_000_000;
        assert!(load_key(0, late) < load_key(1, early));
        assert!(load_key(3, early) < load_key(3, late));
        assert_eq!(load_key(2, early) + LOAD_STEP, load_key(3, early));
    }

    /// docs/data-model.md's item table names every key this module makes: its literal part
    /// (up to the first `#`, or all of a fixed key) stands in the doc as `` `PREFIX``.
    #[test]
    fn the_data_model_doc_lists_every_key_prefix() {
        use crate::model::{TicketId, TicketStatus};
        let doc = include_str!("../../../docs/data-model.md");
        let u = UserId::parse("u").unwrap();
        let e = Email::parse("a@b.co").unwrap();
        let t = TicketId::new();
        let keys = [
            user(&u),
            email(&e),
            admin_counter(),
            signin_failures(&u),
            ticket(&t),
            history(&t, 1),
            comment(&t, "c"),
            outbox("e"),
            job("j"),
            idempotency(&u, "k"),
            delivery("e"),
            mailed("e", "a@b.co"),
            sla_current(),
            sla_version(1),
            sla_order_entry(&t),
        ];
        let mut names: Vec<String> = keys.into_iter().flat_map(|k| [k.pk, k.sk]).collect();
        names.push(feed_shard(0));
        names.extend([
            users_by(UserType::Engineer, UserStatus::Approved),
            USERS_ALL.into(),
            ENGINEERS_BY_LOAD.into(),
            by_reporter(&u),
            by_assignee(Some(&u)),
            by_assignee(None),
            by_status(TicketStatus::Open),
            by_tag(&crate::model::Tag::parse("vip").unwrap(), 3),
            following(&u),
            OUTBOX.into(),
            OUTBOX_PARKED.into(),
            JOBS.into(),
            sla_due(0),
            sla_order(0),
        ]);
        for name in names {
            let literal = match name.find('#') {
                Some(i) if name != OUTBOX_PARKED => &name[..=i],
                _ => name.as_str(),
            };
            assert!(
                doc.contains(&format!("`{literal}")),
                "docs/data-model.md does not list {literal} (from {name})"
            );
        }
    }

    #[test]
    fn tag_shards_spread_tickets_evenly() {
        use crate::model::TicketId;
        let mut seen = [0usize; TAG_SHARDS as usize];
        for _ in 0..8000 {
            seen[usize::from(tag_shard(&TicketId::new()))] += 1;
        }
        // Ids made in one process count up: round-robin over the shards.
        assert!(seen.iter().all(|n| (900..=1100).contains(n)), "{seen:?}");
        let t = TicketId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap();
        assert_eq!(tag_shard(&t), 27 % 8, "V is 27 in Crockford base32");
    }

    #[test]
    fn user_order_sorts_by_time_then_id() {
        let a = UserId::parse("b").unwrap();
        let b = UserId::parse("a").unwrap();
        assert!(
            user_order(Timestamp::from_millis(1), &a) < user_order(Timestamp::from_millis(2), &b)
        );
        assert!(
            user_order(Timestamp::from_millis(1), &b) < user_order(Timestamp::from_millis(1), &a)
        );
    }
}
